"""Workflow node types, one at a time: a real NodeContext and Scope, and a fake `services` at the seam
(jobs, HTTP, sub-runs); e-mail goes to a small SMTP sink on loopback, and the SSRF guard is the real
one. Includes the bounds: catastrophic regular expressions, CSV bombs, runaway text operations."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

import httpx
import orjson
import pytest

from borealis.core.errors import InvalidInput, NotFound
from borealis.engine import document as documents
from borealis.engine.expressions import ExpressionError, Scope
from borealis.engine.nodes.base import Item, NodeContext, NodeError, Ports
from borealis.engine.nodes.trigger_poll import source_of
from borealis.engine.registry import NodeRegistry
from borealis.engine.ssrf import Guard
from borealis.server.workflows.node_services import ServerNodeServices as NodeServices
from tests.conftest import App

REGISTRY = NodeRegistry()


def items(*values: dict[str, Any]) -> list[Item]:
    return [{"json": value, "binary_ref": None} for value in values]


def jsons(entries: list[Item]) -> list[Any]:
    return [entry["json"] for entry in entries]


@dataclass
class FakeServices:
    """What nodes get from the server, faked at the seam: recorded calls, canned answers."""

    smtp: dict[str, Any] = field(default_factory=dict)
    job_results: list[dict[str, Any]] = field(default_factory=list)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    answers: list[httpx.Response] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    start_run: Any = None
    wait_run: Any = None
    stored_inventory: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def inventory(self, agent_id: str, sections: list[str]) -> dict[str, Any]:
        stored = self.stored_inventory.get(agent_id, {})
        return {name: value for name, value in stored.items() if name in sections}

    async def run_job(
        self,
        role: str,
        params: dict[str, Any],
        target: dict[str, Any],
        actor: str,
        *,
        workflow_id: str = "",
        run_as: str = "system",
        timeout_s: float = 300.0,
        wait_s: float = 600.0,
    ) -> tuple[str, list[dict[str, Any]]]:
        self.jobs.append(
            {"role": role, "params": params, "target": target, "timeout_s": timeout_s, "wait_s": wait_s}
        )
        return "job-1", self.job_results

    async def http(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        content: bytes | None = None,
        timeout_s: float = 30.0,
    ) -> httpx.Response:
        self.requests.append(
            {"method": method, "url": url, "headers": headers, "params": params, "content": content}
        )
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


async def run(
    type_name: str,
    params: dict[str, Any],
    inputs: Ports | list[Item],
    services: Any = None,
    **context: Any,
) -> Ports:
    node_type = REGISTRY.get(type_name)
    assert node_type is not None, type_name
    ports = inputs if isinstance(inputs, dict) else {"main": inputs}
    ctx = NodeContext(
        run_id="run-1",
        workflow_id=context.get("workflow_id", "wf-1"),
        node_id="node-1",
        params=params,
        scope=Scope(
            items=[entry.get("json") for entries in ports.values() for entry in entries],
            trigger=context.get("trigger", {}),
        ),
        services=services if services is not None else FakeServices(),
        trigger=context.get("trigger", {}),
        actor="tester",
    )
    return await node_type.run(ctx, ports)


def refused(type_name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The problems a workflow document with this node has (the check run when saving)."""
    document = {
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "it", "type": type_name, "params": params},
        ],
        "edges": [],
    }
    try:
        documents.parse(document, REGISTRY)
    except InvalidInput as exc:
        errors: list[dict[str, Any]] = exc.extra["errors"]  # type: ignore[assignment]
        return errors
    return []


def test_every_listed_module_is_registered_with_a_schema_the_checker_reads() -> None:
    types = {entry["type"] for entry in REGISTRY.catalog()}
    for name in (
        "trigger.poll",
        "logic.switch",
        "logic.compare",
        "logic.math",
        "logic.delay",
        "logic.loop",
        "data.json_path",
        "data.regex",
        "data.text",
        "data.csv",
        "agents.inventory",
        "agents.updates",
        "notify.webhook",
        "notify.email",
    ):
        assert name in types
    for entry in REGISTRY.catalog():
        assert entry["schema"]["type"] == "object" and entry["doc"], entry["type"]


# --- logic ---


async def test_switch_routes_by_the_first_rule_that_holds_else_fallback() -> None:
    params = {"rules": ["json.severity == 'critical'", "json.severity == 'warning'"]}
    out = await run(
        "logic.switch",
        params,
        items({"severity": "critical"}, {"severity": "warning"}, {"severity": "info"}),
    )
    assert jsons(out["0"]) == [{"severity": "critical"}]
    assert jsons(out["1"]) == [{"severity": "warning"}]
    assert jsons(out["fallback"]) == [{"severity": "info"}]


