"""Schedules firing in-process with the real scheduler loop and clock: never early, each slot once, the
overlap policies, the end after N runs, disable, misfire after an outage, workflows through the
starter seam, and a firing that fails is recorded with its reason."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update

from borealis.server.db.models import Schedule
from borealis.server.state import app_state
from tests.conftest import App
from tests.server.fleet import enrolled_agent
from tests.support import eventually

SCRIPT = {"language": "bash", "script": "echo scheduled"}


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def make(app: App, **body: Any) -> dict[str, Any]:
    response = await app.client.post("/api/v1/schedules", json=body, headers=app.auth())
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def runs_of(app: App, schedule_id: str) -> list[dict[str, Any]]:
    """Every slot record, oldest first (paging through the API)."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 50}
        if cursor:
            params["cursor"] = cursor
        response = await app.client.get(
            f"/api/v1/schedules/{schedule_id}/runs", params=params, headers=app.auth()
        )
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return sorted(items, key=lambda run: run["slot_at"])


async def until(app: App, schedule_id: str, done: Any, timeout: float = 30.0) -> list[dict[str, Any]]:
    async def runs_when_done() -> list[dict[str, Any]] | None:
        runs = await runs_of(app, schedule_id)
        return runs if done(runs) else None

    return await eventually(runs_when_done, timeout, f"the runs of schedule {schedule_id} as wanted", 0.2)


