"""A small client of the server's API for commands that act on a running server: errors come back
as `BorealisError`s carrying the server's problem detail, so the CLI prints one line."""

from __future__ import annotations

from typing import Any

import httpx

from borealis.core.errors import BorealisError, ConfigError

TIMEOUT_S = 30.0


class ApiError(BorealisError):
    exit_code = 1


class ApiClient:
    def __init__(self, server: str, token: str) -> None:
        self._server = server.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._call("GET", path, params=params)

    def post(self, path: str, body: Any) -> dict[str, Any]:
        return self._call("POST", path, json=body)

    def put(self, path: str, body: Any) -> dict[str, Any]:
        return self._call("PUT", path, json=body)

    def _call(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        try:
            response = httpx.request(
                method, self._server + path, headers=self._headers, timeout=TIMEOUT_S, **options
            )
        except httpx.HTTPError as exc:
            raise ConfigError(f"cannot reach the server at {self._server}: {exc}") from None
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail") or response.text
            except ValueError:
                detail = response.text[:200]
            raise ApiError(f"the server answered {response.status_code}: {detail}")
        answer: dict[str, Any] = response.json()
        return answer
