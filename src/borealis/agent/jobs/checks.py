"""What a `job` frame must be before the agent runs it (DESIGN §5): signed by the pinned server key,
for this agent, not expired, a known and allowed role, and co-signed by a trusted operator when the
agent's policy asks for it. A frame that fails raises `JobRefused` with the reason its result gives.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from borealis.agent.operator_policy import OperatorPolicy
from borealis.agent.roles.contract import JobRequest, RunContext
from borealis.core.errors import BorealisError, InvalidInput
from borealis.protocol import cosign, keys
from borealis.protocol.jobs import JobState, job_payload

MAX_TIMEOUT_S = 7 * 24 * 3600.0


class JobRefused(BorealisError):
    """A job the agent will not run; `state` is what its result says (failed or expired)."""

    def __init__(self, reason: str, state: JobState = JobState.FAILED) -> None:
        super().__init__(reason)
        self.reason = reason
        self.state = state


def parse_not_after(value: object) -> float | None:
    """`not_after` as epoch seconds: a number, or an ISO 8601 string."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment.timestamp() if moment.tzinfo else None
    return None


def check_signed(frame: dict[str, Any], server_key: Ed25519PublicKey, agent_id: str) -> float:
    """The server's signature, the addressee and the deadline; returns `not_after` (epoch seconds)."""
    signature = frame.get("signature")
    if not isinstance(signature, str) or not signature:
        raise JobRefused("unsigned job: refused")
    if not keys.verify(server_key, job_payload(frame), signature):
        raise JobRefused("bad signature: the job was tampered with or not signed by the pinned server key")
    if frame.get("agent_id") != agent_id:
        raise JobRefused(f"the job is for agent {frame.get('agent_id')!r}, not this one")
    not_after = parse_not_after(frame.get("not_after"))
    if not_after is None:
        raise JobRefused("the job has no valid not_after")
    if time.time() > not_after:
        raise JobRefused("the job expired before it reached the agent", JobState.EXPIRED)
    return not_after


def check_request(frame: dict[str, Any], allowed_roles: frozenset[str]) -> JobRequest:
    """The role, its params, the context it runs in and its timeout (capped at a week)."""
    role, params, timeout_s = frame.get("role"), frame.get("params"), frame.get("timeout_s")
    if not isinstance(role, str) or not role:
        raise JobRefused("the job names no role")
    if allowed_roles and role not in allowed_roles and role != cosign.POLICY_ROLE:
        raise JobRefused(f"role {role!r} is not allowed on this agent (allowed_roles in agent.toml)")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise JobRefused("params must be an object")
    try:
        run_as = RunContext(frame.get("run_as") or RunContext.SYSTEM.value)
    except ValueError:
        raise JobRefused(f"unknown run_as {frame.get('run_as')!r}") from None
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float) or timeout_s <= 0:
        raise JobRefused("timeout_s must be a positive number")
    timeout = min(float(timeout_s), MAX_TIMEOUT_S)
    return JobRequest(str(frame["job_id"]), role, params, run_as, timeout)


def check_cosign(
    frame: dict[str, Any], request: JobRequest, policy: OperatorPolicy, agent_id: str
) -> cosign.Cosignature | None:
    """The operator co-signature, checked when the policy requires one (or the job changes it)."""
    policy_change = request.role == cosign.POLICY_ROLE
    if not policy.required and not policy_change:
        return None
    if frame.get("cosign") is None:
        raise JobRefused(
            "operator co-signature required: this agent runs only jobs co-signed by a trusted "
            "operator key, and this one was signed by the server alone"
        )
    try:
        signed = cosign.verify_job(frame.get("cosign"), frame)
        trusted = set(policy.keys)
        if policy_change and not trusted:  # first policy: proof of holding one of the new keys
            trusted = {keys.fingerprint(key) for key in cosign.policy_keys(request.params)}
    except InvalidInput as bad:
        raise JobRefused(f"operator signature refused: {bad.detail}") from None
    if signed.key_id not in trusted:
        raise JobRefused(f"operator signature refused: key {signed.key_id} is not trusted by this agent")
    target = frame.get("target")
    if not isinstance(target, dict) or not (
        target.get("all") is True or (isinstance(target.get("agents"), list) and agent_id in target["agents"])
    ):
        raise JobRefused(
            "operator signature refused: the signed target does not name this agent "
            "(tag targets cannot be checked by the agent; sign a list of agent ids)"
        )
    if time.time() > signed.not_after:
        raise JobRefused("the operator signature expired before the job reached the agent", JobState.EXPIRED)
    return signed
