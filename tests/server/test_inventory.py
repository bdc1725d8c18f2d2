"""Inventory end to end against a real `borealis server`: simulated agents (tests/server/fleet.py) send
real `inventory` frames; what is checked is the ack they get and what an operator sees through the API
(snapshots, history, fleet searches, refresh)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from borealis.protocol.inventory import pack_data, section_hash
from tests.conftest import ServerProcess, running_server
from tests.server.fleet import EnrolledAgent, Session, enrolled_agent, open_session

pytestmark = pytest.mark.slow

SYSTEM = {"hostname": "web-1", "os_name": "Ubuntu", "os_version": "22.04", "kernel": "5.15.0-91-generic"}
SOFTWARE = [
    {"name": "openssl", "version": "1.1.1f-1ubuntu2", "arch": "amd64", "source": "dpkg"},
    {"name": "curl", "version": "7.68.0-1ubuntu2", "arch": "amd64", "source": "dpkg"},
    {"name": "vim", "version": "2:8.1.2269-1ubuntu5", "arch": "amd64", "source": "dpkg"},
]
DISKS = [
    {"mountpoint": "/", "device": "/dev/sda1", "total_bytes": 100, "used_bytes": 75, "percent": 75.0},
    {"mountpoint": "/boot", "device": "/dev/sda2", "total_bytes": 10, "used_bytes": 2, "percent": 20.0},
]
UPDATES = [
    {
        "name": "openssl",
        "version": "1.1.1f-1ubuntu2.16",
        "current_version": "1.1.1f-1ubuntu2",
        "security": True,
    },
    {"name": "tzdata", "version": "2024a-0ubuntu1", "current_version": "2023c-0ubuntu1", "security": False},
]
PROCESSES = [
    {"pid": 1, "ppid": 0, "name": "systemd", "user": "root", "cmdline": ["/sbin/init"]},
    {"pid": 812, "ppid": 1, "name": "sshd", "user": "root", "cmdline": ["sshd: /usr/sbin/sshd -D"]},
]


def section(data: Any, collected_at: float | None = None, error: str | None = None) -> dict[str, Any]:
    return {
        "hash": section_hash(None if error else data),
        "collected_at": collected_at or time.time(),
        "duration_ms": 12,
        "error": error,
        **pack_data(None if error else data),
    }


def frame(msg_id: str, **sections: Any) -> dict[str, Any]:
    return {"t": "inventory", "msg_id": msg_id, "sections": {k: section(v) for k, v in sections.items()}}


@pytest.fixture
def inv_server(tmp_path: Path, db_url: str) -> Iterator[ServerProcess]:
    with running_server(tmp_path / "server-home", db_url, job_sweep_s=0.2) as process:
        yield process


@pytest.fixture
async def api(inv_server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {inv_server.token}"}
    async with httpx.AsyncClient(base_url=inv_server.url, headers=headers, timeout=30) as client:
        yield client
    log = inv_server.log_path.read_text(errors="replace")
    assert "Traceback" not in log and "level=error" not in log, log[-3000:]


async def online(
    server: ServerProcess, api: httpx.AsyncClient, hostname: str
) -> tuple[EnrolledAgent, Session]:
    agent = await enrolled_agent(api, {}, hostname=hostname)
    session = await open_session(server.url, agent)
    assert session.welcome is not None
    return agent, session


async def upload(session: Session, sent: dict[str, Any]) -> None:
    """Send an inventory frame and wait for its ack (the server acks only after the commit)."""
    await session.send(sent)
    ack = await session.receive("ack", timeout=10)
    assert ack["msg_id"] == sent["msg_id"]


async def inventory_of(api: httpx.AsyncClient, agent_id: str) -> dict[str, Any]:
    response = await api.get(f"/api/v1/agents/{agent_id}/inventory")
    assert response.status_code == 200, response.text
    sections: dict[str, Any] = response.json()["sections"]
    return sections


async def changes_of(api: httpx.AsyncClient, agent_id: str, **params: Any) -> list[dict[str, Any]]:
    response = await api.get(f"/api/v1/agents/{agent_id}/inventory/changes", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


async def test_the_latest_snapshot_is_stored_and_served(
    inv_server: ServerProcess, api: httpx.AsyncClient
) -> None:
    agent, session = await online(inv_server, api, "web-1")
    big = [
        {"name": f"lib{i:05d}", "version": "1.0-1", "arch": "amd64", "source": "dpkg"} for i in range(1500)
    ]
    sent = frame("inv-1", system=SYSTEM, software=big, disks=DISKS)
    assert "data_zb64" in sent["sections"]["software"]  # large enough to travel compressed
    await upload(session, sent)

    stored = await inventory_of(api, agent.agent_id)
    assert set(stored) == {"system", "software", "disks"}
    assert stored["system"]["data"] == SYSTEM
    assert stored["software"]["data"] == big
    assert stored["software"]["hash"] == section_hash(big)
    assert stored["disks"]["error"] is None

    one = (await api.get(f"/api/v1/agents/{agent.agent_id}/inventory/disks")).json()
    assert one["section"] == "disks" and one["data"] == DISKS
    assert await changes_of(api, agent.agent_id) == []  # a first snapshot is a baseline, not a change
    await session.close()


async def test_changes_between_two_uploads_are_in_the_history(
    inv_server: ServerProcess, api: httpx.AsyncClient
) -> None:
    agent, session = await online(inv_server, api, "web-2")
    await upload(session, frame("inv-1", system=SYSTEM, software=SOFTWARE, disks=DISKS, updates=UPDATES))
    software = [
        {"name": "openssl", "version": "1.1.1f-1ubuntu2.16", "arch": "amd64", "source": "dpkg"},
        SOFTWARE[2],
        {"name": "htop", "version": "3.0.5-7build2", "arch": "amd64", "source": "dpkg"},
    ]
    disks = [{**DISKS[0], "used_bytes": 91, "percent": 91.0}, DISKS[1]]
    system = {**SYSTEM, "kernel": "5.15.0-92-generic"}
    await upload(session, frame("inv-2", system=system, software=software, disks=disks, updates=UPDATES[1:]))

    found = {
        (c["section"], c["kind"], c["subject"], c["before"], c["after"])
        for c in await changes_of(api, agent.agent_id)
    }
    assert found == {
        ("software", "upgraded", "openssl:amd64", "1.1.1f-1ubuntu2", "1.1.1f-1ubuntu2.16"),
        ("software", "removed", "curl:amd64", "7.68.0-1ubuntu2", None),
        ("software", "added", "htop:amd64", None, "3.0.5-7build2"),
        ("updates", "gone", "openssl", "1.1.1f-1ubuntu2.16", None),
        ("disks", "filling", "/", "75.0", "91.0"),
        ("system", "changed", "kernel", "5.15.0-91-generic", "5.15.0-92-generic"),
    }
    only_software = await changes_of(api, agent.agent_id, section="software")
    assert {c["kind"] for c in only_software} == {"upgraded", "removed", "added"}

    first = (await api.get(f"/api/v1/agents/{agent.agent_id}/inventory/changes", params={"limit": 4})).json()
    rest = await changes_of(api, agent.agent_id, limit=4, cursor=first["next_cursor"])
    ids = [c["id"] for c in first["items"] + rest]
    assert len(ids) == 6 and ids == sorted(ids, reverse=True)  # newest first, pages do not overlap
    later = await changes_of(api, agent.agent_id, since="2999-01-01T00:00:00Z")
    assert later == []
    await session.close()


async def test_an_unchanged_section_is_not_stored_again(
    inv_server: ServerProcess, api: httpx.AsyncClient
) -> None:
    agent, session = await online(inv_server, api, "web-3")
    await upload(session, frame("inv-1", software=SOFTWARE, disks=DISKS))
    before = await inventory_of(api, agent.agent_id)
    await asyncio.sleep(0.05)

    await upload(session, frame("inv-2", software=SOFTWARE, disks=DISKS))  # a forced collection: same data
    after = await inventory_of(api, agent.agent_id)
    assert after["software"]["received_at"] == before["software"]["received_at"]
    assert after["software"]["collected_at"] == before["software"]["collected_at"]
    assert after["disks"]["received_at"] == before["disks"]["received_at"]

    changed_disks = [{**DISKS[0], "used_bytes": 76, "percent": 76.0}, DISKS[1]]
    await upload(session, frame("inv-3", software=SOFTWARE, disks=changed_disks))
    last = await inventory_of(api, agent.agent_id)
    assert last["software"]["received_at"] == before["software"]["received_at"]
    assert last["disks"]["received_at"] > before["disks"]["received_at"]
    assert await changes_of(api, agent.agent_id) == []  # one point more full is not worth a change
    await session.close()


async def test_a_resent_frame_is_stored_once(inv_server: ServerProcess, api: httpx.AsyncClient) -> None:
    agent, session = await online(inv_server, api, "web-4")
    await upload(session, frame("inv-1", software=SOFTWARE))
    changed = frame("inv-2", software=SOFTWARE[:2])
    await session.send(changed)  # its ack is "lost": the agent sends it again after a reconnect
    await session.close()
    session = await open_session(inv_server.url, agent)
    await upload(session, changed)

    assert [(c["kind"], c["subject"]) for c in await changes_of(api, agent.agent_id)] == [
        ("removed", "vim:amd64")
    ]
    found = (await api.get("/api/v1/inventory/software", params={"name": "openssl"})).json()["items"]
    assert [item["agent_id"] for item in found] == [agent.agent_id]  # its searchable rows are not doubled
    await session.close()


async def test_an_older_collection_arriving_late_does_not_replace_a_newer_one(
    inv_server: ServerProcess, api: httpx.AsyncClient
) -> None:
    agent, session = await online(inv_server, api, "web-9")
    newer = {
        "t": "inventory",
        "msg_id": "inv-2",
        "sections": {"software": section(SOFTWARE, 2_000_000_000.0)},
    }
    older = {
        "t": "inventory",
        "msg_id": "inv-1",
        "sections": {"software": section(SOFTWARE[:1], 1_900_000_000.0)},
    }
    await upload(session, newer)
    await upload(session, older)  # acked (the agent may forget it) but not stored
    stored = await inventory_of(api, agent.agent_id)
    assert stored["software"]["data"] == SOFTWARE
    assert await changes_of(api, agent.agent_id) == []
    await session.close()


async def test_a_failed_collector_is_reported_and_the_others_arrive(
    inv_server: ServerProcess, api: httpx.AsyncClient
) -> None:
    agent, session = await online(inv_server, api, "web-5")
    await upload(session, frame("inv-1", software=SOFTWARE))
    sent = frame("inv-2", disks=DISKS)
    sent["sections"]["software"] = section(None, error="dpkg-query: timed out after 60 s")
    sent["sections"]["bogus"] = section({"x": 1})  # unknown: skipped
    sent["sections"]["users"] = section({"not": "a list"})  # wrong shape: skipped
    await upload(session, sent)
    stored = await inventory_of(api, agent.agent_id)
    assert set(stored) == {"software", "disks"}
    assert stored["software"]["error"] == "dpkg-query: timed out after 60 s"
    assert stored["software"]["data"] == SOFTWARE  # the last good data stays
    await session.close()


async def test_a_malformed_frame_is_not_acked_and_the_connection_stays(
    inv_server: ServerProcess, api: httpx.AsyncClient
) -> None:
    agent, session = await online(inv_server, api, "web-6")
    await session.send({"t": "inventory", "msg_id": "bad-1", "sections": ["not", "an", "object"]})
    await session.send({"t": "inventory", "sections": {"system": section(SYSTEM)}})  # no msg_id
    assert await session.nothing_of("ack", 0.5)
    await upload(session, frame("inv-1", system=SYSTEM))
    assert set(await inventory_of(api, agent.agent_id)) == {"system"}
    await session.close()


async def test_a_fleet_search_by_version_range_finds_exactly_the_right_agents(
    inv_server: ServerProcess, api: httpx.AsyncClient
) -> None:
    holdings = {
        "old": [("openssl", "1.1.1f-1ubuntu2", "dpkg"), ("foo", "1.0~rc1", "dpkg")],
        "patched": [("openssl", "1.1.1f-1ubuntu2.16", "dpkg"), ("foo", "1.0", "dpkg")],
        "epoch": [("openssl", "1:1.0", "dpkg")],
        "rpm": [("openssl", "1.1.1k-7.el8", "rpm")],
        "none": [("curl", "7.68.0-1ubuntu2", "dpkg")],
    }
    ids: dict[str, str] = {}
    for host, packages in holdings.items():
        agent, session = await online(inv_server, api, host)
        ids[agent.agent_id] = host
        items = [{"name": n, "version": v, "arch": "amd64", "source": s} for n, v, s in packages]
        await upload(session, frame(f"inv-{host}", software=items))
        await session.close()

    async def hosts(**params: Any) -> set[str]:
        response = await api.get("/api/v1/inventory/software", params=params)
        assert response.status_code == 200, response.text
        return {ids[item["agent_id"]] for item in response.json()["items"]}

    assert await hosts(name="openssl") == {"old", "patched", "epoch", "rpm"}
    assert await hosts(name="openssl", version_lt="1.1.1f-1ubuntu2.16") == {"old"}
    assert await hosts(name="openssl", version_gte="1.1.1f-1ubuntu2.16") == {"patched", "epoch", "rpm"}
    assert await hosts(name="openssl", version_gt="1.1.1f-1ubuntu2", version_lt="2.0") == {"patched", "rpm"}
    assert await hosts(name="openssl", version_lt="1.1.1k-12.el8") == {"old", "patched", "rpm"}
    assert await hosts(name="foo", version_lt="1.0") == {"old"}
    assert await hosts(name="foo", version_lte="1.0") == {"old", "patched"}
    assert await hosts(name="nothing-has-this") == set()

    page = (await api.get("/api/v1/inventory/software", params={"name": "openssl", "limit": 3})).json()
    rest = (
        await api.get(
            "/api/v1/inventory/software",
            params={"name": "openssl", "limit": 3, "cursor": page["next_cursor"]},
        )
    ).json()
    assert len(page["items"]) == 3 and len(rest["items"]) == 1 and rest["next_cursor"] is None


async def test_fleet_searches_for_updates_disks_and_processes(
    inv_server: ServerProcess, api: httpx.AsyncClient
) -> None:
    full, session = await online(inv_server, api, "full")
    disks = [{**DISKS[0], "used_bytes": 95, "percent": 95.0}, DISKS[1]]
    await upload(session, frame("inv-1", disks=disks, updates=UPDATES, processes=PROCESSES))
    await session.close()
    calm, session = await online(inv_server, api, "calm")
    await upload(session, frame("inv-1", disks=DISKS, updates=UPDATES[1:], processes=PROCESSES[:1]))
    await session.close()

    async def items(path: str, **params: Any) -> list[dict[str, Any]]:
        response = await api.get(f"/api/v1/inventory/{path}", params=params)
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["items"]
        return found

    security = await items("updates", security="true")
    assert [(u["agent_id"], u["security"]) for u in security] == [(full.agent_id, 1)]
    pending = {u["agent_id"]: u["pending"] for u in await items("updates")}
    assert pending == {full.agent_id: 2, calm.agent_id: 1}
    over = await items("disks", above_pct=90)
    assert [(d["agent_id"], d["mountpoint"], d["percent"], d["device"]) for d in over] == [
        (full.agent_id, "/", 95.0, "/dev/sda1")
    ]
    assert len(await items("disks", above_pct=10)) == 4
    sshd = await items("processes", name="sshd")
    assert [(p["agent_id"], p["hostname"], p["pid"], p["user"]) for p in sshd] == [
        (full.agent_id, "full", 812, "root")
    ]


async def test_bad_requests_are_problems_never_500(inv_server: ServerProcess, api: httpx.AsyncClient) -> None:
    agent, session = await online(inv_server, api, "web-7")
    nobody = "0" * 32
    problem(await api.get(f"/api/v1/agents/{nobody}/inventory"), 404)
    problem(await api.get(f"/api/v1/agents/{nobody}/inventory/software"), 404)
    problem(await api.get(f"/api/v1/agents/{nobody}/inventory/changes"), 404)
    problem(await api.post(f"/api/v1/agents/{nobody}/inventory/refresh", json={}), 404)
    problem(await api.get(f"/api/v1/agents/{agent.agent_id}/inventory/bogus"), 404)
    problem(await api.get(f"/api/v1/agents/{agent.agent_id}/inventory/software"), 404)  # not reported yet
    base = f"/api/v1/agents/{agent.agent_id}/inventory"
    for path, params in [
        (base + "/changes", {"section": "bogus"}),
        (base + "/changes", {"cursor": "-1"}),
        (base + "/changes", {"since": "yesterday"}),
        (base + "/changes", {"limit": "100000"}),
        ("/api/v1/inventory/software", {}),
        ("/api/v1/inventory/software", {"name": "x" * 300}),
        ("/api/v1/inventory/software", {"name": "openssl", "version_lt": "9" * 200}),
        ("/api/v1/inventory/software", {"name": "openssl", "cursor": "abc"}),
        ("/api/v1/inventory/disks", {"above_pct": "101"}),
        ("/api/v1/inventory/disks", {"above_pct": "nan"}),
        ("/api/v1/inventory/processes", {}),
        ("/api/v1/inventory/updates", {"security": "maybe"}),
    ]:
        problem(await api.get(path, params=params), 422)
    for body in [{"wait_s": 500}, {"sections": ["bogus"]}, {"sections": "software"}, {"wait_s": -1}]:
        problem(await api.post(base + "/refresh", json=body), 422)
    await session.close()


async def test_refresh_returns_the_fresh_sections(inv_server: ServerProcess, api: httpx.AsyncClient) -> None:
    agent, session = await online(inv_server, api, "web-8")
    await upload(session, frame("inv-1", software=SOFTWARE))
    asked = asyncio.create_task(
        api.post(
            f"/api/v1/agents/{agent.agent_id}/inventory/refresh",
            json={"sections": ["software", "disks"], "wait_s": 20},
        )
    )
    job = await session.receive("job", timeout=10)
    assert job["role"] == "inventory"
    assert job["params"] == {"force": True, "sections": ["software", "disks"]}
    await session.accept(job["job_id"])
    fresh = SOFTWARE[:1]
    await session.send(frame("inv-2", software=fresh, disks=DISKS))  # before its job.result, in order
    await session.result(job["job_id"], "succeeded", data={"sections": ["software", "disks"]})
    response = await asked
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["job_id"] == job["job_id"] and body["status"] == "succeeded"
    assert body["sections"]["software"]["data"] == fresh
    assert body["sections"]["disks"]["data"] == DISKS

    slow = await api.post(f"/api/v1/agents/{agent.agent_id}/inventory/refresh", json={"wait_s": 0.3})
    assert slow.status_code == 202, slow.text
    assert slow.json()["status"] == "pending"
    assert (await api.get(f"/api/v1/jobs/{slow.json()['job_id']}")).json()["role"] == "inventory"
    await session.close()


async def test_refreshing_an_offline_agent_answers_202_with_the_job(
    inv_server: ServerProcess, api: httpx.AsyncClient
) -> None:
    agent = await enrolled_agent(api, {}, hostname="asleep")
    response = await api.post(f"/api/v1/agents/{agent.agent_id}/inventory/refresh", json={"wait_s": 0})
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    session = await open_session(inv_server.url, agent)  # it runs when the agent connects
    assert (await session.receive("job", timeout=10))["job_id"] == job_id
    await session.close()
