"""The engine's errors are BorealisErrors that keep their behaviour, and its run states keep the string
values the API and the database use."""

from __future__ import annotations

import pytest

from borealis.core.errors import BorealisError
from borealis.engine.errors import NodeError, NodeFailed
from borealis.engine.expressions import ExpressionError, compile_expression
from borealis.engine.states import FINAL_RUN_STATES, NodeRunState, RunState


def test_node_errors_are_borealis_errors_and_keep_their_retry_flag() -> None:
    assert isinstance(NodeError("x"), BorealisError)
    assert NodeError("x").retryable is True
    assert NodeError("x", retryable=False).retryable is False
    assert str(NodeError("the answer")) == "the answer" == NodeError("the answer").detail
    failed = NodeFailed("n1", "boom")
    assert isinstance(failed, BorealisError)
    assert str(failed) == "node 'n1' failed: boom" and failed.node_id == "n1"


def test_expression_errors_are_borealis_errors_and_still_value_errors() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression("a[")
    assert isinstance(caught.value, BorealisError) and isinstance(caught.value, ValueError)
    assert caught.value.retryable is False, "a bad expression is never retried"


def test_run_states_keep_their_values() -> None:
    assert [state.value for state in RunState] == [
        "queued",
        "running",
        "succeeded",
        "failed",
        "timed_out",
        "cancelled",
        "interrupted",
    ]
    assert [state.value for state in NodeRunState] == ["succeeded", "failed"]
    assert {str(state) for state in FINAL_RUN_STATES} == {
        "succeeded",
        "failed",
        "timed_out",
        "cancelled",
        "interrupted",
    }
    assert "running" not in FINAL_RUN_STATES and "failed" in FINAL_RUN_STATES
    assert not RunState.QUEUED.final and RunState.CANCELLED.final
