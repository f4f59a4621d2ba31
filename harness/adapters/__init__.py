"""Drivers for independent SIP implementations the harness runs as peers or as equipment under test:
SIPp (:mod:`harness.adapters.sipp`) and baresip (:mod:`harness.adapters.baresip`)."""