async def test_switch_with_all_matches_copies_an_item_to_every_rule_that_holds() -> None:
    params = {"rules": ["json.cpu > `90`", "json.disk > `90`"], "all_matches": True}
    out = await run("logic.switch", params, items({"cpu": 95, "disk": 99}, {"cpu": 10, "disk": 10}))
    assert jsons(out["0"]) == [{"cpu": 95, "disk": 99}]
    assert jsons(out["1"]) == [{"cpu": 95, "disk": 99}]
    assert jsons(out["fallback"]) == [{"cpu": 10, "disk": 10}]


async def test_switch_by_an_expression_value_and_cases() -> None:
    params = {"mode": "expression", "expression": "json.os", "cases": ["linux", "windows"]}
    out = await run("logic.switch", params, items({"os": "windows"}, {"os": "linux"}, {"os": "bsd"}))
    assert jsons(out["0"]) == [{"os": "linux"}] and jsons(out["1"]) == [{"os": "windows"}]
    assert jsons(out["fallback"]) == [{"os": "bsd"}]
    by_number = {"mode": "expression", "expression": "json.port"}
    out = await run(
        "logic.switch", by_number, items({"port": 3}, {"port": 12}, {"port": True}, {"port": 1.5})
    )
    assert jsons(out["3"]) == [{"port": 3}]
    assert jsons(out["fallback"]) == [{"port": 12}, {"port": True}, {"port": 1.5}]


def test_switch_rules_that_do_not_compile_are_refused_by_field() -> None:
    problems = refused("logic.switch", {"rules": ["json.a ==", "json.b"]})
    assert [(p["node"], p["field"]) for p in problems] == [("it", "params.rules[0]")]
    assert refused("logic.switch", {"mode": "expression"})[0]["field"] == "params.expression"


async def test_compare_sorts_two_lists_by_key() -> None:
    before = items({"name": "curl", "version": "7"}, {"name": "vim", "version": "9"}, {"name": "gone"})
    after = items({"name": "curl", "version": "8"}, {"name": "vim", "version": "9"}, {"name": "new"})
    out = await run(
        "logic.compare", {"key": "json.name", "fields": ["json.version"]}, {"in1": before, "in2": after}
    )
    assert jsons(out["only_in1"]) == [{"name": "gone"}]
    assert jsons(out["only_in2"]) == [{"name": "new"}]
    assert jsons(out["same"]) == [{"name": "vim", "version": "9"}]
    assert jsons(out["different"]) == [
        {
            "key": "curl",
            "in1": {"name": "curl", "version": "7"},
            "in2": {"name": "curl", "version": "8"},
            "fields": ["json.version"],
        }
    ]


async def test_compare_keys_are_typed_first_of_a_key_wins_and_null_matches_nothing() -> None:
    first = items({"id": 1, "v": "a"}, {"id": 1, "v": "dup"}, {"v": "no key"})
    second = items({"id": "1", "v": "a"}, {"id": 1, "v": "a"})
    out = await run("logic.compare", {"key": "json.id"}, {"in1": first, "in2": second})
    assert jsons(out["same"]) == [{"id": 1, "v": "a"}], "the duplicate was ignored, the whole json compared"
    assert jsons(out["only_in1"]) == [{"v": "no key"}]
    assert jsons(out["only_in2"]) == [{"id": "1", "v": "a"}], "the text '1' is not the number 1"
    assert "different" not in out


async def test_math_per_item_with_expressions_and_numeric_text() -> None:
    params = {"operation": "divide", "a": "{{ json.used }}", "b": "{{ json.total }}", "into": "ratio"}
    out = await run("logic.math", params, items({"used": 30, "total": 120}, {"used": "1.5", "total": "3"}))
    assert jsons(out["main"]) == [
        {"used": 30, "total": 120, "ratio": 0.25},
        {"used": "1.5", "total": "3", "ratio": 0.5},
    ]
    rounded = await run(
        "logic.math", {"operation": "round", "a": "{{ json.x }}", "digits": 1}, items({"x": 2.345})
    )
    assert jsons(rounded["main"]) == [{"x": 2.345, "result": 2.3}]


async def test_math_division_by_zero_and_non_numbers_are_not_retried() -> None:
    with pytest.raises(NodeError, match="divide by zero") as zero:
        await run("logic.math", {"operation": "divide", "a": 1, "b": "{{ json.n }}"}, items({"n": 0}))
    assert zero.value.retryable is False
    with pytest.raises(NodeError, match="not a number") as text:
        await run("logic.math", {"operation": "add", "a": "{{ json.n }}", "b": 1}, items({"n": "ten"}))
    assert text.value.retryable is False
    with pytest.raises(NodeError, match="64 bits"):
        await run("logic.math", {"operation": "multiply", "a": 2**62, "b": 4}, items({}))
    with pytest.raises(NodeError, match="not a number"):
        await run("logic.math", {"operation": "add", "a": True, "b": 1}, items({}))


