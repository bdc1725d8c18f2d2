"""Workflows through the API, in-process on SQLite and PostgreSQL: documents checked node by node,
versions, runs with every node's input and output, retries and error ports, cancel, timeouts,
concurrency, webhooks, the SSRF guard and the expression sandbox."""

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
from tests.server.http_sink import http_sink

FINAL = {"succeeded", "failed", "timed_out", "cancelled", "interrupted"}


@pytest.fixture
async def wf(tmp_path: Path, db_url: str) -> AsyncIterator[App]:
    """The app with loopback allowed for HTTP nodes (the tests' local servers live there)."""
    from borealis.server.app import create_app

    settings = make_settings(tmp_path / "home", db_url, workflow_http_allow=["127.0.0.0/8"])
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        token = await admin_token(settings)
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield App(settings=settings, client=client, token=token, app=application)


def node(node_id: str, type_: str, params: dict[str, Any] | None = None, **settings: Any) -> dict[str, Any]:
    made: dict[str, Any] = {"id": node_id, "type": type_, "params": params or {}}
    if settings:
        made["settings"] = settings
    return made


def edge(source: str, target: str, source_port: str = "main", target_port: str = "main") -> dict[str, Any]:
    return {"source": source, "target": target, "source_port": source_port, "target_port": target_port}


