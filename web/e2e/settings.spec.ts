// Settings against the real server: an install code enrolls a real second agent that is approved and
// comes online; an API token's secret is shown once and works; the audit log shows both actions.
import { mkdtempSync } from "node:fs";
import { join } from "node:path";

import { api, borealis, startBorealis, stopGroup, waitFor } from "./borealis";
import { checkAccessibility, expect, logIn, screenshot, test } from "./fixtures";

test("an install code enrolls a second agent, which is approved and comes online", async ({ page, state }) => {
  await logIn(page, state.admin.username, state.admin.password);
  await page.goto("/settings/install-codes");
  await page.getByLabel("Note").fill("e2e second agent");
  await page.getByLabel("Needs approval").check();
  await page.getByRole("button", { name: "Create install code" }).click();
  const code = (await page.getByTestId("install-code").innerText()).trim();
  expect(code).toMatch(/^BRL1-/);
  await expect(page.getByTestId("install-command")).toContainText(`borealis agent install --home /opt/borealis --code ${code}`);
  await expect(page.getByTestId("install-code-row").first()).toContainText("e2e second agent");
  await checkAccessibility(page, "the install codes tab");

  const home = mkdtempSync(join(state.work, "agent2-"));
  borealis(["agent", "enroll", "--home", home, "--code", code]);
  const agent = startBorealis(["agent", "run", "--home", home, "--no-startup-delay"], join(state.work, "agent2.out.log"));
  try {
    await page.getByRole("tab", { name: "Waiting for approval" }).click();
    const row = page.getByTestId("pending-row");
    await expect(row).toHaveCount(1, { timeout: 15_000 });
    await checkAccessibility(page, "the approvals tab");
    await screenshot(page, "settings-approvals");
    const id = (await row.locator("td").nth(1).innerText()).trim();
    await row.getByRole("button", { name: /^Approve/ }).click();
    await expect(page.getByText("No agent is waiting for approval.")).toBeVisible();

    await page.goto(`/devices/${id}`);
    await expect(page.locator("[data-status='online']").first()).toBeVisible({ timeout: 20_000 });
    const seen = await api<{ status: string }>(state, `/api/v1/agents/${id}`);
    expect(seen.status).toBe("online");
  } finally {
    if (agent.pid) await stopGroup(agent.pid);
  }
});

test("an API token's secret is shown once and works; the audit log shows its creation and the code's", async ({ page, state }) => {
  await logIn(page, state.admin.username, state.admin.password);
  await page.goto("/settings/tokens");
  await page.getByLabel("Name").fill("e2e-reader");
  await page.getByRole("textbox", { name: "Scopes" }).click();
  await page.getByRole("option", { name: "agents:read", exact: true }).click();
  await page.keyboard.press("Escape");
  await page.getByRole("button", { name: "Create token" }).click();
  const secret = (await page.getByTestId("token-secret").innerText()).trim();
  expect(secret.length).toBeGreaterThan(20);
  await expect(page.getByTestId("token-row").filter({ hasText: "e2e-reader" })).toContainText("agents:read");
  // Who made it, by name (records keep `user:<id>`; the console asks the server whose it is).
  const made = page.getByTestId("token-row").filter({ hasText: "e2e-reader" }).getByRole("cell").nth(2);
  await expect(made).toContainText(`${state.admin.username},`);
  await expect(made).not.toContainText("user:");
  await checkAccessibility(page, "the tokens tab");
  await screenshot(page, "settings-tokens");

  // The secret works with a direct HTTP call, within its scope and not beyond it.
  const fleet = await fetch(`${state.url}/api/v1/agents`, { headers: { Authorization: `Bearer ${secret}` } });
  expect(fleet.status).toBe(200);
  const users = await fetch(`${state.url}/api/v1/users`, { headers: { Authorization: `Bearer ${secret}` } });
  expect(users.status).toBe(403);

  // Shown once: after a reload the page lists the token but not its secret.
  await page.reload();
  await expect(page.getByTestId("token-row").filter({ hasText: "e2e-reader" })).toBeVisible();
  await expect(page.getByTestId("token-secret")).toHaveCount(0);
  await expect(page.getByText(secret)).toHaveCount(0);

  await page.getByRole("tab", { name: "Audit log" }).click();
  // Actors are ids (user:<id>) shown with their display name.
  const created = page.locator("[data-testid='audit-row'][data-action='token.create']").first();
  await expect(created).toContainText("admin");
  await expect(created).toContainText(/user:[0-9a-f]{32}/);
  await expect(page.locator("[data-testid='audit-row'][data-action='enrollment.create']").first()).toBeVisible();
  await page.getByLabel("Action").fill("token.create");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page.getByTestId("audit-row").first()).toHaveAttribute("data-action", "token.create");
  await expect(page.locator("[data-testid='audit-row']:not([data-action='token.create'])")).toHaveCount(0);
  await checkAccessibility(page, "the audit log");
  await screenshot(page, "settings-audit");
});

test("every settings tab loads without errors and passes axe", async ({ page, state }) => {
  await logIn(page, state.admin.username, state.admin.password);
  for (const tab of ["users", "versions", "roles"]) {
    await page.goto(`/settings/${tab}`);
    await expect(page.getByRole("tab", { selected: true })).toBeVisible();
    await expect(page.getByLabel("Loading")).toHaveCount(0);
    await checkAccessibility(page, `the ${tab} tab`);
  }
  await waitFor("nothing", async () => true);
});