def final(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [run for run in runs if run["outcome"] not in ("firing", "queued")]


def assert_each_slot_once(runs: list[dict[str, Any]], step_s: float) -> None:
    slots = [parse(run["slot_at"]) for run in runs]
    assert len(set(slots)) == len(slots), "a slot was recorded twice"
    gaps = {(b - a).total_seconds() for a, b in itertools.pairwise(slots)}
    assert gaps <= {step_s}, f"slots are not consecutive: gaps {sorted(gaps)}"


def assert_never_early(runs: list[dict[str, Any]]) -> None:
    for run in runs:
        if run["fired_at"] is not None:
            assert parse(run["fired_at"]) >= parse(run["slot_at"]), run
            assert run["lateness_s"] >= 0


async def test_an_interval_schedule_fires_every_slot_once_and_never_early(app: App) -> None:
    agent = await enrolled_agent(app.client, app.auth())
    schedule = await make(
        app,
        name="every second",
        interval_s=1,
        action={
            "type": "job",
            "job": {"role": "script", "params": SCRIPT, "target": {"agents": [agent.agent_id]}},
        },
    )
    runs = await until(app, schedule["id"], lambda runs: len(final(runs)) >= 4)
    runs = final(runs)
    assert {run["outcome"] for run in runs} == {"fired"}
    assert_each_slot_once(runs, 1.0)
    assert_never_early(runs)
    assert parse(runs[0]["slot_at"]) > parse(schedule["created_at"])
    job = (await app.client.get(f"/api/v1/jobs/{runs[0]['job_id']}", headers=app.auth())).json()
    assert job["created_by"] == f"token:{app.token.split('_')[1]}" and job["role"] == "script"
    assert [row["agent_id"] for row in job["results"]] == [agent.agent_id]
    shown = (await app.client.get(f"/api/v1/schedules/{schedule['id']}", headers=app.auth())).json()
    assert shown["run_count"] >= 4 and shown["last_job_id"]


async def test_overlap_skip_while_the_job_is_not_final(app: App) -> None:
    agent = await enrolled_agent(app.client, app.auth())  # never connects: its row stays queued
    schedule = await make(
        app,
        name="no overlap",
        interval_s=1,
        overlap="skip",
        action={
            "type": "job",
            "job": {"role": "script", "params": SCRIPT, "target": {"agents": [agent.agent_id]}},
        },
    )
    runs = final(await until(app, schedule["id"], lambda runs: len(final(runs)) >= 4))
    assert runs[0]["outcome"] == "fired"
    assert [run["outcome"] for run in runs[1:]] == ["skipped"] * (len(runs) - 1)
    assert all("previous run is still going" in run["reason"] for run in runs[1:])
    assert_each_slot_once(runs, 1.0)
    # Once that job is final (cancelled), the next slot fires again.
    cancelled = await app.client.post(f"/api/v1/jobs/{runs[0]['job_id']}/cancel", headers=app.auth())
    assert cancelled.status_code == 200
    later = await until(app, schedule["id"], lambda runs: sum(r["outcome"] == "fired" for r in runs) >= 2)
    assert_each_slot_once(later, 1.0)


class FakeStarter:
    """The workflow engine at its seam: records starts; a test says when a run has ended."""

    def __init__(self) -> None:
        self.started: list[tuple[str, dict[str, Any], dict[str, Any], str]] = []
        self.running: set[str] = set()

    async def start_run(
        self, workflow_id: str, input: dict[str, Any], trigger: dict[str, Any], actor: str
    ) -> str:
        run_id = f"run-{len(self.started) + 1}"
        self.started.append((workflow_id, input, trigger, actor))
        self.running.add(run_id)
        return run_id

    async def is_running(self, run_id: str) -> bool:
        return run_id in self.running


async def test_a_workflow_schedule_queues_one_slot_behind_a_running_run(app: App) -> None:
    starter = FakeStarter()
    app_state(app.app).schedules.starter = starter
    schedule = await make(
        app,
        name="wf",
        interval_s=1,
        overlap="queue",
        action={"type": "workflow", "workflow_id": "wf-1", "input": {"n": 1}},
    )
    runs = await until(app, schedule["id"], lambda runs: len(runs) >= 4)
    outcomes = [run["outcome"] for run in runs]
    assert outcomes[:3] == ["fired", "queued", "skipped"], outcomes
    assert runs[0]["workflow_run_id"] == "run-1"
    assert "already waits" in runs[2]["reason"]
    workflow_id, given, trigger, actor = starter.started[0]
    assert (workflow_id, given, actor) == ("wf-1", {"n": 1}, f"token:{app.token.split('_')[1]}")
    assert trigger["type"] == "schedule" and trigger["schedule_id"] == schedule["id"]
    assert trigger["slot_at"] == runs[0]["slot_at"]
    starter.running.discard("run-1")  # the first run ends: the queued slot fires
    runs = await until(app, schedule["id"], lambda runs: runs[1]["outcome"] == "fired")
    assert runs[1]["workflow_run_id"] == "run-2"
    assert_never_early(runs)
    assert_each_slot_once(runs, 1.0)


async def test_it_ends_after_n_runs_and_disable_stops_it(app: App) -> None:
    agent = await enrolled_agent(app.client, app.auth())
    action = {
        "type": "job",
        "job": {"role": "script", "params": SCRIPT, "target": {"agents": [agent.agent_id]}},
    }
    limited = await make(app, name="twice", interval_s=1, max_runs=2, action=action)
    stopped = await make(app, name="until disabled", interval_s=1, action=action)

    async def status(schedule_id: str) -> dict[str, Any]:
        body: dict[str, Any] = (
            await app.client.get(f"/api/v1/schedules/{schedule_id}", headers=app.auth())
        ).json()
        return body

    await until(app, stopped["id"], lambda runs: len(final(runs)) >= 1)
    disabled = await app.client.post(f"/api/v1/schedules/{stopped['id']}/disable", headers=app.auth())
    assert disabled.json()["status"] == "disabled"
    recorded = len(await runs_of(app, stopped["id"]))
    deadline = time.monotonic() + 30
    while (await status(limited["id"]))["status"] != "ended":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    await asyncio.sleep(2.5)
    ended = await status(limited["id"])
    assert ended["run_count"] == 2 and ended["next_run_at"] is None
    assert ended["ended_reason"] == "ended after 2 runs"
    assert [run["outcome"] for run in await runs_of(app, limited["id"])] == ["fired", "fired"]
    assert len(await runs_of(app, stopped["id"])) == recorded
    preview = await app.client.get(f"/api/v1/schedules/{limited['id']}/preview", headers=app.auth())
    assert preview.json()["items"] == []


async def rewind(app: App, schedule_id: str, seconds: float) -> None:
    """Stand for an outage: the schedule's next slot is `seconds` in the past, as if nobody was there."""
    state = app_state(app.app)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=seconds)
    async with state.db.transaction() as session:
        await session.execute(
            update(Schedule).where(Schedule.id == schedule_id).values(next_run_at=start, anchor_at=start)
        )
    state.schedules.runner.wake()


