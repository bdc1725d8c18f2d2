"""A small client of the server's API for commands that act on a running server: errors come back
as `BorealisError`s carrying the server's problem detail, so the CLI prints one line."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import httpx

from borealis.core.errors import BorealisError, ConfigError
from borealis.protocol.tls import pinned_context

TIMEOUT_S = 30.0


class ApiError(BorealisError):
    exit_code = 1


class ApiClient:
    def __init__(self, server: str, token: str, cacert: str | None = None) -> None:
        self._server = server.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        # A server's self-signed certificate (Server/keys/tls_cert.pem), trusted exactly; else the CAs.
        self._verify: ssl.SSLContext | bool = pinned_context(Path(cacert)) if cacert else True

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._call("GET", path, params=params)

    def post(self, path: str, body: Any) -> dict[str, Any]:
        return self._call("POST", path, json=body)

    def put(self, path: str, body: Any) -> dict[str, Any]:
        return self._call("PUT", path, json=body)

    def _call(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        try:
            response = httpx.request(
                method,
                self._server + path,
                headers=self._headers,
                timeout=TIMEOUT_S,
                verify=self._verify,
                **options,
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
