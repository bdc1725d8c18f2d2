"""End to end: operator co-signing. The test plays an attacker who holds the server's database and
signing key; a real agent that requires co-signing refuses everything they make and says why, while
jobs co-signed by the operator's CLI run."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from borealis.protocol import cosign, keys
from tests.agent.agent_process import BOREALIS, AgentProcess
from tests.agent.test_agent_online import status_of
from tests.agent.test_jobs_e2e import finished_job, submit_script
from tests.conftest import ServerProcess
from tests.support import run_sync, wait_for

pytestmark = pytest.mark.slow
Agents = Callable[..., AgentProcess]
PASSPHRASE = "correct horse battery"


def cli(*args: str, stdin: str = "", token: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BOREALIS_TOKEN": token} if token else None
    return subprocess.run(
        [*BOREALIS, *args], input=stdin, capture_output=True, text=True, timeout=90, env=env
    )


def create_key(path: Path) -> str:
    made = cli("keys", "create", "--out", str(path), "--passphrase-stdin", stdin=PASSPHRASE + "\n")
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def cli_submit(server: ServerProcess, key: Path, agent_id: str, script: str) -> dict[str, Any]:
    """`borealis job submit` co-signed with `key`, waiting for the result; returns the job view."""
    done = cli(
        "job",
        "submit",
        "--server",
        server.url,
        "--sign-key",
        str(key),
        "--passphrase-stdin",
        "--agent",
        agent_id,
        "--wait",
        "60",
        "--",
        script,
        stdin=PASSPHRASE + "\n",
        token=server.token,
    )
    view: dict[str, Any] = json.loads(done.stdout)
    assert (done.returncode == 0) == all(r["status"] == "succeeded" for r in view["results"]), done.stderr
    return view


def co_signing_agent(server: ServerProcess, agents: Agents, public: str) -> AgentProcess:
    agent = agents()
    enrolled = agent.enroll(server.install_code(), "--operator-key", public)
    assert enrolled.returncode == 0, enrolled.stderr
    agent.start()
    wait_for(lambda: status_of(server, agent.agent_id) == "online", 20, what="the agent online")
    return agent


async def plant_jobs(server: ServerProcess, agent_id: str, jobs: list[dict[str, Any]]) -> list[str]:
    """The attacker writes job rows straight into the server's database; the server (whose key they
    hold) signs and sends them when the agent connects. Nothing here goes through the API's checks."""
    from datetime import timedelta

    from borealis.core.clock import utcnow
    from borealis.core.ids import new_id
    from borealis.server.db.database import Database
    from borealis.server.db.models import Job
    from borealis.server.jobs import store

    db = Database(server.settings.database_url)
    ids: list[str] = []
    try:
        async with db.transaction() as session:
            for spec in jobs:
                job_id = new_id()
                session.add(
                    Job(
                        id=job_id,
                        role=spec["role"],
                        params=spec["params"],
                        run_as="system",
                        target=spec.get("target", {"agents": [agent_id]}),
                        timeout_s=float(spec.get("timeout_s", 300.0)),
                        expires_at=utcnow() + timedelta(minutes=10),
                        created_by="attacker",
                        created_at=utcnow(),
                        agent_count=1,
                        batch_size=0,
                        current_batch=0,
                        stop_on_failure=False,
                        cancelled_at=None,
                        script_id=None,
                        script_version=None,
                        cosign=spec.get("cosign"),
                    )
                )
                await session.flush()
                await store.add_rows(session, job_id, [agent_id], 0)
                ids.append(job_id)
    finally:
        await db.close()
    return ids


