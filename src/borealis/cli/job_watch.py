"""Following a job from a terminal: each agent's output as its row finishes (hostname-prefixed lines,
or one block per agent), a live progress line on a terminal, a summary and the exit code at the end."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import click

from borealis.cli.output import colour
from borealis.core.errors import BorealisError

if TYPE_CHECKING:
    from borealis.cli.api_client import ApiClient

FINAL = {"succeeded", "failed", "timed_out", "cancelled", "expired", "interrupted"}
FLEET_REFRESH_S = 5.0
GRACE_S = 30.0
SMALL_JOB = 200  # rows
OFFLINE_GRACE_S = 1.0


class TargetsFailed(BorealisError):
    """Some target finished without success (failed, timed out, cancelled, expired, interrupted)."""

    exit_code = 3


class TargetsNotDone(BorealisError):
    """Every finished target succeeded, but some had not finished when the wait ended."""

    exit_code = 5


class Interrupted(BorealisError):
    exit_code = 130


def labels_of(fleet: dict[str, dict[str, Any]], agent_ids: list[str]) -> dict[str, str]:
    """A label per agent: its hostname, with the id's tail where hostnames repeat."""
    names = Counter(fleet.get(a, {}).get("hostname", a) for a in agent_ids)
    labels = {}
    for agent_id in agent_ids:
        host = fleet.get(agent_id, {}).get("hostname", agent_id)
        labels[agent_id] = host if names[host] == 1 else f"{host}/{agent_id[-6:]}"
    return labels


