// Scripts (versions and diff), schedules (cron helper with the server's preview, enable/disable, the
// slot record) and patching, against the real server; a viewer sees none of their write buttons.
import { checkAccessibility, expect, logIn, screenshot, test } from "./fixtures";

test("a script gets a second version and the diff shows the change", async ({ page, state, guard }) => {
  guard.allow(409, /\/api\/v1\/scripts$/); // the duplicate name below, refused on purpose
  await logIn(page, state.admin.username, state.admin.password);
  await page.goto("/scripts");
  await page.getByRole("button", { name: "New script" }).click();
  await page.getByRole("button", { name: "Create script" }).click();
  await expect(page.getByText("Give the script a name")).toBeVisible();
  await expect(page.getByText("Write the script", { exact: true })).toBeVisible();

  await page.getByLabel("Name").fill("e2e disk report");
  await page.getByRole("textbox", { name: "Script body" }).click();
  await page.keyboard.type("df -h /\necho first");
  await page.getByRole("button", { name: "Create script" }).click();
  await expect(page.getByText("e2e disk report, version 1")).toBeVisible();

  // A second script of the same name is refused by the server, and the page says so in words.
  await page.getByRole("button", { name: "New script" }).click();
  await page.getByLabel("Name").fill("e2e disk report");
  await page.getByRole("textbox", { name: "Script body" }).click();
  await page.keyboard.type("true");
  await page.getByRole("button", { name: "Create script" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "The script was not created" })).toBeVisible();

  await page.getByRole("button", { name: "e2e disk report" }).click();
  const body = page.getByRole("textbox", { name: "Script body" });
  await body.click();
  await page.keyboard.press("End");
  await page.keyboard.press("Control+End");
  await page.keyboard.type("\necho second");
  await page.getByRole("button", { name: "Save as version 2" }).click();
  await expect(page.getByText("e2e disk report, version 2")).toBeVisible();
  await expect(page.getByTestId("diff-summary")).toHaveText("1 line added, 0 removed");
  await expect(page.getByTestId("script-diff").locator("[data-kind='added']")).toHaveText(/echo second/);
  await checkAccessibility(page, "the scripts page");
  await screenshot(page, "scripts");

  // Run it from the library on the agent: the job runs version 2.
  await page.getByRole("link", { name: "Run this script" }).click();
  await expect(page.getByRole("textbox", { name: "Library script (read-only)" })).toContainText("echo second");
  await page.getByRole("textbox", { name: "Agents" }).click();
  await page.getByRole("option", { name: /\(online\)/ }).first().click();
  await page.keyboard.press("Escape");
  await page.getByRole("button", { name: "Run", exact: true }).click();
  await expect(page).toHaveURL(/\/jobs\/[0-9a-f-]+$/);
  await expect(page.getByText("Library script, version 2")).toBeVisible();
  await expect(page.getByTestId("job-row").first()).toHaveAttribute("data-status", "succeeded", { timeout: 20_000 });
  await expect(page.getByTestId("job-row").first().getByTestId("stdout")).toContainText("first\nsecond");
});

test("a schedule shows its next fire times while it is written, then its record", async ({ page, state, guard }) => {
  guard.allow(400, /\/api\/v1\/schedules\/preview$/); // a cron expression being typed is not valid yet
  await logIn(page, state.admin.username, state.admin.password);
  await page.goto("/schedules");
  await page.getByRole("button", { name: "New schedule" }).click();
  await page.getByLabel("Name").fill("e2e nightly");
  await page.getByLabel("Time zone").fill("Europe/Berlin");
  const preview = page.getByTestId("schedule-preview");
  await page.getByLabel("Cron expression").fill("61 * * * *");
  await expect(preview.getByRole("alert")).toBeVisible();
  // The server's reason is also beside the field it names.
  await expect(page.getByLabel("Cron expression")).toHaveAttribute("aria-invalid", "true");
  await page.getByText("Daily at 03:00").click();
  await expect(page.getByLabel("Cron expression")).toHaveValue("0 3 * * *");
  await expect(preview.getByRole("listitem")).toHaveCount(5);
  await expect(preview.getByRole("listitem").first()).toContainText(/03:00:00\+0[12]:00/);

  await page.getByRole("textbox", { name: "Scheduled script" }).click();
  await page.keyboard.type("uptime");
  await page.locator("label", { hasText: "All agents" }).click();
  await checkAccessibility(page, "the schedule form");
  await page.getByRole("button", { name: "Create schedule" }).click();

  const row = page.getByTestId("schedule-row").filter({ hasText: "e2e nightly" });
  await expect(row).toHaveAttribute("data-status", "active");
  await expect(page.getByTestId("saved-preview").getByRole("listitem")).toHaveCount(5);
  await expect(page.getByText("No slot has come yet.")).toBeVisible();
  await checkAccessibility(page, "the schedules page");
  await screenshot(page, "schedules");
  await row.getByRole("button", { name: "Disable e2e nightly" }).click();
  await expect(row).toHaveAttribute("data-status", "disabled");
  await row.getByRole("button", { name: "Enable e2e nightly" }).click();
  await expect(row).toHaveAttribute("data-status", "active");
});

test("patching lists the fleet's pending updates, security first", async ({ page, state }) => {
  await logIn(page, state.admin.username, state.admin.password);
  await page.goto("/patching");
  await expect(page.getByTestId("patching-count")).toBeVisible();
  const rows = page.getByTestId("patching-row");
  if ((await rows.count()) > 0) {
    await rows.first().getByRole("button", { name: "Packages" }).click();
    await expect(page.getByLabel("Search packages")).toBeVisible();
  }
  await expect(page.getByRole("button", { name: /^Install updates on 0 machines/ })).toBeDisabled();
  await checkAccessibility(page, "the patching page");
});

test("a viewer reads scripts, schedules and patching but sees no button that changes them", async ({ page, state }) => {
  await logIn(page, state.viewer.username, state.viewer.password);
  await page.goto("/scripts");
  await expect(page.getByRole("heading", { name: "Scripts" })).toBeVisible();
  await expect(page.getByRole("button", { name: "New script" })).toHaveCount(0);
  await page.goto("/schedules");
  await expect(page.getByRole("heading", { name: "Schedules" })).toBeVisible();
  await expect(page.getByRole("button", { name: "New schedule" })).toHaveCount(0);
  await page.goto("/patching");
  await expect(page.getByRole("heading", { name: "Patching" })).toBeVisible();
  await expect(page.getByRole("button", { name: /^Install updates/ })).toHaveCount(0);
  await page.goto("/settings");
  await expect(page.getByRole("tab", { name: "Install codes" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Create install code" })).toHaveCount(0);
  await expect(page.getByRole("tab", { name: "Users and roles" })).toHaveCount(0);
});
