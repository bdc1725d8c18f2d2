// Jobs as the console reads them: the full job with its rows, submitting one, and the live view of a job
// from its Server-Sent Events stream (`/api/v1/jobs/{id}/events`), with output kept bounded per agent.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";

import { api, unwrap } from "../api/client";
import type { JobSummary } from "../api/models";

export const FINAL = new Set(["succeeded", "failed", "timed_out", "cancelled", "expired", "interrupted"]);
/** Streamed output kept per agent and stream: the tail, so a chatty script cannot fill the tab's memory. */
export const MAX_STREAMED_CHARS = 256 * 1024;

export interface JobRow {
  agent_id: string;
  status: string;
  exit_code: number | null;
  stdout: string;
  stderr: string;
  flags: string[];
  error: string | null;
  batch?: number;
  started_at?: string | null;
  finished_at?: string | null;
}

export interface Job extends JobSummary {
  run_as: string;
  timeout_s: number;
  expires_at: string;
  cancelled_at: string | null;
  batch_size: number | null;
  current_batch: number;
  stop_on_failure: boolean;
  script_id: string | null;
  script_version: number | null;
  results: JobRow[];
}

export async function fetchJob(id: string): Promise<Job> {
  return unwrap(await api.GET("/api/v1/jobs/{job_id}", { params: { path: { job_id: id } } })) as unknown as Job;
}

export function useJob(id: string) {
  return useQuery({ queryKey: ["jobs", id], queryFn: () => fetchJob(id) });
}

export async function cancelJob(id: string): Promise<Job> {
  return unwrap(await api.POST("/api/v1/jobs/{job_id}/cancel", { params: { path: { job_id: id } } })) as unknown as Job;
}

export function appendTail(previous: string, chunk: string, limit = MAX_STREAMED_CHARS): string {
  const next = previous + chunk;
  return next.length > limit ? next.slice(next.length - limit) : next;
}

interface StateEvent {
  agent_ids: string[];
  status: string;
  exit_code?: number | null;
}

interface OutputEvent {
  agent_id: string;
  stream: "stdout" | "stderr";
  chunk: string;
}

export type StreamPhase = "connecting" | "live" | "ended" | "reconnecting";

export interface LiveJob {
  job: Job | null;
  rows: Map<string, JobRow>;
  phase: StreamPhase;
}

function emptyRow(agentId: string, status: string): JobRow {
  return { agent_id: agentId, status, exit_code: null, stdout: "", stderr: "", flags: [], error: null };
}

/** Applies one stream event to the rows (pure, so it is unit-tested). */
export function applyJobEvent(rows: Map<string, JobRow>, kind: string, data: unknown): Map<string, JobRow> {
  const next = new Map(rows);
  if (kind === "snapshot" || kind === "end") {
    const job = data as { results?: Partial<JobRow>[] };
    for (const result of job.results ?? []) {
      if (!result.agent_id) continue;
      const old = next.get(result.agent_id) ?? emptyRow(result.agent_id, result.status ?? "queued");
      next.set(result.agent_id, { ...old, ...result } as JobRow);
    }
  } else if (kind === "state") {
    const event = data as StateEvent;
    for (const id of event.agent_ids) {
      const old = next.get(id) ?? emptyRow(id, event.status);
      next.set(id, { ...old, status: event.status, exit_code: event.exit_code ?? old.exit_code });
    }
  } else if (kind === "output") {
    const event = data as OutputEvent;
    const old = next.get(event.agent_id) ?? emptyRow(event.agent_id, "running");
    next.set(event.agent_id, { ...old, [event.stream]: appendTail(old[event.stream], event.chunk) });
  }
  return next;
}

/** The job as it happens: rows and output from the SSE stream; at the end, the stored job replaces it. */
export function useLiveJob(id: string): LiveJob {
  const client = useQueryClient();
  const [live, setLive] = useState<LiveJob>({ job: null, rows: new Map(), phase: "connecting" });

  useEffect(() => {
    let ended = false;
    setLive({ job: null, rows: new Map(), phase: "connecting" });
    const source = new EventSource(`/api/v1/jobs/${encodeURIComponent(id)}/events`);
    const on = (kind: string, handle?: (data: unknown) => void) =>
      source.addEventListener(kind, (message) => {
        const data = JSON.parse((message as MessageEvent<string>).data) as unknown;
        setLive((old) => ({
          job: kind === "snapshot" || kind === "end" ? (data as Job) : old.job,
          rows: applyJobEvent(old.rows, kind, data),
          phase: kind === "end" ? "ended" : "live",
        }));
        handle?.(data);
      });
    on("snapshot");
    on("state");
    on("output");
    on("dropped");
    on("end", () => {
      ended = true;
      source.close();
      // The stored rows carry the exit codes, output tails, flags and errors.
      fetchJob(id).then(
        (job) => {
          client.setQueryData(["jobs", id], job);
          setLive((old) => {
            const rows = new Map(old.rows);
            for (const row of job.results) rows.set(row.agent_id, row);
            return { job, rows, phase: "ended" };
          });
        },
        () => undefined,
      );
    });
    source.onerror = () => {
      if (!ended) setLive((old) => ({ ...old, phase: "reconnecting" }));
    };
    return () => {
      ended = true;
      source.close();
    };
  }, [client, id]);

  return live;
}

export interface NewJob {
  role: string;
  params: Record<string, unknown>;
  run_as?: "system" | "user";
  target: { agents: string[] } | { tags: string[] } | { all: true };
  timeout_s?: number;
  batch_size?: number;
  stop_on_failure?: boolean;
}

export async function submitJob(job: NewJob): Promise<Job> {
  return unwrap(
    await api.POST("/api/v1/jobs", { body: job as never }),
  ) as unknown as Job;
}

/** Ids begin with their creation time, so ids made close together share a head: show the tail. */
export function shortId(id: string): string {
  return `…${id.slice(-8)}`;
}
