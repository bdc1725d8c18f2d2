"""`borealis admin` as an operator runs it (DESIGN §4): secrets alone on stdout, one-line errors, and the
secrets it prints work against a server started on the same home."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from borealis.core.home import Home
from borealis.protocol import keys
from borealis.protocol.install_code import InstallCode
from borealis.server.keys import server_key
from tests.conftest import ServerProcess, make_settings
from tests.support import free_port

pytestmark = pytest.mark.slow

PASSWORD = "a long enough passphrase"


@dataclass
class Admin:
    """Runs `python -m borealis admin …` on one home (and database)."""

    home: Path
    db_url: str

    def __call__(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "borealis", "admin", *args, "--home", str(self.home)]
        if self.db_url:
            command += ["--db", self.db_url]
        return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=60)


@pytest.fixture
def admin(tmp_path: Path, db_url: str) -> Admin:
    home = tmp_path / "home"
    make_settings(home, db_url)  # the test server's fast heartbeat; admin commands ignore it
    return Admin(home, db_url)


def only_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    return lines[0]


def assert_one_line_error(result: subprocess.CompletedProcess[str], words: str) -> None:
    assert result.returncode != 0
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("borealis: error: ") and words in lines[0], lines[0]


def test_the_printed_secrets_work_against_a_server_on_that_home(admin: Admin) -> None:
    password = only_line(admin("create-user", "root", "--role", "admin"))
    assert len(password) >= 16
    token = only_line(admin("create-token", "--name", "ci", "--scope", "agents:read", "--expires", "30d"))
    assert token.startswith("brt_")
    code = only_line(
        admin("create-enrollment", "--uses", "2", "--expires", "2h", "--tag", "Lab", "--approve")
    )
    decoded = InstallCode.decode(code)
    assert decoded.fingerprint == keys.fingerprint(server_key(Home(admin.home)))

    server = ServerProcess(home=admin.home, port=free_port(), db_url=admin.db_url)
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            bearer = {"Authorization": f"Bearer {token}"}
            assert client.get("/api/v1/agents", headers=bearer).status_code == 200
            assert client.post("/api/v1/enrollments", json={}, headers=bearer).status_code == 403

            login = client.post("/api/v1/auth/login", json={"username": "root", "password": password})
            assert login.status_code == 200 and login.json()["role"] == "admin"

            body = {"secret": decoded.secret, "public_key": keys.public_b64(keys.generate()), "hostname": "h"}
            enrolled = client.post("/api/v1/enroll", json=body)
            assert enrolled.status_code == 201
            assert enrolled.json()["status"] == "pending"  # --approve
            agent = client.get(f"/api/v1/agents/{enrolled.json()['agent_id']}", headers=bearer).json()
            assert agent["tags"] == ["lab"]

            audit = client.get("/api/v1/audit", params={"actor": "cli:cli"}, headers=bearer)
            assert audit.status_code == 403  # agents:read only
    finally:
        server.kill()


def test_password_from_stdin(admin: Admin) -> None:
    result = admin("create-user", "olivia", "--role", "operator", "--password-stdin", stdin=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # nothing secret to show: the operator typed it
    assert "olivia" in result.stderr

    token = only_line(admin("create-token", "--name", "t", "--scope", "admin"))
    server = ServerProcess(home=admin.home, port=free_port(), db_url=admin.db_url)
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            ok = client.post("/api/v1/auth/login", json={"username": "olivia", "password": PASSWORD})
            assert ok.status_code == 200 and ok.json()["role"] == "operator"
            users = client.get("/api/v1/users", headers={"Authorization": f"Bearer {token}"}).json()["items"]
            assert [u["username"] for u in users] == ["olivia"]
    finally:
        server.kill()


BAD_INPUT = [
    (("create-token", "--name", "x", "--scope", "agents:fly"), "", "unknown scope"),
    (("create-token", "--name", "x", "--scope", "admin", "--expires", "5x"), "", "not a duration"),
    (("create-token", "--name", "x", "--scope", "admin", "--expires", "0d"), "", "positive"),
    (("create-enrollment", "--expires", "forever"), "", "not a duration"),
    (("create-enrollment", "--expires", "400d"), "", "365 days"),
    (("create-enrollment", "--tag", "Not A Tag"), "", "tag"),
    (("create-enrollment", "--url", "rmm.example.com"), "", "http(s)://"),
    (("create-user", "bob", "--role", "viewer", "--password-stdin"), "", "no password"),
    (("create-user", "bob", "--role", "viewer", "--password-stdin"), "short\n", "12 characters"),
    (("create-user", "bad name", "--role", "viewer"), "", "username"),
]


def test_bad_input_is_a_one_line_error(admin: Admin) -> None:
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda case: admin(*case[0], stdin=case[1]), BAD_INPUT))
    for (args, _, words), result in zip(BAD_INPUT, results, strict=True):
        assert result.returncode != 0, args
        assert_one_line_error(result, words)

    assert admin("create-user", "bob", "--role", "viewer").returncode == 0
    assert_one_line_error(admin("create-user", "bob", "--role", "admin"), "already exists")


def test_commands_run_at_once_on_a_fresh_home_all_succeed(admin: Admin) -> None:
    """A provisioning script may fire several at once; the first-time migration must not race."""
    with ThreadPoolExecutor(5) as pool:
        results = list(
            pool.map(lambda i: admin("create-token", "--name", f"t{i}", "--scope", "admin"), range(5))
        )
    assert [r.returncode for r in results] == [0] * 5, [r.stderr for r in results]
    assert len({only_line(r) for r in results}) == 5


def test_usage_errors_are_one_line_too(admin: Admin) -> None:
    assert_one_line_error(admin("create-user", "bob", "--role", "emperor"), "--role")
    assert_one_line_error(admin("create-enrollment", "--uses", "0"), "--uses")
