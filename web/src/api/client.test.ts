import { describe, expect, it } from "vitest";

import { apiErrorFrom } from "./client";

describe("apiErrorFrom", () => {
  it("turns problem+json into words and field errors", () => {
    const error = apiErrorFrom(422, {
      title: "Invalid request",
      detail: "tags: too many",
      errors: [{ field: "tags", message: "too many" }, { bad: 1 }],
    });
    expect(error.message).toBe("tags: too many");
    expect(error.status).toBe(422);
    expect(error.fields).toEqual([{ field: "tags", message: "too many" }]);
  });

  it("keeps a plain body", () => {
    expect(apiErrorFrom(502, "bad gateway").message).toBe("bad gateway");
    expect(apiErrorFrom(500, undefined).message).toBe("HTTP 500");
  });
});
