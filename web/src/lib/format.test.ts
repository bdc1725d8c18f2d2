import { describe, expect, it } from "vitest";

import { formatAgo, formatBytes, formatUptime } from "./format";

describe("format", () => {
  it("formats bytes with binary units", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(5 * 1024 ** 3)).toBe("5.0 GiB");
    expect(formatBytes(null)).toBe("—");
  });

  it("says how long ago", () => {
    const now = Date.parse("2026-01-01T12:00:00Z");
    expect(formatAgo("2026-01-01T11:59:58Z", now)).toBe("just now");
    expect(formatAgo("2026-01-01T11:58:00Z", now)).toBe("2 min ago");
    expect(formatAgo("2025-12-30T12:00:00Z", now)).toBe("2 d ago");
    expect(formatAgo(null, now)).toBe("never");
  });

  it("formats uptime", () => {
    const now = Date.parse("2026-01-02T14:30:00Z");
    expect(formatUptime("2026-01-01T12:00:00Z", now)).toBe("1 d 2 h");
  });
});
