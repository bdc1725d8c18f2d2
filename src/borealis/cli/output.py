"""What client commands print: aligned tables with coloured states on a terminal, the same columns
tab-free and colourless when piped, or the API's own JSON with --json."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

GOOD = {"online", "succeeded", "active", "enabled", "true"}
WAIT = {"queued", "sent", "running", "pending", "overdue", "waiting"}
BAD = {"offline", "failed", "timed_out", "cancelled", "expired", "interrupted", "revoked", "error"}

json_option = click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")


def is_tty() -> bool:
    return sys.stdout.isatty()


def colour(text: str, state: str | None = None) -> str:
    """`text` coloured by the state it names (green, yellow, red), on a terminal only."""
    if not is_tty():
        return text
    key = (state or text).lower()
    if key in GOOD:
        return click.style(text, fg="green")
    if key in WAIT:
        return click.style(text, fg="yellow")
    if key in BAD:
        return click.style(text, fg="red")
    return text


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ",".join(cell(item) for item in value) or "-"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value).replace("\n", " ")


def table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]], status: str = "status") -> None:
    """Print `rows` under `columns` ((key, header) pairs) aligned; states in `status` coloured."""
    texts = [[cell(row.get(key)) for key, _ in columns] for row in rows]
    widths = [max([len(header)] + [len(line[i]) for line in texts]) for i, (_, header) in enumerate(columns)]
    head = "  ".join(header.upper().ljust(width) for (_, header), width in zip(columns, widths, strict=True))
    click.echo(click.style(head.rstrip(), bold=True) if is_tty() else head.rstrip())
    for line in texts:
        parts = []
        for (key, _), text, width in zip(columns, line, widths, strict=True):
            padded = text.ljust(width)
            parts.append(colour(padded, text) if key == status else padded)
        click.echo("  ".join(parts).rstrip())


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=False))


def pairs(values: dict[str, Any], keys: Sequence[str] | None = None) -> None:
    """A `key: value` block (one agent, one job)."""
    chosen = list(keys) if keys else list(values)
    width = max((len(key) for key in chosen), default=0)
    for key in chosen:
        text = cell(values.get(key))
        click.echo(f"{key.ljust(width)}  {colour(text) if key == 'status' else text}")
