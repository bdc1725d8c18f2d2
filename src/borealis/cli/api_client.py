"""A small client of the server's API for commands that act on a running server: errors come back
as `BorealisError`s carrying the server's problem detail, so the CLI prints one line."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from borealis.core.errors import BorealisError, ConfigError, InvalidInput
from borealis.protocol.tls import pinned_context

TIMEOUT_S = 30.0


class ApiError(BorealisError):
    exit_code = 1


class TokenRefused(ApiError):
    """The server refused the credentials (401) or their scopes (403): exit code 4."""

    exit_code = 4


class ApiNotFound(ApiError):
    exit_code = 1


def segment(value: str) -> str:
    """An operator-given id as one path segment (a `/` or `?` in it cannot reach another route)."""
    return quote(value, safe="")


class ApiClient:
    """One connection pool per command; `get`/`post`/… answer the decoded JSON (or {} for a 204)."""

    def __init__(self, server: str, token: str, cacert: str | None = None) -> None:
        self._server = server.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        # A server's self-signed certificate (Server/keys/tls_cert.pem), trusted exactly; else the CAs.
        self._verify: ssl.SSLContext | bool = pinned_context(Path(cacert)) if cacert else True
        self._http: httpx.Client | None = None

    @property
    def server(self) -> str:
        return self._server

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._call("GET", path, params=params)

    def post(self, path: str, body: Any = None) -> dict[str, Any]:
        return self._call("POST", path, json=body)

    def put(self, path: str, body: Any) -> dict[str, Any]:
        return self._call("PUT", path, json=body)

    def patch(self, path: str, body: Any) -> dict[str, Any]:
        return self._call("PATCH", path, json=body)

    def delete(self, path: str) -> dict[str, Any]:
        return self._call("DELETE", path)

    def get_all(self, path: str, params: dict[str, Any] | None = None, cap: int = 100_000) -> list[Any]:
        """Every item of a paged list (`{items, next_cursor}`), up to `cap` items."""
        query = {**(params or {}), "limit": 500}
        items: list[Any] = []
        while True:
            page = self.get(path, query)
            items.extend(page.get("items", []))
            cursor = page.get("next_cursor")
            if not cursor or len(items) >= cap:
                return items[:cap]
            query["cursor"] = cursor

    def event_lines(self, path: str, stop: threading.Event) -> Iterator[str]:
        """The lines of a server-sent event stream (its own connection, for a listener thread),
        until `stop` is set or the stream ends; errors end it quietly (callers poll as well)."""
        try:
            with (
                httpx.Client(
                    headers=self._headers, timeout=httpx.Timeout(TIMEOUT_S, read=60.0), verify=self._verify
                ) as http,
                http.stream("GET", self._server + path) as response,
            ):
                if response.status_code != 200:
                    return
                for line in response.iter_lines():
                    if stop.is_set():
                        return
                    yield line
        except httpx.HTTPError:
            return

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def _call(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        if any(part in (".", "..") for part in path.split("?", 1)[0].split("/")):
            # An id typed by the operator must not walk to another route (`job cancel ../agents/X/revoke`).
            raise InvalidInput(f"not an id: {path!r}")
        if self._http is None:
            self._http = httpx.Client(headers=self._headers, timeout=TIMEOUT_S, verify=self._verify)
        try:
            response = self._http.request(method, self._server + path, **options)
        except httpx.HTTPError as exc:
            raise ConfigError(f"cannot reach the server at {self._server}: {exc}") from None
        if response.status_code >= 400:
            raise error_of(response)
        if response.status_code == 204 or not response.content:
            return {}
        answer: dict[str, Any] = response.json()
        return answer


def error_of(response: httpx.Response) -> ApiError:
    """The one-line error for a refused request, from its RFC 9457 problem body."""
    try:
        detail = response.json().get("detail") or response.text
    except ValueError:
        detail = response.text[:200]
    code = response.status_code
    if code == 401:
        return TokenRefused(
            f"the server refused the token (401: {detail}); it may be revoked or expired: "
            "run `borealis login` again"
        )
    if code == 403:
        return TokenRefused(f"not allowed: {detail}")
    if code == 404:
        return ApiNotFound(f"not found: {detail}")
    return ApiError(f"the server answered {code}: {detail}")
