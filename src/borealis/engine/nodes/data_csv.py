"""`data.csv`: CSV text into items (`parse`), or items into CSV text (`build`), within size bounds."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

import orjson

from borealis.engine.nodes.base import MAIN, Item, NodeContext, NodeError, Ports, all_items

MAX_CSV_CHARS = 4 * 1024 * 1024
MAX_ROWS = 10_000
MAX_COLUMNS = 1000
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def parse(text: str, delimiter: str, header: bool) -> list[dict[str, Any]]:
    """Rows of `text` as objects: by the header row's names, or `{"columns": [...]}` without one."""
    if len(text) > MAX_CSV_CHARS:
        raise NodeError(f"the CSV text is longer than {MAX_CSV_CHARS} characters", retryable=False)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[dict[str, Any]] = []
    names: list[str] | None = None
    try:
        for cells in reader:
            if len(cells) > MAX_COLUMNS:
                raise NodeError(
                    f"line {reader.line_num} has more than {MAX_COLUMNS} columns", retryable=False
                )
            if header and names is None:
                names = [name.strip() or f"column{index + 1}" for index, name in enumerate(cells)]
                continue
            if not cells:
                continue
            if len(rows) >= MAX_ROWS:
                raise NodeError(f"more than {MAX_ROWS} rows", retryable=False)
            if names is None:
                rows.append({"columns": cells})
            else:
                row: dict[str, Any] = dict(zip(names, cells, strict=False))
                for index in range(len(names), len(cells)):
                    row[f"column{index + 1}"] = cells[index]
                rows.append(row)
    except csv.Error as exc:
        raise NodeError(f"line {reader.line_num} is not valid CSV: {exc}", retryable=False) from None
    return rows


def _cell(value: Any, escape_formulas: bool) -> str:
    text = value if isinstance(value, str) else "" if value is None else orjson.dumps(value).decode()
    if escape_formulas and text.startswith(FORMULA_START):
        return "'" + text
    return text


def build(rows: list[dict[str, Any]], columns: list[str], delimiter: str, header: bool, escape: bool) -> str:
    """CSV text of `rows` in `columns` order (with a header line when asked)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    if header:
        writer.writerow([_cell(name, escape) for name in columns])
    for row in rows:
        writer.writerow([_cell(row.get(name), escape) for name in columns])
        if out.tell() > MAX_CSV_CHARS:
            raise NodeError(f"the CSV text would be longer than {MAX_CSV_CHARS} characters", retryable=False)
    return out.getvalue()


def columns_of(rows: list[dict[str, Any]]) -> list[str]:
    """Every field name, in the order first seen."""
    seen: dict[str, None] = {}
    for row in rows:
        for name in row:
            seen.setdefault(str(name), None)
            if len(seen) > MAX_COLUMNS:
                raise NodeError(
                    f"the items have more than {MAX_COLUMNS} fields; list `columns`", retryable=False
                )
    return list(seen)


class Csv:
    type = "data.csv"
    version = 1
    category = "data"
    title = "CSV"
    doc = (
        "`mode: parse` (default): reads `text` of each item (usually `{{ json.stdout }}`) as CSV and emits "
        "one item per row: an object by the header row's names (`header: true`, default; extra cells become "
        "`columnN`), or `{columns: [...]}` with `header: false`. `mode: build`: writes every input item's "
        "`json` as one CSV row and emits one item `{<into>: text, rows}` (`into` default `csv`); `columns` "
        "picks and orders the fields (default: every field, in the order first seen), values that are not "
        "text are written as JSON, and `escape_formulas: true` prefixes cells starting with = + - @ with a "
        "`'` for spreadsheets. `delimiter` is one character (default `,`). Bounds: 4 MiB of CSV text, "
        "10,000 rows, 1,000 columns, 128 KiB in one cell; beyond them the node fails (not retried)."
    )
    inputs = (MAIN,)
    outputs = (MAIN,)
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "mode": {"type": "string", "enum": ["parse", "build"]},
            "text": {"type": "string"},
            "delimiter": {"type": "string", "minLength": 1, "maxLength": 1},
            "header": {"type": "boolean"},
            "columns": {
                "type": "array",
                "maxItems": MAX_COLUMNS,
                "items": {"type": "string", "minLength": 1, "maxLength": 256},
            },
            "escape_formulas": {"type": "boolean"},
            "into": {"type": "string", "minLength": 1, "maxLength": 128},
        },
    }

    def check_params(self, params: dict[str, Any]) -> list[tuple[str, str]]:
        if params.get("mode", "parse") == "parse" and "text" not in params:
            return [("params.text", "is required to parse")]
        return []

    async def run(self, ctx: NodeContext, inputs: Ports) -> Ports:
        items = all_items(inputs)
        delimiter = str(ctx.params.get("delimiter") or ",")
        header = bool(ctx.params.get("header", True))
        if ctx.params.get("mode") == "build":
            rows = [entry.get("json") or {} for entry in items]
            given = ctx.params.get("columns")
            columns = [str(name) for name in given] if isinstance(given, list) and given else columns_of(rows)
            escape = bool(ctx.params.get("escape_formulas"))
            built = await asyncio.to_thread(build, rows, columns, delimiter, header, escape)
            into = str(ctx.params.get("into") or "csv")
            return {MAIN: [{"json": {into: built, "rows": len(rows)}, "binary_ref": None}]}
        out: list[Item] = []
        for entry in items:
            text = ctx.params_for(entry).get("text")
            if not isinstance(text, str):
                raise NodeError(f"text is {type(text).__name__}, not CSV text", retryable=False)
            for row in await asyncio.to_thread(parse, text, delimiter, header):
                if len(out) >= MAX_ROWS:
                    raise NodeError(f"more than {MAX_ROWS} rows in all", retryable=False)
                out.append({"json": row, "binary_ref": None})
        return {MAIN: out}


NODE = Csv()
