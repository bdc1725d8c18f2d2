// Run a script from the console on the real agent and watch it live; the jobs list; a viewer sees no run button.
import { api, type E2EState } from "./borealis";
import { checkAccessibility, expect, logIn, screenshot, test } from "./fixtures";

async function firstAgent(state: E2EState): Promise<{ id: string; hostname: string }> {
  const fleet = await api<{ items: { id: string; hostname: string; status: string }[] }>(state, "/api/v1/agents");
  const agent = fleet.items.find((a) => a.status === "online");
  if (!agent) throw new Error("no agent");
  return agent;
}

test("a script's output streams before it ends, and the row ends failed with its exit code", async ({ page, state }) => {
  const agent = await firstAgent(state);
  await logIn(page, state.admin.username, state.admin.password);
  await page.goto(`/run?agents=${agent.id}`);
  await expect(page.getByRole("heading", { name: "Run a script" })).toBeVisible();
  const editor = page.getByRole("textbox", { name: "Script" });
  await editor.click();
  await page.keyboard.type("echo hi; sleep 2; echo done; exit 3");
  await checkAccessibility(page, "the run page");
  await screenshot(page, "run");

  await page.getByRole("button", { name: "Run", exact: true }).click();
  await expect(page).toHaveURL(/\/jobs\/[0-9a-f-]+$/);
  const row = page.getByTestId("job-row").filter({ hasText: agent.hostname });
  await expect(row.getByTestId("stdout")).toContainText("hi", { timeout: 15_000 });
  // "hi" is there while the script still sleeps: the row is not final and "done" has not come.
  expect(await row.getAttribute("data-status")).toBe("running");
  await expect(row.getByTestId("stdout")).not.toContainText("done");

  await expect(row).toHaveAttribute("data-status", "failed", { timeout: 20_000 });
  await expect(row.getByTestId("exit-code")).toHaveText("exit code 3");
  await expect(row.getByTestId("stdout")).toContainText("done");
  await expect(page.getByTestId("job-stream")).toHaveAttribute("data-phase", "ended");
  await expect(page.getByTestId("job-progress")).toContainText("1 of 1 finished");
  await checkAccessibility(page, "the job page");
  await screenshot(page, "job");

  await page.getByRole("link", { name: "Jobs", exact: true }).click();
  await expect(page.getByTestId("job-item").first()).toContainText("echo hi");
  await expect(page.getByTestId("job-item").first()).toContainText("failed");
  await checkAccessibility(page, "the jobs page");
  await screenshot(page, "jobs");
});

test("the run form checks its fields before sending", async ({ page, state }) => {
  await logIn(page, state.admin.username, state.admin.password);
  await page.goto("/run");
  await page.getByRole("button", { name: "Run", exact: true }).click();
  await expect(page.getByText("Write the script to run")).toBeVisible();
  await expect(page.getByText("Choose at least one agent")).toBeVisible();
  await expect(page).toHaveURL(/\/run$/);
});

test("the fleet hands its selection to the run page", async ({ page, state }) => {
  const agent = await firstAgent(state);
  await logIn(page, state.admin.username, state.admin.password);
  await page.goto("/fleet?status=online");
  await page.getByRole("checkbox", { name: `Select ${agent.hostname}`, exact: true }).first().check();
  await page.getByRole("button", { name: /^Actions \(1\)/ }).click();
  await page.getByRole("menuitem", { name: "Run a script…" }).click();
  await expect(page).toHaveURL(/\/run$/);
  await expect(page.locator(".mantine-Pill-label", { hasText: `${agent.hostname} (online)` })).toHaveCount(1);
});

test("an unknown job says so in words", async ({ page, state, guard }) => {
  guard.allow(404, /\/api\/v1\/jobs\/0{32}(\/events)?$/);
  await logIn(page, state.admin.username, state.admin.password);
  await page.goto(`/jobs/${"0".repeat(32)}`);
  await expect(page.getByRole("alert").filter({ hasText: "This job cannot be shown" })).toContainText(/no job/i);
});

test("a viewer sees no run button", async ({ page, state }) => {
  await logIn(page, state.viewer.username, state.viewer.password);
  await page.goto("/run");
  await expect(page.getByText("Your role cannot run scripts")).toBeVisible();
  await expect(page.getByRole("button", { name: "Run", exact: true })).toHaveCount(0);
  await page.goto("/jobs");
  await expect(page.getByRole("heading", { name: "Jobs" })).toBeVisible();
  await expect(page.getByRole("link", { name: "Run a script" })).toHaveCount(0);
});
