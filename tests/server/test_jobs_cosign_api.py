"""The jobs API with operator co-signatures: a matching one is stored with the job (and bounds its
expiry); one that does not cover the job's exact content, or is expired or malformed, is a 400."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from borealis.protocol import cosign, keys
from borealis.server.db.models import Job
from borealis.server.state import app_state
from tests.conftest import App
from tests.server.fleet import enrolled_agent

SCRIPT = {"language": "bash", "script": "echo hi"}


def signed_body(agent_id: str, not_after: int | None = None, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "role": "script",
        "params": dict(SCRIPT),
        "run_as": "system",
        "target": {"agents": [agent_id]},
        "timeout_s": 60,
        "expires_in_s": 3600,
    }
    body["operator_signature"] = cosign.sign_job(
        keys.generate(),
        role=body["role"],
        params=body["params"],
        run_as=body["run_as"],
        target=body["target"],
        timeout_s=body["timeout_s"],
        not_after=not_after or int(time.time()) + 600,
    )
    return {**body, **changes}


async def test_a_co_signed_job_is_stored_with_its_signature_and_expiry(app: App) -> None:
    agent = await enrolled_agent(app.client, app.auth())
    body = signed_body(agent.agent_id)
    answer = await app.client.post("/api/v1/jobs", json=body, headers=app.auth())
    assert answer.status_code == 201, answer.text
    state = app_state(app.app)
    async with state.db.session() as session:
        job = (await session.scalars(select(Job).where(Job.id == answer.json()["id"]))).one()
    assert job.cosign == body["operator_signature"]
    assert abs(job.expires_at.timestamp() - body["operator_signature"]["not_after"]) < 1


async def test_a_co_signature_that_does_not_cover_the_job_is_refused(app: App) -> None:
    agent = await enrolled_agent(app.client, app.auth())
    cases = [
        signed_body(agent.agent_id, params={**SCRIPT, "script": "rm -rf /"}),
        signed_body(agent.agent_id, run_as="user"),
        signed_body(agent.agent_id, timeout_s=61),
        signed_body(agent.agent_id, target={"all": True}),
        signed_body(agent.agent_id, not_after=int(time.time()) - 5),
    ]
    bad_nonce = signed_body(agent.agent_id)
    bad_nonce["operator_signature"]["nonce"] = "short"
    cases.append(bad_nonce)
    for body in cases:
        answer = await app.client.post("/api/v1/jobs", json=body, headers=app.auth())
        assert answer.status_code in (400, 422), answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
    unsigned_policy = {
        "role": cosign.POLICY_ROLE,
        "params": {"operator_keys": []},
        "target": {"agents": [agent.agent_id]},
    }
    answer = await app.client.post("/api/v1/jobs", json=unsigned_policy, headers=app.auth())
    assert answer.status_code == 400 and "co-signed" in answer.json()["detail"]