async def test_math_over_items() -> None:
    sizes = items({"size": 10}, {"size": 5}, {"size": None}, {"size": "15"})
    for operation, expected in (("sum", 30), ("min", 5), ("max", "15"), ("avg", 10.0)):
        out = await run(
            "logic.math", {"operation": operation, "value": "{{ json.size }}", "into": "s"}, sizes
        )
        got = jsons(out["main"])[0]
        assert got["count"] == 3, "the null value is skipped"
        assert got["s"] == (15 if expected == "15" else expected), operation
    count = await run("logic.math", {"operation": "count"}, sizes)
    assert jsons(count["main"]) == [{"result": 4, "count": 4}]


async def test_delay_waits_then_passes_items_on_and_is_cancellable() -> None:
    started = time.monotonic()
    out = await run("logic.delay", {"seconds": 0.2}, items({"a": 1}))
    assert time.monotonic() - started >= 0.2 and jsons(out["main"]) == [{"a": 1}]
    waiting = asyncio.create_task(run("logic.delay", {"seconds": 3600}, items({"a": 1})))
    await asyncio.sleep(0.05)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(waiting, 2)
    with pytest.raises(NodeError, match="between 0 and"):
        await run("logic.delay", {"seconds": "{{ json.s }}"}, items({"s": 10**6}))


class SubRuns:
    """start_run/wait_run faked: each sub-run 'runs' for a while; the most at once is recorded."""

    def __init__(self, fail: set[int] | None = None) -> None:
        self.started: list[tuple[str, list[Item], dict[str, Any]]] = []
        self.running = 0
        self.most = 0
        self.fail = fail or set()

    async def start_run(
        self, workflow_id: str, given: list[Item], trigger: dict[str, Any], actor: str
    ) -> str:
        if workflow_id == "missing":
            raise NotFound(f"no workflow {workflow_id!r}")
        self.started.append((workflow_id, given, trigger))
        return f"sub-{given[0]['json']['n']}"

    async def wait_run(self, run_id: str, timeout_s: float) -> dict[str, Any]:
        self.running += 1
        self.most = max(self.most, self.running)
        await asyncio.sleep(0.05)
        self.running -= 1
        n = int(run_id.split("-")[1])
        if n in self.fail:
            return {"status": "failed", "output": None, "error": "boom"}
        return {
            "status": "succeeded",
            "output": [{"json": {"double": 2 * n}, "binary_ref": None}],
            "error": None,
        }


async def test_loop_runs_a_sub_workflow_per_item_at_most_parallelism_at_once() -> None:
    subs = SubRuns(fail={3})
    services = FakeServices(start_run=subs.start_run, wait_run=subs.wait_run)
    given = items(*({"n": n} for n in range(6)))
    out = await run("logic.loop", {"workflow_id": "child", "parallelism": 2}, given, services)
    assert subs.most == 2, "two at once, not more, not fewer"
    results = jsons(out["main"])
    assert [r["index"] for r in results] == list(range(6))
    assert results[0] == {
        "index": 0,
        "run_id": "sub-0",
        "status": "succeeded",
        "output": [{"double": 0}],
        "error": None,
        "input": {"n": 0},
    }
    assert results[3]["status"] == "failed" and results[3]["error"] == "boom"
    assert subs.started[0][2] == {
        "type": "manual",
        "parent_run_id": "run-1",
        "parent_node_id": "node-1",
        "loop_depth": 1,
    }
    with pytest.raises(NodeError, match="1 of 6 sub-runs"):
        await run("logic.loop", {"workflow_id": "child", "fail_on_error": True}, given, services)


async def test_loop_refuses_its_own_workflow_deep_nesting_and_unknown_workflows() -> None:
    subs = SubRuns()
    services = FakeServices(start_run=subs.start_run, wait_run=subs.wait_run)
    with pytest.raises(NodeError, match="its own workflow") as own:
        await run("logic.loop", {"workflow_id": "wf-1"}, items({"n": 1}), services)
    assert own.value.retryable is False
    with pytest.raises(NodeError, match="nest deeper"):
        await run(
            "logic.loop", {"workflow_id": "child"}, items({"n": 1}), services, trigger={"loop_depth": 5}
        )
    with pytest.raises(NodeError, match="parallelism must be"):  # 0 from an expression would never start
        await run(
            "logic.loop", {"workflow_id": "child", "parallelism": "{{ json.n }}"}, items({"n": 0}), services
        )
    with pytest.raises(NodeError, match="cannot start workflow 'missing'"):
        await run("logic.loop", {"workflow_id": "missing"}, items({"n": 1}), services)
    assert subs.started == []


# --- data ---


async def test_json_path_into_a_field_or_as_new_items() -> None:
    body = {"body": {"results": [{"id": 1, "state": "open"}, {"id": 2, "state": "closed"}, 7]}}
    params = {"expression": "json.body.results[?state=='open'].id", "into": "open"}
    out = await run("data.json_path", params, items(body))
    assert jsons(out["main"])[0]["open"] == [1]
    spread = await run("data.json_path", {"expression": "json.body.results", "mode": "items"}, items(body))
    assert jsons(spread["main"]) == [{"id": 1, "state": "open"}, {"id": 2, "state": "closed"}, {"value": 7}]
    assert refused("data.json_path", {"expression": "json.["})[0]["field"] == "params.expression"


