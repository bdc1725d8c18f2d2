import { describe, expect, it } from "vitest";

import { diffLines } from "./diff";

describe("diffLines", () => {
  it("marks added and removed lines between equal ones", () => {
    const diff = diffLines("a\nb\nc\nd", "a\nc\nx\nd");
    expect(diff).toEqual([
      { kind: "same", text: "a" },
      { kind: "removed", text: "b" },
      { kind: "same", text: "c" },
      { kind: "added", text: "x" },
      { kind: "same", text: "d" },
    ]);
  });

  it("gives back the lines of either side", () => {
    const before = "echo 1\necho 2\nexit 0";
    const after = "#!/bin/sh\necho 2\necho 3\nexit 1";
    const diff = diffLines(before, after) ?? [];
    expect(diff.filter((l) => l.kind !== "added").map((l) => l.text).join("\n")).toBe(before);
    expect(diff.filter((l) => l.kind !== "removed").map((l) => l.text).join("\n")).toBe(after);
  });

  it("is all same for equal texts and refuses huge inputs", () => {
    expect(diffLines("x\ny", "x\ny")?.every((l) => l.kind === "same")).toBe(true);
    const big = Array.from({ length: 3000 }, (_, i) => `a${i}`).join("\n");
    const other = Array.from({ length: 3000 }, (_, i) => `b${i}`).join("\n");
    expect(diffLines(big, other)).toBeNull();
  });
});