def test_an_attacker_holding_the_server_cannot_command_a_co_signing_agent(
    server: ServerProcess, agents: Agents, tmp_path: Path
) -> None:
    operator_key = tmp_path / "operator" / "key.pem"
    public = create_key(operator_key)
    assert (operator_key.stat().st_mode & 0o777) == 0o600
    assert b"ENCRYPTED PRIVATE KEY" in operator_key.read_bytes()
    agent = co_signing_agent(server, agents, public)
    pwned = tmp_path / "pwned"

    # The operator's CLI signs a job before the server sees it: it runs.
    signed = cli_submit(server, operator_key, agent.agent_id, "echo signed-ok")
    (row,) = signed["results"]
    assert row["status"] == "succeeded" and row["stdout"].strip() == "signed-ok"

    # A job the server alone signed (through its own API): refused and reported.
    job_id = submit_script(server, agent.agent_id, f"touch {pwned}")
    (row,) = finished_job(server, job_id)["results"]
    assert row["status"] == "failed" and row["exit_code"] is None
    assert row["error"].startswith("operator co-signature required"), row["error"]

    # The attacker now works on the database directly (the server's own check of co-signatures is
    # theirs to skip), with the signed job's stored co-signature in hand, and with a key of their own.
    agent.stop()
    wait_for(lambda: status_of(server, agent.agent_id) == "offline", 20, what="the agent offline")
    original = _stored_job(server, signed["id"])
    attacker = keys.generate()
    own_policy = {"operator_keys": [keys.public_b64(attacker)]}
    attacker_signed = cosign.sign_job(
        attacker,
        role=cosign.POLICY_ROLE,
        params=own_policy,
        run_as="system",
        target={"agents": [agent.agent_id]},
        timeout_s=300.0,
        not_after=int(time.time()) + 600,
    )
    changed_script = {**original["params"], "script": f"touch {pwned}"}
    planted = run_sync(
        plant_jobs(
            server,
            agent.agent_id,
            [
                {"role": "script", "params": changed_script, "cosign": original["cosign"]},
                {"role": "script", "params": original["params"], "cosign": original["cosign"]},
                {"role": cosign.POLICY_ROLE, "params": own_policy},
                {"role": cosign.POLICY_ROLE, "params": own_policy, "cosign": attacker_signed},
                {
                    "role": "script",
                    "params": original["params"],
                    "cosign": original["cosign"],
                    "target": {"all": True},
                },
            ],
        )
    )
    agent.start()  # a restart, too: the replayed nonce was recorded on disk before it
    rows = [finished_job(server, job_id, timeout=60)["results"][0] for job_id in planted]
    errors = [row["error"] or "" for row in rows]
    assert all(row["status"] == "failed" for row in rows), rows
    assert errors[0].startswith("operator signature refused: the operator signature does not match")
    assert errors[1].startswith("operator signature replayed"), errors[1]
    assert errors[2].startswith("operator co-signature required"), errors[2]
    assert errors[3].startswith("operator signature refused: key sha256:"), errors[3]
    assert "not trusted" in errors[3]
    assert errors[4].startswith("operator signature refused: the operator signature does not match")
    assert not pwned.exists()
    policy = json.loads((agent.home.agent_identity / "operator_policy.json").read_text())
    assert policy["operator_keys"] == [public]

    # The operator still commands the agent.
    again = cli_submit(server, operator_key, agent.agent_id, "echo still-mine")
    assert again["results"][0]["stdout"].strip() == "still-mine"


def test_the_operator_changes_the_trusted_keys_with_a_co_signed_policy_change(
    server: ServerProcess, agents: Agents, tmp_path: Path
) -> None:
    old_key, new_key = tmp_path / "old.pem", tmp_path / "new.pem"
    old_public, new_public = create_key(old_key), create_key(new_key)
    agent = co_signing_agent(server, agents, old_public)

    # Signed by a key the agent does not trust yet: refused.
    refused = cli_submit(server, new_key, agent.agent_id, "echo no")
    assert refused["results"][0]["error"].endswith("is not trusted by this agent")

    changed = cli(
        "job",
        "set-policy",
        "--server",
        server.url,
        "--sign-key",
        str(old_key),
        "--passphrase-stdin",
        "--agent",
        agent.agent_id,
        "--operator-key",
        new_public,
        "--wait",
        "60",
        stdin=PASSPHRASE + "\n",
        token=server.token,
    )
    assert changed.returncode == 0, changed.stdout + changed.stderr
    (row,) = json.loads(changed.stdout)["results"]
    assert row["status"] == "succeeded"
    assert row["data"]["operator_keys"] == [keys.fingerprint(keys.public_from_b64(new_public))]

    assert cli_submit(server, new_key, agent.agent_id, "echo new")["results"][0]["stdout"].strip() == "new"
    old = cli_submit(server, old_key, agent.agent_id, "echo old")["results"][0]
    assert old["status"] == "failed" and "is not trusted" in old["error"]


