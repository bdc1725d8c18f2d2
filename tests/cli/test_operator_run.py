"""`borealis run`, `jobs`, `job show|cancel`, `agents` and the server-side `agent` commands against a
real server and two real agents (alpha, tagged web; beta)."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.agent_process import BOREALIS, AgentProcess
from tests.cli.operator import Fleet
from tests.support import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fleet(fleet_server: Fleet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    root = tmp_path_factory.mktemp("agents")
    fleet_server.add_agent("alpha", root / "alpha")
    fleet_server.add_agent("beta", root / "beta")
    yield fleet_server


def test_run_all_prints_every_hostname_and_exits_non_zero(fleet: Fleet) -> None:
    done = fleet.cli("run", "--all", "--", "echo hi; echo oops >&2; exit 3")
    assert done.code == 3, done.err
    lines = done.out.splitlines()
    assert "alpha: hi" in lines and "beta: hi" in lines
    assert "alpha: [failed, exit 3]" in lines and "beta: [failed, exit 3]" in lines
    assert "alpha: oops" in done.err and "beta: oops" in done.err
    assert "2 agents, 0 succeeded, 2 failed, 0 not done" in done.err
    assert done.err.strip().splitlines()[-1].startswith("borealis: error: job ")


def test_run_json_gives_the_rows_the_api_gives(fleet: Fleet) -> None:
    done = fleet.cli("run", "--all", "--json", "--", "echo hi; exit 3")
    assert done.code == 3, done.err
    view = done.json()
    with fleet.server.api as api:
        from_api = api.get(f"/api/v1/jobs/{view['id']}").json()
    assert view["results"] == from_api["results"]
    assert {r["agent_id"] for r in view["results"]} == {a.agent_id for a in fleet.agents.values()}
    assert all(r["exit_code"] == 3 and r["stdout"] == "hi\n" for r in view["results"])


def test_grouped_and_jsonl_output(fleet: Fleet) -> None:
    grouped = fleet.cli("run", "--all", "--group", "--", "echo one; echo two")
    assert grouped.code == 0, grouped.err
    assert "== alpha (succeeded, exit 0)\none\ntwo" in grouped.out
    assert "== beta (succeeded, exit 0)\none\ntwo" in grouped.out
    rows = [
        json.loads(line) for line in fleet.cli("run", "--all", "--jsonl", "--", "echo x").out.splitlines()
    ]
    assert sorted(r["hostname"] for r in rows) == ["alpha", "beta"]
    assert all(r["status"] == "succeeded" and r["stdout"] == "x\n" for r in rows)


def test_tags_and_tag_targeting(fleet: Fleet) -> None:
    added = fleet.cli("agent", "tags", "add", "alpha", "web", "prod")
    assert added.code == 0 and "tags web,prod" in added.out, added.err
    removed = fleet.cli("agent", "tags", "remove", "alpha", "prod", "--json")
    assert removed.code == 0 and removed.json()["tags"] == ["web"]
    done = fleet.cli("run", "--tag", "web", "--", "echo $((6 * 7))")
    assert done.code == 0, done.err
    assert done.out.splitlines() == ["alpha: 42"]
    listed = fleet.cli("agents", "--tag", "web", "--json").json()
    assert [a["hostname"] for a in listed] == ["alpha"]


def test_agents_list_and_show(fleet: Fleet) -> None:
    table = fleet.cli("agents")
    assert table.code == 0, table.err
    header, *rows = table.out.splitlines()
    assert header.split()[:3] == ["ID", "HOSTNAME", "STATUS"]
    assert sorted(row.split()[1] for row in rows) == ["alpha", "beta"]
    assert all(row.split()[2] == "online" for row in rows)
    assert fleet.cli("agents", "--status", "offline", "--json").json() == []
    assert [a["hostname"] for a in fleet.cli("agents", "-q", "bet", "--json").json()] == ["beta"]
    shown = fleet.cli("agent", "show", "beta", "--json").json()
    assert shown["id"] == fleet.agents["beta"].agent_id and "facts" in shown
    by_id = fleet.cli("agent", "show", fleet.agents["alpha"].agent_id)
    assert by_id.code == 0 and "hostname" in by_id.out and "alpha" in by_id.out
    missing = fleet.cli("agent", "show", "nosuchhost")
    assert missing.code == 2 and "no agent with the id or hostname 'nosuchhost'" in missing.err


def test_an_offline_agent_waits_and_runs_when_it_connects(fleet: Fleet) -> None:
    beta = fleet.agents["beta"]
    beta.stop()
    fleet.wait_status("beta", "offline")
    left = fleet.cli("run", "--all", "--", "echo here")
    assert left.code == 5, left.err
    assert left.out.splitlines() == ["alpha: here"]
    assert "not done: beta (queued, offline, waiting)" in left.err

    waiting = subprocess.Popen(
        [*BOREALIS, "run", "--all", "--wait", "90", "--", "echo back"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=fleet.env(),
    )
    try:
        wait_for(lambda: _queued_for(fleet, beta), 30, what="the job queued for beta")
        beta.start()
        out, err = waiting.communicate(timeout=90)
    finally:
        waiting.kill()
    assert waiting.returncode == 0, err
    assert sorted(out.splitlines()) == ["alpha: back", "beta: back"]
    fleet.wait_status("beta", "online")


def _queued_for(fleet: Fleet, agent: AgentProcess) -> bool:
    with fleet.server.api as api:
        latest = api.get("/api/v1/jobs", params={"limit": 1}).json()["items"]
    return (
        bool(latest)
        and latest[0]["params"].get("script") == "echo back"
        and latest[0]["counts"]["queued"] == 1
    )


def test_wait_0_jobs_show_follow_and_cancel(fleet: Fleet) -> None:
    submitted = fleet.cli("run", "--agent", "alpha", "--wait", "0", "--", "sleep 60")
    assert submitted.code == 0, submitted.err
    job_id = submitted.out.strip()
    wait_for(lambda: fleet.cli("jobs", "--state", "running", "--json").json(), 20, what="a running job")
    running = fleet.cli("jobs", "--state", "running", "--json").json()
    assert [job["id"] for job in running] == [job_id]
    listing = fleet.cli("jobs")
    assert listing.code == 0 and job_id in listing.out and "sleep 60" in listing.out

    shown = fleet.cli("job", "show", job_id)
    assert shown.code == 0 and "alpha" in shown.out and "running" in shown.out
    cancelled = fleet.cli("job", "cancel", job_id)
    assert cancelled.code == 0, cancelled.err
    followed = fleet.cli("job", "show", job_id, "--follow")
    assert followed.code == 3, followed.err
    assert "alpha: [cancelled" in followed.out
    assert fleet.cli("job", "show", job_id, "--json").json()["status"] == "cancelled"
    unknown = fleet.cli("job", "show", "nosuchjob")
    assert unknown.code == 1 and "not found" in unknown.err
    walked = fleet.cli("job", "cancel", f"../agents/{fleet.agents['alpha'].agent_id}/revoke")
    assert walked.code == 1 and "not found" in walked.err  # one path segment: no other route reached
    assert fleet.status("alpha") == "online"


def test_library_scripts_files_and_bad_input(fleet: Fleet, tmp_path: Path) -> None:
    with fleet.server.api as api:
        made = api.post(
            "/api/v1/scripts", json={"name": "greet", "language": "sh", "body": 'echo "hello $1"'}
        )
        made.raise_for_status()
    done = fleet.cli("run", "--agent", "beta", "--script", "greet@1", "--arg", "ops")
    assert done.code == 0 and done.out.splitlines() == ["beta: hello ops"], done.err
    script = tmp_path / "s.py"
    script.write_text("print(2 + 2)\n")
    by_file = fleet.cli("run", "--agent", "beta", "--lang", "python", "--file", str(script))
    assert by_file.code == 0 and by_file.out.splitlines() == ["beta: 4"], by_file.err
    none = fleet.cli("run", "--", "echo")
    assert none.code == 2 and "give exactly one target" in none.err
    both = fleet.cli("run", "--all", "--file", str(script), "--", "echo")
    assert both.code == 2 and "give the script once" in both.err
    unknown = fleet.cli("run", "--all", "--script", "nope")
    assert unknown.code == 2 and "no library script named 'nope'" in unknown.err


def test_approve_deny_and_revoke(fleet: Fleet, tmp_path: Path) -> None:
    pending = []
    for name in ("gamma", "delta"):
        agent = AgentProcess(tmp_path / name)
        enrolled = agent.enroll(fleet.server.install_code(approve=True))
        assert enrolled.returncode == 0, enrolled.stderr
        pending.append(agent)
    listed = fleet.cli("agents", "--status", "pending", "--json").json()
    assert {a["id"] for a in listed} == {a.agent_id for a in pending}
    approved = fleet.cli("agent", "approve", pending[0].agent_id)
    assert approved.code == 0 and "approved" in approved.out, approved.err
    assert fleet.server.agent(pending[0].agent_id)["status"] != "pending"
    denied = fleet.cli("agent", "deny", pending[1].agent_id)
    assert denied.code == 0 and "denied" in denied.out, denied.err
    assert pending[1].agent_id not in {a["id"] for a in fleet.server.agents()}
    revoked = fleet.cli("agent", "revoke", pending[0].agent_id, "--yes", "--json")
    assert revoked.code == 0 and revoked.json()["status"] == "revoked", revoked.err
    again = fleet.cli("agent", "deny", pending[0].agent_id)
    assert again.code != 0 and again.err.startswith("borealis: error:")


def _read_until(fd: int, text: str, timeout: float = 30) -> str:
    seen = ""
    deadline = time.monotonic() + timeout
    while text not in seen:
        if time.monotonic() > deadline:
            raise AssertionError(f"no {text!r} in {seen!r}")
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            seen += os.read(fd, 4096).decode(errors="replace")
    return seen


def test_ctrl_c_on_a_terminal_offers_to_cancel_the_job(fleet: Fleet) -> None:
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [*BOREALIS, "run", "--agent", "alpha", "--", "sleep 45"],
        stdin=child,
        stdout=child,
        stderr=child,
        env=fleet.env(),
    )
    os.close(child)
    try:
        seen = _read_until(main, "running 1")  # the live progress line, on a terminal
        assert "[1 agents] done 0" in seen
        proc.send_signal(signal.SIGINT)
        _read_until(main, "cancel job")
        os.write(main, b"y\n")
        assert proc.wait(30) == 130
    finally:
        proc.kill()
        os.close(main)
    with fleet.server.api as api:
        latest = api.get("/api/v1/jobs", params={"limit": 1}).json()["items"][0]
    assert latest["params"]["script"] == "sleep 45" and latest["cancelled_at"] is not None
