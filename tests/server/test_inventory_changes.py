"""What counts as a change between two snapshots (pure), and the in-process pieces around the store:
batches that isolate a bad upload, retention by age and by count."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from borealis.core.clock import utcnow
from borealis.protocol.inventory import section_hash
from borealis.server.db.models import InventoryChange, InventorySection
from borealis.server.housekeeping import prune_inventory
from borealis.server.inventory import history
from borealis.server.inventory.changes import Change, diff
from borealis.server.inventory.inbound import Upload, parse_upload
from borealis.server.state import ServerState, app_state
from tests.conftest import App
from tests.server.fleet import enrolled_agent


def pkg(name: str, version: str, arch: str = "x86_64", source: str = "rpm") -> dict[str, str]:
    return {"name": name, "version": version, "arch": arch, "source": source}


def test_software_changes_use_the_package_source_ordering() -> None:
    old = [pkg("openssl", "1:1.1.1k-12.el8"), pkg("bash", "4.4.20-4.el8"), pkg("zsh", "5.5.1-10.el8")]
    new = [pkg("openssl", "1:1.1.1k-7.el8"), pkg("bash", "4.4.20-5.el8"), pkg("git", "2.39.3-1.el8")]
    assert diff("software", old, new) == [
        Change("upgraded", "bash:x86_64", "4.4.20-4.el8", "4.4.20-5.el8"),
        Change("added", "git:x86_64", None, "2.39.3-1.el8"),
        Change("downgraded", "openssl:x86_64", "1:1.1.1k-12.el8", "1:1.1.1k-7.el8"),
        Change("removed", "zsh:x86_64", "5.5.1-10.el8", None),
    ]


def test_several_installed_versions_of_one_package_are_added_and_removed_one_by_one() -> None:
    old = [pkg("kernel", "4.18.0-477.el8"), pkg("kernel", "4.18.0-513.el8")]
    new = [pkg("kernel", "4.18.0-513.el8"), pkg("kernel", "4.18.0-522.el8"), pkg("kernel", "4.18.0-526.el8")]
    assert diff("software", old, new) == [
        Change("removed", "kernel:x86_64", "4.18.0-477.el8", None),
        Change("added", "kernel:x86_64", None, "4.18.0-522.el8"),
        Change("added", "kernel:x86_64", None, "4.18.0-526.el8"),
    ]


def test_the_same_name_on_two_architectures_is_two_packages() -> None:
    old = [pkg("libc6", "2.35-0ubuntu3.1", "amd64", "dpkg")]
    new = [*old, pkg("libc6", "2.35-0ubuntu3.1", "i386", "dpkg")]
    assert diff("software", old, new) == [Change("added", "libc6:i386", None, "2.35-0ubuntu3.1")]


@pytest.mark.parametrize(
    ("before", "after", "filling"),
    [
        (79.0, 81.0, True),
        (89.5, 90.0, True),
        (94.0, 99.0, True),
        (20.0, 30.0, True),
        (50.0, 59.9, False),
        (85.0, 89.0, False),
        (91.0, 80.0, False),
    ],
)
def test_a_disk_is_filling_when_it_crosses_a_threshold_or_jumps(
    before: float, after: float, filling: bool
) -> None:
    def disks(percent: float) -> list[dict[str, object]]:
        return [{"mountpoint": "/var", "device": "/dev/sdb1", "percent": percent}]

    found = diff("disks", disks(before), disks(after))
    assert found == ([Change("filling", "/var", f"{before:.1f}", f"{after:.1f}")] if filling else [])


def test_updates_appear_go_and_change_candidate() -> None:
    old = [{"name": "openssl", "version": "3.0.2-0ubuntu1.12"}, {"name": "tzdata", "version": "2024a"}]
    new = [
        {"name": "openssl", "version": "3.0.2-0ubuntu1.14"},
        {"name": "curl", "version": "7.81.0-1ubuntu1.16"},
    ]
    assert diff("updates", old, new) == [
        Change("appeared", "curl", None, "7.81.0-1ubuntu1.16"),
        Change("changed", "openssl", "3.0.2-0ubuntu1.12", "3.0.2-0ubuntu1.14"),
        Change("gone", "tzdata", "2024a", None),
    ]


def test_a_first_snapshot_and_other_sections_yield_no_changes() -> None:
    assert diff("software", None, [pkg("bash", "1")]) == []
    assert diff("processes", [{"name": "a"}], [{"name": "b"}]) == []
    assert diff("system", {"kernel": "5.15", "uptime_s": 1}, {"kernel": "5.15", "uptime_s": 2}) == []


def state_of(app: App) -> ServerState:
    state = app_state(app.app)
    return state


def upload_of(msg_id: str, data: object) -> Upload:
    section = {"hash": section_hash(data), "collected_at": 1_700_000_000.0, "data": data}
    return parse_upload({"t": "inventory", "msg_id": msg_id, "sections": {"software": section}})


async def test_an_upload_that_cannot_be_stored_fails_alone(app: App) -> None:
    state = state_of(app)
    agent = await enrolled_agent(app.client, app.auth(), hostname="a")
    good = upload_of("m-1", [pkg("bash", "1")])
    orphan = upload_of("m-2", [pkg("bash", "1")])
    outcomes = await asyncio.gather(
        state.inventory.batches.store(agent.agent_id, good),
        state.inventory.batches.store("f" * 32, orphan),  # no such agent
        return_exceptions=True,
    )
    assert outcomes[0] is None and isinstance(outcomes[1], Exception)
    async with state.db.session() as session:
        stored = await session.scalars(select(InventorySection.agent_id))
        assert list(stored) == [agent.agent_id]


async def test_history_is_pruned_by_age_then_by_count_per_agent(app: App) -> None:
    state = state_of(app)
    busy = await enrolled_agent(app.client, app.auth(), hostname="busy")
    quiet = await enrolled_agent(app.client, app.auth(), hostname="quiet")
    now = utcnow()
    row = {"section": "software", "kind": "added", "subject": "x", "before": None, "after": "1"}
    rows = [
        {**row, "agent_id": busy.agent_id, "at": now - timedelta(minutes=i)} for i in range(29, -1, -1)
    ]  # in order, as they happen
    rows += [{**row, "agent_id": quiet.agent_id, "at": now - timedelta(days=400)}]
    rows += [{**row, "agent_id": quiet.agent_id, "at": now}]
    async with state.db.transaction() as session:
        await session.execute(insert(InventoryChange), rows)

    assert await prune_inventory(state) == 1  # the defaults: 180 days, 10,000 per agent
    async with state.db.transaction() as session:
        assert await history.prune(session, now - timedelta(days=1), keep_per_agent=10) == 20
    async with state.db.session() as session:
        left = dict(
            (
                await session.execute(
                    select(InventoryChange.agent_id, func.count()).group_by(InventoryChange.agent_id)
                )
            ).all()
        )
        newest = await session.scalar(
            select(func.min(InventoryChange.at)).where(InventoryChange.agent_id == busy.agent_id)
        )
    assert left == {busy.agent_id: 10, quiet.agent_id: 1}
    assert newest is not None and newest >= now - timedelta(minutes=9, seconds=1)  # the newest ten stay
