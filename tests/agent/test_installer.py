"""`borealis agent install|repair|remove|launch` as real processes, with every service file under
`--root` (no systemctl is run and the real /etc is never touched)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from borealis.agent.platform.base import ServiceSpec
from borealis.agent.platform.linux import desktop_exec_line, exec_line, service_unit, unreachable_by_users
from borealis.agent.service import install_venv
from borealis.core.home import Home
from borealis.core.settings import update_toml
from borealis.protocol import keys
from tests.agent.agent_process import borealis
from tests.agent.fakes import FAST_AGENT_SETTINGS, enrolled_home
from tests.conftest import ServerProcess
from tests.support import wait_for

UNIT = "etc/systemd/system/borealis-agent.service"
WANTS = "etc/systemd/system/multi-user.target.wants/borealis-agent.service"
AUTOSTART = "etc/xdg/autostart/borealis-helper.desktop"
INSTALL_TIMEOUT_S = 180.0


@dataclass
class Installed:
    home: Home
    root: Path
    output: str

    @property
    def python(self) -> Path:
        return self.home.agent / "venv" / "bin" / "python"

    def run(self, command: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return agent(command, self.home, "--root", str(self.root), *extra)


def agent(command: str, home: Home, *extra: str) -> subprocess.CompletedProcess[str]:
    return borealis("agent", command, "--home", str(home.root), *extra, timeout=INSTALL_TIMEOUT_S)


def install(base: Path, name: str = "") -> Installed:
    home, _, _ = enrolled_home(base / f"home{name}", "http://127.0.0.1:9", keys.generate())
    root = base / f"root{name}"
    result = agent("install", home, "--root", str(root))
    assert result.returncode == 0, result.stderr
    return Installed(home, root, result.stdout)


def parse_ini(text: str) -> dict[str, dict[str, list[str]]]:
    """Sections of a unit or desktop file; keys may repeat (as systemd allows), so values are lists."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def files_under(*folders: Path) -> set[Path]:
    found: set[Path] = set()
    for folder in folders:
        for parent, dirs, names in os.walk(folder):
            found.update(Path(parent, name) for name in [*dirs, *names])
    return found


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """One full install shared by the tests that only look at it."""
    yield install(tmp_path_factory.mktemp("installed"))


# --- what install writes ------------------------------------------------------------------------


