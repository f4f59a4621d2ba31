"""The four transaction machines driven by every (state, input) pair and by Hypothesis (h2's
test_state_machines style): either a legal state results or ProtocolError is raised for a local input,
never another exception; and once Terminated a transaction sends and reports nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipcore.errors import ProtocolError
from sipcore.message import Request, Response
from sipcore.timers import TimerConfig
from sipcore.transaction import (
    LOCAL_INPUTS,
    TIMER_NAMES,
    Input,
    State,
    Transaction,
    TransactionTerminated,
)
from sipcore.transaction_client import InviteClientTransaction, NonInviteClientTransaction
from sipcore.transaction_layer import TransactionLayer
from sipcore.transaction_server import InviteServerTransaction, NonInviteServerTransaction

from .test_transaction_support import UAC, UAS, request, response, tu_response

MACHINES: dict[str, Callable[[bool], Transaction]] = {
    "INVITE client": lambda reliable: InviteClientTransaction(request(), UAS, TimerConfig(reliable=reliable)),
    "non-INVITE client": lambda reliable: NonInviteClientTransaction(
        request("OPTIONS"), UAS, TimerConfig(reliable=reliable)),
    "INVITE server": lambda reliable: InviteServerTransaction(request(), UAC, TimerConfig(reliable=reliable)),
    "non-INVITE server": lambda reliable: NonInviteServerTransaction(
        request("OPTIONS"), UAC, TimerConfig(reliable=reliable)),
}
STATUS = {Input.SEND_1XX: 180, Input.SEND_2XX: 200, Input.SEND_300_699: 486,
          Input.RECV_1XX: 180, Input.RECV_2XX: 200, Input.RECV_300_699: 486}


def message_for(transaction: Transaction, input_: Input) -> Request | Response | None:
    req = transaction.request
    if input_ in TIMER_NAMES:
        return None
    if input_ is Input.RECV_REQUEST:
        return req
    if input_ is Input.RECV_ACK:
        return request("ACK", to_tag="uas1")
    if input_ in LOCAL_INPUTS:
        return tu_response(req, STATUS[input_])
    return response(req, STATUS[input_])


class Checked:
    """A started transaction whose every step is checked against the invariants."""

    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction
        self.terminated_events = 0
        self.allowed = {transaction.request.to_bytes()}
        initial = transaction.state
        transaction.start(0.0)
        self._drain(initial)

    def _drain(self, before: State) -> None:
        t = self.transaction
        out, events = t.take_output()
        if before is State.TERMINATED:
            assert out == [] and events == [], f"{t.kind} sent or reported after Terminated"
        self.terminated_events += sum(isinstance(e, TransactionTerminated) for e in events)
        assert self.terminated_events == (1 if t.terminated else 0)
        assert t.state in type(t).states
        if t.terminated:
            assert t.timers == {} and t.get_timer() is None
        for data, addr in out:
            assert addr == t.addr
            if isinstance(t, InviteClientTransaction) and t.ack is not None:
                self.allowed.add(t.ack.to_bytes())
            if t.kind.endswith("client"):
                assert data in self.allowed, f"{t.kind} sent something other than its request or ACK"
            else:
                assert data.startswith(b"SIP/2.0 ")

    def feed(self, input_: Input, now: float) -> None:
        t = self.transaction
        before = t.state
        try:
            t.process_input(input_, now, message_for(t, input_))
        except ProtocolError as exc:
            assert input_ in LOCAL_INPUTS, f"ProtocolError for a non-local input {input_}"
            assert (before, input_) not in type(t)._transitions
            assert before.value in str(exc) and input_.value in str(exc)
            assert t.state is before
            assert t.take_output() == ([], [])
            return
        assert input_ not in LOCAL_INPUTS or (before, input_) in type(t)._transitions
        self._drain(before)

    def tick(self, now: float) -> None:
        before = self.transaction.state
        self.transaction.handle_timer(now)
        self._drain(before)


def paths_to_states(name: str, reliable: bool) -> dict[State, list[Input]]:
    """A shortest input sequence reaching each reachable state (breadth-first over the inputs)."""
    paths: dict[State, list[Input]] = {}
    frontier: list[list[Input]] = [[]]
    for _ in range(4):
        following: list[list[Input]] = []
        for path in frontier:
            checked = Checked(MACHINES[name](reliable))
            for step, input_ in enumerate(path):
                checked.feed(input_, 0.01 * (step + 1))
            state = checked.transaction.state
            if state not in paths:
                paths[state] = path
                following.extend(path + [input_] for input_ in Input)
        frontier = following
    return paths


@pytest.mark.parametrize("reliable", [False, True], ids=["udp", "tcp"])
@pytest.mark.parametrize("name", list(MACHINES))
def test_every_state_is_reachable_and_every_input_is_handled(name: str, reliable: bool) -> None:
    paths = paths_to_states(name, reliable)
    machine = type(MACHINES[name](reliable))
    expected = set(machine.states)
    if reliable and name == "INVITE server":
        expected.discard(State.CONFIRMED)  # Timer I = 0: Confirmed is left at once
    if reliable and name.startswith("non-INVITE"):
        expected.discard(State.COMPLETED)  # Timers J, K = 0
    if reliable and name == "INVITE client":
        expected.discard(State.COMPLETED)  # Timer D = 0
    assert set(paths) == expected
    for state, path in paths.items():
        for input_ in Input:
            checked = Checked(MACHINES[name](reliable))
            for step, prior in enumerate(path):
                checked.feed(prior, 0.01 * (step + 1))
            assert checked.transaction.state is state
            checked.feed(input_, 1.0)


@pytest.mark.parametrize("name", list(MACHINES))
def test_table_names_only_the_machines_states(name: str) -> None:
    machine = type(MACHINES[name](False))
    for (state, input_), (action, next_state) in machine._transitions.items():
        assert state in machine.states and next_state in machine.states, (state, input_)
        assert state is not State.TERMINATED
        assert callable(action)


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(list(MACHINES)), reliable=st.booleans(),
       steps=st.lists(st.tuples(st.sampled_from(list(Input)), st.sampled_from([0.0, 0.1, 0.5, 4.0, 40.0])),
                      max_size=30))
def test_random_input_sequences_keep_the_machine_legal(name: str, reliable: bool,
                                                      steps: list[tuple[Input, float]]) -> None:
    checked = Checked(MACHINES[name](reliable))
    now = 0.0
    for input_, dt in steps:
        now += dt
        checked.tick(now)  # time passes: due timers fire first
        checked.feed(input_, now)


# --- the layer under random traffic ---------------------------------------------------------------

BRANCHES = ["z9hG4bKa", "z9hG4bKb", "", "z9hG4bK"]
METHODS = ["INVITE", "ACK", "CANCEL", "OPTIONS", "BYE"]
traffic = st.lists(st.one_of(
    st.tuples(st.just("request"), st.sampled_from(METHODS), st.sampled_from(BRANCHES),
              st.sampled_from([None, "uas1"])),
    st.tuples(st.just("response"), st.sampled_from(METHODS), st.sampled_from(BRANCHES),
              st.sampled_from([100, 180, 200, 486])),
    st.tuples(st.just("answer"), st.sampled_from(METHODS), st.sampled_from(BRANCHES),
              st.sampled_from([100, 180, 200, 486])),
    st.tuples(st.just("send"), st.sampled_from(["INVITE", "OPTIONS"]), st.sampled_from(BRANCHES[:2]),
              st.none()),
    st.tuples(st.just("wait"), st.sampled_from([0.1, 0.5, 4.0, 40.0]), st.none(), st.none()),
), max_size=40)


@settings(max_examples=200, deadline=None)
@given(steps=traffic, reliable=st.booleans())
def test_layer_absorbs_any_traffic_and_raises_only_protocol_errors(
        steps: list[tuple[str, object, object, object]], reliable: bool) -> None:
    layer = TransactionLayer(reliable=reliable)
    now = 0.0
    for kind, a, b, c in steps:
        if kind == "wait":
            assert isinstance(a, float)
            now += a
            layer.handle_timer(now)
            deadline = layer.get_timer()
            assert deadline is None or deadline > now  # every due timer fired
        elif kind == "request":
            layer.receive(request(str(a), branch=str(b), to_tag=c if isinstance(c, str) else None), UAC, now)
        elif kind == "response":
            assert isinstance(c, int)
            layer.receive(response(request(str(a), branch=str(b)), c), UAS, now)
        elif kind == "answer":
            assert isinstance(c, int)
            try:
                layer.send_response(tu_response(request(str(a), branch=str(b)), c), now)
            except ProtocolError:
                pass
        else:
            try:
                layer.send_request(request(str(a), branch=str(b)), UAS, now)
            except ProtocolError:
                pass
        layer.datagrams_to_send(now)
        while (event := layer.next_event()) is not None:
            if isinstance(event, TransactionTerminated):
                assert event.transaction not in layer.transactions
        assert all(not t.terminated for t in layer.transactions)
    layer.handle_timer(now + 1000.0)
    deadline = layer.get_timer()
    assert deadline is None or deadline > now + 1000.0
    assert all(not t.terminated for t in layer.transactions)


# --- the dispatch details the hot path relies on ----------------------------------------------------


def test_due_timers_fire_earliest_first_and_ties_in_name_order() -> None:
    t = InviteServerTransaction(request(), UAC, TimerConfig())
    fired: list[Input] = []
    t._handle = lambda input_, now, message: fired.append(input_)  # type: ignore[method-assign]
    t.timers = {"L": 2.0, "H": 1.0, "G": 1.0, "I": 9.0}
    t.handle_timer(5.0)
    assert fired == [Input.TIMER_G, Input.TIMER_H, Input.TIMER_L]
    assert t.timers == {"I": 9.0}
    t.handle_timer(8.0)  # nothing due: nothing fires
    assert len(fired) == 3


def test_states_and_inputs_hash_by_identity() -> None:
    assert {State.TRYING: 1}[State("Trying")] == 1
    assert Input("Timer A fires") in TIMER_NAMES
    assert len({*State, *Input}) == len(State) + len(Input)


def test_typed_inputs_before_start_raise_like_process_input() -> None:
    server = InviteServerTransaction(request(), UAC, TimerConfig())
    with pytest.raises(ProtocolError, match="was not started"):
        server.send_response(tu_response(server.request, 180), 0.0)
    with pytest.raises(ProtocolError, match="was not started"):
        server.receive_request(server.request, UAC, 0.0)
    with pytest.raises(ProtocolError, match="was not started"):
        server.process_input(Input.RECV_REQUEST, 0.0, server.request)
    client = InviteClientTransaction(request(), UAS, TimerConfig())
    with pytest.raises(ProtocolError, match="was not started"):
        client.receive_response(response(client.request, 180), 0.0)
    with pytest.raises(ValueError, match="cannot carry"):  # process_input still checks the pairing
        client.process_input(Input.RECV_2XX, 0.0, response(client.request, 180))
