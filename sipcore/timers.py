"""SIP transaction timer values (RFC 3261 §17 and Table 4 of Appendix A; RFC 6026 for Timers L and M).

A :class:`TimerConfig` holds the base values T1, T2, T4 and whether the transport is reliable; every
Timer A to M is derived from them. Retransmission timers (A, E, G) give the *initial* interval: A doubles
without bound, E and G double up to T2. On a reliable transport there are no retransmissions and the
wait timers D, I, J, K are zero (the transaction ends at once).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TimerConfig:
    """Base timer values in seconds and the transport's reliability."""

    t1: float = 0.5
    """RTT estimate (default 500 ms)."""
    t2: float = 4.0
    """Maximum retransmit interval for non-INVITE requests and INVITE responses."""
    t4: float = 5.0
    """Maximum time a message stays in the network."""
    reliable: bool = False
    """True on TCP, TLS, SCTP: no retransmissions, Timers D, I, J, K are 0."""

    def __post_init__(self) -> None:
        if not 0 < self.t1 <= self.t2:
            raise ValueError(f"timer values need 0 < T1 <= T2, got T1={self.t1} T2={self.t2}")
        if self.t4 < 0:
            raise ValueError(f"T4 must not be negative, got {self.t4}")

    @property
    def retransmits(self) -> bool:
        """Whether requests and INVITE final responses are retransmitted (unreliable transports only)."""
        return not self.reliable

    @property
    def timer_a(self) -> float:
        """INVITE request retransmit interval, initially T1, doubling (UDP only)."""
        return self.t1

    @property
    def timer_b(self) -> float:
        """INVITE client transaction timeout: 64*T1."""
        return 64 * self.t1

    @property
    def timer_d(self) -> float:
        """Wait time for response retransmits in the INVITE client Completed state: > 32 s on UDP, 0 on
        reliable transports."""
        return 0.0 if self.reliable else max(32.0, 64 * self.t1)

    @property
    def timer_e(self) -> float:
        """Non-INVITE request retransmit interval, initially T1, doubling up to T2 (UDP only)."""
        return self.t1

    @property
    def timer_f(self) -> float:
        """Non-INVITE client transaction timeout: 64*T1."""
        return 64 * self.t1

    @property
    def timer_g(self) -> float:
        """INVITE final response retransmit interval, initially T1, doubling up to T2 (UDP only)."""
        return self.t1

    @property
    def timer_h(self) -> float:
        """Wait time for ACK receipt: 64*T1."""
        return 64 * self.t1

    @property
    def timer_i(self) -> float:
        """Wait time for ACK retransmits: T4 on UDP, 0 on reliable transports."""
        return 0.0 if self.reliable else self.t4

    @property
    def timer_j(self) -> float:
        """Wait time for non-INVITE request retransmits: 64*T1 on UDP, 0 on reliable transports."""
        return 0.0 if self.reliable else 64 * self.t1

    @property
    def timer_k(self) -> float:
        """Wait time for non-INVITE response retransmits: T4 on UDP, 0 on reliable transports."""
        return 0.0 if self.reliable else self.t4

    @property
    def timer_l(self) -> float:
        """Wait time for accepted INVITE request retransmits (RFC 6026): 64*T1."""
        return 64 * self.t1

    @property
    def timer_m(self) -> float:
        """Wait time for retransmission of 2xx to INVITE or additional 2xx from other branches of a
        forked INVITE (RFC 6026): 64*T1."""
        return 64 * self.t1

    def next_interval(self, interval: float, *, capped: bool) -> float:
        """The retransmit interval after ``interval``: doubled, and at most T2 when ``capped`` (E, G)."""
        return min(2 * interval, self.t2) if capped else 2 * interval
