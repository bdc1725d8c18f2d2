"""Running one node alone (`POST /api/v1/workflows/{id}/nodes/{node_id}/trial`): on pinned data or on
its input in a past run, through the engine's node path (expressions, SSRF guard, retries), with the
authority of a run (agent nodes need jobs:run and a confirmation), audited, with bounded input; and a
script node tried on a real agent through a real server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.agent.agent_process import AgentProcess
from tests.agent.conftest import agents  # noqa: F401  (the fixture, for the real-agent test)
from tests.agent.test_agent_online import online_agent
from tests.conftest import App, ServerProcess, running_server
from tests.server.fleet import enrolled_agent
from tests.server.http_sink import http_sink
from tests.server.test_audit_log import audit
from tests.server.test_workflows import create, edge, finished, node, start, wf  # noqa: F401

DOCUMENT = {
    "nodes": [
        node("start", "trigger.manual"),
        node("label", "data.set", {"values": {"label": "n={{ json.n }}"}}),
        node("after", "data.set", {"values": {"done": True}}),
    ],
    "edges": [edge("start", "label"), edge("label", "after")],
}


async def try_node(app: App, workflow_id: str, body: dict[str, Any], token: str | None = None) -> Any:
    node_id = body["node"]["id"]
    return await app.client.post(
        f"/api/v1/workflows/{workflow_id}/nodes/{node_id}/trial", json=body, headers=app.auth(token)
    )


async def test_a_node_runs_alone_on_pinned_items_and_is_audited(wf: App) -> None:  # noqa: F811
    workflow = await create(wf, DOCUMENT)
    edited = node("label", "data.set", {"values": {"label": "twice {{ json.n }}", "n2": "{{ items[1].n }}"}})
    response = await try_node(wf, workflow["id"], {"node": edited, "input": {"items": [{"n": 1}, {"n": 2}]}})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["status"] == "succeeded" and result["error"] is None
    assert result["items"] == {
        "main": [{"n": 1, "label": "twice 1", "n2": 2}, {"n": 2, "label": "twice 2", "n2": 2}]
    }
    assert result["input"] == {"main": [{"n": 1}, {"n": 2}]}
    assert [a["status"] for a in result["attempts"]] == ["succeeded"]

    entries = [e for e in await audit(wf) if e["action"] == "workflow.node_trial"]
    assert len(entries) == 1 and entries[0]["target"] == workflow["id"]
    runs = (
        await wf.client.get("/api/v1/runs", params={"workflow_id": workflow["id"]}, headers=wf.auth())
    ).json()
    assert runs["items"] == []  # a trial is not a run


async def test_a_node_runs_on_its_input_in_a_past_run_with_the_runs_scope(wf: App) -> None:  # noqa: F811
    workflow = await create(wf, DOCUMENT)
    run = await finished(wf, await start(wf, workflow["id"], {"n": 7}))
    assert run["status"] == "succeeded"
    edited = node(
        "after",
        "data.set",
        {
            "values": {
                "seen": "{{ json.label }}",
                "first": "{{ nodes.start.output[0].n }}",
                "t": "{{ trigger.type }}",
            }
        },
    )
    response = await try_node(wf, workflow["id"], {"node": edited, "input": {"from_run": run["id"]}})
    assert response.status_code == 200, response.text
    assert response.json()["items"]["main"] == [
        {"n": 7, "label": "n=7", "seen": "n=7", "first": 7, "t": "manual"}
    ]

    missing = await try_node(
        wf,
        workflow["id"],
        {"node": node("new", "data.set", {"values": {}}), "input": {"from_run": run["id"]}},
    )
    assert missing.status_code == 400 and "did not run" in missing.json()["detail"]
    other = await create(wf, DOCUMENT, name="other")
    foreign = await try_node(wf, other["id"], {"node": edited, "input": {"from_run": run["id"]}})
    assert foreign.status_code == 404


async def test_http_nodes_are_retried_and_follow_their_error_policy_as_in_a_run(wf: App) -> None:  # noqa: F811
    async with http_sink(status=503) as sink:
        workflow = await create(wf, DOCUMENT)
        flaky = node(
            "call",
            "http.request",
            {"method": "POST", "url": f"{sink.url}/x/{{{{ json.n }}}}"},
            retries=2,
            retry_backoff_s=0.01,
        )
        result = (await try_node(wf, workflow["id"], {"node": flaky, "input": {"items": [{"n": 4}]}})).json()
        assert result["status"] == "failed" and "503" in result["error"]
        assert [a["status"] for a in result["attempts"]] == ["failed"] * 3
        assert [r.path for r in sink.received] == ["/x/4"] * 3

    routed = node(
        "call", "http.request", {"method": "GET", "url": "http://127.0.0.1:9/"}, on_error="error_port"
    )
    result = (await try_node(wf, workflow["id"], {"node": routed, "input": {"items": [{"n": 1}]}})).json()
    assert result["status"] == "failed" and result["items"]["error"][0]["input"] == {"n": 1}


async def test_the_ssrf_guard_applies_to_a_trial(app: App) -> None:
    workflow = await create(app, DOCUMENT)  # this server does not allow loopback
    call = node("call", "http.request", {"url": "http://127.0.0.1:9/"}, retries=2)
    result = (await try_node(app, workflow["id"], {"node": call, "input": {"items": [{}]}})).json()
    assert result["status"] == "failed" and "may not reach" in result["error"]
    assert len(result["attempts"]) == 1, "a refused address is not retried"


async def test_bad_trials_get_problems(wf: App) -> None:  # noqa: F811
    workflow = await create(wf, DOCUMENT)
    label = node("label", "data.set", {"values": {"a": 1}})
    both = await try_node(wf, workflow["id"], {"node": label, "input": {"items": [], "from_run": "x"}})
    assert both.status_code == 422
    big = await try_node(wf, workflow["id"], {"node": label, "input": {"items": [{"pad": "x" * 1_100_000}]}})
    assert big.status_code == 413
    many = await try_node(wf, workflow["id"], {"node": label, "input": {"items": [{}] * 10_001}})
    assert many.status_code == 422
    invalid = await try_node(
        wf, workflow["id"], {"node": node("label", "data.set", {"nope": 1}), "input": {"items": []}}
    )
    assert invalid.status_code == 400 and invalid.json()["errors"][0]["node"] == "label"
    mismatch = await wf.client.post(
        f"/api/v1/workflows/{workflow['id']}/nodes/other/trial",
        json={"node": label, "input": {"items": []}},
        headers=wf.auth(),
    )
    assert mismatch.status_code == 400
    port = await try_node(wf, workflow["id"], {"node": label, "input": {"ports": {"in9": []}}})
    assert port.status_code == 400
    unknown = await wf.client.post(
        "/api/v1/workflows/nope/nodes/label/trial",
        json={"node": label, "input": {"items": []}},
        headers=wf.auth(),
    )
    assert unknown.status_code == 404


async def test_agent_nodes_need_jobs_run_and_a_confirmation_naming_the_agents(wf: App) -> None:  # noqa: F811
    first = await enrolled_agent(wf.client, wf.auth(), hostname="web-1", tags=("web",))
    await enrolled_agent(wf.client, wf.auth(), hostname="web-2", tags=("web",))
    workflow = await create(wf, DOCUMENT)
    script = node(
        "script",
        "agents.run_script",
        {"target": {"tags": ["web"]}, "language": "bash", "script": "true", "wait_s": 1},
    )
    asked = await try_node(wf, workflow["id"], {"node": script, "input": {"items": [{}]}})
    assert asked.status_code == 409, asked.text
    problem = asked.json()
    assert problem["agent_count"] == 2 and "web-1" in problem["detail"] and "web-2" in problem["detail"]
    assert {a["hostname"] for a in problem["agents"]} == {"web-1", "web-2"}

    by_item = {**script, "params": {"language": "bash", "script": "true"}}
    one = await try_node(
        wf, workflow["id"], {"node": by_item, "input": {"items": [{"agent_id": first.agent_id}]}}
    )
    assert one.status_code == 409 and one.json()["agent_count"] == 1

    made = await wf.client.post(
        "/api/v1/tokens",
        json={"name": "builder", "scopes": ["workflows:read", "workflows:write"]},
        headers=wf.auth(),
    )
    builder = made.json()["token"]
    refused = await try_node(
        wf, workflow["id"], {"node": script, "input": {"items": []}, "confirm": True}, builder
    )
    assert refused.status_code == 403 and "jobs:run" in refused.json()["detail"]
    plain = await try_node(
        wf,
        workflow["id"],
        {"node": node("label", "data.set", {"values": {}}), "input": {"items": []}},
        builder,
    )
    assert plain.status_code == 200


@pytest.mark.slow
def test_a_script_node_is_tried_on_a_real_agent(
    tmp_path: Any,
    db_url: str,
    agents: Callable[..., AgentProcess],  # noqa: F811
) -> None:
    with running_server(tmp_path / "trial-server", db_url) as server:
        _tried_on_a_real_agent(server, agents)


def _tried_on_a_real_agent(server: ServerProcess, agents: Callable[..., AgentProcess]) -> None:  # noqa: F811
    agent = online_agent(server, agents)
    script = node(
        "script",
        "agents.run_script",
        {
            "target": {"agents": [agent.agent_id]},
            "language": "bash",
            "script": 'echo "hello $WHO"',
            "env": {"WHO": "{{ json.who }}"},
            "timeout_s": 30,
        },
    )
    with server.api as api:
        created = api.post("/api/v1/workflows", json={"name": "t", "document": DOCUMENT})
        assert created.status_code == 201, created.text
        path = f"/api/v1/workflows/{created.json()['id']}/nodes/script/trial"
        body = {"node": script, "input": {"items": [{"who": "trial"}]}}
        asked = api.post(path, json=body)
        assert asked.status_code == 409 and asked.json()["agent_count"] == 1
        done = api.post(path, json={**body, "confirm": True}, timeout=60)
        assert done.status_code == 200, done.text
        result = done.json()
    assert result["status"] == "succeeded", result
    (row,) = result["items"]["main"]
    assert row["agent_id"] == agent.agent_id and row["stdout"] == "hello trial\n" and row["exit_code"] == 0
    assert result["agents"][0]["id"] == agent.agent_id
