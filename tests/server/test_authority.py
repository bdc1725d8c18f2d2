"""Authority over what runs as root (issue 10 §1), in-process with the real scheduler and workflow
engine: agent steps and scheduled jobs need what `POST /api/v1/jobs` needs, on save, enable and start,
and again when they run against the owner as it is now; library scripts are pinned; script bodies
are literal; tokens are owned by id."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from borealis.server.state import app_state
from tests.conftest import App, admin_token, make_settings
from tests.server.fleet import enrolled_agent
from tests.server.operators import browser, create_user, log_in

FINAL = ("succeeded", "failed", "cancelled", "timed_out", "interrupted")


@pytest.fixture
async def wf(tmp_path: Path, db_url: str) -> AsyncIterator[App]:
    from borealis.server.app import create_app

    settings = make_settings(tmp_path / "home", db_url)
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        token = await admin_token(settings)
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield App(settings=settings, client=client, token=token, app=application)


def token_id(secret: str) -> str:
    return secret.split("_")[1]


def script_workflow(agent_id: str, script: str = "id", **params: Any) -> dict[str, Any]:
    run = {"language": "bash", "script": script, "target": {"agents": [agent_id]}, "wait_s": 1, **params}
    return {
        "nodes": [
            {"id": "start", "type": "trigger.manual", "params": {}},
            {"id": "hook", "type": "trigger.webhook", "params": {}},
            {"id": "run", "type": "agents.run_script", "params": run},
            {"id": "run_hooked", "type": "agents.run_script", "params": run},
        ],
        "edges": [
            {"source": "start", "target": "run", "source_port": "main", "target_port": "main"},
            {"source": "hook", "target": "run_hooked", "source_port": "main", "target_port": "main"},
        ],
    }


async def finished(app: App, run_id: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run: dict[str, Any] = (await app.client.get(f"/api/v1/runs/{run_id}", headers=app.auth())).json()
        if run["status"] in FINAL:
            return run
        assert time.monotonic() < deadline, f"run still {run['status']}"
        await asyncio.sleep(0.05)


async def jobs(app: App) -> list[dict[str, Any]]:
    response = await app.client.get("/api/v1/jobs", headers=app.auth())
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def audit(app: App, action: str) -> list[dict[str, Any]]:
    response = await app.client.get("/api/v1/audit", params={"action": action}, headers=app.auth())
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def slots(app: App, schedule_id: str, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
    """The first `count` final slot records of a schedule."""
    deadline = time.monotonic() + timeout
    while True:
        response = await app.client.get(f"/api/v1/schedules/{schedule_id}/runs", headers=app.auth())
        done = [run for run in response.json()["items"] if run["outcome"] not in ("firing", "queued")]
        if len(done) >= count:
            return done
        assert time.monotonic() < deadline, f"slots so far: {done}"
        await asyncio.sleep(0.2)


# -- a workflow is a way to run scripts ------------------------------------------------------------


async def test_a_workflows_write_token_cannot_save_start_or_enable_agent_steps(wf: App) -> None:
    agent = await enrolled_agent(wf.client, wf.auth())
    only = await admin_token(wf.settings, ("workflows:write", "workflows:read"), name="wf-only")
    job = {"role": "script", "params": {"language": "bash", "script": "id"}, "target": {"all": True}}
    assert (await wf.client.post("/api/v1/jobs", json=job, headers=wf.auth(only))).status_code == 403

    document = script_workflow(agent.agent_id)
    body = {"name": "root everywhere", "document": document}
    refused = await wf.client.post("/api/v1/workflows", json=body, headers=wf.auth(only))
    assert refused.status_code == 403, refused.text
    assert "jobs:run" in refused.json()["detail"] and "run" in refused.json()["detail"]

    made = await wf.client.post("/api/v1/workflows", json=body, headers=wf.auth())
    assert made.status_code == 201, made.text
    workflow = made.json()
    assert workflow["owner"] == f"token:{token_id(wf.token)}" and workflow["owner_name"] == "test"
    path = f"/api/v1/workflows/{workflow['id']}"
    start = await wf.client.post(f"{path}/runs", json={"input": {"go": True}}, headers=wf.auth(only))
    assert start.status_code == 403
    resave = await wf.client.put(path, json={"version": 1, "document": document}, headers=wf.auth(only))
    assert resave.status_code == 403
    off = await wf.client.put(path, json={"version": 1, "enabled": False}, headers=wf.auth())
    assert off.status_code == 200
    enable = await wf.client.put(path, json={"version": 2, "enabled": True}, headers=wf.auth(only))
    assert enable.status_code == 403
    assert await jobs(wf) == []


async def test_agent_steps_stop_when_the_workflows_owner_token_is_revoked(wf: App) -> None:
    agent = await enrolled_agent(wf.client, wf.auth())
    owner = await admin_token(
        wf.settings, ("workflows:write", "workflows:read", "jobs:run"), name="automation"
    )
    made = await wf.client.post(
        "/api/v1/workflows",
        json={"name": "w", "document": script_workflow(agent.agent_id)},
        headers=wf.auth(owner),
    )
    assert made.status_code == 201, made.text
    workflow = made.json()
    assert workflow["owner"] == f"token:{token_id(owner)}"
    revoked = await wf.client.delete(f"/api/v1/tokens/{token_id(owner)}", headers=wf.auth())
    assert revoked.status_code == 204

    # Started by an admin, or by the webhook: the owner's authority is gone either way.
    started = await wf.client.post(
        f"/api/v1/workflows/{workflow['id']}/runs", json={"input": {"go": True}}, headers=wf.auth()
    )
    assert started.status_code == 201, started.text
    manual = await finished(wf, started.json()["id"])
    hooked = await wf.client.post(workflow["hooks"]["hook"], json={"branch": "main"})
    assert hooked.status_code == 202, hooked.text
    by_hook = await finished(wf, hooked.json()["run_id"])
    for run in (manual, by_hook):
        assert run["status"] == "failed", run["nodes"]
        assert "refused" in run["error"] and "revoked" in run["error"], run["error"]
    assert await jobs(wf) == [], "no job may be created for a revoked owner"
    refusals = await audit(wf, "workflow.refused")
    assert len(refusals) == 2 and all(entry["target"] == workflow["id"] for entry in refusals)


async def test_agent_steps_stop_when_the_owners_role_is_lowered(wf: App) -> None:
    agent = await enrolled_agent(wf.client, wf.auth())
    user = await create_user(wf, "olivia", "operator")
    async with browser(wf) as who:
        await log_in(who, "olivia")
        made = await who.client.post(
            "/api/v1/workflows",
            json={"name": "w", "document": script_workflow(agent.agent_id)},
            headers=who.csrf_header(),
        )
    assert made.status_code == 201, made.text
    assert made.json()["owner"] == f"user:{user['id']}" and made.json()["owner_name"] == "olivia"
    lowered = await wf.client.patch(f"/api/v1/users/{user['id']}", json={"role": "viewer"}, headers=wf.auth())
    assert lowered.status_code == 200
    started = await wf.client.post(
        f"/api/v1/workflows/{made.json()['id']}/runs", json={"input": {"go": True}}, headers=wf.auth()
    )
    run = await finished(wf, started.json()["id"])
    assert run["status"] == "failed" and "jobs:run" in run["error"], run["error"]
    assert await jobs(wf) == []


async def test_a_workflow_schedule_needs_jobs_run_when_the_workflow_has_agent_steps(wf: App) -> None:
    agent = await enrolled_agent(wf.client, wf.auth())
    made = await wf.client.post(
        "/api/v1/workflows",
        json={"name": "w", "document": script_workflow(agent.agent_id)},
        headers=wf.auth(),
    )
    only = await admin_token(wf.settings, ("schedules:write", "workflows:write"), name="sched")
    action = {"type": "workflow", "workflow_id": made.json()["id"], "input": {}}
    body = {"name": "s", "interval_s": 60, "action": action}
    refused = await wf.client.post("/api/v1/schedules", json=body, headers=wf.auth(only))
    assert refused.status_code == 403 and "jobs:run" in refused.json()["detail"]


# -- schedules ---------------------------------------------------------------------------------------


def job_action(agent_id: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    script = params or {"language": "bash", "script": "id"}
    return {"type": "job", "job": {"role": "script", "params": script, "target": {"agents": [agent_id]}}}


async def test_a_schedule_stops_firing_when_its_owners_token_is_revoked(app: App) -> None:
    agent = await enrolled_agent(app.client, app.auth())
    owner = await admin_token(app.settings, ("schedules:write", "jobs:run"), name="nightly")
    made = await app.client.post(
        "/api/v1/schedules",
        json={"name": "root", "interval_s": 1, "action": job_action(agent.agent_id)},
        headers=app.auth(owner),
    )
    assert made.status_code == 201, made.text
    assert made.json()["owner"] == f"token:{token_id(owner)}" and made.json()["owner_name"] == "nightly"
    revoked = await app.client.delete(f"/api/v1/tokens/{token_id(owner)}", headers=app.auth())
    assert revoked.status_code == 204
    done = await slots(app, made.json()["id"], 2)
    assert {run["outcome"] for run in done} == {"failed"}
    assert all("refused" in run["reason"] and "revoked" in run["reason"] for run in done), done
    assert await jobs(app) == []
    refusals = await audit(app, "schedule.refused")
    assert refusals and refusals[0]["actor"] == f"token:{token_id(owner)}"


async def test_a_schedule_stops_firing_when_its_user_is_disabled(app: App) -> None:
    agent = await enrolled_agent(app.client, app.auth())
    user = await create_user(app, "omar", "operator")
    async with browser(app) as who:
        await log_in(who, "omar")
        made = await who.client.post(
            "/api/v1/schedules",
            json={"name": "s", "interval_s": 1, "action": job_action(agent.agent_id)},
            headers=who.csrf_header(),
        )
    assert made.status_code == 201, made.text
    assert made.json()["owner"] == f"user:{user['id']}"
    off = await app.client.patch(f"/api/v1/users/{user['id']}", json={"disabled": True}, headers=app.auth())
    assert off.status_code == 200
    done = await slots(app, made.json()["id"], 2)
    assert {run["outcome"] for run in done} == {"failed"}
    assert all("disabled" in run["reason"] for run in done), done
    assert await jobs(app) == []


async def test_enabling_a_schedule_needs_jobs_run_and_makes_the_enabler_its_owner(app: App) -> None:
    agent = await enrolled_agent(app.client, app.auth())
    made = await app.client.post(
        "/api/v1/schedules",
        json={"name": "s", "interval_s": 60, "enabled": False, "action": job_action(agent.agent_id)},
        headers=app.auth(),
    )
    path = f"/api/v1/schedules/{made.json()['id']}"
    writer = await admin_token(app.settings, ("schedules:write",), name="writer")
    refused = await app.client.post(f"{path}/enable", headers=app.auth(writer))
    assert refused.status_code == 403 and "jobs:run" in refused.json()["detail"]
    runner = await admin_token(app.settings, ("schedules:write", "jobs:run"), name="runner")
    enabled = await app.client.post(f"{path}/enable", headers=app.auth(runner))
    assert enabled.status_code == 200
    assert enabled.json()["owner"] == f"token:{token_id(runner)}" and enabled.json()["owner_name"] == "runner"


# -- library scripts are pinned -----------------------------------------------------------------------


async def new_script(app: App, body: str) -> dict[str, Any]:
    response = await app.client.post(
        "/api/v1/scripts", json={"name": "probe", "language": "bash", "body": body}, headers=app.auth()
    )
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


async def test_a_schedule_runs_the_script_version_it_was_saved_with(app: App) -> None:
    agent = await enrolled_agent(app.client, app.auth())
    script = await new_script(app, "echo checked")
    made = await app.client.post(
        "/api/v1/schedules",
        json={
            "name": "s",
            "interval_s": 1,
            "action": job_action(agent.agent_id, {"script_id": script["id"]}),
        },
        headers=app.auth(),
    )
    assert made.status_code == 201, made.text
    pinned = made.json()["action"]["job"]["params"]
    assert pinned["script_version"] == 1 and pinned["script_sha256"] == script["sha256"]

    editor = await admin_token(app.settings, ("scripts:write",), name="editor")
    edited = await app.client.put(
        f"/api/v1/scripts/{script['id']}",
        json={"version": 1, "body": "id; curl evil"},
        headers=app.auth(editor),
    )
    assert edited.status_code == 200, edited.text  # nothing follows its newest version
    done = await slots(app, made.json()["id"], 1)
    assert done[0]["outcome"] == "fired", done
    job = (await app.client.get(f"/api/v1/jobs/{done[0]['job_id']}", headers=app.auth())).json()
    assert job["params"]["script"] == "echo checked"
    assert job["created_by"] == f"token:{token_id(app.token)}"


async def test_editing_a_script_a_schedule_follows_needs_jobs_run_and_is_audited(app: App) -> None:
    agent = await enrolled_agent(app.client, app.auth())
    script = await new_script(app, "echo checked")
    params = {"script_id": script["id"], "script_version": "latest"}
    made = await app.client.post(
        "/api/v1/schedules",
        json={"name": "s", "interval_s": 3600, "action": job_action(agent.agent_id, params)},
        headers=app.auth(),
    )
    assert made.status_code == 201, made.text
    assert made.json()["action"]["job"]["params"]["script_version"] == "latest"

    editor = await admin_token(app.settings, ("scripts:write",), name="editor")
    path = f"/api/v1/scripts/{script['id']}"
    refused = await app.client.put(path, json={"version": 1, "body": "id"}, headers=app.auth(editor))
    assert refused.status_code == 403 and "jobs:run" in refused.json()["detail"]
    renamed = await app.client.put(path, json={"version": 1, "description": "x"}, headers=app.auth(editor))
    assert renamed.status_code == 200, "a change that does not touch what runs needs no more"

    runner = await admin_token(app.settings, ("scripts:write", "jobs:run"), name="runner")
    edited = await app.client.put(path, json={"version": 2, "body": "echo new"}, headers=app.auth(runner))
    assert edited.status_code == 200, edited.text
    entry = next(e for e in await audit(app, "script.update") if e["detail"]["version"] == 3)
    assert entry["actor"] == f"token:{token_id(runner)}" and entry["actor_name"] == "runner"
    assert entry["detail"]["followed_by"] == [made.json()["id"]]
    assert entry["detail"]["sha256_before"] == script["sha256"] != entry["detail"]["sha256"]


# -- data is not code --------------------------------------------------------------------------------


async def test_an_expression_in_a_script_body_is_refused_naming_node_and_field(wf: App) -> None:
    agent = await enrolled_agent(wf.client, wf.auth())
    spliced = script_workflow(agent.agent_id, script="echo release {{ json.body.release }}")
    refused = await wf.client.post(
        "/api/v1/workflows", json={"name": "w", "document": spliced}, headers=wf.auth()
    )
    assert refused.status_code == 400, refused.text
    problem = refused.json()
    assert "'run'" in problem["detail"] and "params.script" in problem["detail"]
    assert "env" in problem["detail"] and "args" in problem["detail"]
    as_env = script_workflow(
        agent.agent_id, script='echo release "$RELEASE"', env={"RELEASE": "{{ json.body.release }}"}
    )
    made = await wf.client.post(
        "/api/v1/workflows", json={"name": "w", "document": as_env}, headers=wf.auth()
    )
    assert made.status_code == 201, made.text


# -- tokens are owned by ids ---------------------------------------------------------------------------


async def test_tokens_named_alike_do_not_share_what_they_created(app: App) -> None:
    scopes = ["tokens:write", "agents:read"]
    first = (
        await app.client.post("/api/v1/tokens", json={"name": "admin", "scopes": scopes}, headers=app.auth())
    ).json()
    second = (
        await app.client.post("/api/v1/tokens", json={"name": "admin", "scopes": scopes}, headers=app.auth())
    ).json()
    child = await app.client.post(
        "/api/v1/tokens", json={"name": "child", "scopes": ["agents:read"]}, headers=app.auth(first["token"])
    )
    assert child.status_code == 201 and child.json()["created_by"] == f"token:{first['id']}"
    child_id = child.json()["id"]

    seen = await app.client.get("/api/v1/tokens", headers=app.auth(second["token"]))
    assert child_id not in [t["id"] for t in seen.json()["items"]]
    revoke = await app.client.delete(f"/api/v1/tokens/{child_id}", headers=app.auth(second["token"]))
    assert revoke.status_code == 404
    own = await app.client.get("/api/v1/tokens", headers=app.auth(first["token"]))
    assert [t["id"] for t in own.json()["items"]] == [child_id]
    entry = next(e for e in await audit(app, "token.create") if e["target"] == child_id)
    assert entry["actor"] == f"token:{first['id']}" and entry["actor_name"] == "admin"


async def test_a_schedule_owned_by_a_name_from_before_0009_is_refused_until_saved_again(app: App) -> None:
    from sqlalchemy import update

    from borealis.server.db.models import Schedule

    agent = await enrolled_agent(app.client, app.auth())
    made = await app.client.post(
        "/api/v1/schedules",
        json={"name": "old", "interval_s": 1, "enabled": False, "action": job_action(agent.agent_id)},
        headers=app.auth(),
    )
    state = app_state(app.app)
    async with state.db.transaction() as session:  # what migration 0009 leaves for a token's name
        await session.execute(
            update(Schedule)
            .where(Schedule.id == made.json()["id"])
            .values(owner="unresolved:token:admin", enabled=True)
        )
    done = await slots(app, made.json()["id"], 1)
    assert done[0]["outcome"] == "failed" and "save it again" in done[0]["reason"], done
    assert await jobs(app) == []


def library_workflow(agent_id: str, **library: Any) -> dict[str, Any]:
    run = {"target": {"agents": [agent_id]}, "wait_s": 1, **library}
    return {
        "nodes": [
            {"id": "start", "type": "trigger.manual", "params": {}},
            {"id": "run", "type": "agents.run_script", "params": run},
        ],
        "edges": [{"source": "start", "target": "run", "source_port": "main", "target_port": "main"}],
    }


async def test_a_workflow_node_runs_the_script_version_it_was_saved_with(wf: App) -> None:
    agent = await enrolled_agent(wf.client, wf.auth())
    script = await new_script(wf, "echo checked")
    made = await wf.client.post(
        "/api/v1/workflows",
        json={"name": "w", "document": library_workflow(agent.agent_id, script_id=script["id"])},
        headers=wf.auth(),
    )
    assert made.status_code == 201, made.text
    params = made.json()["document"]["nodes"][1]["params"]
    assert params["script_version"] == 1 and params["script_sha256"] == script["sha256"]
    editor = await admin_token(wf.settings, ("scripts:write",), name="editor")
    edited = await wf.client.put(
        f"/api/v1/scripts/{script['id']}", json={"version": 1, "body": "id"}, headers=wf.auth(editor)
    )
    assert edited.status_code == 200, edited.text
    started = await wf.client.post(
        f"/api/v1/workflows/{made.json()['id']}/runs", json={"input": {"go": True}}, headers=wf.auth()
    )
    await finished(wf, started.json()["id"])
    [job] = await jobs(wf)
    assert job["params"]["script"] == "echo checked"


async def test_data_cannot_choose_a_workflows_library_script(wf: App) -> None:
    agent = await enrolled_agent(wf.client, wf.auth())
    chosen = library_workflow(agent.agent_id, script_id="{{ json.body.script }}")
    refused = await wf.client.post(
        "/api/v1/workflows", json={"name": "w", "document": chosen}, headers=wf.auth()
    )
    assert refused.status_code == 400 and "params.script_id" in refused.json()["detail"]


async def test_editing_a_script_a_workflow_follows_needs_jobs_run(wf: App) -> None:
    agent = await enrolled_agent(wf.client, wf.auth())
    script = await new_script(wf, "echo checked")
    document = library_workflow(agent.agent_id, script_id=script["id"], script_version="latest")
    made = await wf.client.post(
        "/api/v1/workflows", json={"name": "w", "document": document}, headers=wf.auth()
    )
    assert made.status_code == 201, made.text
    editor = await admin_token(wf.settings, ("scripts:write",), name="editor")
    refused = await wf.client.put(
        f"/api/v1/scripts/{script['id']}", json={"version": 1, "body": "id"}, headers=wf.auth(editor)
    )
    assert refused.status_code == 403 and f"workflow:{made.json()['id']}" in refused.json()["detail"]
