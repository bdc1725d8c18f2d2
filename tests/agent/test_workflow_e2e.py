"""End to end: a webhook → condition → script on two real agents → merge → HTTP request workflow on a
real server, and a run in flight when the server is killed is `interrupted` after its restart."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.agent.agent_process import AgentProcess
from tests.agent.test_agent_online import online_agent
from tests.conftest import ServerProcess, running_server
from tests.support import wait_for

pytestmark = pytest.mark.slow
FINAL = {"succeeded", "failed", "timed_out", "cancelled", "interrupted"}


class Sink(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []
    delay_s = 0.0

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        type(self).received.append(json.loads(self.rfile.read(length) or b"null"))
        time.sleep(type(self).delay_s)
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"stored": true}')

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def sink() -> Iterator[tuple[str, type[Sink]]]:
    handler = type("RecordingSink", (Sink,), {"received": [], "delay_s": 0.0})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def wf_server(tmp_path: Path, db_url: str) -> Iterator[ServerProcess]:
    with running_server(tmp_path / "wf-server", db_url, workflow_http_allow=["127.0.0.0/8"]) as process:
        yield process


def run_of(server: ServerProcess, run_id: str) -> dict[str, Any]:
    with server.api as api:
        run: dict[str, Any] = api.get(f"/api/v1/runs/{run_id}").json()
    return run


def test_webhook_condition_scripts_on_two_agents_merge_and_http(
    wf_server: ServerProcess, agents: Callable[..., AgentProcess], sink: tuple[str, type[Sink]]
) -> None:
    url, handler = sink
    first, second = online_agent(wf_server, agents), online_agent(wf_server, agents)
    document = {
        "nodes": [
            {"id": "hook", "type": "trigger.webhook", "params": {"response": "async"}},
            {"id": "check", "type": "logic.condition", "params": {"condition": "json.body.deploy == `true`"}},
            {
                "id": "script",
                "type": "agents.run_script",
                "params": {
                    "target": {"agents": [first.agent_id, second.agent_id]},
                    "language": "bash",
                    "script": 'echo "release $RELEASE"',  # data reaches scripts as env, never as code
                    "env": {"RELEASE": "{{ json.body.release }}"},
                    "timeout_s": 30,
                },
            },
            {"id": "skipped", "type": "data.set", "params": {"values": {"skipped": True}}},
            {"id": "join", "type": "logic.merge"},
            {
                "id": "report",
                "type": "http.request",
                "params": {
                    "method": "POST",
                    "url": f"{url}/results",
                    "body": {
                        "agent": "{{ json.agent_id }}",
                        "out": "{{ json.stdout }}",
                        "code": "{{ json.exit_code }}",
                    },
                },
            },
        ],
        "edges": [
            {"source": "hook", "target": "check"},
            {"source": "check", "source_port": "true", "target": "script"},
            {"source": "check", "source_port": "false", "target": "skipped"},
            {"source": "script", "target": "join", "target_port": "in1"},
            {"source": "skipped", "target": "join", "target_port": "in2"},
            {"source": "join", "target": "report"},
        ],
    }
    with wf_server.api as api:
        created = api.post("/api/v1/workflows", json={"name": "deploy", "document": document})
        assert created.status_code == 201, created.text
        hook = created.json()["hooks"]["hook"]
    fired = httpx.post(f"{wf_server.url}{hook}", json={"deploy": True, "release": "1.2.3"}, timeout=10)
    assert fired.status_code == 202, fired.text
    run_id = fired.json()["run_id"]
    run = wait_for(
        lambda: (r := run_of(wf_server, run_id))["status"] in FINAL and r, 60, what="the run to finish"
    )
    assert run["status"] == "succeeded", run

    records = {record["node_id"]: record for record in run["nodes"]}
    assert set(records) == {"hook", "check", "script", "join", "report"}
    for record in records.values():
        assert (
            record["input"] is not None and record["output"] is not None and record["status"] == "succeeded"
        )
    assert records["hook"]["output"]["main"][0]["json"]["body"] == {"deploy": True, "release": "1.2.3"}
    per_agent = {item["json"]["agent_id"]: item["json"] for item in records["script"]["output"]["main"]}
    assert set(per_agent) == {first.agent_id, second.agent_id}
    assert all(r["status"] == "succeeded" and r["stdout"] == "release 1.2.3\n" for r in per_agent.values())
    assert sorted(body["agent"] for body in handler.received) == sorted(per_agent)
    assert all(body["out"] == "release 1.2.3\n" and body["code"] == 0 for body in handler.received)

    # The other branch: nothing runs on the agents.
    fired = httpx.post(f"{wf_server.url}{hook}", json={"deploy": False}, timeout=10)
    run = wait_for(lambda: (r := run_of(wf_server, fired.json()["run_id"]))["status"] in FINAL and r, 30)
    assert {r["node_id"] for r in run["nodes"]} == {"hook", "check", "skipped", "join", "report"}


def test_a_run_in_flight_when_the_server_dies_is_interrupted_after_restart(
    wf_server: ServerProcess, sink: tuple[str, type[Sink]]
) -> None:
    url, handler = sink
    handler.delay_s = 20
    document = {
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "slow", "type": "http.request", "params": {"method": "POST", "url": url, "timeout_s": 60}},
        ],
        "edges": [{"source": "start", "target": "slow"}],
    }
    with wf_server.api as api:
        workflow = api.post("/api/v1/workflows", json={"name": "slow", "document": document}).json()
        run_id = api.post(f"/api/v1/workflows/{workflow['id']}/runs", json={"input": {}}).json()["id"]
    wait_for(lambda: handler.received, 15, what="the slow request")
    assert run_of(wf_server, run_id)["status"] == "running"
    wf_server.kill()
    wf_server.start()
    run = run_of(wf_server, run_id)
    assert run["status"] == "interrupted" and "server stopped" in run["error"]
    with wf_server.api as api:
        again = api.post(f"/api/v1/workflows/{workflow['id']}/runs", json={"input": {}})
    assert again.status_code == 201, "the workflow still runs after the restart"