@pytest.mark.slow
def test_install_writes_the_unit_systemd_would_run(installed: Installed) -> None:
    unit = parse_ini((installed.root / UNIT).read_text())
    service = unit["Service"]
    home = installed.home.root
    assert service["ExecStart"] == [f"{installed.python} -m borealis agent run --home {home}"]
    assert service["User"] == ["root"] and service["WorkingDirectory"] == [str(home)]
    assert service["Restart"] == ["always"] and int(service["RestartSec"][0]) > 0
    assert unit["Unit"]["StartLimitIntervalSec"] == ["0"]  # never gives up restarting
    assert service["KillMode"] == ["mixed"]
    assert int(service["TimeoutStopSec"][0]) > FAST_AGENT_SETTINGS["stop_timeout_s"]
    assert service["StandardOutput"] == ["journal"] and service["StandardError"] == ["journal"]
    assert int(service["LimitNOFILE"][0]) >= 1024 and int(service["TasksMax"][0]) >= 256
    assert service["MemoryMax"][0].endswith("M") and int(service["MemoryMax"][0][:-1]) >= 1024
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]
    wants = installed.root / WANTS
    assert os.readlink(wants) == "/" + UNIT  # what `systemctl enable` makes
    assert f"wrote {installed.root / UNIT}" in installed.output.splitlines()
    assert installed.output.splitlines()[-1] == f"installed borealis 0.1.0 in {home}"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_itself_accepts_the_unit(installed: Installed) -> None:
    """systemd's own parser: an unknown key or a bad value is a warning naming the unit; a missing
    interpreter is an error. It only reads the file (no systemd needs to run)."""
    done = subprocess.run(
        ["systemd-analyze", "verify", str(installed.root / UNIT)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and "borealis-agent" not in done.stderr, done.stderr


@pytest.mark.slow
def test_install_registers_the_helper_for_graphical_logins(installed: Installed) -> None:
    entry = parse_ini((installed.root / AUTOSTART).read_text())["Desktop Entry"]
    assert entry["Type"] == ["Application"] and entry["NoDisplay"] == ["true"]
    assert entry["Exec"] == [f"{installed.python} -m borealis helper --home {installed.home.root}"]


@pytest.mark.slow
def test_install_says_when_users_could_not_run_the_autostart_helper(installed: Installed) -> None:
    closed = next(
        p for p in reversed(installed.python.parents) if not p.stat().st_mode & 0o001
    )  # pytest: 0700
    notes = [line for line in installed.output.splitlines() if line.startswith("note: ")]
    assert notes == [
        f"note: other users cannot reach {closed}, so the autostart helper cannot run {installed.python}; "
        "the agent starts helpers in sessions itself (helper_spawn)"
    ]


def test_a_program_out_of_other_users_reach_is_found() -> None:
    sh = Path(shutil.which("sh") or "/bin/sh")
    assert unreachable_by_users(sh) is None
    open_dir = Path(tempfile.mkdtemp(prefix="borealis-reach-"))  # in /tmp, so every folder above is open
    try:
        open_dir.chmod(0o755)
        folder = open_dir / "private"
        folder.mkdir(mode=0o700)
        program = folder / "tool"
        program.write_text("#!/bin/sh\n")
        program.chmod(0o755)
        link = open_dir / "link"
        link.symlink_to(program)
        assert unreachable_by_users(link) == folder  # the link itself is fine; where it points is not
        folder.chmod(0o755)
        assert unreachable_by_users(link) is None
        program.chmod(0o750)
        assert unreachable_by_users(link) == program
        assert unreachable_by_users(open_dir / "missing") == open_dir / "missing"
    finally:
        shutil.rmtree(open_dir)


@pytest.mark.slow
def test_the_manifest_lists_every_file_written_under_the_root(installed: Installed) -> None:
    manifest = json.loads((installed.home.agent / "install.json").read_text())
    assert manifest["version"] == "0.1.0" and manifest["platform"] == "systemd"
    assert manifest["root"] == str(installed.root) and manifest["python"] == str(installed.python)
    written = {p for p in files_under(installed.root) if p.is_file() or p.is_symlink()}
    assert written == {Path(p) for p in manifest["files"] + manifest["links"]}
    assert written == {installed.root / UNIT, installed.root / WANTS, installed.root / AUTOSTART}


@pytest.mark.slow
def test_the_installed_environment_runs_borealis_on_its_own(installed: Installed) -> None:
    probe = "import borealis, sys; print(borealis.__file__); print(sys.prefix)"
    done = subprocess.run([str(installed.python), "-c", probe], capture_output=True, text=True, check=True)
    package, prefix = done.stdout.split()
    assert Path(package).is_relative_to(installed.home.agent / "venv")  # not the source tree
    assert Path(prefix) == installed.home.agent / "venv"
    version = subprocess.run(
        [str(installed.python), "-m", "borealis", "--version"], capture_output=True, text=True
    )
    assert version.stdout.strip() == "borealis, version 0.1.0"
    pip = subprocess.run([str(installed.python), "-m", "pip", "check"], capture_output=True, text=True)
    assert pip.returncode == 0, pip.stdout  # every requirement present: an update can pip-install into it


@pytest.mark.slow
def test_private_files_of_the_install_are_private(installed: Installed) -> None:
    home = installed.home
    assert home.agent_identity.stat().st_mode & 0o777 == 0o700
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in home.agent_identity.iterdir())
    assert home.agent_toml.stat().st_mode & 0o777 == 0o600
    assert home.agent.stat().st_mode & 0o777 == 0o755  # an autostarted helper must reach Agent/venv


@pytest.mark.slow
def test_a_second_install_is_refused_and_changes_nothing(installed: Installed) -> None:
    before = (installed.root / UNIT).read_text()
    result = installed.run("install")
    assert result.returncode != 0
    assert result.stderr.splitlines() == [
        f"borealis: error: the agent is already installed in {installed.home.root} (version 0.1.0); "
        "`borealis agent repair` fixes it, `borealis agent remove` removes it"
    ]
    assert (installed.root / UNIT).read_text() == before


@pytest.mark.slow
def test_repair_of_an_intact_install_says_there_is_nothing_to_do(installed: Installed) -> None:
    result = installed.run("repair")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"nothing to repair: the agent in {installed.home.root} is installed and intact"
    ]