async def test_regex_match_extract_and_replace() -> None:
    lines = items({"line": "disk /dev/sda1 at 97%"}, {"line": "all good"})
    matched = await run("data.regex", {"text": "{{ json.line }}", "pattern": r"\d+%"}, lines)
    assert jsons(matched["main"]) == [{"line": "disk /dev/sda1 at 97%"}]
    assert jsons(matched["no_match"]) == [{"line": "all good"}]
    extract = {
        "text": "{{ json.line }}",
        "pattern": r"(?P<device>/dev/\w+) at (?P<pct>\d+)%",
        "mode": "extract",
    }
    out = await run("data.regex", extract, lines)
    assert jsons(out["main"])[0]["match"] == {"device": "/dev/sda1", "pct": "97"}
    every = {"text": "a1 b22 c333", "pattern": r"[a-z](\d+)", "mode": "extract", "all": True, "into": "n"}
    out = await run("data.regex", every, items({}))
    assert jsons(out["main"]) == [{"n": [["1"], ["22"], ["333"]]}]
    replace = {
        "text": "{{ json.line }}",
        "pattern": r"(\d+)%",
        "replacement": r"\1 percent",
        "mode": "replace",
        "flags": ["ignorecase"],
    }
    out = await run("data.regex", replace, lines)
    assert [j["result"] for j in jsons(out["main"])] == ["disk /dev/sda1 at 97 percent", "all good"]


async def test_regex_catastrophic_backtracking_is_stopped_at_its_timeout() -> None:
    params = {"text": "{{ json.t }}", "pattern": "(a+)+$", "timeout_s": 0.5}
    started = time.monotonic()
    with pytest.raises(NodeError, match=r"longer than 0\.5 s") as stopped:
        await run("data.regex", params, items({"t": "a" * 64 + "!"}))
    assert time.monotonic() - started < 5, "the child was killed at the timeout"
    assert stopped.value.retryable is False
    # the server goes on: the next match is answered at once
    out = await run("data.regex", {"text": "ok", "pattern": "o"}, items({}))
    assert len(out["main"]) == 1


async def test_regex_inputs_are_bounded_and_bad_patterns_refused_on_save() -> None:
    with pytest.raises(NodeError, match="longer than"):
        await run("data.regex", {"text": "x" * (1024 * 1024 + 1), "pattern": "x"}, items({}))
    with pytest.raises(ExpressionError, match="more than 1048576 bytes"):  # an expression's own bound
        await run(
            "data.regex", {"text": "{{ json.t }}", "pattern": "x"}, items({"t": "x" * (1024 * 1024 + 1)})
        )
    problems = refused("data.regex", {"text": "t", "pattern": "(unclosed"})
    assert (
        problems[0]["field"] == "params.pattern"
        and "not a valid regular expression" in problems[0]["message"]
    )
    assert refused("data.regex", {"text": "t", "pattern": "x" * 1001})[0]["field"] == "params.pattern"
    with pytest.raises(NodeError, match="invalid group reference"):
        await run(
            "data.regex", {"text": "ab", "pattern": "a", "mode": "replace", "replacement": r"\9"}, items({})
        )


async def test_text_operations() -> None:
    item = items({"s": "  Hello World  ", "parts": ["a", 1, None, True]})
    cases: list[tuple[dict[str, Any], Any]] = [
        ({"operation": "trim", "value": "{{ json.s }}"}, "Hello World"),
        ({"operation": "upper", "value": "{{ json.s }}"}, "  HELLO WORLD  "),
        ({"operation": "lower", "value": "{{ json.s }}"}, "  hello world  "),
        ({"operation": "length", "value": "{{ json.s }}"}, 15),
        ({"operation": "split", "value": "{{ json.s }}"}, ["Hello", "World"]),
        ({"operation": "split", "value": "a,b,,c", "separator": ","}, ["a", "b", "", "c"]),
        ({"operation": "join", "value": "{{ json.parts }}", "separator": "-"}, "a-1--true"),
        ({"operation": "substring", "value": "{{ json.s }}", "start": 2, "end": -2}, "Hello World"),
        ({"operation": "replace", "value": "{{ json.s }}", "find": "o", "with": "0"}, "  Hell0 W0rld  "),
        ({"operation": "template", "template": "host {{ json.s }} has {{ length(json.parts) }} parts"},
         "host   Hello World   has 4 parts"),
    ]  # fmt: skip
    for params, expected in cases:
        out = await run("data.text", params, item)
        assert jsons(out["main"])[0]["result"] == expected, params


