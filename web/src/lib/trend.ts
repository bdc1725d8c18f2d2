// Hourly buckets for the home page's "failed jobs" chart.
import type { JobSummary } from "../api/models";

const HOUR_S = 3600;

/** Failed jobs per hour over the 24 hours up to `now` (ms), oldest first, empty hours as 0. */
export function failedPerHour(jobs: Pick<JobSummary, "status" | "created_at">[], now: number): { at: number; value: number }[] {
  const end = Math.floor(now / 1000 / HOUR_S) * HOUR_S;
  const buckets = new Map<number, number>();
  for (let at = end - 23 * HOUR_S; at <= end; at += HOUR_S) buckets.set(at, 0);
  for (const job of jobs) {
    if (job.status !== "failed") continue;
    const at = Math.floor(Date.parse(job.created_at) / 1000 / HOUR_S) * HOUR_S;
    const count = buckets.get(at);
    if (count !== undefined) buckets.set(at, count + 1);
  }
  return [...buckets].map(([at, value]) => ({ at, value }));
}
