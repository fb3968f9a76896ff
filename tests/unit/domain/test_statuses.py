from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from aiguilleur.domain.statuses import AUTO_CLOSING, Status, Workflow
from aiguilleur.errors import InvalidTransition

S = Status


def walk(*codes: int) -> Workflow:
    wf = Workflow.start()
    for code in codes:
        if code == "sent":
            wf.mark_transmitted(len(wf.history) - 1)
        else:
            wf.set(code)
    return wf


@pytest.mark.parametrize(
    ("path", "transmitted", "expected"),
    [
        pytest.param([], False, {15, 16, 100}, id="14"),
        pytest.param([15], False, {16, 100}, id="15-untransmitted"),
        pytest.param([15], True, set(), id="15-transmitted-autoclosed"),
        pytest.param([16], False, {15, 17, 19, 100}, id="16-untransmitted"),
        pytest.param([16], True, {17, 19, 100}, id="16-transmitted-no-15"),
        pytest.param([16, 17], False, {16, 100}, id="17-untransmitted"),
        pytest.param([16, 17], True, {19, 20, 100}, id="17-transmitted"),
        pytest.param([16, 17, "sent", 20], False, {17, 100}, id="20-untransmitted"),
        pytest.param([16, 19], False, set(), id="19-only-undo"),
    ],
)
def test_workflow_allows_the_seed_transitions(path, transmitted, expected):
    wf = walk(*path)
    if transmitted:
        wf.mark_transmitted(len(wf.history) - 1)
        if path[-1] in set(AUTO_CLOSING):
            assert wf.current.code is S.CLOSED and wf.current.is_automatic
    assert {int(c) for c in wf.allowed()} == expected


def test_refused_transition_names_the_allowed_codes():
    wf = walk(16)
    wf.mark_transmitted(1)
    with pytest.raises(InvalidTransition) as err:
        wf.set(15)
    assert err.value.allowed == (17, 19, 100)
    assert "16 (transmis) à 15" in str(err.value)


def test_unknown_code_is_refused():
    with pytest.raises(InvalidTransition, match="inconnu"):
        Workflow.start().set(18)


def test_undo_returns_to_previous_status_while_untransmitted():
    wf = walk(16, 19)
    assert wf.undo() is None
    assert wf.current.code is S.IN_PROGRESS


def test_undo_refused_once_transmitted():
    wf = walk(16)
    wf.mark_transmitted(1)
    with pytest.raises(InvalidTransition, match="déjà été transmis"):
        wf.undo()


def test_automatic_closure_cannot_be_undone():
    wf = walk(16, 19)
    wf.mark_transmitted(2)
    with pytest.raises(InvalidTransition, match="clôture automatique"):
        wf.undo()


def test_manual_closure_can_be_undone_while_untransmitted():
    wf = walk(16, 100)
    wf.undo()
    assert wf.current.code is S.IN_PROGRESS


def test_initial_status_cannot_be_undone():
    with pytest.raises(InvalidTransition, match="initial"):
        Workflow.start().undo()


def test_undo_back_to_a_transmitted_refusal_closes_it():
    wf = walk(15, 16)
    wf.mark_transmitted(1)  # 15 reached the portal while 16 waited
    closure = wf.undo()
    assert closure is not None and closure.is_automatic
    assert wf.current.code is S.CLOSED


def test_transmitting_an_earlier_change_does_not_close():
    wf = walk(15, 16)  # 15 sent late, after the agent already corrected it to 16
    assert wf.mark_transmitted(1) is None
    assert wf.current.code is S.IN_PROGRESS


class WorkflowMachine(RuleBasedStateMachine):
    """Random agents and deliveries: the invariants of seed 002 hold whatever the order."""

    def __init__(self) -> None:
        super().__init__()
        self.wf = Workflow.start()
        self.transmitted_once: set[int] = set()

    @rule(code=st.sampled_from(list(Status)))
    def set_status(self, code: Status) -> None:
        allowed = self.wf.allowed()
        before = len(self.wf.history)
        if code in allowed:
            self.wf.set(code)
            assert self.wf.current.code is code and not self.wf.current.is_transmitted
        else:
            with pytest.raises(InvalidTransition):
                self.wf.set(code)
            assert len(self.wf.history) == before

    @rule()
    def undo(self) -> None:
        last = self.wf.current
        if self.wf.can_undo():
            previous = self.wf.history[-2]
            closure = self.wf.undo()
            if closure is None:
                assert self.wf.current == previous
            else:
                assert self.wf.history[-2] == previous and closure.code is S.CLOSED
        else:
            with pytest.raises(InvalidTransition):
                self.wf.undo()
            assert self.wf.current == last

    @precondition(lambda self: any(not c.is_transmitted for c in self.wf.history))
    @rule(data=st.data())
    def deliver_oldest(self, data: st.DataObject) -> None:
        index = next(i for i, c in enumerate(self.wf.history) if not c.is_transmitted)
        was_current = index == len(self.wf.history) - 1
        code = self.wf.history[index].code
        closure = self.wf.mark_transmitted(index)
        assert (closure is not None) == (was_current and code in AUTO_CLOSING)

    @invariant()
    def starts_with_14(self) -> None:
        assert self.wf.history[0].code is S.IMPORTED

    @invariant()
    def transmitted_auto_closing_status_is_never_current(self) -> None:
        cur = self.wf.current
        assert not (cur.is_transmitted and cur.code in AUTO_CLOSING)

    @invariant()
    def closed_and_transmitted_is_final(self) -> None:
        cur = self.wf.current
        if cur.code is S.CLOSED and (cur.is_transmitted or cur.is_automatic):
            assert self.wf.allowed() == frozenset() and not self.wf.can_undo()

    @invariant()
    def automatic_changes_are_closures_after_an_auto_closing_status(self) -> None:
        for before, change in zip(self.wf.history, self.wf.history[1:], strict=False):
            if change.is_automatic:
                assert change.code is S.CLOSED
                assert before.code in AUTO_CLOSING and before.is_transmitted


TestWorkflowMachine = WorkflowMachine.TestCase
TestWorkflowMachine.settings = settings(max_examples=200, stateful_step_count=30, deadline=None)


@given(st.lists(st.sampled_from(list(Status)), max_size=20))
def test_any_sequence_of_requests_keeps_status_valid(codes):
    wf = Workflow.start()
    for code in codes:
        try:
            wf.set(code)
        except InvalidTransition as exc:
            assert code not in wf.allowed()
            assert exc.allowed == tuple(sorted(wf.allowed()))
    assert all(isinstance(c.code, Status) for c in wf.history)
