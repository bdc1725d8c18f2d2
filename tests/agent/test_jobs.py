"""Jobs through the worker, against the fake gateway: results, timeouts, cancel, refusals."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from pathlib import Path

import pytest

from borealis.protocol import keys
from tests.agent.worker_harness import group_members, running_worker, script


async def test_a_script_reports_its_output_apart_and_its_real_exit_code(tmp_path: Path) -> None:
    async with running_worker(tmp_path) as agent:
        frame = agent.job(params=script("echo hi; echo err >&2; exit 3"))
        result = await agent.run(frame)
        assert result["status"] == "failed" and result["exit_code"] == 3
        assert result["stdout_tail"] == "hi\n" and result["stderr_tail"] == "err\n"
        assert result["started_at"] and result["finished_at"] and result["msg_id"]
        accepted = agent.gateway.received("job.accepted", frame["job_id"])
        assert len(accepted) == 1 and accepted[0]["started_at"] == result["started_at"]
        output = agent.gateway.received("job.output", frame["job_id"])
        assert {(o["stream"], o["chunk"]) for o in output} == {("stdout", "hi\n"), ("stderr", "err\n")}
        ok = await agent.run(
            agent.job(
                params=script(
                    'printf \'%s|\' "$@" "$GREETING" "$PWD"',
                    args=["a b", "c"],
                    env={"GREETING": "hey"},
                    cwd=str(tmp_path),
                )
            )
        )
        assert ok["status"] == "succeeded" and ok["exit_code"] == 0
        assert ok["stdout_tail"] == f"a b|c|hey|{tmp_path}|"
        assert os.listdir(agent.tmp_dir) == []


@pytest.mark.parametrize(
    ("language", "body"),
    [("sh", "echo from-sh"), ("python", "import sys; print('from-python', sys.argv[1:])")],
)
async def test_sh_and_python_scripts_run(tmp_path: Path, language: str, body: str) -> None:
    async with running_worker(tmp_path) as agent:
        result = await agent.run(agent.job(params=script(body, language, args=["x"])))
        assert result["status"] == "succeeded", result
        assert result["stdout_tail"].startswith(f"from-{language}")


async def test_unavailable_languages_fail_clearly(tmp_path: Path) -> None:
    async with running_worker(tmp_path) as agent:
        cmd = await agent.run(agent.job(params=script("echo hi", "cmd")))
        assert cmd["status"] == "failed" and "only on Windows" in cmd["error"]
        powershell = await agent.run(agent.job(params=script("Write-Output hi", "powershell")))
        if shutil.which("pwsh") or shutil.which("powershell"):
            assert powershell["status"] == "succeeded" and powershell["stdout_tail"].strip() == "hi"
        else:
            assert powershell["status"] == "failed" and "powershell is not available" in powershell["error"]
        unknown = await agent.run(agent.job(params=script("echo hi", "fortran")))
        assert unknown["status"] == "failed" and "unknown language 'fortran'" in unknown["error"]
        missing = await agent.run(agent.job(params=script("echo hi", cwd=str(tmp_path / "nope"))))
        assert missing["status"] == "failed" and "does not exist" in missing["error"]
        assert os.listdir(agent.tmp_dir) == []


async def test_a_script_past_its_timeout_is_timed_out_and_leaves_no_process(tmp_path: Path) -> None:
    async with running_worker(tmp_path) as agent:
        frame = agent.job(params=script("echo $$; sleep 30 & sleep 30; wait"), timeout_s=1)
        started = time.monotonic()
        result = await agent.run(frame)
        assert result["status"] == "timed_out" and "timeout of 1 s" in result["error"]
        assert time.monotonic() - started < 8
        pgid = int(result["stdout_tail"].split()[0])
        assert group_members(pgid) == []
        assert os.listdir(agent.tmp_dir) == []


async def test_a_cancelled_script_is_cancelled_and_leaves_no_process(tmp_path: Path) -> None:
    async with running_worker(tmp_path) as agent:
        frame = agent.job(params=script("trap '' TERM; echo $$; sleep 30"), timeout_s=60)
        await agent.gateway.send(frame)
        await agent.gateway.wait_for(lambda: agent.gateway.received("job.output", frame["job_id"]))
        pgid = int(agent.gateway.received("job.output", frame["job_id"])[0]["chunk"].split()[0])
        assert group_members(pgid)
        await agent.gateway.send({"t": "job.cancel", "job_id": frame["job_id"]})
        result = await agent.result(frame["job_id"])
        assert result["status"] == "cancelled" and result["error"] == "the job was cancelled"
        assert group_members(pgid) == []  # TERM was ignored: the group got SIGKILL after the grace
        assert os.listdir(agent.tmp_dir) == []


async def test_refused_jobs_are_reported_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    body = script(f"touch {marker}")
    async with running_worker(tmp_path / "home") as agent:
        tampered = agent.job(params=body)
        tampered["params"] = script(f"touch {marker}; echo evil")
        unsigned = agent.job(params=body)
        del unsigned["signature"]
        foreign = agent.job(params=body, sign_with=keys.generate())
        other_agent = agent.gateway.job("agt_someone_else", params=body)
        expired = agent.job(params=body, not_after=time.time() - 1)
        cases = {
            "bad signature": tampered,
            "unsigned": unsigned,
            "not signed by the pinned server key": foreign,
            "for agent 'agt_someone_else'": other_agent,
            "expired": expired,
        }
        for why, frame in cases.items():
            result = await agent.run(frame)
            assert why in result["error"], (why, result)
            assert result["status"] == ("expired" if why == "expired" else "failed")
            assert not agent.gateway.received("job.accepted", frame["job_id"])
        assert not marker.exists()


async def test_a_replayed_job_is_refused_and_runs_once(tmp_path: Path) -> None:
    async with running_worker(tmp_path) as agent:
        frame = agent.job(params=script("echo once"))
        first = await agent.run(frame)
        assert first["status"] == "succeeded"
        await agent.gateway.send(frame)
        await agent.gateway.wait_for(lambda: len(agent.gateway.results(frame["job_id"])) == 2)
        replay = agent.gateway.results(frame["job_id"])[1]
        assert replay["status"] == "failed" and "replayed" in replay["error"]
        assert len(agent.gateway.received("job.accepted", frame["job_id"])) == 1


async def test_an_agent_refuses_roles_it_does_not_allow(tmp_path: Path) -> None:
    async with running_worker(tmp_path, allowed_roles=["health"]) as agent:
        refused = await agent.run(agent.job(params=script("echo hi")))
        assert refused["status"] == "failed" and "role 'script' is not allowed" in refused["error"]
        health = await agent.run(agent.job("health"))
        assert health["status"] == "succeeded" and health["data"]["rss_bytes"] > 0
        assert health["data"]["pid"] == os.getpid()


async def test_unknown_roles_and_run_as_user_fail_promptly(tmp_path: Path) -> None:
    async with running_worker(tmp_path) as agent:
        unknown = await agent.run(agent.job("nope"))
        assert unknown["status"] == "failed" and "unknown role 'nope'" in unknown["error"]
        started = time.monotonic()
        user = await agent.run(agent.job(params=script("id -un"), run_as="user"), timeout=5)
        assert user["status"] == "failed"
        assert "no user is logged in" in user["error"]  # this machine has no login session
        assert time.monotonic() - started < 5


async def test_output_is_streamed_in_bounded_chunks_and_tails_are_bounded(tmp_path: Path) -> None:
    from borealis.protocol.jobs import MAX_CHUNK_BYTES, MAX_TAIL_BYTES

    async with running_worker(tmp_path) as agent:
        body = "import sys\nsys.stdout.write('é' * 100000)\nsys.stdout.flush()\nsys.stderr.write('x' * 10)"
        frame = agent.job(params=script(body, "python"))
        result = await agent.run(frame)
        assert result["status"] == "succeeded"
        assert len(result["stdout_tail"].encode()) <= MAX_TAIL_BYTES
        assert set(result["stdout_tail"]) == {"é"} and result["stderr_tail"] == "x" * 10
        await asyncio.sleep(0.2)
        chunks = [o for o in agent.gateway.received("job.output", frame["job_id"]) if o["stream"] == "stdout"]
        assert all(len(c["chunk"].encode()) <= MAX_CHUNK_BYTES for c in chunks)
        assert "".join(c["chunk"] for c in sorted(chunks, key=lambda c: c["seq"])) == "é" * 100000