# --- repair and remove ---------------------------------------------------------------------------


@pytest.mark.slow
def test_repair_restores_deleted_and_drifted_pieces_and_keeps_the_identity(tmp_path: Path) -> None:
    done = install(tmp_path)
    home, root = done.home, done.root
    websockets = next((home.agent / "venv" / "lib").glob("python3.*/site-packages/websockets"))
    shutil.rmtree(websockets)  # the worker cannot start, but the CLI still runs from this environment
    own = subprocess.run(
        [str(done.python), "-m", "borealis", "agent", "repair", "--home", str(home.root)],
        capture_output=True,
        text=True,
    )
    assert own.returncode == 2 and own.stderr.startswith(
        f"borealis: error: this Borealis runs from {home.agent / 'venv'}, the environment to rebuild"
    )
    assert done.python.exists()  # refused before anything was deleted
    identity = {p.name: p.read_bytes() for p in home.agent_identity.iterdir()}
    unit_text, autostart_text = (root / UNIT).read_text(), (root / AUTOSTART).read_text()
    (root / UNIT).unlink()
    (root / WANTS).unlink()
    (root / AUTOSTART).write_text(autostart_text.replace("--home", "--hone"))
    subprocess.run(["rm", "-rf", str(home.agent / "venv")], check=True)
    (home.agent_identity / "agent_key.pem").chmod(0o644)
    home.agent_identity.chmod(0o755)

    result = done.run("repair")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"re-created {home.agent / 'venv'} (it did not work: ")
    assert f"restored {root / UNIT} (it was missing)" in lines
    assert f"rewrote {root / AUTOSTART} (it had drifted)" in lines
    assert f"restored the link {root / WANTS} -> /{UNIT}" in lines
    assert f"set {home.agent_identity} to 0700 (it was 0755)" in lines
    assert f"set {home.agent_identity / 'agent_key.pem'} to 0600 (it was 0644)" in lines
    assert (root / UNIT).read_text() == unit_text and (root / AUTOSTART).read_text() == autostart_text
    assert {p.name: p.read_bytes() for p in home.agent_identity.iterdir()} == identity
    probe = subprocess.run([str(done.python), "-c", "import borealis.agent.worker"], capture_output=True)
    assert probe.returncode == 0, probe.stderr
    again = done.run("repair")
    assert again.stdout.startswith("nothing to repair"), again.stdout


@pytest.mark.slow
def test_remove_leaves_nothing_of_ours_and_a_second_remove_is_a_no_op(tmp_path: Path) -> None:
    foreign_unit = tmp_path / "root" / "etc/systemd/system/sshd.service"
    foreign_unit.parent.mkdir(parents=True)
    foreign_unit.write_text("[Service]\nExecStart=/usr/sbin/sshd -D\n")
    done = install(tmp_path)
    (done.home.agent_logs).mkdir(parents=True, exist_ok=True)
    (done.home.agent_logs / "agent.log").write_text("a log line\n")

    result = done.run("remove")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for path in (UNIT, WANTS, AUTOSTART):
        assert f"removed {done.root / path}" in lines
    assert f"removed {done.home.agent} (environment, identity, settings, outbox, state)" in lines
    assert not done.home.root.exists()  # Agent/, Logs/Agent and then the emptied home itself
    assert files_under(done.root) == {
        done.root / "etc",
        done.root / "etc/systemd",
        done.root / "etc/systemd/system",
        foreign_unit,
    }
    again = done.run("remove")
    assert again.returncode == 0
    assert again.stdout.splitlines() == [f"nothing to remove: no agent is installed in {done.home.root}"]


