"""Request heads on a real server: header size and count are bounded before any login, and
X-Forwarded-For counts only from the proxies server.toml names."""

from __future__ import annotations

import select
import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ServerProcess, running_server

PASSWORD = "correct horse battery staple"


def exchange(server: ServerProcess, head: bytes, timeout: float = 10.0) -> bytes:
    """Send `head` (not necessarily finished) in small pieces, as a slow client would, stopping when the
    server answers; then read until the server closes (a server that holds the connection fails)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        try:
            for start in range(0, len(head), 4096):
                sock.sendall(head[start : start + 4096])
                if select.select([sock], [], [], 0.01)[0]:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
        except TimeoutError:
            pytest.fail(f"the server kept the connection open; it answered {received[:200]!r}")
        return received


@pytest.fixture
def small_heads(tmp_path: Path, db_url: str) -> ServerProcess:
    with running_server(tmp_path / "home", db_url, max_header_bytes=8192, max_headers=20) as server:
        yield server  # type: ignore[misc]


def test_an_unfinished_header_that_grows_past_the_limit_is_refused(server: ServerProcess) -> None:
    # 200 KB of one header that never ends (the default limit is 32 KiB): the server answers 431 and
    # closes instead of holding it.
    answer = exchange(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Junk: " + b"a" * 200_000)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b"application/problem+json" in answer and b'"status":431' in answer


def test_too_many_headers_are_refused(small_heads: ServerProcess, server: ServerProcess) -> None:
    fields = b"".join(b"X-H%d: v\r\n" % i for i in range(21))
    answer = exchange(small_heads, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    fields = b"".join(b"X-H%d: v\r\n" % i for i in range(100))  # 101 with Host: over the default
    answer = exchange(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]


def test_a_long_but_finished_head_over_the_limit_is_refused(small_heads: ServerProcess) -> None:
    fields = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 1000) for i in range(10))
    answer = exchange(small_heads, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]


def test_ordinary_requests_and_large_bodies_pass(small_heads: ServerProcess) -> None:
    headers = {f"X-H{i}": "v" * 200 for i in range(15)}
    with httpx.Client(base_url=small_heads.url, timeout=10) as client:
        assert client.get("/healthz", headers=headers).status_code == 200
        # A body is not a head: 600 KB of it in one go is judged by the body rules (here: 422), not 431.
        big = client.post("/api/v1/auth/login", json={"username": "u" * 600_000, "password": "x"})
        assert big.status_code == 422
        for _ in range(3):  # keep-alive: the next request's head is counted afresh
            assert client.get("/healthz", headers=headers).status_code == 200


def failed_login_ip(server: ServerProcess, forwarded_for: str) -> str:
    with server.api as api:
        made = api.post("/api/v1/users", json={"username": "olivia", "role": "viewer", "password": PASSWORD})
        assert made.status_code == 201, made.text
    with httpx.Client(base_url=server.url, timeout=10) as client:
        answer = client.post(
            "/api/v1/auth/login",
            json={"username": "olivia", "password": "wrong password here"},
            headers={"X-Forwarded-For": forwarded_for},
        )
        assert answer.status_code == 401
    with server.api as api:
        [entry] = api.get("/api/v1/audit", params={"action": "auth.login_failed"}).json()["items"]
    return str(entry["ip"])


def test_forwarded_for_is_ignored_by_default(tmp_path: Path, db_url: str) -> None:
    with running_server(tmp_path / "home", db_url) as server:
        assert failed_login_ip(server, "203.0.113.7") == "127.0.0.1"


def test_forwarded_for_counts_from_a_configured_proxy(tmp_path: Path, db_url: str) -> None:
    with running_server(tmp_path / "home", db_url, trusted_proxies=["127.0.0.0/8"]) as server:
        assert failed_login_ip(server, "203.0.113.7") == "203.0.113.7"


def test_a_long_answer_on_a_kept_alive_connection_is_not_cut_by_the_idle_timer(server: ServerProcess) -> None:
    # A browser reuses a kept-alive connection for its event stream: the idle timer armed after the
    # first answer (5 s) must be cancelled by the next request, or it closes the stream mid-answer.
    auth = f"Authorization: Bearer {server.token}\r\n".encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 "), first[:200]
        sock.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n")
        stream = b""
        deadline = time.monotonic() + 7.0  # past uvicorn's 5 s keep-alive timeout
        while time.monotonic() < deadline:
            if select.select([sock], [], [], 0.2)[0]:
                chunk = sock.recv(65536)
                assert chunk, f"the server closed the stream after {stream[:300]!r}"
                stream += chunk
        assert b"event: hello" in stream
