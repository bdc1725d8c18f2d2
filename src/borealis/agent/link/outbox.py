"""The agent's on-disk outbox (`<home>/Agent/outbox.db`, DESIGN §6 step 4).

Every agent → server message with a `msg_id` is written here before it is sent and deleted when
the server acks it; after each reconnect the connection re-sends what is left, oldest first. The
same database remembers the jobs in progress (so a job that was running when the worker died is
reported `interrupted`) and the job ids already accepted, until their `not_after` passes (so a
replayed job is refused), and the nonces of operator co-signatures until theirs passes (so a signed
job re-submitted under a new job id is refused too, across restarts).

It is bounded (`outbox_max_messages`, `outbox_max_bytes`): when full, the oldest messages that are
not results go first, then the oldest results; every drop is counted (`dropped`). All SQLite work
runs on one private thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from borealis.core import codec
from borealis.core.home import ensure_dir
from borealis.core.logs import kv
from borealis.protocol.messages import MessageType

T = TypeVar("T")

OUTBOX_FILE = "outbox.db"
SEEN_SLACK_S = 300.0

log = logging.getLogger("borealis.agent.link.outbox")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    msg_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS running (
    job_id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    pgid INTEGER,
    pgid_started REAL
);
CREATE TABLE IF NOT EXISTS seen (job_id TEXT PRIMARY KEY, not_after REAL NOT NULL);
CREATE TABLE IF NOT EXISTS nonces (
    nonce TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    not_after REAL NOT NULL,
    first_used REAL NOT NULL,
    uses INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class Outbox:
    def __init__(self, path: Path, max_messages: int, max_bytes: int) -> None:
        self.path = path
        self._max_messages = max(1, max_messages)
        self._max_bytes = max(1024, max_bytes)
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="outbox")
        self._db: sqlite3.Connection | None = None
        self.dropped = 0
        self.pending = 0

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    async def open(self) -> None:
        await self._call(self._open)

    async def close(self) -> None:
        await self._call(self._close)
        self._thread.shutdown(wait=True)

    async def put(self, message: dict[str, Any]) -> None:
        """Keep `message` (it has a `msg_id`) until `ack`."""
        await self._call(self._put_all, [message])

    async def ack(self, msg_id: str) -> bool:
        return await self._call(self._ack, msg_id)

    async def unacked(self) -> list[dict[str, Any]]:
        """Every kept message, oldest first."""
        return await self._call(self._unacked)

    async def begin_job(self, job_id: str, not_after: float, accepted: dict[str, Any]) -> bool:
        """Record the job as seen and running, and keep its `job.accepted`. False: seen before."""
        return await self._call(self._begin_job, job_id, not_after, accepted)

    async def remember(self, job_id: str, not_after: float) -> bool:
        """Record a job id as seen without running it. False: seen before."""
        return await self._call(self._remember, job_id, not_after)

    async def claim_nonce(
        self, nonce: str, job_id: str, not_after: float, repeat_s: float | None = None
    ) -> bool:
        """Record a use of an operator co-signature's nonce by `job_id`. False: it came before with
        another job (the same job id sent again is the server re-sending, which the seen job ids
        handle) — unless the signature is repeatable and this use keeps within one per `repeat_s`
        on average since the first, with one use ahead allowed."""
        return await self._call(self._claim_nonce, nonce, job_id, not_after, repeat_s)

    async def finish_job(self, job_id: str, result: dict[str, Any]) -> None:
        """Keep the job's `job.result` and forget that it runs, in one transaction."""
        await self._call(self._finish_job, job_id, result)

    async def record_process(self, job_id: str, pgid: int, started: float) -> None:
        """Note the process group a running job started (`started`: its leader's creation time)."""
        await self._call(self._record_process, job_id, pgid, started)

    async def interrupted(self) -> list[Interrupted]:
        """Jobs recorded as running: at start, these never finished."""
        return await self._call(self._interrupted)

    # --- on the outbox thread ---

    def _conn(self) -> sqlite3.Connection:
        assert self._db is not None, "outbox is not open"
        return self._db

    def _open(self) -> None:
        ensure_dir(self.path.parent)
        try:
            self._connect()
        except sqlite3.DatabaseError as exc:  # a damaged file must not keep the agent down: start afresh
            self._close()
            aside = self.path.with_name(f"{self.path.name}.damaged-{int(time.time())}")
            log.error("outbox is damaged; moved aside", extra=kv(path=self.path, aside=aside, error=exc))
            for suffix in ("", "-wal", "-shm"):
                source = self.path.with_name(self.path.name + suffix)
                if source.exists():
                    source.replace(aside.with_name(aside.name + suffix))
            self._connect()

    def _connect(self) -> None:
        db = sqlite3.connect(self.path, isolation_level=None)
        self._db = db
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(_SCHEMA)
        row = db.execute("SELECT value FROM meta WHERE key = 'dropped'").fetchone()
        self.dropped = int(row[0]) if row else 0
        db.execute("DELETE FROM seen WHERE not_after < ?", (time.time() - SEEN_SLACK_S,))
        self._count()

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _count(self) -> tuple[int, int]:
        count, size = (
            self._conn().execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(body)), 0) FROM messages").fetchone()
        )
        self.pending = int(count)
        return int(count), int(size)

    def _insert(self, message: dict[str, Any]) -> None:
        self._conn().execute(
            "INSERT OR IGNORE INTO messages (msg_id, kind, body) VALUES (?, ?, ?)",
            (message["msg_id"], str(message.get("t", "")), codec.dumps_bytes(message)),
        )

    def _enforce_bounds(self) -> None:
        db = self._conn()
        dropped = 0
        count, size = self._count()
        while count > self._max_messages or size > self._max_bytes:
            row = (
                db.execute(
                    "SELECT seq, LENGTH(body) FROM messages WHERE kind != ? ORDER BY seq LIMIT 1",
                    (MessageType.JOB_RESULT.value,),
                ).fetchone()
                or db.execute("SELECT seq, LENGTH(body) FROM messages ORDER BY seq LIMIT 1").fetchone()
            )
            if row is None:
                break
            db.execute("DELETE FROM messages WHERE seq = ?", (row[0],))
            count, size, dropped = count - 1, size - int(row[1]), dropped + 1
        if dropped:
            self.dropped += dropped
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('dropped', ?)", (self.dropped,))
        self.pending = count

    def _put_all(self, messages: list[dict[str, Any]]) -> None:
        db = self._conn()
        with db:
            db.execute("BEGIN IMMEDIATE")
            for message in messages:
                self._insert(message)
            self._enforce_bounds()

    def _ack(self, msg_id: str) -> bool:
        deleted = self._conn().execute("DELETE FROM messages WHERE msg_id = ?", (msg_id,)).rowcount
        self._count()
        return bool(deleted)

    def _unacked(self) -> list[dict[str, Any]]:
        rows = self._conn().execute("SELECT body FROM messages ORDER BY seq").fetchall()
        return [codec.loads(row[0]) for row in rows]

    def _remember(self, job_id: str, not_after: float) -> bool:
        try:
            self._conn().execute("INSERT INTO seen (job_id, not_after) VALUES (?, ?)", (job_id, not_after))
        except sqlite3.IntegrityError:
            return False
        return True

    def _claim_nonce(self, nonce: str, job_id: str, not_after: float, repeat_s: float | None) -> bool:
        db = self._conn()
        now = time.time()
        with db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM nonces WHERE not_after < ?", (now - SEEN_SLACK_S,))
            row = db.execute(
                "SELECT job_id, first_used, uses FROM nonces WHERE nonce = ?", (nonce,)
            ).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO nonces (nonce, job_id, not_after, first_used, uses) VALUES (?, ?, ?, ?, 1)",
                    (nonce, job_id, not_after, now),
                )
                return True
            last_job, first_used, uses = str(row[0]), float(row[1]), int(row[2])
            if last_job == job_id or db.execute("SELECT 1 FROM seen WHERE job_id = ?", (job_id,)).fetchone():
                return True  # a job re-sent: the seen job ids answer it
            if not repeat_s or uses >= int((now - first_used) // repeat_s) + 2:
                return False
            db.execute("UPDATE nonces SET job_id = ?, uses = uses + 1 WHERE nonce = ?", (job_id, nonce))
        return True

    def _begin_job(self, job_id: str, not_after: float, accepted: dict[str, Any]) -> bool:
        db = self._conn()
        with db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM seen WHERE not_after < ?", (time.time() - SEEN_SLACK_S,))
            if not self._remember(job_id, not_after):
                return False
            db.execute(
                "INSERT OR REPLACE INTO running (job_id, started_at) VALUES (?, ?)",
                (job_id, accepted["started_at"]),
            )
            self._insert(accepted)
            self._enforce_bounds()
        return True

    def _finish_job(self, job_id: str, result: dict[str, Any]) -> None:
        db = self._conn()
        with db:
            db.execute("BEGIN IMMEDIATE")
            self._insert(result)
            db.execute("DELETE FROM running WHERE job_id = ?", (job_id,))
            self._enforce_bounds()

    def _record_process(self, job_id: str, pgid: int, started: float) -> None:
        self._conn().execute(
            "UPDATE running SET pgid = ?, pgid_started = ? WHERE job_id = ?", (pgid, started, job_id)
        )

    def _interrupted(self) -> list[Interrupted]:
        rows = (
            self._conn()
            .execute("SELECT job_id, started_at, pgid, pgid_started FROM running ORDER BY started_at")
            .fetchall()
        )
        return [Interrupted(str(r[0]), str(r[1]), r[2], r[3]) for r in rows]


@dataclass(frozen=True)
class Interrupted:
    job_id: str
    started_at: str
    pgid: int | None
    pgid_started: float | None


def outbox_path(agent_dir: Path) -> Path:
    return agent_dir / OUTBOX_FILE
