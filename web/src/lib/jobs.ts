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
  /** Why the job cannot be shown (it does not exist, or the session may not read it). */
  error: unknown;
}

function emptyRow(agentId: string, status: string): JobRow {
  return { agent_id: agentId, status, exit_code: null, stdout: "", stderr: "", flags: [], error: null };
}

export interface StreamEvent {
  kind: string;
  data: unknown;
}

/** Applies stream events to the rows in one copy (pure, so it is unit-tested; one copy per batch keeps
 * a job on thousands of agents cheap while output pours in). */
export function applyJobEvents(rows: Map<string, JobRow>, events: StreamEvent[]): Map<string, JobRow> {
  const next = new Map(rows);
  for (const { kind, data } of events) {
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
  }
  return next;
}

export function applyJobEvent(rows: Map<string, JobRow>, kind: string, data: unknown): Map<string, JobRow> {
  return applyJobEvents(rows, [{ kind, data }]);
}

const FLUSH_MS = 100;
const REOPEN_MS = 2000;

/** The job as it happens: rows and output from the SSE stream; at the end, the stored job replaces it.
 * When the stream fails for good (the server restarted, a 404), the stored job is read: its error is
 * shown in words, or, while the job still runs, the stream is opened again. */
export function useLiveJob(id: string): LiveJob {
  const client = useQueryClient();
  const [live, setLive] = useState<LiveJob>({ job: null, rows: new Map(), phase: "connecting", error: null });

  useEffect(() => {
    let stopped = false;
    let source: EventSource | null = null;
    let timer: ReturnType<typeof setTimeout> | null = null;
    let flushTimer: ReturnType<typeof setTimeout> | null = null;
    setLive({ job: null, rows: new Map(), phase: "connecting", error: null });

    const settle = (final: boolean) =>
      fetchJob(id).then(
        (job) => {
          if (stopped) return;
          client.setQueryData(["jobs", id], job);
          const done = final || job.results.every((row) => FINAL.has(row.status));
          setLive((old) => {
            const rows = new Map(old.rows);
            // The stored rows carry the exit codes, output tails, flags and errors; a running row keeps
            // what was streamed.
            for (const row of job.results) if (done || FINAL.has(row.status) || !rows.has(row.agent_id)) rows.set(row.agent_id, row);
            return { job, rows, phase: done ? "ended" : "reconnecting", error: null };
          });
          if (!done) timer = setTimeout(open, REOPEN_MS);
        },
        (error: unknown) => {
          if (!stopped) setLive((old) => ({ ...old, phase: "ended", error }));
        },
      );

    function open() {
      if (stopped) return;
      const stream = new EventSource(`/api/v1/jobs/${encodeURIComponent(id)}/events`);
      source = stream;
      let pending: StreamEvent[] = [];
      const flush = () => {
        flushTimer = null;
        const batch = pending;
        pending = [];
        if (!batch.length || stopped) return;
        const jobs = batch.filter((e) => e.kind === "snapshot" || e.kind === "end");
        const ended = batch.some((e) => e.kind === "end");
        setLive((old) => ({
          job: jobs.length ? (jobs[jobs.length - 1]?.data as Job) : old.job,
          rows: applyJobEvents(old.rows, batch),
          phase: ended ? "ended" : "live",
          error: null,
        }));
        if (ended) void settle(true);
      };
      const on = (kind: string) =>
        stream.addEventListener(kind, (message) => {
          pending.push({ kind, data: JSON.parse((message as MessageEvent<string>).data) as unknown });
          if (kind === "end") {
            stream.close();
            flush();
          } else {
            flushTimer ??= setTimeout(flush, FLUSH_MS);
          }
        });
      ["snapshot", "state", "output", "dropped", "end"].forEach(on);
      stream.onerror = () => {
        if (stopped) return;
        if (stream.readyState === EventSource.CLOSED) void settle(false); // the browser gave up on it
        else setLive((old) => ({ ...old, phase: "reconnecting" }));
      };
    }
    open();
    return () => {
      stopped = true;
      source?.close();
      if (timer) clearTimeout(timer);
      if (flushTimer) clearTimeout(flushTimer);
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
