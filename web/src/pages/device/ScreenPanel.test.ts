import { describe, expect, it } from "vitest";

import { keyEvent } from "./ScreenPanel";

describe("keyEvent", () => {
  it("sends printable keys as text and named keys by their X name", () => {
    expect(keyEvent("9")).toEqual({ type: "text", text: "9" });
    expect(keyEvent("Enter")).toEqual({ type: "key", key: "Return" });
    expect(keyEvent("Backspace")).toEqual({ type: "key", key: "BackSpace" });
    expect(keyEvent("F5")).toEqual({ type: "key", key: "F5" });
  });

  it("does not send modifiers alone", () => {
    expect(keyEvent("Shift")).toBeNull();
    expect(keyEvent("Control")).toBeNull();
  });
});