async def test_misfire_after_an_outage_skip_or_run_once(app: App) -> None:
    starter = FakeStarter()
    app_state(app.app).schedules.starter = starter
    action = {"type": "workflow", "workflow_id": "wf", "input": {}}
    skip = await make(app, name="skip", interval_s=2, grace_s=5, misfire="skip", action=action, enabled=False)
    once = await make(
        app, name="once", interval_s=2, grace_s=5, misfire="run_once", action=action, enabled=False
    )
    for schedule in (skip, once):
        await rewind(app, schedule["id"], 30)
        enabled = await app.client.post(f"/api/v1/schedules/{schedule['id']}/enable", headers=app.auth())
        assert parse(enabled.json()["next_run_at"]) > datetime.now(UTC)  # no backfill for a disabled time
        await rewind(app, schedule["id"], 30)

    for schedule, policy in ((skip, "skip"), (once, "run_once")):
        runs = await until(app, schedule["id"], lambda runs: len(final(runs)) >= 17, timeout=30)
        runs = final(runs)
        assert_each_slot_once(runs, 2.0)
        assert_never_early(runs)
        decided_at = parse(runs[0]["recorded_at"])
        missed = [run for run in runs if (decided_at - parse(run["slot_at"])).total_seconds() > 5]
        within = [run for run in runs if run not in missed]
        assert len(missed) >= 12
        assert all(run["outcome"] == "fired" for run in within), within
        if policy == "skip":
            assert {run["outcome"] for run in missed} == {"skipped"}
            assert all("grace of 5s" in run["reason"] for run in missed)
        else:
            assert [run["outcome"] for run in missed] == ["skipped"] * (len(missed) - 1) + ["fired"]
            assert f"{len(missed)} missed slots" in missed[-1]["reason"]


async def test_a_firing_that_fails_is_recorded_with_its_reason(app: App) -> None:
    agent = await enrolled_agent(app.client, app.auth())
    schedule = await make(
        app,
        name="doomed",
        interval_s=1,
        action={
            "type": "job",
            "job": {"role": "script", "params": SCRIPT, "target": {"agents": [agent.agent_id]}},
        },
    )
    revoked = await app.client.post(f"/api/v1/agents/{agent.agent_id}/revoke", headers=app.auth())
    assert revoked.status_code == 200
    runs = final(await until(app, schedule["id"], lambda runs: len(final(runs)) >= 2))
    assert {run["outcome"] for run in runs} == {"failed"}
    assert all("no active agent" in run["reason"] for run in runs)
    assert all(run["job_id"] is None for run in runs)


async def test_records_are_pruned_by_count_and_age_and_stale_firings_fail(app: App) -> None:
    from dataclasses import replace

    from sqlalchemy import insert

    from borealis.server.db.models import ScheduleRun

    agent = await enrolled_agent(app.client, app.auth())
    schedule = await make(
        app,
        name="pruned",
        interval_s=1,
        max_runs=5,
        action={
            "type": "job",
            "job": {"role": "script", "params": SCRIPT, "target": {"agents": [agent.agent_id]}},
        },
    )
    runs = final(await until(app, schedule["id"], lambda runs: len(final(runs)) >= 5))
    state = app_state(app.app)
    runner = state.schedules.runner
    runner.settings = replace(runner.settings, schedule_runs_per_schedule=2)
    assert await runner.prune() == 3
    kept = await runs_of(app, schedule["id"])
    assert [run["slot_at"] for run in kept] == [run["slot_at"] for run in runs[-2:]]

    long_ago = datetime.now(UTC) - timedelta(hours=1)
    async with state.db.transaction() as session:  # a slot a server that died left half-fired
        await session.execute(
            insert(ScheduleRun).values(
                schedule_id=schedule["id"],
                slot_at=long_ago,
                slots=1,
                outcome="firing",
                recorded_at=long_ago,
                fired_at=long_ago,
            )
        )
    assert await runner.fail_stale() == 1
    stale = (await runs_of(app, schedule["id"]))[0]
    assert stale["outcome"] == "failed" and "interrupted" in stale["reason"]

    runner.settings = replace(runner.settings, schedule_runs_days=0.0, schedule_runs_per_schedule=1000)
    assert await runner.prune() == 3
    assert await runs_of(app, schedule["id"]) == []


