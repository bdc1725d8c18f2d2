"""`borealis login|logout` and profiles against a real server: wrong passwords, the stored file's
mode, revoked tokens (a clear message and exit code 4), BOREALIS_URL/BOREALIS_TOKEN over a profile."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.cli.operator import borealis_cli
from tests.conftest import ServerProcess

pytestmark = pytest.mark.slow
PASSWORD = "a long operator password"


def make_user(server: ServerProcess, name: str, role: str = "operator") -> None:
    with server.api as api:
        made = api.post("/api/v1/users", json={"username": name, "role": role, "password": PASSWORD})
    made.raise_for_status()


def test_login_wrong_password_then_a_stored_token_then_revoked(server: ServerProcess, tmp_path: Path) -> None:
    config = tmp_path / "config"
    make_user(server, "olga")
    wrong = borealis_cli("login", server.url, "-u", "olga", "--password-stdin", config=config, stdin="nope\n")
    assert wrong.code == 4 and wrong.err == "borealis: error: login failed: wrong username or password\n"
    assert not (config / "profiles.json").exists()

    ok = borealis_cli(
        "login", server.url, "-u", "olga", "--password-stdin", config=config, stdin=PASSWORD + "\n"
    )
    assert ok.code == 0, ok.err
    stored = config / "profiles.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.stat().st_mode) == 0o700
    assert PASSWORD not in stored.read_text()

    listed = borealis_cli("agents", "--json", config=config)
    assert listed.code == 0 and listed.json() == [], listed.err
    with server.api as api:
        tokens = api.get("/api/v1/tokens").json()["items"]
        [mine] = [t for t in tokens if t["name"].startswith("cli olga@")]
        assert set(mine["scopes"]) >= {"agents:read", "jobs:run"}
        api.delete(f"/api/v1/tokens/{mine['id']}").raise_for_status()

    refused = borealis_cli("agents", config=config)
    assert refused.code == 4
    assert refused.err.startswith("borealis: error: the server refused the token (401")
    assert "run `borealis login` again" in refused.err and refused.err.count("\n") == 1

    gone = borealis_cli("logout", config=config)
    assert gone.code == 0 and "not revoked on the server" in gone.err
    after = borealis_cli("agents", config=config)
    assert after.code == 4 and "not logged in (profile 'default')" in after.err


def test_profiles_token_stdin_environment_override_and_logout(server: ServerProcess, tmp_path: Path) -> None:
    config = tmp_path / "config"
    make_user(server, "vic", role="viewer")
    saved = borealis_cli(
        "login", server.url, "--profile", "lab", "--token-stdin", config=config, stdin=server.token
    )
    assert saved.code == 0 and "profile 'lab'" in saved.err, saved.err
    assert borealis_cli("agents", "--profile", "lab", "--json", config=config).code == 0
    assert borealis_cli("agents", config=config).code == 4  # the default profile is not the lab one
    by_env = borealis_cli(
        "agents", "--json", config=config, env={"BOREALIS_URL": server.url, "BOREALIS_TOKEN": server.token}
    )
    assert by_env.code == 0
    bad_env = borealis_cli("agents", "--profile", "lab", config=config, env={"BOREALIS_TOKEN": "not-a-token"})
    assert bad_env.code == 4  # the environment wins over the profile

    made = borealis_cli(
        "login", server.url, "-u", "olga", "--password-stdin", config=config, stdin=PASSWORD + "\n"
    )
    assert made.code == 4  # no such user: the same answer as a wrong password
    make_user(server, "olga")
    made = borealis_cli(
        "login", server.url, "-u", "olga", "--password-stdin", config=config, stdin=PASSWORD + "\n"
    )
    assert made.code == 0, made.err
    out = borealis_cli("logout", config=config)
    assert out.code == 0 and "not revoked" not in out.err, out.err
    with server.api as api:
        tokens = api.get("/api/v1/tokens").json()["items"]
    [token] = [t for t in tokens if t["name"].startswith("cli olga@")]
    assert token["revoked_at"] is not None
    assert borealis_cli("logout", config=config).code == 2
    kept = borealis_cli("logout", "--profile", "lab", config=config)
    assert kept.code == 0 and kept.err.startswith("logged out")
    assert (
        borealis_cli(
            "agents", config=config, env={"BOREALIS_URL": server.url, "BOREALIS_TOKEN": server.token}
        ).code
        == 0
    )
    unreachable = borealis_cli("login", "http://127.0.0.1:9", "--token-stdin", config=config, stdin="x\n")
    assert unreachable.code == 4 and "cannot reach the server" in unreachable.err
