"""The wire contract's helpers: signed payloads bound to one connection, frame checks, close codes."""

from __future__ import annotations

import pytest

from borealis.core.errors import ProtocolError
from borealis.protocol.messages import (
    CloseCode,
    MessageType,
    challenge_payload,
    field_str,
    hello_payload,
    require,
)


def test_the_hello_payload_is_bound_to_the_nonce_and_the_agent() -> None:
    base = hello_payload("nonce-1", "agent-1")
    assert hello_payload("nonce-1", "agent-1") == base
    assert hello_payload("nonce-2", "agent-1") != base
    assert hello_payload("nonce-1", "agent-2") != base
    assert challenge_payload("nonce-1", 1.0, 1) != base  # a challenge signature is never a hello's


def test_the_challenge_payload_pins_time_to_the_millisecond() -> None:
    assert challenge_payload("n", 1700000000.1234, 1) == challenge_payload("n", 1700000000.1231, 1)
    assert challenge_payload("n", 1700000000.123, 1) != challenge_payload("n", 1700000000.124, 1)
    assert challenge_payload("n", 1.0, 1) != challenge_payload("n", 1.0, 2)


def test_require_accepts_the_expected_type_only() -> None:
    frame = {"t": "hello", "agent_id": "a"}
    assert require(frame, MessageType.HELLO) is frame
    for wrong in ({"t": "heartbeat"}, {}, [], "hello", None):
        with pytest.raises(ProtocolError) as refused:
            require(wrong, MessageType.HELLO)
        assert refused.value.close_code == CloseCode.BAD_HELLO


def test_field_str_wants_a_bounded_non_empty_string() -> None:
    assert field_str({"a": "x"}, "a") == "x"
    for frame in ({}, {"a": ""}, {"a": 5}, {"a": None}, {"a": "x" * 513}):
        with pytest.raises(ProtocolError, match="'a'"):
            field_str(frame, "a")


def test_permanent_close_codes_are_the_ones_an_operator_must_fix() -> None:
    permanent = {code for code in CloseCode if code.permanent}
    assert permanent == {CloseCode.UNKNOWN_AGENT, CloseCode.REVOKED, CloseCode.PROTOCOL_TOO_OLD}
    assert not CloseCode.REPLACED.permanent and not CloseCode.PENDING_APPROVAL.permanent
