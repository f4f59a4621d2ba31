"""What a run leaves for people and CI servers: report.html, the validation report of equipment under test
(HTML and Markdown) and behave's JUnit XML with the run's conditions.

- :mod:`~harness.reports.run_report`: report.html, every scenario with its ladders side by side;
- :mod:`~harness.reports.validation`: the validation report for the equipment's vendor or customer;
- :mod:`~harness.reports.junit`: behave's JUnit XML, each suite opening with the run's conditions.
"""