def _stored_job(server: ServerProcess, job_id: str) -> dict[str, Any]:
    async def read() -> dict[str, Any]:
        from borealis.server.db.database import Database
        from borealis.server.db.models import Job

        db = Database(server.settings.database_url)
        try:
            async with db.session() as session:
                job = await session.get(Job, job_id)
                assert job is not None and job.cosign is not None
                return {"params": job.params, "cosign": job.cosign}
        finally:
            await db.close()

    return run_sync(read())


def test_a_workflow_the_attacker_changes_is_refused_by_a_co_signing_agent(
    server: ServerProcess, agents: Agents, tmp_path: Path
) -> None:
    """Workflows carry no operator signature: their agent steps are refused (the safe failure)."""
    public = create_key(tmp_path / "op.pem")
    agent = co_signing_agent(server, agents, public)
    pwned = tmp_path / "pwned"
    document = {
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {
                "id": "script",
                "type": "agents.run_script",
                "params": {
                    "target": {"agents": [agent.agent_id]},
                    "language": "bash",
                    "script": f"touch {pwned}",
                    "timeout_s": 30,
                    "fail_on_error": True,
                },
            },
        ],
        "edges": [{"source": "start", "target": "script"}],
    }
    with server.api as api:
        created = api.post("/api/v1/workflows", json={"name": "changed", "document": document})
        assert created.status_code == 201, created.text
        started = api.post(f"/api/v1/workflows/{created.json()['id']}/runs", json={"input": {"go": 1}})
        assert started.status_code in (200, 201, 202), started.text
        run_id = started.json()["id"] if "id" in started.json() else started.json()["run_id"]

    def final() -> dict[str, Any] | None:
        with server.api as api:
            run: dict[str, Any] = api.get(f"/api/v1/runs/{run_id}").json()
        return run if run["status"] in {"succeeded", "failed", "cancelled", "interrupted"} else None

    run = wait_for(final, 60, what="the run to finish")
    assert run["status"] == "failed", json.dumps(run)[:3000]
    record = next(r for r in run["nodes"] if r["node_id"] == "script")
    assert record["status"] == "failed" and agent.agent_id in record["error"]
    with server.api as api:  # the step's job, with the agent's reason
        (job,) = api.get("/api/v1/jobs").json()["items"]
    (row,) = finished_job(server, job["id"])["results"]
    assert row["status"] == "failed" and row["error"].startswith("operator co-signature required")
    assert not pwned.exists()


def test_a_schedule_runs_a_repeatable_co_signed_job_on_a_co_signing_agent(
    server: ServerProcess, agents: Agents, tmp_path: Path
) -> None:
    key = tmp_path / "op.pem"
    agent = co_signing_agent(server, agents, create_key(key))
    signed = cli(
        "job", "sign", "--sign-key", str(key), "--passphrase-stdin", "--agent", agent.agent_id,
        "--repeat", "2", "--timeout", "30", "--", "echo tick",
        stdin=PASSPHRASE + "\n",
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    job = json.loads(signed.stdout)
    assert job["operator_signature"]["repeat_s"] == 2
    with server.api as api:
        one_shot = {**job, "operator_signature": {**job["operator_signature"]}}
        del one_shot["operator_signature"]["repeat_s"]
        refused = api.post(
            "/api/v1/schedules",
            json={"name": "bad", "interval_s": 2, "action": {"type": "job", "job": one_shot}},
        )
        assert refused.status_code == 400, refused.text  # not repeatable (and no longer matching)
        created = api.post(
            "/api/v1/schedules",
            json={"name": "tick", "interval_s": 2, "max_runs": 3, "action": {"type": "job", "job": job}},
        )
        assert created.status_code == 201, created.text

    def three_final() -> list[dict[str, Any]] | None:
        with server.api as api:
            items = api.get("/api/v1/jobs").json()["items"]
        if len(items) < 3:
            return None
        rows = [finished_job(server, item["id"], timeout=30)["results"][0] for item in items]
        return rows

    rows = wait_for(three_final, 60, 0.5, what="three scheduled jobs")
    assert all(r["status"] == "succeeded" and r["stdout"] == "tick\n" for r in rows), rows
