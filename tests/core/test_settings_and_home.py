"""Typed settings from TOML with overrides, and the home folder's layout and file writing."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from borealis.core.errors import ConfigError
from borealis.core.home import Home, ensure_dir, write_atomic
from borealis.core.settings import load_agent_settings, load_server_settings, update_toml


def test_defaults_without_a_file(tmp_path: Path) -> None:
    settings = load_server_settings(Home(tmp_path))
    assert (settings.host, settings.port, settings.bus_url, settings.heartbeat_s) == (
        "127.0.0.1",
        5000,
        "memory://",
        30.0,
    )
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'Server' / 'borealis.db'}"
    assert settings.presence_window_s == 75.0
    assert settings.base_url == "http://127.0.0.1:5000"


def test_the_file_then_the_command_line(tmp_path: Path) -> None:
    home = Home(tmp_path)
    update_toml(home.server_toml, port=6000, heartbeat_s=10.0, log={"level": "DEBUG", "keep_files": 2})
    settings = load_server_settings(home, port=None, host="0.0.0.0", public_url="https://rmm.example/")
    assert (settings.port, settings.host, settings.heartbeat_s) == (6000, "0.0.0.0", 10.0)
    assert settings.log.level == "DEBUG" and settings.log.keep_files == 2
    assert settings.base_url == "https://rmm.example"
    assert settings.sweep_every_s == 2.5  # a quarter of the heartbeat, within [0.2, 5]


def test_update_toml_keeps_what_else_the_file_holds_and_is_private(tmp_path: Path) -> None:
    path = tmp_path / "Agent" / "agent.toml"
    update_toml(path, server_url="http://a:5000", startup_delay_s=0.0)
    update_toml(path, server_url="http://b:5000")
    settings = load_agent_settings(Home(tmp_path))
    assert (settings.server_url, settings.startup_delay_s) == ("http://b:5000", 0.0)
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("prot = 5000\n", "unknown setting 'prot'"),
        ("home = '/elsewhere'\n", "unknown setting 'home'"),
        ("port = \n", "cannot read"),
        ("[log]\nlevle = 'INFO'\n", "[log]"),
    ],
)
def test_a_bad_file_is_a_config_error_naming_it(tmp_path: Path, content: str, words: str) -> None:
    home = Home(tmp_path)
    home.server.mkdir()
    home.server_toml.write_text(content)
    with pytest.raises(ConfigError) as raised:
        load_server_settings(home)
    assert words in raised.value.detail and str(home.server_toml) in raised.value.detail


def test_home_resolves_an_argument_then_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOREALIS_HOME", str(tmp_path / "from-env"))
    assert Home.resolve().root == tmp_path / "from-env"
    assert Home.resolve(tmp_path / "given").root == tmp_path / "given"
    home = Home(tmp_path)
    assert home.server_db == tmp_path / "Server" / "borealis.db"
    assert home.agent_logs == tmp_path / "Logs" / "Agent"


def test_write_atomic_replaces_whole_files_privately(tmp_path: Path) -> None:
    target = ensure_dir(tmp_path / "keys", private=True) / "secret"
    write_atomic(target, b"one")
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["secret"]  # no temp file left behind
    if os.name == "posix":
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
        assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
