"""Fixtures shared by every test: a database per test (SQLite, and PostgreSQL when CI provides it),
an in-process app for API tests, and a real `borealis server` subprocess for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from borealis.core.home import Home
from borealis.core.settings import ServerSettings, load_server_settings, update_toml
from tests.support import free_port, run_sync

if TYPE_CHECKING:
    from fastapi import FastAPI

POSTGRES_URL = os.environ.get("BOREALIS_TEST_POSTGRES_URL", "")
NATS_URL = os.environ.get("BOREALIS_TEST_NATS_URL", "")
TEST_SERVER_SETTINGS = {"heartbeat_s": 1.0, "last_seen_flush_s": 1.0, "sweep_interval_s": 0.2}


def _asyncpg_dsn(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


async def _create_database(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn(POSTGRES_URL))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _drop_database(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn(POSTGRES_URL))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _postgres_url_for(name: str) -> str:
    base = _asyncpg_dsn(POSTGRES_URL)
    head, _, _ = base.rpartition("/")
    return f"postgresql+asyncpg://{head.split('://', 1)[1]}/{name}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database for this test: SQLite in tmp_path, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield ""
        return
    if not POSTGRES_URL:
        pytest.skip("BOREALIS_TEST_POSTGRES_URL is not set")
    name = f"borealis_t_{uuid.uuid4().hex[:12]}"
    run_sync(_create_database(name))
    try:
        yield _postgres_url_for(name)
    finally:
        run_sync(_drop_database(name))


def make_settings(home: Path, db_url: str, **overrides: object) -> ServerSettings:
    update_toml(Home(home).server_toml, **{**TEST_SERVER_SETTINGS, **overrides})
    return load_server_settings(Home(home), db_url=db_url or None)


async def admin_token(
    settings: ServerSettings, scopes: tuple[str, ...] = ("admin",), name: str = "test"
) -> str:
    from borealis.server.admin import create_token_secret
    from borealis.server.auth.scopes import parse_scopes

    return await create_token_secret(settings, name, parse_scopes(scopes), None)


@dataclass
class App:
    """The server app in-process (lifespan run), driven through httpx without sockets."""

    settings: ServerSettings
    client: httpx.AsyncClient
    token: str
    app: FastAPI

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}


@pytest.fixture
async def app(tmp_path: Path, db_url: str) -> AsyncIterator[App]:
    from borealis.server.app import create_app

    settings = make_settings(tmp_path / "home", db_url)
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        token = await admin_token(settings)
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield App(settings=settings, client=client, token=token, app=application)


@dataclass
class ServerProcess:
    """A real `borealis server` subprocess on an ephemeral loopback port."""

    home: Path
    port: int
    db_url: str
    token: str = ""
    bus_url: str = ""
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path = field(default_factory=Path)
    args: tuple[str, ...] = ()  # extra `borealis server` options
    tls: bool = False  # served over HTTPS (the test client does not verify the certificate)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def settings(self) -> ServerSettings:
        return load_server_settings(Home(self.home), db_url=self.db_url or None)

    @property
    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
            verify=not self.tls,
        )

    def start(self, timeout: float = 30.0) -> None:
        command = [
            sys.executable,
            "-m",
            "borealis",
            "server",
            "--home",
            str(self.home),
            "--port",
            str(self.port),
        ]
        if self.db_url:
            command += ["--db", self.db_url]
        if self.bus_url:
            command += ["--bus", self.bus_url]
        command += self.args
        self.log_path = self.home / f"stdout-{time.monotonic_ns()}.log"
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1, verify=not self.tls).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server not ready in {timeout}s: {self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> int:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else 0

    def install_code(
        self, uses: int = 1, expires_s: int = 3600, approve: bool = False, tags: tuple[str, ...] = ()
    ) -> str:
        with self.api as api:
            response = api.post(
                "/api/v1/enrollments",
                json={
                    "uses": uses,
                    "expires_in_s": expires_s,
                    "approval_required": approve,
                    "tags": list(tags),
                },
            )
        response.raise_for_status()
        return str(response.json()["install_code"])

    def agents(self) -> list[dict[str, object]]:
        with self.api as api:
            response = api.get("/api/v1/agents")
        response.raise_for_status()
        items: list[dict[str, object]] = response.json()["items"]
        return items

    def agent(self, agent_id: str) -> dict[str, object]:
        with self.api as api:
            response = api.get(f"/api/v1/agents/{agent_id}")
        response.raise_for_status()
        result: dict[str, object] = response.json()
        return result


@pytest.fixture
def server(tmp_path: Path, db_url: str) -> Iterator[ServerProcess]:
    with running_server(tmp_path / "server-home", db_url) as process:
        yield process


@contextlib.contextmanager
def running_server(home: Path, db_url: str, **settings: object) -> Iterator[ServerProcess]:
    """A real server on `home` with the test settings plus `settings`, an admin token, killed at the end."""
    made = make_settings(home, db_url, **settings)
    process = ServerProcess(home=home, port=free_port(), db_url=db_url)
    process.token = run_sync(admin_token(made))
    process.start()
    try:
        yield process
    finally:
        process.kill()