class JobWatch:
    """Polls `GET /api/v1/jobs/{id}` until every row is final, the wait ends, or only offline agents
    remain (when no wait was given); prints as `mode` says: lines, group, jsonl, json or quiet."""

    def __init__(
        self, api: ApiClient, job_id: str, mode: str = "lines", progress: bool | None = None
    ) -> None:
        self.api = api
        self.job_id = job_id
        self.mode = mode
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.fleet: dict[str, dict[str, Any]] = {}
        self.fleet_at = 0.0
        self.labels: dict[str, str] = {}
        self.shown: set[str] = set()
        self._progress_shown = False
        self._wake = threading.Event()  # set by the event listener when a row changes state
        self._stop = threading.Event()

    def _listen(self) -> None:
        """Wake the poller at each state change of the job's SSE stream, so a finished row is read
        within milliseconds rather than at the next poll; the poll alone still works if this fails."""
        for line in self.api.event_lines(f"/api/v1/jobs/{self.job_id}/events", self._stop):
            if line.startswith(("event: state", "event: end", "event: snapshot")):
                self._wake.set()

    def refresh_fleet(self) -> None:
        self.fleet = {a["id"]: a for a in self.api.get_all("/api/v1/agents")}
        self.fleet_at = time.monotonic()

    def online(self, agent_id: str) -> bool:
        return self.fleet.get(agent_id, {}).get("status") == "online"

    def follow(self, wait_s: float | None, timeout_s: float) -> dict[str, Any]:
        """The final job view. `wait_s` None: until the online targets finish (offline ones are left
        queued and reported as not done); else up to `wait_s` seconds for every target."""
        listener = threading.Thread(target=self._listen, name="job-events", daemon=True)
        listener.start()
        try:
            return self._poll(wait_s, timeout_s)
        finally:
            self._stop.set()

    def _poll(self, wait_s: float | None, timeout_s: float) -> dict[str, Any]:
        self.refresh_fleet()
        start = time.monotonic()
        deadline = start + (wait_s if wait_s is not None else timeout_s + GRACE_S)
        interval = 0.05
        offline_since: float | None = None
        while True:
            view = self.api.get(f"/api/v1/jobs/{self.job_id}")
            rows = view.get("results", [])
            if not self.labels or len(self.labels) < len(rows):
                self.labels = labels_of(self.fleet, [r["agent_id"] for r in rows])
            for row in rows:
                if row["status"] in FINAL and row["agent_id"] not in self.shown:
                    self.shown.add(row["agent_id"])
                    self.show_row(row)
            unfinished = [r for r in rows if r["status"] not in FINAL]
            self.show_progress(rows)
            if not unfinished or time.monotonic() > deadline:
                break
            if time.monotonic() - self.fleet_at > FLEET_REFRESH_S:
                self.refresh_fleet()
            waiting_offline = all(
                r["status"] == "queued" and not self.online(r["agent_id"]) for r in unfinished
            )
            if wait_s is None and waiting_offline and not view.get("batch_size"):
                # Only the offline are left: sure of it after OFFLINE_GRACE_S with fresh statuses (a
                # presence blip of a busy agent, or a row not yet sent, must not end the wait).
                offline_since = offline_since or time.monotonic()
                if time.monotonic() - offline_since >= OFFLINE_GRACE_S:
                    self.refresh_fleet()
                    if all(not self.online(r["agent_id"]) for r in unfinished):
                        break
                    offline_since = None
            else:
                offline_since = None
            if self._wake.wait(interval):
                self._wake.clear()
                time.sleep(0.02)  # a burst of results is read once
            # Small jobs are read often (an operator waits on them); big ones less, each read is O(rows).
            interval = min(interval * 1.5, 0.2 if len(rows) <= SMALL_JOB else 1.0)
        self.clear_progress()
        return view

    def show_row(self, row: dict[str, Any]) -> None:
        label = self.labels.get(row["agent_id"], row["agent_id"])
        if self.mode == "jsonl":
            click.echo(json.dumps({"hostname": label, **row}))
            return
        if self.mode not in ("lines", "group"):
            return
        self.clear_progress()
        status, code = row["status"], row.get("exit_code")
        tail = f"{status}, exit {code}" if code is not None else status
        if self.mode == "group":
            click.echo(click.style(f"== {label} ", bold=True) + colour(f"({tail})", status))
            for stream, err in (("stdout", False), ("stderr", True)):
                text = row.get(stream) or ""
                if text:
                    click.echo(text.rstrip("\n"), err=err)
            if row.get("error"):
                click.echo(f"  {row['error']}", err=True)
            return
        for stream, err in (("stdout", False), ("stderr", True)):
            for line in (row.get(stream) or "").splitlines():
                click.echo(f"{label}: {line}", err=err)
        if status != "succeeded":
            reason = f" {row['error']}" if row.get("error") else ""
            click.echo(f"{label}: " + colour(f"[{tail}]", status) + reason)

    def counts(self, rows: list[dict[str, Any]]) -> dict[str, int]:
        done = sum(r["status"] == "succeeded" for r in rows)
        failed = sum(r["status"] in FINAL and r["status"] != "succeeded" for r in rows)
        running = sum(r["status"] in ("sent", "running") for r in rows)
        queued = [r for r in rows if r["status"] == "queued"]
        offline = sum(not self.online(r["agent_id"]) for r in queued)
        return {
            "done": done,
            "running": running,
            "queued": len(queued) - offline,
            "offline": offline,
            "failed": failed,
        }

    def show_progress(self, rows: list[dict[str, Any]]) -> None:
        if not self.progress or self.mode not in ("lines", "group"):
            return
        counts = self.counts(rows)
        text = " / ".join(f"{name} {value}" for name, value in counts.items())
        sys.stderr.write(f"\r\x1b[2K[{len(rows)} agents] {text}")
        sys.stderr.flush()
        self._progress_shown = True

    def clear_progress(self) -> None:
        if self._progress_shown:
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()
            self._progress_shown = False

    def summarize(self, view: dict[str, Any]) -> None:
        """The summary line(s) on stderr and the exit code (an error) unless every target succeeded."""
        rows = view.get("results", [])
        counts = self.counts(rows)
        not_done = [r for r in rows if r["status"] not in FINAL]
        if self.mode in ("lines", "group"):
            click.echo(
                f"job {self.job_id}: {len(rows)} agents, {counts['done']} succeeded, "
                f"{counts['failed']} failed, {len(not_done)} not done",
                err=True,
            )
            for row in not_done:
                where = "offline, waiting" if not self.online(row["agent_id"]) else "online"
                label = self.labels.get(row["agent_id"], row["agent_id"])
                click.echo(f"  not done: {label} ({row['status']}, {where})", err=True)
        if counts["failed"]:
            raise TargetsFailed(
                f"job {self.job_id}: {counts['failed']} of {len(rows)} agents did not succeed"
            )
        if not_done:
            raise TargetsNotDone(
                f"job {self.job_id}: {len(not_done)} of {len(rows)} agents not done yet "
                f"(`borealis job show {self.job_id} --follow` to keep watching)"
            )


def follow_interruptibly(watch: JobWatch, wait_s: float | None, timeout_s: float) -> dict[str, Any]:
    """`watch.follow`, where Ctrl-C offers to cancel the job (on a terminal) and exits 130."""
    try:
        return watch.follow(wait_s, timeout_s)
    except KeyboardInterrupt:
        watch.clear_progress()
        click.echo("", err=True)
        if sys.stdin.isatty() and click.confirm(f"cancel job {watch.job_id}?", default=False, err=True):
            watch.api.post(f"/api/v1/jobs/{watch.job_id}/cancel")
            raise Interrupted(f"job {watch.job_id} cancelled") from None
        raise Interrupted(
            f"stopped watching; job {watch.job_id} goes on (`borealis job cancel {watch.job_id}`)"
        ) from None
