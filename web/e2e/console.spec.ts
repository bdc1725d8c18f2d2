// The console in headless Chromium against a real server and a real agent process.
import { api, startAgent, stopGroup, waitFor, writeState } from "./borealis";
import { checkAccessibility, expect, logIn, screenshot, test } from "./fixtures";

test.describe.configure({ mode: "serial" });

interface Agent {
  id: string;
  hostname: string;
  status: string;
}

async function theAgent(state: Parameters<typeof api>[0]): Promise<Agent> {
  const fleet = await api<{ items: Agent[] }>(state, "/api/v1/agents");
  const agent = fleet.items[0];
  if (!agent) throw new Error("no agent enrolled");
  return agent;
}

test("a wrong password shows an error", async ({ page, guard }) => {
  guard.allow(401, /\/api\/v1\/auth\/login$/);
  await page.goto("/login");
  await checkAccessibility(page, "the login page");
  await screenshot(page, "login");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByText("Enter your username")).toBeVisible(); // checked before sending
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password", { exact: true }).fill("not the password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toContainText("wrong username or password");
  await expect(page).toHaveURL(/\/login/);
});

test("the fleet shows the agent live: offline within 3 s of stopping it, online again after", async ({ page, state }) => {
  const agent = await theAgent(state);
  await logIn(page, state.admin.username, state.admin.password);
  await expect(page.getByTestId("figure-Online")).toHaveText("1");
  await checkAccessibility(page, "the home page");
  await screenshot(page, "home");

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Fleet" }).click();
  const row = page.locator(`tr[data-agent-id="${agent.id}"]`);
  await expect(row).toHaveAttribute("data-status", "online");
  await expect(row.getByRole("link", { name: agent.hostname })).toBeVisible();
  await expect(page.getByTestId("stream-state")).toHaveAttribute("data-state", "live");
  await checkAccessibility(page, "the fleet page");
  await screenshot(page, "fleet");

  const stoppedAt = Date.now();
  await stopGroup(state.agentPid);
  await expect(row).toHaveAttribute("data-status", "offline", { timeout: 3000 - (Date.now() - stoppedAt) });
  const tookMs = Date.now() - stoppedAt;
  test.info().annotations.push({ type: "offline after stop", description: `${tookMs} ms` });

  state.agentPid = startAgent(state);
  writeState(state);
  await expect(row).toHaveAttribute("data-status", "online", { timeout: 30_000 });

  // Filters: text and status narrow the table without a request.
  await page.getByLabel("Search").fill("no-such-host");
  await expect(page.getByText("No agent matches.")).toBeVisible();
  await page.getByLabel("Search").fill(agent.hostname.slice(0, 3));
  await expect(row).toBeVisible();
});

test("the device's software count equals the API's and a search finds bash", async ({ page, state }) => {
  const agent = await theAgent(state);
  await api(state, `/api/v1/agents/${agent.id}/inventory/refresh`, {
    method: "POST",
    body: JSON.stringify({ sections: ["software", "system", "cpu", "memory", "disks", "network", "users"], wait_s: 60 }),
  });
  const software = await waitFor("software inventory", async () => {
    const section = await api<{ data: unknown[] | null }>(state, `/api/v1/agents/${agent.id}/inventory/software`);
    return section.data && section.data.length > 0 ? section.data : null;
  });

  await logIn(page, state.admin.username, state.admin.password);
  await page.goto(`/devices/${agent.id}`);
  await expect(page.getByRole("heading", { name: agent.hostname })).toBeVisible();
  await expect(page.getByText("Disks")).toBeVisible();
  await expect(page.getByRole("link", { name: "Run a script" }).last()).toBeVisible();
  await checkAccessibility(page, "the device page");
  await screenshot(page, "device");

  await page.getByRole("tab", { name: "Software" }).click();
  await expect(page.getByTestId("software-count")).toHaveAttribute("data-count", String(software.length));
  await page.getByLabel("Search packages").fill("bash");
  await expect(page.getByRole("cell", { name: "bash", exact: true })).toBeVisible();
  await checkAccessibility(page, "the device's software tab");
  await screenshot(page, "device-software");
});