async def create(app: App, document: dict[str, Any], name: str = "w") -> dict[str, Any]:
    response = await app.client.post(
        "/api/v1/workflows", json={"name": name, "document": document}, headers=app.auth()
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def start(app: App, workflow_id: str, payload: Any = None) -> str:
    response = await app.client.post(
        f"/api/v1/workflows/{workflow_id}/runs", json={"input": payload}, headers=app.auth()
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def finished(app: App, run_id: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run: dict[str, Any] = (await app.client.get(f"/api/v1/runs/{run_id}", headers=app.auth())).json()
        if run["status"] in FINAL:
            return run
        assert time.monotonic() < deadline, f"run still {run['status']}"
        await asyncio.sleep(0.05)


BRANCHES = {
    "nodes": [
        node("start", "trigger.manual"),
        node("check", "logic.condition", {"condition": "json.n > `1`"}),
        node("big", "data.set", {"values": {"label": "big {{ json.n }}", "n2": "{{ json.n }}"}}),
        node("small", "data.set", {"values": {"label": "small"}}),
        node("join", "logic.merge"),
    ],
    "edges": [
        edge("start", "check"),
        edge("check", "big", "true"),
        edge("check", "small", "false"),
        edge("big", "join", target_port="in1"),
        edge("small", "join", target_port="in2"),
    ],
}


async def test_a_run_records_every_nodes_input_and_output(wf: App) -> None:
    workflow = await create(wf, BRANCHES)
    run = await finished(wf, await start(wf, workflow["id"], [{"n": 1}, {"n": 5}]))
    assert run["status"] == "succeeded", run
    assert [item["json"] for item in run["output"]] == [
        {"n": 5, "label": "big 5", "n2": 5},
        {"n": 1, "label": "small"},
    ]
    records = {record["node_id"]: record for record in run["nodes"]}
    assert set(records) == {"start", "check", "big", "small", "join"}
    assert records["check"]["input"] == {
        "main": [{"json": {"n": 1}, "binary_ref": None}, {"json": {"n": 5}, "binary_ref": None}]
    }
    assert [i["json"] for i in records["check"]["output"]["true"]] == [{"n": 5}]
    assert [i["json"] for i in records["check"]["output"]["false"]] == [{"n": 1}]
    assert all(
        r["status"] == "succeeded" and r["duration_ms"] >= 0 and r["attempt"] == 1 for r in records.values()
    )
    assert run["workflow_id"] == workflow["id"] and run["workflow_version"] == 1

    # A branch no item takes does not run.
    run = await finished(wf, await start(wf, workflow["id"], [{"n": 0}]))
    assert {r["node_id"] for r in run["nodes"]} == {"start", "check", "small", "join"}

    listing = (
        await wf.client.get("/api/v1/runs", params={"workflow_id": workflow["id"]}, headers=wf.auth())
    ).json()
    assert len(listing["items"]) == 2 and all(r["status"] == "succeeded" for r in listing["items"])


@pytest.mark.parametrize(
    ("document", "node_id", "field", "message"),
    [
        (
            {"nodes": [node("a", "trigger.manual"), node("b", "nope.nope")], "edges": []},
            "b",
            "type",
            "unknown node type",
        ),
        (
            {
                "nodes": [node("a", "trigger.manual"), node("b", "logic.condition", {"condition": "json.["})],
                "edges": [],
            },
            "b",
            "params.condition",
            "not a valid expression",
        ),
        (
            {"nodes": [node("a", "trigger.manual"), node("b", "logic.condition", {})], "edges": []},
            "b",
            "params.condition",
            "required",
        ),
        (
            {
                "nodes": [
                    node("a", "trigger.manual"),
                    node("b", "data.set", {"values": {"x": "{{ json.[ }}"}}),
                ],
                "edges": [],
            },
            "b",
            "params.values.x",
            "not a valid expression",
        ),
        (
            {
                "nodes": [
                    node("a", "trigger.manual"),
                    node("b", "http.request", {"url": "http://x", "timeout_s": "soon"}),
                ],
                "edges": [],
            },
            "b",
            "params.timeout_s",
            "must be number",
        ),
        (
            {
                "nodes": [node("a", "trigger.manual"), node("b", "data.set", {"values": {}}, retries=99)],
                "edges": [],
            },
            "b",
            "settings.retries",
            "at most 10",
        ),
        ({"nodes": [node("a", "data.set", {"values": {}})], "edges": []}, None, "nodes", "needs a trigger"),
    ],
)
async def test_invalid_documents_are_refused_naming_the_node_and_field(
    wf: App, document: dict[str, Any], node_id: str | None, field: str, message: str
) -> None:
    response = await wf.client.post(
        "/api/v1/workflows", json={"name": "bad", "document": document}, headers=wf.auth()
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    errors = response.json()["errors"]
    assert any(e["node"] == node_id and e["field"] == field and message in e["message"] for e in errors), (
        errors
    )


async def test_edges_must_join_existing_nodes_and_ports_without_cycles(wf: App) -> None:
    base = [
        node("a", "trigger.manual"),
        node("b", "data.set", {"values": {}}),
        node("c", "data.set", {"values": {}}),
    ]
    cases = [
        ([edge("a", "zz")], {"edge": "e0", "field": "target"}),
        ([edge("a", "b", "nope")], {"edge": "e0", "field": "source_port"}),
        ([edge("a", "b", target_port="in9")], {"edge": "e0", "field": "target_port"}),
        ([edge("a", "b"), edge("b", "c"), edge("c", "b")], {"node": "b", "field": "edges"}),
    ]
    for edges, expected in cases:
        response = await wf.client.post(
            "/api/v1/workflows",
            json={"name": "bad", "document": {"nodes": base, "edges": edges}},
            headers=wf.auth(),
        )
        assert response.status_code == 400
        assert any(all(e.get(k) == v for k, v in expected.items()) for e in response.json()["errors"]), (
            response.text
        )


async def test_every_save_is_a_version_and_a_stale_save_is_refused(wf: App) -> None:
    workflow = await create(wf, BRANCHES)
    changed = {**BRANCHES, "settings": {"timeout_s": 60}}
    saved = await wf.client.put(
        f"/api/v1/workflows/{workflow['id']}", json={"version": 1, "document": changed}, headers=wf.auth()
    )
    assert saved.status_code == 200 and saved.json()["version"] == 2
    stale = await wf.client.put(
        f"/api/v1/workflows/{workflow['id']}", json={"version": 1, "name": "lost update"}, headers=wf.auth()
    )
    assert stale.status_code == 409 and "version 2" in stale.json()["detail"]
    versions = (await wf.client.get(f"/api/v1/workflows/{workflow['id']}/versions", headers=wf.auth())).json()
    assert [v["version"] for v in versions["items"]] == [2, 1]
    first = (
        await wf.client.get(f"/api/v1/workflows/{workflow['id']}", params={"version": 1}, headers=wf.auth())
    ).json()
    assert "settings" not in first["document"] and first["version"] == 1
    audit = (await wf.client.get("/api/v1/audit", headers=wf.auth())).json()["items"]
    assert {"workflow.create", "workflow.update"} <= {e["action"] for e in audit}


async def test_a_failing_node_is_retried_then_follows_its_error_port(wf: App) -> None:
    async with http_sink(status=503, answer={"busy": True}) as sink:
        document = {
            "nodes": [
                node("start", "trigger.manual"),
                node(
                    "call",
                    "http.request",
                    {"url": f"{sink.url}/flaky", "method": "POST", "body": "{{ json }}"},
                    retries=2,
                    retry_backoff_s=0.05,
                    on_error="error_port",
                ),
                node("handled", "data.set", {"values": {"handled": True, "why": "{{ json.error }}"}}),
                node("after", "data.set", {"values": {"never": True}}),
            ],
            "edges": [edge("start", "call"), edge("call", "handled", "error"), edge("call", "after")],
        }
        workflow = await create(wf, document)
        run = await finished(wf, await start(wf, workflow["id"], {"id": 7}))
    assert run["status"] == "succeeded", run
    calls = [r for r in run["nodes"] if r["node_id"] == "call"]
    assert [(r["attempt"], r["status"]) for r in calls] == [(1, "failed"), (2, "failed"), (3, "failed")]
    assert "answered 503" in calls[-1]["error"]
    assert len(sink.received) == 3 and sink.received[0].json() == {"id": 7}
    (handled,) = [r for r in run["nodes"] if r["node_id"] == "handled"]
    assert handled["output"]["main"][0]["json"]["handled"] is True
    assert "answered 503" in handled["output"]["main"][0]["json"]["why"]
    assert "after" not in {r["node_id"] for r in run["nodes"]}
    assert workflow["version"] == 1


async def test_a_stop_policy_fails_the_run_and_a_4xx_is_not_retried(wf: App) -> None:
    async with http_sink(status=404) as sink:
        document = {
            "nodes": [
                node("start", "trigger.manual"),
                node("call", "http.request", {"url": sink.url}, retries=3),
            ],
            "edges": [edge("start", "call")],
        }
        workflow = await create(wf, document)
        run = await finished(wf, await start(wf, workflow["id"], {"x": 1}))
    assert run["status"] == "failed" and "answered 404" in run["error"] and "'call'" in run["error"]
    assert len(sink.received) == 1


async def test_http_nodes_cannot_reach_loopback_or_link_local_unless_allowed(app: App) -> None:
    for url in (
        "http://127.0.0.1:9/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:9/",
        "file:///etc/passwd",
    ):
        document = {
            "nodes": [node("start", "trigger.manual"), node("call", "http.request", {"url": url}, retries=2)],
            "edges": [edge("start", "call")],
        }
        workflow = await create(app, document)
        run = await finished(app, await start(app, workflow["id"], {}))
        assert run["status"] == "failed", run
        calls = [r for r in run["nodes"] if r["node_id"] == "call"]
        assert len(calls) == 1, "a refused address is not retried"
        assert "may not reach" in calls[0]["error"] or "only http(s)" in calls[0]["error"], calls[0]["error"]
        assert workflow["id"]


async def test_expressions_read_data_only_and_data_is_never_evaluated(wf: App) -> None:
    for attempt in (
        "{{ __import__('os') }}",
        "{{ json.__class__.__mro__ }}",
        "{{ `1` + `1` }}",
        "{{ eval('1') }}",
    ):
        document = {
            "nodes": [node("start", "trigger.manual"), node("x", "data.set", {"values": {"v": attempt}})],
            "edges": [edge("start", "x")],
        }
        response = await wf.client.post(
            "/api/v1/workflows", json={"name": "x", "document": document}, headers=wf.auth()
        )
        if response.status_code == 201:  # it parses as JMESPath: then it can only read data
            run = await finished(wf, await start(wf, response.json()["id"], {"a": 1}))
            assert run["status"] in ("succeeded", "failed")
            if run["status"] == "succeeded":
                assert run["output"][0]["json"]["v"] in (None, "", {"a": 1}), run["output"]
        else:
            assert response.status_code == 400 and "not a valid expression" in response.text
    document = {
        "nodes": [
            node("start", "trigger.manual"),
            node("copy", "data.set", {"values": {"copied": "{{ json.text }}", "run": "{{ run.id }}"}}),
        ],
        "edges": [edge("start", "copy")],
    }
    workflow = await create(wf, document)
    run_id = await start(wf, workflow["id"], {"text": "{{ run.id }}"})
    run = await finished(wf, run_id)
    out = run["output"][0]["json"]
    assert out["copied"] == "{{ run.id }}", "data that looks like an expression stays text"
    assert out["run"] == run_id
    assert workflow["id"]


async def test_a_run_is_cancelled_and_a_slow_run_times_out(wf: App) -> None:
    async with http_sink(delay_s=30) as sink:
        document = {
            "nodes": [
                node("start", "trigger.manual"),
                node("slow", "http.request", {"url": sink.url, "timeout_s": 60}),
            ],
            "edges": [edge("start", "slow")],
        }
        workflow = await create(wf, document)
        run_id = await start(wf, workflow["id"], {})
        deadline = time.monotonic() + 10
        while not sink.received:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        cancelled = await wf.client.post(f"/api/v1/runs/{run_id}/cancel", headers=wf.auth())
        assert cancelled.status_code == 200
        run = await finished(wf, run_id)
        assert run["status"] == "cancelled" and "cancelled by" in run["error"]
        again = await wf.client.post(f"/api/v1/runs/{run_id}/cancel", headers=wf.auth())
        assert again.status_code == 409

        timed = {**document, "settings": {"timeout_s": 1}}
        saved = await wf.client.put(
            f"/api/v1/workflows/{workflow['id']}", json={"version": 1, "document": timed}, headers=wf.auth()
        )
        assert saved.status_code == 200
        started = time.monotonic()
        run = await finished(wf, await start(wf, workflow["id"], {}))
        assert run["status"] == "timed_out" and time.monotonic() - started < 10


async def test_concurrency_limits_how_many_runs_of_a_workflow_go_at_once(wf: App) -> None:
    async with http_sink(delay_s=0.5) as sink:
        document = {
            "nodes": [node("start", "trigger.manual"), node("slow", "http.request", {"url": sink.url})],
            "edges": [edge("start", "slow")],
            "settings": {"concurrency": 1},
        }
        workflow = await create(wf, document)
        run_ids = [await start(wf, workflow["id"], {"i": i}) for i in range(3)]
        most = 0
        while True:
            listing = (
                await wf.client.get("/api/v1/runs", params={"workflow_id": workflow["id"]}, headers=wf.auth())
            ).json()["items"]
            most = max(most, sum(1 for r in listing if r["status"] == "running"))
            if all(r["status"] in FINAL for r in listing):
                break
            await asyncio.sleep(0.05)
    assert most == 1
    assert all(r["status"] == "succeeded" for r in listing) and len(run_ids) == 3


async def test_a_webhook_starts_a_run_and_a_sync_hook_answers_with_its_output(wf: App) -> None:
    document = {
        "nodes": [
            node("hook", "trigger.webhook", {"response": "sync", "wait_s": 10}),
            node(
                "reply", "data.set", {"values": {"greeting": "hello {{ json.body.name }}"}, "keep_only": True}
            ),
        ],
        "edges": [edge("hook", "reply")],
    }
    workflow = await create(wf, document)
    url = workflow["hooks"]["hook"]
    answered = await wf.client.post(url, json={"name": "ada"})
    assert answered.status_code == 200, answered.text
    assert answered.json()["output"] == [{"greeting": "hello ada"}]
    shown = (await wf.client.get(f"/api/v1/workflows/{workflow['id']}", headers=wf.auth())).json()
    assert "hooks" not in shown, "the secret URL is shown once"
    assert (await wf.client.post("/hooks/not-a-secret", json={})).status_code == 404

    rotated = await wf.client.post(f"/api/v1/workflows/{workflow['id']}/hooks/hook/rotate", headers=wf.auth())
    assert rotated.status_code == 200
    assert (await wf.client.post(url, json={})).status_code == 404
    assert (await wf.client.post(rotated.json()["url"], json={"name": "bo"})).json()["output"] == [
        {"greeting": "hello bo"}
    ]


async def test_run_events_stream_node_and_run_changes(wf: App) -> None:
    workflow = await create(wf, BRANCHES)
    run_id = await start(wf, workflow["id"], [{"n": 3}])
    events: list[str] = []
    async with wf.client.stream("GET", f"/api/v1/runs/{run_id}/events", headers=wf.auth()) as stream:
        async for line in stream.aiter_lines():
            if line.startswith("event: "):
                events.append(line.removeprefix("event: "))
            if events and events[-1] == "end":
                break
    assert events[0] == "snapshot" and events[-1] == "end"
    assert workflow["id"]


async def test_bad_run_requests_get_problems_not_500s(wf: App) -> None:
    auth = wf.auth()
    assert (await wf.client.post("/api/v1/workflows/nope/runs", json={}, headers=auth)).status_code == 404
    assert (await wf.client.get("/api/v1/runs/nope", headers=auth)).status_code == 404
    assert (await wf.client.get("/api/v1/runs", params={"status": "weird"}, headers=auth)).status_code == 400
    assert (
        await wf.client.get("/api/v1/runs", params={"since": "2026-01-01T00:00:00"}, headers=auth)
    ).status_code == 400
    workflow = await create(wf, BRANCHES)
    too_many = await wf.client.post(
        f"/api/v1/workflows/{workflow['id']}/runs", json={"input": [{}] * 10_001}, headers=auth
    )
    assert too_many.status_code in (400, 413)
    catalog = (await wf.client.get("/api/v1/workflow-node-types", headers=auth)).json()["items"]
    condition = next(t for t in catalog if t["type"] == "logic.condition")
    assert condition["outputs"] == ["true", "false"] and condition["schema"]["required"] == ["condition"]


async def test_final_runs_are_pruned_by_count_and_age(wf: App) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from borealis.core.clock import utcnow
    from borealis.server.workflows.models import WorkflowRun

    workflow = await create(wf, BRANCHES)
    run_ids = [await start(wf, workflow["id"], {"n": i}) for i in range(5)]
    for run_id in run_ids:
        await finished(wf, run_id)
    service = app_state(wf.app).workflows
    async with service.db.transaction() as session:
        old = utcnow() - timedelta(days=service.settings.workflow_run_days + 1)
        await session.execute(update(WorkflowRun).where(WorkflowRun.id == run_ids[0]).values(created_at=old))
    service.settings = type(service.settings)(**{**vars(service.settings), "workflow_runs_per_workflow": 3})
    assert await service.prune() == 2
    left = (
        await wf.client.get("/api/v1/runs", params={"workflow_id": workflow["id"]}, headers=wf.auth())
    ).json()
    assert [r["id"] for r in left["items"]] == run_ids[:1:-1], "the oldest by age, then beyond the newest 3"
