"""Enrollment against a fake HTTP transport: what is sent, what is written, and what is refused."""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from borealis.agent.credentials import key_path, load_agent_key, pinned_server_key
from borealis.agent.enrollment import enroll
from borealis.agent.identity import identity_path, load_identity
from borealis.core.errors import Conflict, EnrollmentRefused, InvalidInput, TransientError
from borealis.core.home import Home
from borealis.core.settings import load_agent_settings
from borealis.protocol import keys
from borealis.protocol.install_code import InstallCode

SERVER_KEY = keys.generate()
CODE = InstallCode("http://rmm.example:5000", keys.fingerprint(SERVER_KEY), "s3cret").encode()


def client_for(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def accept(requests: list[dict[str, Any]], server_key: Any = SERVER_KEY) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        requests.append({"url": str(request.url), "body": json.loads(request.content)})
        body = {
            "agent_id": "agt_1",
            "status": "active",
            "server_public_key": keys.public_b64(server_key),
            "heartbeat_s": 30.0,
        }
        return httpx.Response(201, json=body)

    return client_for(handler)


def refuse(status: int, detail: str) -> httpx.Client:
    problem = {"type": "about:blank", "title": "Refused", "status": status, "detail": detail}
    return client_for(
        lambda _: httpx.Response(status, json=problem, headers={"content-type": "application/problem+json"})
    )


def nothing_written(home: Home) -> bool:
    return not home.root.exists() or not any(home.root.rglob("*"))


def test_enroll_sends_key_and_facts_and_writes_the_identity(tmp_path: Path) -> None:
    home, requests = Home(tmp_path / "h"), []
    result = enroll(home, CODE, client=accept(requests))

    sent = requests[0]
    assert sent["url"] == "http://rmm.example:5000/api/v1/enroll"
    assert sent["body"]["secret"] == "s3cret"
    assert set(sent["body"]["facts"]) >= {"os", "os_version", "arch", "version"}
    assert sent["body"]["hostname"]
    assert keys.public_b64(load_agent_key(home)) == sent["body"]["public_key"]
    identity = load_identity(home)
    assert identity == result.identity
    assert (identity.agent_id, identity.server_url) == ("agt_1", "http://rmm.example:5000")
    assert keys.fingerprint(pinned_server_key(home, identity)) == keys.fingerprint(SERVER_KEY)
    assert stat.S_IMODE(key_path(home).stat().st_mode) == 0o600
    assert load_agent_settings(home).server_url == "http://rmm.example:5000"


def test_server_option_overrides_the_url_in_the_code(tmp_path: Path) -> None:
    home, requests = Home(tmp_path / "h"), []
    enroll(home, CODE, server_url="http://10.0.0.5:8000/", client=accept(requests))
    assert requests[0]["url"] == "http://10.0.0.5:8000/api/v1/enroll"
    assert load_identity(home).server_url == "http://10.0.0.5:8000"


@pytest.mark.parametrize(
    ("status", "error"), [(403, EnrollmentRefused), (410, EnrollmentRefused), (400, InvalidInput)]
)
def test_refusal_carries_the_servers_detail_and_writes_nothing(
    tmp_path: Path, status: int, error: type[Exception]
) -> None:
    home = Home(tmp_path / "h")
    with pytest.raises(error, match="install code has expired"):
        enroll(home, CODE, client=refuse(status, "install code has expired"))
    assert nothing_written(home)


def test_server_with_another_key_is_refused_and_nothing_written(tmp_path: Path) -> None:
    home = Home(tmp_path / "h")
    with pytest.raises(EnrollmentRefused, match="server key does not match the install code"):
        enroll(home, CODE, client=accept([], server_key=keys.generate()))
    assert nothing_written(home)


def test_unreachable_server_is_a_transient_error(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    home = Home(tmp_path / "h")
    with pytest.raises(TransientError, match=re.escape("cannot reach the server at http://rmm.example:5000")):
        enroll(home, CODE, client=client_for(handler))
    assert nothing_written(home)


def test_damaged_code_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        enroll(Home(tmp_path / "h"), "BRL1-!!!", client=accept([]))


def test_second_enrollment_needs_force(tmp_path: Path) -> None:
    home = Home(tmp_path / "h")
    enroll(home, CODE, client=accept([]))
    first_key = identity_path(home).read_bytes()
    with pytest.raises(Conflict, match="already enrolled as agent agt_1; use --force"):
        enroll(home, CODE, client=accept([]))
    assert identity_path(home).read_bytes() == first_key
    enroll(home, CODE, force=True, client=accept([]))
