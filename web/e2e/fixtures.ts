// The page fixture every console test uses: it records console errors and failed requests on every
// page (a test fails if any happened that it did not expect), and offers an axe-core check and login.
import AxeBuilder from "@axe-core/playwright";
import { test as base, expect, type Page } from "@playwright/test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

import { ROOT, readState, type E2EState } from "./borealis";

export interface Guard {
  problems: string[];
  /** Responses with these statuses on URLs matching the pattern are part of the test, not a fault. */
  allow(status: number, url: RegExp): void;
}

export const test = base.extend<{ guard: Guard; state: E2EState }>({
  state: async ({}, use) => {
    await use(readState());
  },
  guard: [
    async ({ page }, use) => {
      const allowed: { status: number; url: RegExp }[] = [{ status: 401, url: /\/api\/v1\/auth\/me$/ }];
      const guard: Guard = { problems: [], allow: (status, url) => allowed.push({ status, url }) };
      page.on("console", (message) => {
        // A failed load is reported below with its URL and status, and judged there.
        if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) {
          guard.problems.push(`console error: ${message.text()}`);
        }
      });
      page.on("pageerror", (error) => guard.problems.push(`page error: ${error.message}`));
      page.on("requestfailed", (request) => {
        const reason = request.failure()?.errorText ?? "";
        if (reason.includes("ERR_ABORTED")) return; // navigation away, or a stream closed on purpose
        guard.problems.push(`request failed: ${request.method()} ${request.url()} ${reason}`);
      });
      page.on("response", (response) => {
        const status = response.status();
        if (status < 400) return;
        if (allowed.some((a) => a.status === status && a.url.test(response.url()))) return;
        guard.problems.push(`HTTP ${status}: ${response.request().method()} ${response.url()}`);
      });
      await use(guard);
      expect(guard.problems, "console errors or failed requests").toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };

export async function logIn(page: Page, username: string, password: string): Promise<void> {
  await page.goto("/login");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("navigation", { name: "Main" })).toBeVisible();
}

/** axe-core on the page as it is: no serious or critical violation. */
export async function checkAccessibility(page: Page, what: string): Promise<void> {
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => `${n.target.join(" ")}: ${n.failureSummary ?? ""}`).slice(0, 3).join("; ")}`);
  expect(bad, `accessibility of ${what}`).toEqual([]);
}

export async function screenshot(page: Page, name: string): Promise<void> {
  const folder = join(ROOT, "docs", "screenshots");
  mkdirSync(folder, { recursive: true });
  await page.screenshot({ path: join(folder, `${name}.png`) });
}
