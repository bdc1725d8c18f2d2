import { describe, expect, it } from "vitest";

import { failedPerHour } from "./trend";

describe("failedPerHour", () => {
  it("counts failed jobs in the hour they were created, over the last 24 hours", () => {
    const now = Date.parse("2026-01-02T12:30:00Z");
    const points = failedPerHour(
      [
        { status: "failed", created_at: "2026-01-02T12:05:00Z" },
        { status: "failed", created_at: "2026-01-02T12:59:00Z" },
        { status: "succeeded", created_at: "2026-01-02T12:10:00Z" },
        { status: "failed", created_at: "2026-01-02T09:00:00Z" },
        { status: "failed", created_at: "2026-01-01T11:00:00Z" }, // older than a day: not shown
      ],
      now,
    );
    expect(points).toHaveLength(24);
    expect(points.at(-1)).toEqual({ at: Date.parse("2026-01-02T12:00:00Z") / 1000, value: 2 });
    expect(points.find((p) => p.at === Date.parse("2026-01-02T09:00:00Z") / 1000)?.value).toBe(1);
    expect(points.reduce((sum, p) => sum + p.value, 0)).toBe(3);
  });
});
