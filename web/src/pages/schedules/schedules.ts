// Schedules as the console reads them, and the timing preview of a schedule not saved yet.
import { api, unwrap } from "../../api/client";

export interface Schedule {
  id: string;
  name: string;
  status: "active" | "disabled" | "ended";
  enabled: boolean;
  cron: string | null;
  interval_s: number | null;
  timezone: string;
  start_at: string | null;
  end_at: string | null;
  max_runs: number | null;
  misfire: "skip" | "run_once";
  grace_s: number;
  overlap: "allow" | "skip" | "queue";
  action: { type: "job"; job: JobAction } | { type: "workflow"; workflow_id: string; input: unknown };
  next_run_at: string | null;
  run_count: number;
  ended_reason: string | null;
  last_job_id: string | null;
  last_workflow_run_id: string | null;
  owner: string;
  version: number;
  updated_at?: string;
}

export interface JobAction {
  role: string;
  params: { language?: string; script?: string; script_id?: string; [key: string]: unknown };
  target: { agents?: string[]; tags?: string[]; all?: boolean };
  timeout_s?: number;
  run_as?: string;
}

export interface SlotRecord {
  id: number;
  slot_at: string;
  slots: number;
  outcome: string;
  fired_at: string | null;
  lateness_s: number | null;
  job_id: string | null;
  workflow_run_id: string | null;
  reason: string | null;
}

export interface Slot {
  at: string;
  local: string;
}

export interface TimingDraft {
  cron?: string;
  interval_s?: number;
  timezone: string;
}

export async function previewTiming(draft: TimingDraft, signal?: AbortSignal): Promise<Slot[]> {
  const result = await api.POST("/api/v1/schedules/preview", { body: { ...draft, count: 5 }, signal });
  return (unwrap(result) as unknown as { items: Slot[] }).items;
}

export function timingText(s: Pick<Schedule, "cron" | "interval_s" | "timezone">): string {
  if (s.cron) return `${s.cron} (${s.timezone})`;
  return s.interval_s ? `every ${s.interval_s} s` : "—";
}

export const PRESETS = [
  { label: "Every 5 minutes", cron: "*/5 * * * *" },
  { label: "Hourly", cron: "0 * * * *" },
  { label: "Daily at 03:00", cron: "0 3 * * *" },
  { label: "Weekdays at 08:30", cron: "30 8 * * MON-FRI" },
  { label: "Sundays at 02:00", cron: "0 2 * * SUN" },
];