async def test_text_results_are_bounded() -> None:
    with pytest.raises(NodeError, match="more than"):
        await run(
            "data.text",
            {"operation": "replace", "value": "a" * 1000, "find": "a", "with": "b" * 5000},
            items({}),
        )
    with pytest.raises(NodeError, match="more than 10000 parts"):
        await run("data.text", {"operation": "split", "value": "x," * 20_000, "separator": ","}, items({}))
    with pytest.raises(NodeError, match="not text"):
        await run("data.text", {"operation": "upper", "value": "{{ json }}"}, items({"a": 1}))


async def test_csv_parse_with_and_without_a_header_and_build_back() -> None:
    text = 'host,disk,note\r\nweb1,97,"full, ""urgent"""\r\ndb1,40,"two\nlines"\r\n'
    out = await run("data.csv", {"text": "{{ json.stdout }}"}, items({"stdout": text}))
    rows = jsons(out["main"])
    assert rows == [
        {"host": "web1", "disk": "97", "note": 'full, "urgent"'},
        {"host": "db1", "disk": "40", "note": "two\nlines"},
    ]
    raw = await run("data.csv", {"text": "a;b\n1;2\n", "header": False, "delimiter": ";"}, items({}))
    assert jsons(raw["main"]) == [{"columns": ["a", "b"]}, {"columns": ["1", "2"]}]
    built = await run("data.csv", {"mode": "build"}, out["main"])
    assert jsons(built["main"]) == [{"csv": text, "rows": 2}]
    again = await run("data.csv", {"text": "{{ json.csv }}"}, built["main"])
    assert jsons(again["main"]) == rows, "what build writes, parse reads back"
    formula = await run(
        "data.csv",
        {"mode": "build", "columns": ["x"], "escape_formulas": True},
        items({"x": "=HYPERLINK(1)"}),
    )
    assert jsons(formula["main"])[0]["csv"] == "x\r\n'=HYPERLINK(1)\r\n"


async def test_csv_bombs_are_bounded() -> None:
    many_rows = "a\n" + "1\n" * 10_001
    with pytest.raises(NodeError, match="more than 10000 rows"):
        await run("data.csv", {"text": many_rows}, items({}))
    with pytest.raises(NodeError, match="more than 1000 columns"):
        await run("data.csv", {"text": "," * 1000, "header": False}, items({}))
    with pytest.raises(NodeError, match="longer than"):
        await run("data.csv", {"text": "a" * (4 * 1024 * 1024 + 1)}, items({}))
    with pytest.raises(NodeError, match="not valid CSV"):
        await run("data.csv", {"text": '"' + "x" * 200_000 + '"', "header": False}, items({}))
    wide = items({f"f{n}": n for n in range(1001)})
    with pytest.raises(NodeError, match="more than 1000 fields"):
        await run("data.csv", {"mode": "build"}, wide)


# --- agents ---


async def test_inventory_runs_the_role_forced_and_emits_one_item_per_agent() -> None:
    services = FakeServices(
        job_results=[
            {
                "agent_id": "a1",
                "status": "succeeded",
                "error": None,
                "data": {"sections": {"cpu": {"hash": "h1", "error": None}}},
            },
            {"agent_id": "a2", "status": "failed", "error": "every section failed", "data": None},
        ],
        stored_inventory={"a1": {"cpu": {"hash": "h1", "error": None, "data": {"model": "x"}}, "memory": {}}},
    )
    out = await run(
        "agents.inventory",
        {"sections": ["cpu"], "include_data": False},
        items({"agent_id": "a2"}, {"agent_id": "a1"}),
        services,
    )
    assert services.jobs[0]["role"] == "inventory"
    assert services.jobs[0]["params"] == {"sections": ["cpu"], "force": True}
    assert services.jobs[0]["target"] == {"agents": ["a1", "a2"]}
    assert jsons(out["main"]) == [
        {
            "agent_id": "a1",
            "status": "succeeded",
            "error": None,
            "sections": {"cpu": {"hash": "h1", "error": None}},
            "job_id": "job-1",
        },
        {
            "agent_id": "a2",
            "status": "failed",
            "error": "every section failed",
            "sections": {},
            "job_id": "job-1",
        },
    ]
    stored = await run("agents.inventory", {"sections": ["cpu"]}, items({"agent_id": "a1"}), services)
    assert jsons(stored["main"])[0]["sections"] == {
        "cpu": {"hash": "h1", "error": None, "data": {"model": "x"}}
    }
    with pytest.raises(NodeError, match="inventory collection did not succeed on 1 agent"):
        await run("agents.inventory", {"target": {"all": True}, "fail_on_error": True}, [], services)
    assert services.jobs[2]["params"]["sections"][0] == "system", "default: every section"
    assert refused("agents.inventory", {"sections": ["nope"]})[0]["field"] == "params.sections[0]"


