// The fleet in the query cache: every agent, read page by page once, then kept current by the event stream.
import { useQuery, type QueryClient } from "@tanstack/react-query";

import { api, unwrap } from "../api/client";
import type { Agent, Page } from "../api/models";

export const FLEET_KEY = ["fleet"] as const;
const PAGE = 1000;

/** Every agent, page by page (1,000 a page). */
export async function fetchFleet(): Promise<Agent[]> {
  const agents: Agent[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = unwrap(
      await api.GET("/api/v1/agents", { params: { query: { limit: PAGE, cursor } } }),
    ) as unknown as Page<Agent>;
    agents.push(...page.items);
    if (!page.next_cursor) return agents;
    cursor = String(page.next_cursor);
  }
}

export function useFleet() {
  // Showing each page as it arrived was tried: at 10,000 agents the nine intermediate renders made the
  // whole table slower to complete (docs/performance.md, "Console").
  return useQuery({ queryKey: FLEET_KEY, queryFn: fetchFleet, staleTime: 60_000 });
}

export async function fetchAgent(id: string): Promise<Agent> {
  return unwrap(await api.GET("/api/v1/agents/{agent_id}", { params: { path: { agent_id: id } } })) as unknown as Agent;
}

// Up and down describe a connection; a revoked or pending agent keeps that status whatever its socket did
// (a revocation closes the socket, and its "down" may arrive after the "revoked" record was re-read).
const TRUST_STATES = new Set(["revoked", "pending"]);

export interface AgentEvent {
  agent_id: string;
  change: string;
  status?: string;
  at?: string;
}

/** Applies a batch of agent events to the cached fleet; returns the ids whose full record must be re-read. */
export function applyAgentEvents(client: QueryClient, events: AgentEvent[]): string[] {
  const reread = new Set<string>();
  const patches = new Map<string, Partial<Agent> | null>();
  for (const event of events) {
    if (event.change === "up" || event.change === "down") {
      const previous = patches.get(event.agent_id) ?? {};
      patches.set(event.agent_id, {
        ...previous,
        status: event.change === "up" ? "online" : "offline",
        last_seen: event.at ?? null,
        connected_since: event.change === "up" ? (event.at ?? null) : null,
      });
    } else if (event.change === "deleted" || event.change === "denied") {
      patches.set(event.agent_id, null);
    } else {
      reread.add(event.agent_id);
    }
  }
  client.setQueryData<Agent[]>(FLEET_KEY, (agents) => {
    if (!agents) return agents;
    const known = new Set<string>();
    const next: Agent[] = [];
    for (const agent of agents) {
      known.add(agent.id);
      const patch = patches.get(agent.id);
      if (patch === null) continue;
      next.push(patch && !TRUST_STATES.has(agent.status) ? { ...agent, ...patch } : agent);
    }
    for (const [id, patch] of patches) if (patch && !known.has(id)) reread.add(id);
    return next;
  });
  for (const [id, patch] of patches) {
    if (patch === null) client.removeQueries({ queryKey: ["agent", id] });
    else
      client.setQueryData<Agent>(["agent", id], (agent) =>
        agent && !TRUST_STATES.has(agent.status) ? { ...agent, ...patch } : agent,
      );
  }
  return [...reread];
}

export function upsertAgent(client: QueryClient, agent: Agent): void {
  client.setQueryData<Agent[]>(FLEET_KEY, (agents) => {
    if (!agents) return agents;
    const index = agents.findIndex((a) => a.id === agent.id);
    if (index < 0) return [...agents, agent];
    const next = agents.slice();
    next[index] = { ...agents[index], ...agent };
    return next;
  });
  client.setQueryData<Agent>(["agent", agent.id], (old) => (old ? { ...old, ...agent } : old));
}
