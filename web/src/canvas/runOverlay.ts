// A run shown on the canvas: its stream (`GET /api/v1/runs/{id}/events`: snapshot, node, run, end) gives
// each node's state as it happens; at the end (and for a past run) the stored run gives every attempt's
// input, output, error and timings. One state change per event, so one canvas render per node change.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, useState } from "react";

import { api, unwrap } from "../api/client";
import type { NodeRecord, Run, RunDetail } from "./types";

export const FINAL = new Set(["succeeded", "failed", "timed_out", "cancelled", "interrupted"]);

export interface NodeState {
  status: string;
  attempts: number;
}

export function nodeStates(records: Pick<NodeRecord, "node_id" | "attempt" | "status">[]): Map<string, NodeState> {
  const states = new Map<string, NodeState>();
  for (const record of records) {
    const known = states.get(record.node_id);
    if (!known || record.attempt >= known.attempts) states.set(record.node_id, { status: record.status, attempts: record.attempt });
  }
  return states;
}

const RECHECK_MS = 3000;

export async function fetchRun(id: string): Promise<RunDetail> {
  return unwrap(await api.GET("/api/v1/runs/{run_id}", { params: { path: { run_id: id } } })) as unknown as RunDetail;
}

export function useRunOverlay(runId: string | null): { run: RunDetail | undefined; states: Map<string, NodeState>; live: boolean } {
  const client = useQueryClient();
  const [states, setStates] = useState<Map<string, NodeState>>(new Map());
  const [status, setStatus] = useState<string | null>(null);
  // The stored run is also read every few seconds while it is not final: events are the fast path,
  // this makes sure the canvas ends up showing what the server recorded even if a stream stalls.
  const detail = useQuery({
    queryKey: ["runs", "one", runId],
    queryFn: () => fetchRun(runId as string),
    enabled: runId !== null,
    refetchInterval: (query) => (query.state.data && FINAL.has(query.state.data.status) ? false : RECHECK_MS),
  });

  useEffect(() => {
    setStates(new Map());
    setStatus(null);
    if (!runId) return;
    const source = new EventSource(`/api/v1/runs/${encodeURIComponent(runId)}/events`);
    source.addEventListener("snapshot", (message) => {
      const run = JSON.parse((message as MessageEvent<string>).data) as Run;
      setStatus(run.status);
      if (FINAL.has(run.status)) void client.invalidateQueries({ queryKey: ["runs", "one", runId] });
    });
    source.addEventListener("node", (message) => {
      const event = JSON.parse((message as MessageEvent<string>).data) as { node_id: string; attempt: number; status: string };
      setStates((previous) => {
        const next = new Map(previous);
        next.set(event.node_id, { status: event.status, attempts: event.attempt });
        return next;
      });
    });
    source.addEventListener("run", (message) => {
      setStatus((JSON.parse((message as MessageEvent<string>).data) as { status: string }).status);
    });
    source.addEventListener("end", () => {
      source.close();
      void client.invalidateQueries({ queryKey: ["runs", "one", runId] });
    });
    source.onerror = () => {
      // The run may be over (the stream ends) or the server went away: the stored run says which.
      source.close();
      void client.invalidateQueries({ queryKey: ["runs", "one", runId] });
    };
    return () => source.close();
  }, [runId, client]);

  const stored = detail.data;
  const finalKnown = !!stored && FINAL.has(stored.status);
  const shown = useMemo(() => {
    const storedStates = stored ? nodeStates(stored.nodes) : new Map<string, NodeState>();
    return finalKnown ? storedStates : new Map([...storedStates, ...states]);
  }, [stored, states, finalKnown]);
  return { run: stored, states: shown, live: !!runId && !finalKnown && !FINAL.has(status ?? "") };
}

export interface ProgressNode {
  id: string;
  /** attempts it may take: retries + 1 */
  tries: number;
  /** whether its items may go out of one port and not another (condition, switch, an error port) */
  branches: boolean;
}

/**
 * Each node's state with what the events imply between them: the engine sends one event per finished
 * attempt, so in a live run a node with no event is "running" once every node before it has finished
 * (when that is knowable: not after a branching node, whose untaken side never runs) and "waiting"
 * before; a failed attempt with tries left is "retrying". Once the run is over, a node with no record
 * did not run: "skipped".
 */
export function withProgress(states: Map<string, NodeState>, nodes: ProgressNode[], edges: { source: string; target: string }[], phase: "live" | "final" | "none"): Map<string, NodeState> {
  if (phase === "none") return states;
  const shown = new Map(states);
  if (phase === "final") {
    for (const node of nodes) if (!states.has(node.id)) shown.set(node.id, { status: "skipped", attempts: 0 });
    return shown;
  }
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const sources = new Map<string, string[]>();
  for (const edge of edges) sources.set(edge.target, [...(sources.get(edge.target) ?? []), edge.source]);
  const finished = (id: string) => {
    const state = states.get(id);
    return !!state && (state.status !== "failed" || state.attempts >= (byId.get(id)?.tries ?? 1));
  };
  const started = states.size > 0;
  for (const node of nodes) {
    const state = states.get(node.id);
    if (state) {
      if (state.status === "failed" && state.attempts < node.tries) shown.set(node.id, { status: "retrying", attempts: state.attempts });
      continue;
    }
    const before = sources.get(node.id) ?? [];
    const ready =
      before.length === 0
        ? !started
        : before.every((id) => finished(id) && states.get(id)?.status === "succeeded" && !byId.get(id)?.branches);
    shown.set(node.id, { status: ready ? "running" : "waiting", attempts: 0 });
  }
  return shown;
}
