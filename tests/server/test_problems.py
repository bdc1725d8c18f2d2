"""The one edge where errors become HTTP responses: overload is a retryable 503, never a 500."""

from __future__ import annotations

import sqlite3

import httpx
from fastapi import FastAPI
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from borealis.server import problems


def _app_raising(error: Exception) -> FastAPI:
    app = FastAPI()
    problems.install(app)

    @app.get("/boom")
    async def boom() -> None:
        raise error

    return app


async def _get(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/boom")


async def test_an_exhausted_connection_pool_is_a_503_problem() -> None:
    response = await _get(_app_raising(PoolTimeout("QueuePool limit of size 5 overflow 10 reached")))
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 503 and "busy" in body["detail"]
    assert "QueuePool" not in response.text  # no internals to the client


async def test_a_locked_sqlite_database_is_a_503_problem() -> None:
    locked = OperationalError("UPDATE …", {}, sqlite3.OperationalError("database is locked"))
    response = await _get(_app_raising(locked))
    assert response.status_code == 503
    assert response.json()["type"].endswith("/unavailable")


async def test_anything_else_is_a_500_problem_without_a_trace() -> None:
    response = await _get(_app_raising(RuntimeError("secret internals")))
    assert response.status_code == 500
    assert "secret internals" not in response.text
    assert response.json()["title"] == "Internal error"
