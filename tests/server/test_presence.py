"""Presence (DESIGN §7) with a fake clock: when an agent is online, offline, overdue, pending or revoked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from borealis.server.presence import AgentStatus, Presence

HEARTBEAT_S = 10.0  # window = 25 s
OVERDUE_S = 600.0
ENROLLED = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """Monotonic seconds and the matching wall time, moved only by the test."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.start = ENROLLED + timedelta(hours=1)

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> datetime:
        return self.start + timedelta(seconds=self.now - 1000.0)

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Socket:
    """Stands in for a socket's closer; remembers how it was closed."""

    def __init__(self) -> None:
        self.closed: tuple[int, str] | None = None

    async def __call__(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def presence(clock: FakeClock) -> Presence:
    return Presence(HEARTBEAT_S, OVERDUE_S, clock=clock.monotonic, wall=clock.wall)


def status(presence: Presence, agent_id: str = "a1", state: str = "active") -> AgentStatus:
    return presence.status(agent_id, state, None, ENROLLED)


def test_never_connected_agent_is_overdue_or_offline_by_its_enrollment_time(clock: FakeClock) -> None:
    presence = Presence(HEARTBEAT_S, OVERDUE_S, clock=clock.monotonic, wall=clock.wall)
    assert presence.status("a1", "active", None, clock.wall()) == AgentStatus.OFFLINE
    assert presence.status("a1", "active", None, ENROLLED) == AgentStatus.OVERDUE  # an hour ago


def test_connected_agent_is_online_and_heartbeats_keep_it_online(
    presence: Presence, clock: FakeClock
) -> None:
    presence.connected("a1", Socket())
    assert status(presence) == AgentStatus.ONLINE
    for _ in range(10):
        clock.advance(HEARTBEAT_S)
        presence.heartbeat("a1", seq=1, rss_bytes=1, cpu_pct=0.5)
        assert status(presence) == AgentStatus.ONLINE
    assert presence.connected_count() == 1


def test_no_heartbeat_for_the_window_is_offline(presence: Presence, clock: FakeClock) -> None:
    presence.connected("a1", Socket())
    clock.advance(2.5 * HEARTBEAT_S - 0.1)
    assert status(presence) == AgentStatus.ONLINE
    clock.advance(0.2)
    assert status(presence) == AgentStatus.OFFLINE
    assert presence.connected_count() == 0


def test_clean_close_is_offline_at_once(presence: Presence, clock: FakeClock) -> None:
    socket = Socket()
    presence.connected("a1", socket)
    clock.advance(1)
    presence.disconnected("a1", socket, clean=True)
    assert status(presence) == AgentStatus.OFFLINE
    assert "a1" not in presence.live
    assert presence.seen_at("a1", None) == clock.wall()


def test_silent_drop_stays_online_until_the_window_ends(presence: Presence, clock: FakeClock) -> None:
    socket = Socket()
    presence.connected("a1", socket)
    clock.advance(5)
    presence.heartbeat("a1", seq=1, rss_bytes=0, cpu_pct=0)
    presence.disconnected("a1", socket, clean=False)
    assert status(presence) == AgentStatus.ONLINE
    clock.advance(2.5 * HEARTBEAT_S + 0.1)
    assert status(presence) == AgentStatus.OFFLINE
    # The sweeper drops the entry; there is no socket left to close.
    assert presence.stale() == [("a1", None)]
    assert presence.live == {}


def test_overdue_after_the_longer_window(presence: Presence, clock: FakeClock) -> None:
    socket = Socket()
    presence.connected("a1", socket)
    presence.disconnected("a1", socket, clean=True)
    clock.advance(OVERDUE_S - 1)
    assert status(presence) == AgentStatus.OFFLINE
    clock.advance(2)
    assert status(presence) == AgentStatus.OVERDUE


def test_stored_last_seen_counts_when_this_process_never_saw_the_agent(
    presence: Presence, clock: FakeClock
) -> None:
    recent = clock.wall() - timedelta(seconds=30)
    assert presence.status("a1", "active", recent, ENROLLED) == AgentStatus.OFFLINE
    assert presence.seen_at("a1", recent) == recent
    old = clock.wall() - timedelta(seconds=OVERDUE_S + 1)
    assert presence.status("a1", "active", old, ENROLLED) == AgentStatus.OVERDUE


def test_pending_and_revoked_win_over_a_live_socket(presence: Presence) -> None:
    presence.connected("a1", Socket())
    assert status(presence, state="pending") == AgentStatus.PENDING
    assert status(presence, state="revoked") == AgentStatus.REVOKED


def test_stale_returns_the_closers_of_sockets_past_the_window(presence: Presence, clock: FakeClock) -> None:
    quiet, chatty = Socket(), Socket()
    presence.connected("quiet", quiet)
    presence.connected("chatty", chatty)
    assert presence.stale() == []
    clock.advance(2.5 * HEARTBEAT_S)
    presence.heartbeat("chatty", seq=2, rss_bytes=0, cpu_pct=0)
    stale = presence.stale()
    assert stale == [("quiet", quiet)]
    assert set(presence.live) == {"chatty"}
    assert presence.stale() == []  # each entry is handed out once


def test_a_second_socket_replaces_the_first(presence: Presence, clock: FakeClock) -> None:
    first, second = Socket(), Socket()
    assert presence.connected("a1", first) is None
    clock.advance(1)
    assert presence.connected("a1", second) is first
    # The replaced socket's late disconnect must not take the agent offline.
    presence.disconnected("a1", first, clean=True)
    assert status(presence) == AgentStatus.ONLINE
    assert presence.live["a1"].close is second
    presence.disconnected("a1", second, clean=True)
    assert status(presence) == AgentStatus.OFFLINE


def test_heartbeat_records_the_agents_numbers_and_ignores_unknown_agents(presence: Presence) -> None:
    presence.heartbeat("ghost", seq=1, rss_bytes=1, cpu_pct=1)
    assert "ghost" not in presence.live and presence.take_dirty() == {}
    presence.connected("a1", Socket())
    presence.heartbeat("a1", seq=7, rss_bytes=123, cpu_pct=4.5)
    live = presence.live["a1"]
    assert (live.seq, live.rss_bytes, live.cpu_pct) == (7, 123, 4.5)


def test_take_dirty_batches_last_seen_once_per_agent(presence: Presence, clock: FakeClock) -> None:
    presence.connected("a1", Socket())
    presence.connected("a2", Socket())
    for _ in range(50):
        clock.advance(1)
        presence.heartbeat("a1", seq=1, rss_bytes=0, cpu_pct=0)
    batch = presence.take_dirty()
    assert set(batch) == {"a1", "a2"}
    assert batch["a1"] == clock.wall()  # the newest time, not one entry per heartbeat
    assert presence.take_dirty() == {}  # nothing new since
    clock.advance(1)
    presence.heartbeat("a2", seq=1, rss_bytes=0, cpu_pct=0)
    assert presence.take_dirty() == {"a2": clock.wall()}


def test_forget_drops_everything_and_returns_the_closer(presence: Presence) -> None:
    socket = Socket()
    presence.connected("a1", socket)
    assert presence.forget("a1") is socket
    assert "a1" not in presence.live and presence.take_dirty() == {}
    assert presence.seen_at("a1", None) is None
    assert presence.forget("a1") is None


def test_listeners_hear_ups_and_downs_but_not_a_silent_drop_until_its_window_ends(
    presence: Presence, clock: FakeClock
) -> None:
    heard: list[tuple[str, bool]] = []
    presence.listeners.append(lambda agent_id, up: heard.append((agent_id, up)))
    first, second = Socket(), Socket()
    presence.connected("a1", first)
    presence.disconnected("a1", first, clean=True)
    presence.connected("a2", second)
    presence.disconnected("a2", second, clean=False)
    assert heard == [("a1", True), ("a1", False), ("a2", True)]
    clock.advance(2.5 * HEARTBEAT_S)
    presence.stale()
    presence.connected("a3", Socket())
    presence.forget("a3")
    presence.forget("never-here")
    assert heard[3:] == [("a2", False), ("a3", True), ("a3", False)]


def test_an_agent_held_by_another_process_is_online_but_not_counted_here(presence: Presence) -> None:
    presence.remote_holds = lambda agent_id: agent_id == "elsewhere"
    assert status(presence, "elsewhere") == AgentStatus.ONLINE
    assert status(presence, "nowhere") == AgentStatus.OVERDUE
    presence.connected("here", Socket())
    assert presence.connected_count() == 1
