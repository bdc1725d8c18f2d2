import { describe, expect, it } from "vitest";

import type { Agent } from "../api/models";
import { allTags, fleetView, statusCounts } from "./fleetView";

function agent(id: string, hostname: string, status: Agent["status"], tags: string[] = [], cpu: number | null = null): Agent {
  return {
    id,
    hostname,
    status,
    tags,
    last_seen: null,
    connected_since: null,
    os: "linux",
    os_version: "12",
    arch: "x86_64",
    version: "0.1.0",
    notes: null,
    enrolled_at: null,
    revoked_at: null,
    agent_rss_bytes: null,
    agent_cpu_pct: cpu,
  };
}

const fleet = [
  agent("a1", "web-2", "online", ["web", "prod"], 3),
  agent("a2", "db-1", "offline", ["db"], 1),
  agent("a3", "Web-1", "overdue", ["web"], 9),
];

describe("fleetView", () => {
  it("filters by status, tag and text (case-insensitive)", () => {
    expect(fleetView(fleet, { status: "all", tag: "web", text: "" }, "hostname", false).map((a) => a.id)).toEqual(["a3", "a1"]);
    expect(fleetView(fleet, { status: "online", tag: "", text: "" }, "hostname", false).map((a) => a.id)).toEqual(["a1"]);
    expect(fleetView(fleet, { status: "all", tag: "", text: "DB" }, "hostname", false).map((a) => a.id)).toEqual(["a2"]);
    expect(fleetView(fleet, { status: "all", tag: "", text: "nothing" }, "hostname", false)).toEqual([]);
  });

  it("sorts by a column in either direction", () => {
    const all = { status: "all" as const, tag: "", text: "" };
    expect(fleetView(fleet, all, "cpu", true).map((a) => a.id)).toEqual(["a3", "a1", "a2"]);
    expect(fleetView(fleet, all, "status", false).map((a) => a.status)).toEqual(["online", "overdue", "offline"]);
  });

  it("does not change the input and filters 10,000 agents quickly", () => {
    const many = Array.from({ length: 10_000 }, (_, i) => agent(`id${i}`, `host-${i}`, i % 3 ? "online" : "offline", [`t${i % 7}`]));
    const start = performance.now();
    const rows = fleetView(many, { status: "online", tag: "t3", text: "host-1" }, "hostname", false);
    expect(performance.now() - start).toBeLessThan(100);
    expect(rows.every((a) => a.status === "online" && a.tags.includes("t3") && a.hostname.includes("host-1"))).toBe(true);
    expect(many[0]?.id).toBe("id0");
  });
});

describe("fleet summaries", () => {
  it("counts statuses and lists tags once", () => {
    expect(statusCounts(fleet)).toEqual({ online: 1, offline: 1, overdue: 1, pending: 0, revoked: 0 });
    expect(allTags(fleet)).toEqual(["db", "prod", "web"]);
  });
});