async def test_a_schedule_starts_runs_of_the_real_workflow_engine(app: App) -> None:
    document = {
        "nodes": [
            {"id": "tick", "type": "trigger.schedule", "params": {}},
            {"id": "label", "type": "data.set", "params": {"values": {"seen": "{{ json.n }}"}}},
        ],
        "edges": [{"source": "tick", "target": "label", "source_port": "main", "target_port": "main"}],
    }
    created = await app.client.post(
        "/api/v1/workflows", json={"name": "on a timer", "document": document}, headers=app.auth()
    )
    assert created.status_code == 201, created.text
    workflow_id = created.json()["id"]
    schedule = await make(
        app,
        name="timer",
        interval_s=1,
        max_runs=2,
        overlap="skip",
        action={"type": "workflow", "workflow_id": workflow_id, "input": {"n": 7}},
    )
    fired = await until(app, schedule["id"], lambda runs: sum(r["outcome"] == "fired" for r in runs) == 2)
    fired = [run for run in fired if run["outcome"] == "fired"]
    for record in fired:
        deadline = time.monotonic() + 20
        while True:
            run = (
                await app.client.get(f"/api/v1/runs/{record['workflow_run_id']}", headers=app.auth())
            ).json()
            if run["status"] not in ("queued", "running"):
                break
            assert time.monotonic() < deadline, run
            await asyncio.sleep(0.1)
        assert run["status"] == "succeeded", run
        assert run["workflow_id"] == workflow_id and run["created_by"] == f"token:{app.token.split('_')[1]}"
        assert run["trigger"]["type"] == "schedule" and run["trigger"]["slot_at"] == record["slot_at"]
        assert [item["json"] for item in run["output"]] == [{"n": 7, "seen": 7}]


class ForgetfulStarter(FakeStarter):
    """An engine whose runs are gone by the time the schedule asks (pruned, workflow deleted)."""

    async def is_running(self, run_id: str) -> bool:
        from borealis.core.errors import NotFound

        raise NotFound(f"no run {run_id!r}")


async def test_one_broken_schedule_does_not_stop_the_others(app: App) -> None:
    app_state(app.app).schedules.starter = ForgetfulStarter()
    action = {"type": "workflow", "workflow_id": "wf", "input": {}}
    broken = await make(app, name="broken", interval_s=1, action=action, enabled=False)
    healthy = await make(app, name="healthy", interval_s=1, overlap="skip", action=action)
    state = app_state(app.app)
    async with state.db.transaction() as session:  # as if tzdata lost the zone after it was saved
        await session.execute(
            update(Schedule)
            .where(Schedule.id == broken["id"])
            .values(
                timezone="Mars/Olympus", enabled=True, next_run_at=datetime.now(UTC) - timedelta(seconds=1)
            )
        )
    state.schedules.runner.wake()
    runs = await until(app, broken["id"], lambda runs: len(runs) >= 1)
    assert runs[0]["outcome"] == "skipped" and "no longer holds" in runs[0]["reason"]
    shown = (await app.client.get(f"/api/v1/schedules/{broken['id']}", headers=app.auth())).json()
    assert shown["status"] == "ended" and "Mars/Olympus" in shown["ended_reason"]
    # The healthy one fires on, its previous run being unknown to the engine (so not running).
    fired = await until(app, healthy["id"], lambda runs: sum(r["outcome"] == "fired" for r in runs) >= 3)
    assert {run["outcome"] for run in final(fired)} == {"fired"}
