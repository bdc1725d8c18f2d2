"""Poll triggers against a JSON API on loopback: a change fires one run (not one per poll), the cursor
is sent back, the keys survive a server restart, one process polls a node per interval, and the
SSRF guard stops a poll of loopback when server.toml does not allow it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest

from borealis.server.state import app_state
from borealis.server.workflows.poller import Poller
from tests.conftest import App, ServerProcess, admin_token, make_settings
from tests.support import eventually, free_port, run_sync, wait_for

ALLOW_LOOPBACK = ["127.0.0.0/8"]


class Feed:
    """A JSON API in a thread: every GET answers `body`; the query of each request is kept."""

    def __init__(self) -> None:
        self.body: Any = {"items": []}
        self.queries: list[dict[str, list[str]]] = []
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                feed.queries.append(parse_qs(urlsplit(self.path).query))
                payload = orjson.dumps(feed.body)
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/tickets"

    def __enter__(self) -> Feed:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def feed() -> Iterator[Feed]:
    with Feed() as running:
        yield running


def poll_workflow(url: str, interval_s: float = 1.0, **params: Any) -> dict[str, Any]:
    return {
        "name": "new tickets",
        "document": {
            "nodes": [
                {
                    "id": "poll",
                    "type": "trigger.poll",
                    "params": {
                        "url": url,
                        "items_path": "items",
                        "key_path": "id",
                        "interval_s": interval_s,
                        "cursor_param": "since",
                        "cursor_path": "next",
                        **params,
                    },
                },
                {"id": "tag", "type": "data.set", "params": {"values": {"seen": True}}},
            ],
            "edges": [{"id": "e1", "source": "poll", "target": "tag"}],
        },
    }


@pytest.fixture
async def allowed_app(tmp_path: Path, db_url: str) -> AsyncIterator[App]:
    """The app in-process with loopback allowed for workflow HTTP (the feed lives there)."""
    from borealis.server.app import create_app

    settings = make_settings(tmp_path / "home", db_url, workflow_http_allow=ALLOW_LOOPBACK)
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        token = await admin_token(settings)
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield App(settings=settings, client=client, token=token, app=application)


async def _runs(app: App, workflow_id: str) -> list[dict[str, Any]]:
    response = await app.client.get(f"/api/v1/runs?workflow_id={workflow_id}", headers=app.auth())
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


@pytest.mark.slow
async def test_a_change_fires_one_run_not_one_per_poll(allowed_app: App, feed: Feed) -> None:
    app = allowed_app
    feed.body = {"items": [{"id": 1, "title": "disk full"}, {"id": 2, "title": "printer"}], "next": "c1"}
    created = await app.client.post("/api/v1/workflows", json=poll_workflow(feed.url), headers=app.auth())
    assert created.status_code == 201, created.text
    workflow_id = created.json()["id"]

    async def polled(times: int) -> bool:
        return len(feed.queries) >= times

    await eventually(lambda: polled(3), 20, "three polls", interval=0.1)
    assert await _runs(app, workflow_id) == [], "the first poll records what is there; it fires nothing"
    assert feed.queries[0] == {} and feed.queries[1] == {"since": ["c1"]}, "the cursor goes back"

    feed.body = {"items": [{"id": 2, "title": "printer"}, {"id": 3, "title": "VPN down"}], "next": "c2"}

    async def one_final_run() -> list[dict[str, Any]]:
        runs = await _runs(app, workflow_id)
        return runs if runs and runs[0]["status"] == "succeeded" else []

    runs = await eventually(one_final_run, 20, "the run of the change", interval=0.1)
    seen = len(feed.queries)
    await eventually(lambda: polled(seen + 3), 20, "three more polls", interval=0.1)
    runs = await _runs(app, workflow_id)
    assert len(runs) == 1, "the change fired once, not once per poll"
    assert runs[0]["trigger"] == {"type": "poll", "node_id": "poll"}
    assert [entry["json"] for entry in runs[0]["input"]] == [{"id": 3, "title": "VPN down"}]
    assert runs[0]["output"] == [{"json": {"id": 3, "title": "VPN down", "seen": True}, "binary_ref": None}]
    assert feed.queries[-1] == {"since": ["c2"]}

    feed.body = {"items": [{"id": 4}, {"id": 5}], "next": "c3"}
    await eventually(lambda: _two_runs(app, workflow_id), 20, "a second run", interval=0.1)
    second = (await _runs(app, workflow_id))[0]
    assert [entry["json"] for entry in second["input"]] == [{"id": 4}, {"id": 5}], "both new items, one run"


async def _two_runs(app: App, workflow_id: str) -> bool:
    return len(await _runs(app, workflow_id)) == 2


async def test_one_poller_polls_a_node_per_interval(allowed_app: App, feed: Feed) -> None:
    """Pollers of three 'processes' on one database: the claim lets one of them poll the node."""
    app = allowed_app
    state = app_state(app.app)
    await state.workflows.poller.stop()  # the app's own poller joins in below, as a third process
    feed.body = {"items": [{"id": 1}], "next": None}
    body = poll_workflow(feed.url, interval_s=3600)
    created = await app.client.post("/api/v1/workflows", json=body, headers=app.auth())
    assert created.status_code == 201, created.text
    kicks: list[int] = []
    pollers = [
        Poller(state.db, state.workflows.registry, state.workflows.services, lambda: kicks.append(1))
        for _ in range(3)
    ]
    assert all([len(await poller.due()) == 1 for poller in pollers]), "each sees the node due"
    await asyncio.gather(*(poller.poll_due() for poller in pollers))
    assert len(feed.queries) == 1, "one poll in the interval, by one of the three"
    await asyncio.gather(*(poller.poll_due() for poller in pollers))
    assert len(feed.queries) == 1, "the interval has not passed"
    stored = await state.workflows.services.load_state(created.json()["id"], "poll")
    assert stored["keys"] == ["1"] and stored["last_error"] is None


async def test_a_poll_of_loopback_is_refused_unless_allowed(app: App, feed: Feed) -> None:
    """The plain app does not allow loopback: the poll is refused by the SSRF guard, recorded in
    the node's state, and the feed never sees a request."""
    created = await app.client.post("/api/v1/workflows", json=poll_workflow(feed.url), headers=app.auth())
    assert created.status_code == 201, created.text
    services = app_state(app.app).workflows.services

    async def refused() -> dict[str, Any]:
        stored: dict[str, Any] = await services.load_state(created.json()["id"], "poll")
        return stored if stored.get("last_error") else {}

    stored = await eventually(refused, 20, "the refused poll", interval=0.1)
    assert "may not reach" in stored["last_error"] and "127.0.0.1" in stored["last_error"]
    assert "keys" not in stored, "nothing was read"
    assert feed.queries == []
    assert await _runs(app, created.json()["id"]) == []


