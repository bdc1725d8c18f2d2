"""Structured logs: one key=value line per event, rotated by size, pruned by count and age."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from borealis.core.logs import KeyValueFormatter, LogPolicy, PruningFileHandler, kv, setup_logging


def record(msg: str, **fields: object) -> logging.LogRecord:
    made = logging.LogRecord("borealis.test", logging.INFO, __file__, 1, msg, None, None)
    made.kv = fields
    return made


def test_one_line_with_quoted_values() -> None:
    line = KeyValueFormatter().format(
        record("agent connected", agent_id="a1", reason='said "hi"\nbye', empty="")
    )
    assert "\n" not in line
    assert line.startswith("ts=") and " level=info logger=borealis.test " in line
    assert 'msg="agent connected"' in line and "agent_id=a1" in line
    assert 'reason="said \\"hi\\"\\nbye"' in line and 'empty=""' in line


def test_setup_logging_writes_to_the_file_and_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "Logs" / "server.log"
    logger = setup_logging(path)
    setup_logging(path)  # a second call does not double every line
    logging.getLogger("borealis.test").info("hello", extra=kv(n=1))
    for handler in logger.handlers:
        handler.flush()
    lines = [line for line in path.read_text().splitlines() if "hello" in line]
    assert len(lines) == 1 and "n=1" in lines[0]
    setup_logging(None)  # back to stderr only, releasing the file


def test_rotation_keeps_a_bounded_number_of_files(tmp_path: Path) -> None:
    path = tmp_path / "agent.log"
    handler = PruningFileHandler(path, LogPolicy(max_bytes=2000, keep_files=3))
    handler.setFormatter(KeyValueFormatter())
    for i in range(200):
        handler.emit(record(f"line {i} " + "x" * 50))
    handler.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["agent.log", "agent.log.1", "agent.log.2", "agent.log.3"]
    assert all(p.stat().st_size <= 2200 for p in tmp_path.iterdir())


def test_old_rotated_files_are_pruned_by_age(tmp_path: Path) -> None:
    path = tmp_path / "server.log"
    stale, fresh = tmp_path / "server.log.4", tmp_path / "server.log.1"
    stale.write_text("old")
    fresh.write_text("new")
    long_ago = time.time() - 30 * 86400
    os.utime(stale, (long_ago, long_ago))
    handler = PruningFileHandler(path, LogPolicy(max_age_days=14))
    handler.close()
    assert not stale.exists() and fresh.exists()


def test_a_failing_write_is_counted_not_raised(tmp_path: Path) -> None:
    """A full disk or a vanished file must never stop the process that logs."""
    handler = PruningFileHandler(tmp_path / "x.log", LogPolicy())
    handler.stream.close()  # every write now fails
    handler.emit(record("lost"))
    handler.emit(record("lost too"))
    assert handler.dropped == 2


def test_values_from_peers_are_bounded_and_cannot_forge_lines_or_colour_a_terminal() -> None:
    from borealis.core.logs import MAX_MESSAGE_CHARS, MAX_VALUE_CHARS

    line = KeyValueFormatter().format(
        record("x" * 900_000, reason="y" * 900_000, host="a\nlevel=error msg=forged\x1b[31m\x00")
    )
    assert len(line) < MAX_MESSAGE_CHARS + 2 * MAX_VALUE_CHARS + 200
    assert f"…(+{900_000 - MAX_VALUE_CHARS} chars)" in line
    assert "\n" not in line and "\x1b" not in line and "\x00" not in line
    assert 'host="a\\nlevel=error msg=forged\\x1b[31m\\x00"' in line
