"""Operators for API tests: create an account through the API and log in with a browser-like client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from tests.conftest import App

PASSWORD = "correct horse battery staple"


@dataclass
class Browser:
    """A console session: the cookie lives in the client's jar, the CSRF token is kept here."""

    client: httpx.AsyncClient
    csrf: str = ""

    def csrf_header(self) -> dict[str, str]:
        return {"X-CSRF-Token": self.csrf}


async def create_user(app: App, username: str, role: str, password: str = PASSWORD) -> dict[str, object]:
    response = await app.client.post(
        "/api/v1/users", json={"username": username, "role": role, "password": password}, headers=app.auth()
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


@asynccontextmanager
async def browser(app: App) -> AsyncIterator[Browser]:
    """A separate client on the same app, so its cookies never mix with the admin token's client."""
    transport = httpx.ASGITransport(app=app.app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Browser(client)


async def log_in(who: Browser, username: str, password: str = PASSWORD) -> httpx.Response:
    response = await who.client.post("/api/v1/auth/login", json={"username": username, "password": password})
    if response.status_code == 200:
        who.csrf = response.json()["csrf_token"]
    return response
