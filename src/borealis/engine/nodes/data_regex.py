"""`data.regex`: match, extract groups, or replace with a regular expression on a text of each item.

Python's `re` backtracks, so a pattern such as `(a+)+$` can take exponential time on a short text,
and `re` cannot be interrupted. The matching therefore runs in a short-lived child Python process
(`python -I -S`, standard library only, address space capped at `WORKER_MEMORY_BYTES`) that is
killed when `timeout_s` passes or the run is cancelled: a runaway pattern costs at most that much CPU,
and the server's own threads and loop are never held. Inputs are bounded too: a pattern of at most
1,000 characters, a text of at most 1 MiB, 8 MiB in all, 1,000 matches per text.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
from typing import Any

import orjson

from borealis.engine.expressions import has_template
from borealis.engine.nodes.base import MAIN, Item, NodeContext, NodeError, Ports, all_items
from borealis.engine.nodes.common import MAX_TEXT_CHARS, as_text

NO_MATCH = "no_match"
MAX_PATTERN_CHARS = 1000
MAX_TOTAL_CHARS = 8 * 1024 * 1024
MAX_MATCHES = 1000
MAX_OUTPUT_BYTES = 32 * 1024 * 1024
WORKER_MEMORY_BYTES = 512 * 1024 * 1024
FLAGS = {"ignorecase": re.IGNORECASE, "multiline": re.MULTILINE, "dotall": re.DOTALL}

# The child's whole program: read one JSON request on stdin, write one JSON answer on stdout.
WORKER = r"""
import json, re, sys
try:
    import resource
    limit = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
except (ImportError, ValueError, OSError):
    pass

def shape(m):
    named = m.groupdict()
    if named:
        return named
    return list(m.groups()) if m.groups() else m.group(0)

def one(job, compiled):
    pattern = compiled.setdefault((job["pattern"], job["flags"]), re.compile(job["pattern"], job["flags"]))
    text, mode, every, cap = job["text"], job["mode"], job["all"], job["max_matches"]
    if mode == "match":
        return pattern.search(text) is not None
    if mode == "extract":
        if not every:
            m = pattern.search(text)
            return None if m is None else shape(m)
        found = []
        for m in pattern.finditer(text):
            if len(found) >= cap:
                break
            found.append(shape(m))
        return found or None
    result = pattern.sub(job["replacement"], text, count=0 if every else 1)
    if len(result) > job["max_chars"]:
        raise ValueError("the replaced text is longer than %d characters" % job["max_chars"])
    return result

try:
    jobs, compiled = json.load(sys.stdin), {}
    json.dump({"results": [one(job, compiled) for job in jobs]}, sys.stdout)
except (re.error, ValueError, IndexError, MemoryError, RecursionError) as exc:
    json.dump({"error": "%s: %s" % (type(exc).__name__, str(exc)[:300])}, sys.stdout)
"""


def _flags(names: Any) -> int:
    value = 0
    for name in names or []:
        if name not in FLAGS:
            raise NodeError(f"unknown flag {name!r}; known: {', '.join(FLAGS)}", retryable=False)
        value |= FLAGS[name]
    return value


async def run_worker(jobs: list[dict[str, Any]], timeout_s: float) -> list[Any]:
    """The results of `jobs` from a child process, or NodeError when it errs, overruns or dies."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-I",
        "-S",
        "-c",
        WORKER,
        str(WORKER_MEMORY_BYTES),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(timeout_s):
            stdout, stderr = await process.communicate(orjson.dumps(jobs))
    except TimeoutError:
        raise NodeError(
            f"the pattern ran longer than {timeout_s:g} s (catastrophic backtracking?); stopped",
            retryable=False,
        ) from None
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    if len(stdout) > MAX_OUTPUT_BYTES:
        raise NodeError("the regex results are too large", retryable=False)
    try:
        answer = orjson.loads(stdout)
    except orjson.JSONDecodeError:
        detail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [
            f"exit code {process.returncode}"
        ]
        raise NodeError(f"the regex worker failed: {detail[0][:300]}", retryable=False) from None
    if "error" in answer:
        raise NodeError(f"the regex failed: {answer['error']}", retryable=False)
    results: list[Any] = answer["results"]
    return results