@pytest.mark.slow
def test_remove_without_the_manifest_still_finds_the_unit_that_runs_this_home(tmp_path: Path) -> None:
    done = install(tmp_path)
    (done.home.agent / "install.json").unlink()
    result = done.run("remove")
    assert result.returncode == 0, result.stderr
    assert not (done.root / UNIT).exists() and not (done.root / AUTOSTART).exists()
    assert not (done.root / WANTS).is_symlink() and not done.home.root.exists()


@pytest.mark.slow
def test_remove_keep_identity_lets_a_reinstall_be_the_same_agent(tmp_path: Path) -> None:
    done = install(tmp_path)
    agent_id = json.loads((done.home.agent_identity / "identity.json").read_text())["agent_id"]
    result = done.run("remove", "--keep-identity")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in done.home.agent.iterdir()) == ["agent.toml", "identity"]
    assert not (done.root / UNIT).exists()
    again = done.run("install")
    assert again.returncode == 0, again.stderr
    assert json.loads((done.home.agent_identity / "identity.json").read_text())["agent_id"] == agent_id


# --- refusals (nothing is built) ----------------------------------------------------------------


def test_install_without_an_identity_or_a_code_is_refused(tmp_path: Path) -> None:
    result = agent("install", Home(tmp_path / "home"), "--root", str(tmp_path / "root"))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"borealis: error: not enrolled: {tmp_path / 'home'} holds no agent identity; "
        "give --code (and --server) or run `borealis agent enroll` first"
    ]
    assert not (tmp_path / "root").exists() and not (tmp_path / "home").exists()


def test_server_without_a_code_is_refused(tmp_path: Path) -> None:
    result = agent("install", Home(tmp_path), "--root", str(tmp_path / "root"), "--server", "http://x")
    assert result.returncode == 2
    assert result.stderr.startswith("borealis: error: --server needs --code")


def test_repair_and_launch_need_an_install(tmp_path: Path) -> None:
    home, _, _ = enrolled_home(tmp_path / "home", "http://127.0.0.1:9", keys.generate())
    for command in ("repair", "launch"):
        result = agent(command, home)
        assert result.returncode == 2, command
        assert result.stderr.splitlines() == [
            f"borealis: error: not installed: {home.root} has no Agent/install.json (run `borealis agent install`)"
        ]


def test_remove_of_a_home_never_installed_touches_nothing(tmp_path: Path) -> None:
    home, _, _ = enrolled_home(tmp_path / "home", "http://127.0.0.1:9", keys.generate())
    root = tmp_path / "root"
    (root / WANTS).parent.mkdir(parents=True)
    (root / UNIT).write_text(
        "[Service]\nExecStart=/opt/x/venv/bin/python -m borealis agent run --home /opt/x\n"
    )
    (root / WANTS).symlink_to("/" + UNIT)  # another home's install: not ours to remove
    before = files_under(home.root, root)
    result = agent("remove", home, "--root", str(root))
    assert result.returncode == 0
    assert result.stdout.strip() == f"nothing to remove: no agent is installed in {home.root}"
    assert files_under(home.root, root) == before


def test_a_unit_of_another_home_is_not_overwritten(tmp_path: Path) -> None:
    home, _, _ = enrolled_home(tmp_path / "home", "http://127.0.0.1:9", keys.generate())
    unit = tmp_path / "root" / UNIT
    unit.parent.mkdir(parents=True)
    unit.write_text("[Service]\nExecStart=/opt/x/venv/bin/python -m borealis agent run --home /opt/other\n")
    result = agent("install", home, "--root", str(tmp_path / "root"))
    assert result.returncode != 0
    assert result.stderr.startswith(f"borealis: error: {unit} belongs to another Borealis install")
    assert "--home /opt/other" in unit.read_text() and not (home.agent / "venv").exists()