@pytest.mark.slow
def test_a_change_fires_once_across_a_server_restart(tmp_path: Path, db_url: str, feed: Feed) -> None:
    home = tmp_path / "server-home"
    settings = make_settings(home, db_url, workflow_http_allow=ALLOW_LOOPBACK)
    server = ServerProcess(home=home, port=free_port(), db_url=db_url)
    server.token = run_sync(admin_token(settings))
    feed.body = {"items": [{"id": 1}], "next": "a"}
    server.start()
    try:
        with server.api as api:
            created = api.post("/api/v1/workflows", json=poll_workflow(feed.url))
            assert created.status_code == 201, created.text
            workflow_id = created.json()["id"]

            def runs() -> list[dict[str, Any]]:
                response = api.get("/api/v1/runs", params={"workflow_id": workflow_id})
                response.raise_for_status()
                items: list[dict[str, Any]] = response.json()["items"]
                return items

            wait_for(lambda: len(feed.queries) >= 2, what="the first polls")
            feed.body = {"items": [{"id": 1}, {"id": 2}], "next": "b"}
            wait_for(lambda: len(runs()) == 1, what="the run of the change")
            seen = len(feed.queries)
            wait_for(lambda: len(feed.queries) >= seen + 2, what="more polls")
        server.stop()

        feed.body = {"items": [{"id": 1}, {"id": 2}, {"id": 3}], "next": "c"}  # changed while down
        stopped_at = len(feed.queries)
        server.start()
        with server.api as api:
            wait_for(lambda: len(runs()) == 2, what="the run of the change made while the server was down")
            seen = len(feed.queries)
            wait_for(lambda: len(feed.queries) >= seen + 3, what="polls after the restart")
            after = runs()
        assert len(after) == 2, "neither change fired again after the restart"
        assert [entry["json"] for entry in after[0]["input"]] == [{"id": 3}]
        assert [entry["json"] for entry in after[1]["input"]] == [{"id": 2}]
        assert feed.queries[stopped_at] == {"since": ["b"]}, "the cursor survived the restart"
    finally:
        server.kill()
