import { QueryClient } from "@tanstack/react-query";
import { describe, expect, it } from "vitest";

import type { Agent } from "../api/models";
import { FLEET_KEY, applyAgentEvents } from "./fleet";

function agent(id: string, status: Agent["status"]): Agent {
  return {
    id,
    hostname: id,
    status,
    tags: [],
    last_seen: null,
    connected_since: null,
    os: null,
    os_version: null,
    arch: null,
    version: null,
    notes: null,
    enrolled_at: null,
    revoked_at: null,
    agent_rss_bytes: null,
    agent_cpu_pct: null,
  };
}

describe("applyAgentEvents", () => {
  it("patches up and down, drops deleted agents, and asks to re-read changed or unknown ones", () => {
    const client = new QueryClient();
    client.setQueryData(FLEET_KEY, [agent("a", "offline"), agent("b", "online"), agent("c", "online"), agent("r", "revoked")]);
    const reread = applyAgentEvents(client, [
      { agent_id: "a", change: "up", at: "2026-01-01T00:00:00Z" },
      { agent_id: "b", change: "down", at: "2026-01-01T00:00:01Z" },
      { agent_id: "c", change: "deleted" },
      { agent_id: "r", change: "down" },
      { agent_id: "b", change: "updated" },
      { agent_id: "new", change: "up" },
    ]);
    const fleet = client.getQueryData<Agent[]>(FLEET_KEY) ?? [];
    expect(fleet.map((a) => [a.id, a.status])).toEqual([
      ["a", "online"],
      ["b", "offline"],
      ["r", "revoked"],
    ]);
    expect(fleet[0]?.connected_since).toBe("2026-01-01T00:00:00Z");
    expect(reread.sort()).toEqual(["b", "new"]);
  });
});