class Regex:
    type = "data.regex"
    version = 1
    category = "data"
    title = "Regular expression"
    doc = (
        "Applies `pattern` (Python `re` syntax, at most 1,000 characters; `flags`: ignorecase, multiline, "
        "dotall) to `text` of each item (usually `{{ json.stdout }}`). `mode: match` (default): items "
        "whose text matches go out of `main`, the others out of `no_match`, unchanged. `mode: extract`: "
        "the first match (or, with `all: true`, a list of up to 1,000 matches) is written into the field "
        "`into` (default `match`) — the named groups as an object, else the groups as a list, else the "
        "matched text; items without a match go out of `no_match`. `mode: replace`: the first match (every "
        "match with `all: true`) is replaced by `replacement` (`\\1`, `\\g<name>` refer to groups) and the "
        "text written into `into` (default `result`). Matching runs in a separate process that is stopped "
        "after `timeout_s` (default 5, at most 30), which fails the node: a pattern that backtracks "
        "catastrophically cannot hold the server. Texts are at most 1 MiB each and 8 MiB in all."
    )
    inputs = (MAIN,)
    outputs = (MAIN, NO_MATCH)
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["text", "pattern"],
        "properties": {
            "text": {"type": "string"},
            "pattern": {"type": "string", "minLength": 1, "maxLength": MAX_PATTERN_CHARS},
            "flags": {"type": "array", "items": {"type": "string", "enum": list(FLAGS)}, "maxItems": 3},
            "mode": {"type": "string", "enum": ["match", "extract", "replace"]},
            "all": {"type": "boolean"},
            "replacement": {"type": "string", "maxLength": 10_000},
            "into": {"type": "string", "minLength": 1, "maxLength": 128},
            "timeout_s": {"type": "number", "minimum": 0.1, "maximum": 30},
        },
    }

    def check_params(self, params: dict[str, Any]) -> list[tuple[str, str]]:
        pattern = params.get("pattern", "")
        if has_template(pattern):
            return []
        try:
            re.compile(str(pattern), _flags(params.get("flags")))
        except re.error as exc:
            return [("params.pattern", f"is not a valid regular expression: {exc}")]
        except NodeError as exc:
            return [("params.flags", str(exc))]
        return []

    async def run(self, ctx: NodeContext, inputs: Ports) -> Ports:
        items = all_items(inputs)
        mode = str(ctx.params.get("mode", "match"))
        jobs: list[dict[str, Any]] = []
        intos: list[str] = []
        default_into = {"extract": "match", "replace": "result"}.get(mode, "")
        total = 0
        for entry in items:
            params = ctx.params_for(entry)
            pattern = as_text(params.get("pattern"), "pattern")
            if not pattern or len(pattern) > MAX_PATTERN_CHARS:
                raise NodeError(f"the pattern must be 1–{MAX_PATTERN_CHARS} characters", retryable=False)
            text = as_text(params.get("text"), "text")
            total += len(text)
            if total > MAX_TOTAL_CHARS:
                raise NodeError(
                    f"the texts are longer than {MAX_TOTAL_CHARS} characters in all", retryable=False
                )
            intos.append(str(params.get("into") or default_into))
            jobs.append(
                {
                    "pattern": pattern,
                    "flags": _flags(params.get("flags")),
                    "text": text,
                    "mode": mode,
                    "all": bool(params.get("all")),
                    "replacement": as_text(params.get("replacement"), "replacement"),
                    "max_matches": MAX_MATCHES,
                    "max_chars": MAX_TEXT_CHARS,
                }
            )
        if not jobs:
            return {}
        timeout_s = min(30.0, max(0.1, float(ctx.params.get("timeout_s", 5.0))))
        results = await run_worker(jobs, timeout_s)
        return self._route(mode, items, intos, results)

    @staticmethod
    def _route(mode: str, items: list[Item], intos: list[str], results: list[Any]) -> Ports:
        matched: list[Item] = []
        unmatched: list[Item] = []
        for entry, into, result in zip(items, intos, results, strict=True):
            if mode == "match":
                (matched if result else unmatched).append(entry)
                continue
            if mode == "extract" and result is None:
                unmatched.append(entry)
                continue
            matched.append(
                {"json": {**(entry.get("json") or {}), into: result}, "binary_ref": entry.get("binary_ref")}
            )
        return {MAIN: matched, NO_MATCH: unmatched}


NODE = Regex()