def test_the_environment_gets_what_borealis_needs_and_not_its_dev_tools() -> None:
    names = {d.metadata["Name"].lower().replace("_", "-") for d in install_venv.required_distributions()}
    assert {"websockets", "cryptography", "httpx", "click", "psutil", "fastapi"} <= names
    assert {"uvloop", "greenlet"} <= names  # through the extras uvicorn[standard], sqlalchemy[asyncio]
    assert not {"pytest", "mypy", "ruff", "borealis"} & names  # dev extra; borealis is copied apart


# --- the unit's command lines --------------------------------------------------------------------


def test_command_lines_quote_spaces_and_escape_specifiers() -> None:
    argv = ["/opt/my agent/venv/bin/python", "-m", "borealis", "--home", "/srv/100%/$HOME"]
    assert exec_line(argv) == '"/opt/my agent/venv/bin/python" -m borealis --home /srv/100%%/$$HOME'
    assert (
        desktop_exec_line(argv) == '"/opt/my agent/venv/bin/python" -m borealis --home "/srv/100%%/\\\\$HOME"'
    )


def test_the_service_memory_ceiling_follows_the_worker_budget() -> None:
    spec = ServiceSpec(Path("/h/Agent/venv/bin/python"), Path("/h"), stop_timeout_s=10, memory_budget_mb=600)
    service = parse_ini(service_unit(spec))["Service"]
    assert service["MemoryMax"] == ["2400M"] and service["TimeoutStopSec"] == ["30"]


# --- a real server: install enrolls, launch runs the installed agent -----------------------------


@pytest.mark.slow
def test_install_enrolls_and_launch_runs_the_installed_agent(tmp_path: Path, server: ServerProcess) -> None:
    home, root = Home(tmp_path / "home"), tmp_path / "root"
    update_toml(home.agent_toml, **FAST_AGENT_SETTINGS)
    code = server.install_code()
    result = agent("install", home, "--root", str(root), "--server", server.url, "--code", code)
    assert result.returncode == 0, result.stderr
    agent_id = json.loads((home.agent_identity / "identity.json").read_text())["agent_id"]
    assert result.stdout.splitlines()[0] == f"enrolled with {server.url} as agent {agent_id}"

    log = (tmp_path / "launch.log").open("wb")
    launched = subprocess.Popen(
        [sys.executable, "-m", "borealis", "agent", "launch", "--home", str(home.root), "--no-startup-delay"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: server.agent(agent_id)["status"] == "online", 60, what="the launched agent online")
        status = agent("status", home)
        lines = dict(line.split(None, 1) for line in status.stdout.splitlines() if line[:1].strip())
        assert lines["supervisor"].startswith(f"running (pid {launched.pid}, up ")  # launch became the agent
        assert ", up " in lines["worker"] and "MiB" in lines["worker"]
        worker = json.loads(agent("status", home, "--json").stdout)
        assert worker["supervisor_started_at"] and worker["worker_started_at"]
        venv_python = str(home.agent / "venv" / "bin" / "python")
        assert psutil.Process(launched.pid).cmdline()[:3] == [venv_python, "-m", "borealis"]
        assert psutil.Process(worker["worker_pid"]).cmdline()[0] == venv_python
        refused = agent("remove", home, "--root", str(root))
        assert refused.returncode != 0 and "the agent is running (supervisor pid" in refused.stderr
        assert (root / UNIT).exists()
    finally:
        launched.send_signal(signal.SIGTERM)
        code_at_exit = launched.wait(30)
        log.close()
    assert code_at_exit == 0
    removed = agent("remove", home, "--root", str(root))
    assert removed.returncode == 0, removed.stderr
    assert not home.root.exists()
