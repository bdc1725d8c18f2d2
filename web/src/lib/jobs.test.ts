import { describe, expect, it } from "vitest";

import { appendTail, applyJobEvent, applyJobEvents, type JobRow, type StreamEvent } from "./jobs";

describe("applyJobEvent", () => {
  it("builds rows from a snapshot, then states and output chunks in order", () => {
    let rows = new Map<string, JobRow>();
    rows = applyJobEvent(rows, "snapshot", { results: [{ agent_id: "a", status: "sent" }, { agent_id: "b", status: "queued" }] });
    rows = applyJobEvent(rows, "state", { agent_ids: ["a"], status: "running" });
    rows = applyJobEvent(rows, "output", { agent_id: "a", stream: "stdout", chunk: "hi\n" });
    rows = applyJobEvent(rows, "output", { agent_id: "a", stream: "stderr", chunk: "warn\n" });
    rows = applyJobEvent(rows, "output", { agent_id: "a", stream: "stdout", chunk: "done\n" });
    const before = rows;
    rows = applyJobEvent(rows, "state", { agent_ids: ["a"], status: "failed", exit_code: 3 });
    expect(rows.get("a")).toMatchObject({ status: "failed", exit_code: 3, stdout: "hi\ndone\n", stderr: "warn\n" });
    expect(rows.get("b")?.status).toBe("queued");
    expect(before.get("a")?.status).toBe("running"); // the previous map is left as it was
  });

  it("keeps a later snapshot's states without losing streamed output", () => {
    let rows = applyJobEvent(new Map(), "output", { agent_id: "a", stream: "stdout", chunk: "x" });
    rows = applyJobEvent(rows, "snapshot", { results: [{ agent_id: "a", status: "running" }] });
    expect(rows.get("a")).toMatchObject({ status: "running", stdout: "x" });
  });
});

describe("appendTail", () => {
  it("keeps only the newest characters", () => {
    expect(appendTail("abc", "def", 4)).toBe("cdef");
    expect(appendTail("", "ab", 4)).toBe("ab");
  });
});

describe("applyJobEvents", () => {
  it("applies a batch for 10,000 agents in one copy, quickly", () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => `agent-${i}`);
    let rows = applyJobEvents(new Map(), [{ kind: "snapshot", data: { results: ids.map((agent_id) => ({ agent_id, status: "sent" })) } }]);
    const batch: StreamEvent[] = ids.slice(0, 2000).map((id) => ({ kind: "output", data: { agent_id: id, stream: "stdout", chunk: "line\n" } }));
    batch.push({ kind: "state", data: { agent_ids: ids, status: "running" } });
    const start = performance.now();
    rows = applyJobEvents(rows, batch);
    expect(performance.now() - start).toBeLessThan(200);
    expect(rows.size).toBe(10_000);
    expect(rows.get("agent-1")).toMatchObject({ status: "running", stdout: "line\n" });
    expect(rows.get("agent-9999")).toMatchObject({ status: "running", stdout: "" });
  });
});