async def test_updates_list_and_install_named() -> None:
    pending = [{"name": "openssl", "version": "3.0.2-0ubuntu1.15", "source": "apt"}]
    services = FakeServices(
        job_results=[
            {"agent_id": "a1", "status": "succeeded", "data": {"manager": "apt", "updates": pending}}
        ]
    )
    out = await run("agents.updates", {"target": {"tags": ["web"]}}, [], services)
    assert services.jobs[0]["params"] == {"action": "list", "which": "all"}
    assert jsons(out["main"])[0]["updates"] == pending and jsons(out["main"])[0]["count"] == 1
    services.job_results = [
        {
            "agent_id": "a1",
            "status": "succeeded",
            "exit_code": 0,
            "stdout": "done",
            "stderr": "",
            "data": {
                "manager": "apt",
                "reboot_required": True,
                "installed": [{"name": "openssl", "arch": "amd64", "from_version": "1", "version": "2"}],
            },
        }
    ]
    params = {"target": {"agents": ["a1"]}, "action": "install", "which": "named", "packages": ["openssl"]}
    out = await run("agents.updates", params, [], services)
    assert services.jobs[1]["params"] == {"action": "install", "which": "named", "packages": ["openssl"]}
    assert services.jobs[1]["timeout_s"] == 3600 and services.jobs[1]["wait_s"] == 3900
    result = jsons(out["main"])[0]
    assert result["reboot_required"] is True and result["installed"][0]["version"] == "2"
    assert refused("agents.updates", {"action": "install", "which": "named"})[0]["field"] == "params.packages"


# --- notify ---


async def test_webhook_posts_each_item_or_all_at_once() -> None:
    services = FakeServices(answers=[httpx.Response(200, json={"ok": True})])
    given = items({"host": "web1"}, {"host": "db1"})
    params = {"url": "https://chat.example/hook", "body": {"text": "{{ json.host }} is down"}}
    out = await run("notify.webhook", params, given, services)
    assert [orjson.loads(r["content"]) for r in services.requests] == [
        {"text": "web1 is down"},
        {"text": "db1 is down"},
    ]
    assert services.requests[0]["headers"]["content-type"] == "application/json"
    assert jsons(out["main"]) == [{"status": 200, "response": {"ok": True}}] * 2
    services.requests.clear()
    await run("notify.webhook", {"url": "https://chat.example/hook", "mode": "all"}, given, services)
    assert [orjson.loads(r["content"]) for r in services.requests] == [
        {"items": [{"host": "web1"}, {"host": "db1"}]}
    ]


async def test_webhook_failures_say_whether_a_retry_may_help() -> None:
    for status, retryable in ((503, True), (429, True), (404, False)):
        services = FakeServices(answers=[httpx.Response(status)])
        with pytest.raises(NodeError, match=f"answered {status}") as failed:
            await run("notify.webhook", {"url": "https://x.example/"}, items({}), services)
        assert failed.value.retryable is retryable


