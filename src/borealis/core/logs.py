"""Structured logs: one key=value line per event, rotated by size and pruned by count and age.

A full disk never stops a process: a write that fails is dropped (and counted), not raised. Values
often carry what a peer sent, so each is cut (`MAX_VALUE_CHARS`, the message `MAX_MESSAGE_CHARS`, a
traceback `MAX_TRACE_CHARS`) and its control characters escaped: a 900 KB field is not a 900 KB line,
and no one can forge a line or colour a terminal.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from borealis.core.home import ensure_dir
from borealis.core.text import printable

MAX_VALUE_CHARS = 512
MAX_MESSAGE_CHARS = 1024
MAX_TRACE_CHARS = 16 * 1024


@dataclass(frozen=True)
class LogPolicy:
    max_bytes: int = 10 * 1024 * 1024
    keep_files: int = 5
    max_age_days: float = 14.0
    level: str = "INFO"


def _quote(value: object, limit: int = MAX_VALUE_CHARS) -> str:
    text = printable(str(value).replace("\\", "\\\\"), limit)
    if text == "" or any(c in text for c in ' "='):
        text = '"' + text.replace('"', '\\"') + '"'
    return text


class KeyValueFormatter(logging.Formatter):
    """`ts=… level=… logger=… msg=… key=value …`; extra fields come from `extra={"kv": {...}}`."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        parts = [
            f"ts={stamp}.{int(record.msecs):03d}Z",
            f"level={record.levelname.lower()}",
            f"logger={record.name}",
            f"msg={_quote(record.getMessage(), MAX_MESSAGE_CHARS)}",
        ]
        fields: dict[str, Any] = getattr(record, "kv", None) or {}
        parts.extend(f"{key}={_quote(value)}" for key, value in fields.items())
        if record.exc_info:
            parts.append(f"exc={_quote(self.formatException(record.exc_info), MAX_TRACE_CHARS)}")
        return " ".join(parts)


class PruningFileHandler(logging.handlers.RotatingFileHandler):
    """Rotates at `max_bytes`, keeps `keep_files` old files, deletes rotated files older than the age."""

    def __init__(self, path: Path, policy: LogPolicy) -> None:
        ensure_dir(path.parent)
        super().__init__(path, maxBytes=policy.max_bytes, backupCount=policy.keep_files, encoding="utf-8")
        self.max_age_s = policy.max_age_days * 86400
        self.dropped = 0
        self.prune()

    def doRollover(self) -> None:
        super().doRollover()
        self.prune()

    def prune(self) -> None:
        base = Path(self.baseFilename)
        cutoff = time.time() - self.max_age_s
        for old in base.parent.glob(base.name + ".*"):
            try:
                if old.stat().st_mtime < cutoff:
                    old.unlink()
            except OSError:
                continue

    def handleError(self, record: logging.LogRecord) -> None:
        self.dropped += 1


def setup_logging(
    path: Path | None, policy: LogPolicy | None = None, also_stderr: bool = False
) -> logging.Logger:
    """Point the `borealis` logger at `path` (and optionally stderr). Idempotent per process."""
    policy = policy or LogPolicy()
    root = logging.getLogger("borealis")
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(policy.level.upper())
    root.propagate = False
    formatter = KeyValueFormatter()
    if path is not None:
        file_handler = PruningFileHandler(path, policy)
        file_handler.setFormatter(formatter)
        root.addHandler(file_handler)
    if also_stderr or path is None:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(formatter)
        root.addHandler(stream)
    return root


def kv(**fields: object) -> dict[str, Any]:
    """`log.info("msg", extra=kv(agent_id=...))` — the fields land as key=value pairs."""
    return {"kv": fields}
