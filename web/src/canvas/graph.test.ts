// The canvas's pure logic: the document round trip, port checks, ids, layout, history and the form validator.
import { describe, expect, it } from "vitest";

import { schemaErrors } from "./form/validator";
import { withProgress } from "./runOverlay";
import { connectionProblem, defaultParams, freeId, layout, outputsOf, toDocument, toFlow } from "./graph";
import { emptyHistory, record, redo, snapshot, undo } from "./history";
import type { NodeType, WorkflowDocument } from "./types";

const type = (name: string, inputs: string[], outputs: string[], schema: Record<string, unknown> = {}): NodeType => ({
  type: name,
  version: 1,
  category: name.split(".")[0] ?? "",
  title: name,
  doc: "",
  inputs,
  outputs,
  error_port: "error",
  schema,
});

const TYPES = new Map(
  [
    type("trigger.manual", [], ["main"]),
    type("logic.condition", ["main"], ["true", "false"], { type: "object", required: ["condition"], properties: { condition: { type: "string", minLength: 1 } } }),
    type("logic.merge", ["in1", "in2"], ["main"], { type: "object", properties: { mode: { type: "string", enum: ["append", "pair"], default: "append" } } }),
  ].map((t) => [t.type, t]),
);

const DOC: WorkflowDocument = {
  nodes: [
    { id: "start", type: "trigger.manual", params: {}, ui: { x: 0, y: 0 } },
    { id: "check", type: "logic.condition", params: { condition: "json.ok" }, settings: { on_error: "error_port" }, ui: { x: 260, y: 0 } },
    { id: "join", type: "logic.merge", params: {}, ui: { x: 520, y: 0 } },
  ],
  edges: [
    { id: "e1", source: "start", source_port: "main", target: "check", target_port: "main" },
    { id: "e2", source: "check", source_port: "true", target: "join", target_port: "in1" },
  ],
  settings: { timeout_s: 60 },
};

describe("the document on the canvas", () => {
  it("comes back exactly", () => {
    const { nodes, edges } = toFlow(DOC);
    expect(toDocument(nodes, edges, DOC.settings)).toEqual(DOC);
  });

  it("has the ports its type declares, and error when failures go there", () => {
    const check = DOC.nodes[1];
    expect(check && outputsOf(check, TYPES.get("logic.condition"))).toEqual(["true", "false", "error"]);
  });

  it("refuses connections the server would refuse", () => {
    const { nodes, edges } = toFlow(DOC);
    const ask = (source: string, sourceHandle: string, target: string, targetHandle: string) =>
      connectionProblem({ source, sourceHandle, target, targetHandle }, nodes, edges, TYPES);
    expect(ask("check", "false", "join", "in2")).toBeNull();
    expect(ask("check", "main", "join", "in2")).toContain("no output port main");
    expect(ask("start", "main", "join", "main")).toContain("no input port main");
    expect(ask("check", "true", "join", "in1")).toContain("already connected");
    expect(ask("join", "main", "check", "main")).toContain("cycle");
    expect(ask("check", "true", "check", "main")).toContain("itself");
  });

  it("gives free ids in the document's alphabet", () => {
    expect(freeId("run_script", ["run_script", "run_script-2"])).toBe("run_script-3");
    expect(freeId("a b/c", [])).toBe("a-b-c");
  });

  it("lays out left to right without moving a node onto another", () => {
    const { nodes, edges } = toFlow(DOC);
    const placed = layout(nodes, edges);
    const xs = placed.map((n) => n.position.x);
    expect(xs[0]).toBeLessThan(xs[1] ?? 0);
    expect(xs[1]).toBeLessThan(xs[2] ?? 0);
  });

  it("fills defaults from the schema", () => {
    expect(defaultParams(TYPES.get("logic.merge") as NodeType)).toEqual({ mode: "append" });
  });
});

describe("history", () => {
  it("undoes and redoes to the same snapshots", () => {
    const first = toFlow(DOC);
    const second = { nodes: first.nodes.slice(0, 2), edges: first.edges.slice(0, 1) };
    const history = record(emptyHistory(), snapshot(first.nodes, first.edges));
    const back = undo(history, snapshot(second.nodes, second.edges));
    expect(back?.shown).toEqual(snapshot(first.nodes, first.edges));
    const forward = back && redo(back.history, back.shown);
    expect(forward?.shown).toEqual(snapshot(second.nodes, second.edges));
    expect(undo(emptyHistory(), snapshot(first.nodes, first.edges))).toBeNull();
  });
});

describe("the form validator", () => {
  it("names the field of each problem", () => {
    const schema = TYPES.get("logic.condition")?.schema ?? {};
    expect(schemaErrors(schema, { condition: "json.ok" })).toEqual([]);
    expect(schemaErrors(schema, {}).map((e) => e.property)).toEqual([".condition"]);
    expect(schemaErrors(schema, { condition: "" }).map((e) => e.property)).toEqual([".condition"]);
  });
});

describe("withProgress", () => {
  const nodes = [
    { id: "start", tries: 1, branches: false },
    { id: "check", tries: 1, branches: true },
    { id: "call", tries: 3, branches: false },
    { id: "after", tries: 1, branches: false },
  ];
  const edges = [
    { source: "start", target: "call" },
    { source: "call", target: "after" },
    { source: "start", target: "check" },
  ];
  it("says running once every node before has finished, waiting before, retrying with tries left", () => {
    const shown = withProgress(new Map([["start", { status: "succeeded", attempts: 1 }], ["call", { status: "failed", attempts: 1 }]]), nodes, edges, "live");
    expect(shown.get("call")).toEqual({ status: "retrying", attempts: 1 });
    expect(shown.get("after")?.status).toBe("waiting");
    expect(shown.get("check")?.status).toBe("running");
    expect(withProgress(new Map(), nodes, edges, "live").get("start")?.status).toBe("running");
  });
  it("says skipped for nodes without a record once the run is over", () => {
    const shown = withProgress(new Map([["start", { status: "succeeded", attempts: 1 }]]), nodes, edges, "final");
    expect(shown.get("after")?.status).toBe("skipped");
    expect(shown.get("start")?.status).toBe("succeeded");
  });
});