test("a viewer has no way to run anything and its direct API calls get 403", async ({ page, state }) => {
  const agent = await theAgent(state);
  await logIn(page, state.viewer.username, state.viewer.password);
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav.getByRole("link", { name: "Fleet" })).toBeVisible();
  await expect(nav.getByRole("link", { name: "Run a script" })).toHaveCount(0);
  await page.goto(`/devices/${agent.id}`);
  await expect(page.getByRole("heading", { name: agent.hostname })).toBeVisible();
  await expect(page.getByRole("button", { name: "Run a script" })).toHaveCount(0);
  await expect(page.getByRole("link", { name: "Run a script" })).toHaveCount(0);

  const csrf = await page.evaluate(() => localStorage.getItem("borealis.csrf") ?? "");
  const headers = { "X-CSRF-Token": csrf };
  const job = await page.request.post("/api/v1/jobs", {
    headers,
    data: { role: "script", params: { language: "sh", script: "id" }, target: { agents: [agent.id] } },
  });
  expect(job.status()).toBe(403);
  const tags = await page.request.patch(`/api/v1/agents/${agent.id}`, { headers, data: { tags: ["x"] } });
  expect(tags.status()).toBe(403);
  const readable = await page.request.get(`/api/v1/agents/${agent.id}`);
  expect(readable.status()).toBe(200); // the cookie works; the role is what refuses
});

test("a session that ends sends the user back to login", async ({ page, state, guard }) => {
  guard.allow(401, /\/api\/v1\//);
  const agent = await theAgent(state);
  await logIn(page, state.admin.username, state.admin.password);
  await page.goto("/fleet");
  await expect(page.locator(`tr[data-agent-id="${agent.id}"]`)).toBeVisible();
  const csrf = await page.evaluate(() => localStorage.getItem("borealis.csrf") ?? "");
  expect((await page.request.post("/api/v1/auth/logout", { headers: { "X-CSRF-Token": csrf } })).status()).toBe(204);
  await page.getByRole("link", { name: agent.hostname }).click();
  await expect(page).toHaveURL(/\/login\?next=%2Fdevices%2F/);
  await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible();
});

test("keyboard only: sign in, reach the fleet, open a device; the dark theme passes axe too", async ({ page, state }) => {
  const agent = await theAgent(state);
  await page.goto("/login");
  await expect(page.getByLabel("Username")).toBeFocused();
  await page.keyboard.type(state.admin.username);
  await page.keyboard.press("Tab");
  await page.keyboard.type(state.admin.password);
  await page.keyboard.press("Enter");
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav).toBeVisible();
  await nav.getByRole("link", { name: "Fleet" }).focus();
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/fleet$/);
  const link = page.getByRole("link", { name: agent.hostname });
  await link.focus();
  await expect(link).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { name: agent.hostname })).toBeVisible();

  await page.getByRole("button", { name: "Switch to dark theme" }).click();
  await expect(page.locator("html")).toHaveAttribute("data-mantine-color-scheme", "dark");
  await page.goto("/fleet");
  await expect(page.locator(`tr[data-agent-id="${agent.id}"]`)).toBeVisible();
  await checkAccessibility(page, "the fleet page, dark");
  await screenshot(page, "fleet-dark");
  await page.getByRole("button", { name: "Switch to light theme" }).click();
});

test("unknown pages and a deleted agent say so", async ({ page, state, guard }) => {
  guard.allow(404, /\/api\/v1\/agents\/0+$/);
  await logIn(page, state.admin.username, state.admin.password);
  await page.goto("/no/such/page");
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
  await checkAccessibility(page, "the not-found page");
  await page.goto(`/devices/${"0".repeat(32)}`);
  await expect(page.getByRole("heading", { name: "Agent not found" })).toBeVisible();
  await expect(page.getByText("it was deleted, or never existed")).toBeVisible();
});
