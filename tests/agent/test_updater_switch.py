"""The supervisor's rule for versions: which interpreter runs the worker, the switch, the trial that
keeps a version once its worker connects, and the rollback when it does not (a fake clock)."""

from __future__ import annotations

from pathlib import Path

from borealis.agent.self_update.state import (
    VersionState,
    interpreter,
    mark_complete,
    read_state,
    version_dir,
    write_state,
)
from borealis.agent.self_update.switch import VersionSwitch
from borealis.agent.service.status_file import ConnectionState, WorkerStatus, status_path, write_status
from borealis.core.home import Home

BASE = ["/usr/bin/python3", "-m", "borealis.agent.worker", "--home", "H"]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def installed(home: Home, version: str) -> None:
    python = interpreter(version_dir(home, version))
    python.parent.mkdir(parents=True)
    python.write_text("")
    mark_complete(home, version)


def worker_status(home: Home, pid: int, state: ConnectionState) -> None:
    write_status(status_path(home), WorkerStatus(pid=pid, agent_id="a", server_url="u", state=state))


def switched(tmp_path: Path, clock: Clock) -> tuple[Home, VersionSwitch]:
    home = Home(tmp_path)
    installed(home, "2.0")
    write_state(home, VersionState(switch_to="2.0"))
    switch = VersionSwitch(home, confirm_s=30, clock=clock)
    assert switch.switch() == "2.0"
    return home, switch


def test_the_worker_runs_from_the_active_version_only_when_its_install_is_complete(tmp_path: Path) -> None:
    home = Home(tmp_path)
    switch = VersionSwitch(home, confirm_s=30)
    assert switch.command(BASE) == BASE

    write_state(home, VersionState(active="2.0"))
    assert switch.command(BASE) == BASE, "no marker file: a half-made environment is never used"

    installed(home, "2.0")
    assert switch.command(BASE) == [str(interpreter(version_dir(home, "2.0"))), "-I", *BASE[1:]]


def test_a_switch_makes_the_new_version_active_and_a_connected_worker_ends_the_trial(tmp_path: Path) -> None:
    clock = Clock()
    home, switch = switched(tmp_path, clock)
    state = read_state(home)
    assert (state.active, state.previous, state.switch_to) == ("2.0", None, None)
    assert state.trial is not None and switch.in_trial

    worker_status(home, 4242, ConnectionState.CONNECTED)
    clock.now += 5
    assert switch.check(1111) is None, "another worker's status does not count"
    assert switch.in_trial
    assert switch.check(4242) is None
    assert not switch.in_trial
    assert read_state(home).trial is None and read_state(home).active == "2.0"

    clock.now += 3600
    assert switch.check(4242) is None, "after the trial nothing is checked any more"


def test_a_worker_that_does_not_connect_before_the_deadline_is_rolled_back(tmp_path: Path) -> None:
    clock = Clock()
    home, switch = switched(tmp_path, clock)
    worker_status(home, 4242, ConnectionState.CONNECTING)

    clock.now += 29
    assert switch.check(4242) is None
    clock.now += 2
    reason = switch.check(4242)
    assert reason == "the new worker did not connect within 30 s"

    assert switch.rollback(reason) == "2.0"
    state = read_state(home)
    assert state.active is None and state.trial is None
    assert state.rollback is not None
    assert (state.rollback.version, state.rollback.reason, state.rollback.reported) == ("2.0", reason, False)
    assert switch.command(BASE) == BASE


def test_a_trial_interrupted_by_a_supervisor_restart_gets_a_full_period_again(tmp_path: Path) -> None:
    clock = Clock()
    home, _ = switched(tmp_path, clock)
    clock.now += 1000
    again = VersionSwitch(home, confirm_s=30, clock=clock)
    assert again.in_trial
    clock.now += 10
    assert again.check(1) is None
    clock.now += 21
    assert again.check(1) is not None


def test_a_switch_to_a_version_that_is_not_installed_is_refused(tmp_path: Path) -> None:
    home = Home(tmp_path)
    write_state(home, VersionState(switch_to="3.0"))
    switch = VersionSwitch(home, confirm_s=30)
    assert switch.switch() is None
    state = read_state(home)
    assert state.active is None and state.switch_to is None and state.trial is None
    assert state.rollback is not None and state.rollback.version == "3.0", "the worker reports it"
    assert not switch.in_trial


def test_a_damaged_state_file_reads_as_nothing_installed(tmp_path: Path) -> None:
    home = Home(tmp_path)
    path = version_dir(home, "x").parent / "state.json"
    path.parent.mkdir(parents=True)
    for text in ("{not json", "[1]", '{"active": "../../etc", "trial": {"bogus": 1}}'):
        path.write_text(text)
        assert read_state(home) == VersionState()