async def test_the_ssrf_guard_refuses_metadata_and_loopback_unless_allowed() -> None:
    closed = NodeServices(db=None, jobs=None, guard=Guard([], own_port=8443), smtp={})  # type: ignore[arg-type]
    for url in (
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:9/",
        "http://localhost:9/",
        "http://[::1]:9/",
        "http://[::ffff:169.254.169.254]/",
        "http://0.0.0.0:9/",
        "file:///etc/passwd",
    ):
        with pytest.raises(NodeError) as stopped:
            await run("notify.webhook", {"url": url}, items({}), closed)
        assert stopped.value.retryable is False, url
    opened = NodeServices(db=None, jobs=None, guard=Guard(["127.0.0.0/8"], own_port=8443), smtp={})  # type: ignore[arg-type]
    with pytest.raises(NodeError, match="own API"):
        await run("notify.webhook", {"url": "http://127.0.0.1:8443/api/v1/tokens"}, items({}), opened)
    with pytest.raises(NodeError, match="may not reach"):
        await run("notify.webhook", {"url": "http://169.254.169.254/"}, items({}), opened)
    got: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        got.append(await reader.readexactly(length))
        writer.write(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        out = await run("notify.webhook", {"url": f"http://127.0.0.1:{port}/hook"}, items({"a": 1}), opened)
    assert got == [b'{"a":1}'] and jsons(out["main"]) == [{"status": 204, "response": ""}]


class SmtpSink:
    """Just enough SMTP (RFC 5321, no TLS, no AUTH) to receive messages; RCPT to `refuse@…` gets 550."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def say(line: str) -> None:
            writer.write(line.encode() + b"\r\n")

        sender, recipients = "", []
        say("220 sink ESMTP")
        try:
            while line := (await reader.readline()).decode().rstrip("\r\n"):
                verb = line[:4].upper()
                if verb in ("EHLO", "HELO"):
                    say("250 sink")
                elif verb == "MAIL":
                    sender, recipients = line.split(":", 1)[1].strip("<> "), []
                    say("250 ok")
                elif verb == "RCPT":
                    address = line.split(":", 1)[1].strip("<> ")
                    if address.startswith("refuse@"):
                        say("550 no such user")
                    else:
                        recipients.append(address)
                        say("250 ok")
                elif verb == "DATA":
                    say("354 go on")
                    await writer.drain()
                    data = await reader.readuntil(b"\r\n.\r\n")
                    self.messages.append((sender, recipients, message_from_bytes(data[:-5])))
                    say("250 queued")
                elif verb == "QUIT":
                    say("221 bye")
                    break
                else:
                    say("250 ok")
                await writer.drain()
        finally:
            await writer.drain()
            writer.close()


@pytest.fixture
async def smtp_sink() -> AsyncIterator[SmtpSink]:
    sink = SmtpSink()
    server = await asyncio.start_server(sink.handle, "127.0.0.1", 0)
    sink.port = server.sockets[0].getsockname()[1]
    async with server:
        yield sink


async def test_email_is_sent_through_the_configured_smtp_server(smtp_sink: SmtpSink) -> None:
    services = FakeServices(
        smtp={"host": "127.0.0.1", "port": smtp_sink.port, "from": "borealis@example.org"}
    )
    params = {
        "to": "ops@example.org, Oncall <oncall@example.org>",
        "subject": "{{ length(items) }} hosts need updates",
        "body": "Hosts: {{ join(', ', items[].host) }}",
    }
    out = await run("notify.email", params, items({"host": "web1"}, {"host": "db1"}), services)
    assert len(smtp_sink.messages) == 1, "mode all: one message for the whole input"
    sender, recipients, message = smtp_sink.messages[0]
    assert sender == "borealis@example.org" and recipients == ["ops@example.org", "oncall@example.org"]
    assert message["Subject"] == "2 hosts need updates"
    assert message.get_payload(decode=True).decode().strip() == "Hosts: web1, db1"  # type: ignore[union-attr]
    assert jsons(out["main"])[0]["to"] == ["ops@example.org", "oncall@example.org"]
    each = {"to": "{{ json.owner }}", "subject": "{{ json.host }}", "body": "down", "mode": "each"}
    await run(
        "notify.email",
        each,
        items({"host": "a", "owner": "x@example.org"}, {"host": "b", "owner": "y@example.org"}),
        services,
    )
    assert [(m[1], m[2]["Subject"]) for m in smtp_sink.messages[1:]] == [
        (["x@example.org"], "a"),
        (["y@example.org"], "b"),
    ]


async def test_email_failures_are_clear_and_classified(smtp_sink: SmtpSink) -> None:
    params = {"to": "ops@example.org", "subject": "s", "body": "b"}
    with pytest.raises(NodeError, match="not configured") as unset:
        await run("notify.email", params, items({}), FakeServices())
    assert unset.value.retryable is False
    services = FakeServices(smtp={"host": "127.0.0.1", "port": smtp_sink.port, "from": "b@example.org"})
    with pytest.raises(NodeError, match="refused the recipients") as refused_rcpt:
        await run("notify.email", {**params, "to": "refuse@example.org"}, items({}), services)
    assert refused_rcpt.value.retryable is False
    with pytest.raises(NodeError, match="one line"):
        await run(
            "notify.email",
            {**params, "subject": "{{ items[0].s }}"},
            items({"s": "hi\r\nBcc: victim@example.org"}),
            services,
        )
    with pytest.raises(NodeError, match="not e-mail addresses"):
        await run("notify.email", {**params, "to": "nobody"}, items({}), services)
    assert smtp_sink.messages == []
    closed = FakeServices(smtp={"host": "127.0.0.1", "port": 9, "from": "b@example.org"})
    with pytest.raises(NodeError, match="cannot send") as down:
        await run("notify.email", {**params, "timeout_s": 2}, items({}), closed)
    assert down.value.retryable is True


# --- the poll trigger's poll, on its own ---


async def _poll(
    params: dict[str, Any], state: dict[str, Any], answer: Any
) -> tuple[list[Any], dict[str, Any], FakeServices]:
    services = FakeServices(answers=[httpx.Response(200, content=orjson.dumps(answer))])
    node_type: Any = REGISTRY.get("trigger.poll")
    ctx = NodeContext("", "wf-1", "poll", params, Scope(), services)
    polled = await node_type.poll(ctx, state)
    return jsons(polled.items), polled.state, services


async def test_poll_keys_cursor_and_bounds() -> None:
    params = {
        "url": "https://api.example/t",
        "items_path": "data",
        "key_path": "id",
        "cursor_param": "after",
        "cursor_path": "next",
    }
    new, state, _ = await _poll(params, {}, {"data": [{"id": 1}, {"id": 2}], "next": 10})
    assert new == [] and state == {"keys": ["1", "2"], "cursor": 10, "source": source_of(params)}
    new, state, services = await _poll(
        params, state, {"data": [{"id": 2}, {"id": 3}, {"id": 3}], "next": None}
    )
    assert new == [{"id": 3}] and state == {
        "keys": ["1", "2", "3"],
        "cursor": 10,
        "source": source_of(params),
    }
    assert services.requests[0]["params"] == {"after": "10"}
    first, _, _ = await _poll({**params, "emit_initial": True}, {}, {"data": [{"id": 1}]})
    assert first == [{"id": 1}]
    bounded = {**params, "max_keys": 2}
    source = source_of(bounded)
    _, state, _ = await _poll(bounded, {"keys": ["old1", "old2"], "source": source}, {"data": [{"id": 7}]})
    assert state["keys"] == ["old2", "7"], "the oldest key is dropped first"
    _, state, _ = await _poll(
        bounded, {"keys": ["old"], "source": source}, {"data": [{"id": 7}, {"id": 8}, {"id": 9}]}
    )
    assert state["keys"] == ["8", "9"]
    whole = {"url": "https://api.example/t"}
    new, state, _ = await _poll(whole, {"keys": [], "source": source_of(whole)}, [{"a": 1}, "text"])
    assert new == [{"a": 1}, {"value": "text"}] and all(key.startswith("sha256:") for key in state["keys"])
    changed, _, _ = await _poll(whole, state, [{"a": 2}, "text"])
    assert changed == [{"a": 2}], "without a key path, a changed item is a new one"
    with pytest.raises(NodeError, match="more than 10000 items"):
        await _poll(whole, {}, list(range(10_001)))
    assert (
        refused("trigger.poll", {"url": "https://x.example", "cursor_param": "a"})[0]["field"]
        == "params.cursor_param"
    )


# --- through the real engine ---


async def test_a_loop_runs_a_sub_workflow_per_item_through_the_server(app: App) -> None:
    child = {
        "name": "times ten",
        "document": {
            "nodes": [
                {"id": "start", "type": "trigger.manual"},
                {
                    "id": "x10",
                    "type": "logic.math",
                    "params": {"operation": "multiply", "a": "{{ json.n }}", "b": 10},
                },
            ],
            "edges": [{"source": "start", "target": "x10"}],
        },
    }
    made = await app.client.post("/api/v1/workflows", json=child, headers=app.auth())
    assert made.status_code == 201, made.text
    child_id = made.json()["id"]
    parent = {
        "name": "for each",
        "document": {
            "nodes": [
                {"id": "start", "type": "trigger.manual"},
                {"id": "each", "type": "logic.loop", "params": {"workflow_id": child_id, "parallelism": 2}},
                {
                    "id": "total",
                    "type": "logic.math",
                    "params": {"operation": "sum", "value": "{{ json.output[0].result }}"},
                },
            ],
            "edges": [{"source": "start", "target": "each"}, {"source": "each", "target": "total"}],
        },
    }
    made = await app.client.post("/api/v1/workflows", json=parent, headers=app.auth())
    assert made.status_code == 201, made.text
    started = await app.client.post(
        f"/api/v1/workflows/{made.json()['id']}/runs",
        json={"input": [{"n": 1}, {"n": 2}, {"n": 3}]},
        headers=app.auth(),
    )
    assert started.status_code == 201, started.text
    run_id = started.json()["id"]
    deadline = time.monotonic() + 30
    while True:
        view = (await app.client.get(f"/api/v1/runs/{run_id}", headers=app.auth())).json()
        if view["status"] not in ("queued", "running") or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert view["status"] == "succeeded", view
    assert view["output"] == [{"json": {"result": 60, "count": 3}, "binary_ref": None}]
    loop_record = next(node for node in view["nodes"] if node["node_id"] == "each")
    subs = jsons(loop_record["output"]["main"])
    assert [sub["status"] for sub in subs] == ["succeeded"] * 3
    assert [sub["output"] for sub in subs] == [[{"n": n, "result": 10 * n}] for n in (1, 2, 3)]
    children = (await app.client.get(f"/api/v1/runs?workflow_id={child_id}", headers=app.auth())).json()[
        "items"
    ]
    assert len(children) == 3 and all(run["trigger"]["parent_run_id"] == run_id for run in children)


async def test_poll_starts_again_from_a_first_poll_when_its_source_changes() -> None:
    params = {"url": "https://api.example/a", "key_path": "id", "headers": {"authorization": "Bearer 1"}}
    _, state, _ = await _poll(params, {}, [{"id": 1}])
    rotated = {**params, "headers": {"authorization": "Bearer 2"}}
    new, same, _ = await _poll(rotated, state, [{"id": 1}, {"id": 2}])
    assert new == [{"id": 2}] and same["source"] == state["source"], "a new token keeps the keys"
    moved = {**params, "url": "https://api.example/b"}
    new, fresh, _ = await _poll(moved, same, [{"id": 3}, {"id": 4}])
    assert new == [], "another URL: what is there now is recorded, not fired"
    assert fresh["keys"] == ["3", "4"] and fresh["source"] != same["source"]
