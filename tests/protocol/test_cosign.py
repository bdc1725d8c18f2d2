"""The canonical content operators sign: a script by its hash with the server's defaults, and any
change to what runs, where, as whom, until when or with which nonce breaks the signature."""

from __future__ import annotations

import time
from typing import Any

import pytest

from borealis.core.errors import InvalidInput
from borealis.protocol import cosign, keys

JOB: dict[str, Any] = {
    "role": "script",
    "params": {"language": "bash", "script": "echo hi", "args": ["a"]},
    "run_as": "system",
    "target": {"agents": ["a1"]},
    "timeout_s": 30,
}


def signed() -> tuple[dict[str, Any], str]:
    key = keys.generate()
    block = cosign.sign_job(key, **JOB, not_after=int(time.time()) + 60)
    return block, keys.fingerprint(key)


def test_the_signature_covers_the_resolved_job_the_agent_receives() -> None:
    block, fingerprint = signed()
    # What the server forwards: defaults filled in, timeout as a float, an extra frame field or two.
    received = {
        **JOB,
        "params": {**JOB["params"], "env": {}, "cwd": None},
        "timeout_s": 30.0,
        "job_id": "j1",
        "signature": "x",
    }
    checked = cosign.verify_job(block, received)
    assert checked.key_id == fingerprint and checked.nonce == block["nonce"] and checked.repeat_s is None
    assert cosign.canonical_params("script", received["params"])["script_sha256"] == cosign.script_sha256(
        "echo hi"
    )


@pytest.mark.parametrize(
    "change",
    [
        {"params": {**JOB["params"], "script": "echo pwned"}},
        {"params": {**JOB["params"], "args": ["b"]}},
        {"params": {**JOB["params"], "env": {"X": "1"}}},
        {"role": "health"},
        {"run_as": "user"},
        {"target": {"all": True}},
        {"timeout_s": 31},
    ],
)
def test_any_change_to_the_content_breaks_the_signature(change: dict[str, Any]) -> None:
    block, _ = signed()
    with pytest.raises(InvalidInput, match="does not match"):
        cosign.verify_job(block, {**JOB, **change})


def test_a_changed_nonce_expiry_or_key_breaks_the_signature() -> None:
    block, _ = signed()
    for change in (
        {"nonce": keys.random_token(24)},
        {"not_after": block["not_after"] + 1},
        {"key": keys.public_b64(keys.generate())},
        {"repeat_s": 60},  # a one-off signature cannot be made repeatable
    ):
        with pytest.raises(InvalidInput):
            cosign.verify_job({**block, **change}, JOB)
    for broken in (None, [], {**block, "nonce": "x"}, {**block, "not_after": True}, {**block, "key": "AA"}):
        with pytest.raises(InvalidInput):
            cosign.verify_job(broken, JOB)


def test_policy_keys_are_checked() -> None:
    key = keys.public_b64(keys.generate())
    assert len(cosign.policy_keys({"operator_keys": [key]})) == 1
    assert cosign.policy_keys({"operator_keys": []}) == []
    for bad in ({}, {"operator_keys": "x"}, {"operator_keys": ["not a key"]}, {"operator_keys": [], "x": 1}):
        with pytest.raises(InvalidInput):
            cosign.policy_keys(bad)
