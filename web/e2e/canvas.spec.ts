// The workflow canvas against a real server and real agents: build a workflow with the mouse and the
// keyboard, save, fire its webhook and watch every node succeed; problems pinned on node and field;
// a conflict between two browsers; undo/redo back to the same document; a template imported and run.
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { api, waitFor, type E2EState } from "./borealis";
import { addByKeyboard, connect, dragIn, field, handle as handleOf, node, removeSecondAgent, select, startSecondAgent, startSink } from "./canvas";
import { checkAccessibility, expect, logIn, screenshot, test } from "./fixtures";
import { agentSees, installedVersion, PROBE, purgeProbe, removeTemplateAgent, securityRepo, startTemplateAgent, TAG } from "./templates";

test.describe.configure({ timeout: 120_000 });
test.use({ actionTimeout: 15_000 });

async function newWorkflow(page: import("@playwright/test").Page, state: E2EState): Promise<string> {
  await logIn(page, state.admin.username, state.admin.password);
  await page.goto("/workflows");
  await page.getByRole("button", { name: "New workflow", exact: true }).click();
  await expect(page).toHaveURL(/\/workflows\/[0-9a-z-]+$/);
  await expect(node(page, "start")).toBeVisible();
  return page.url().split("/").pop() as string;
}

test("build webhook → condition → script on two agents → merge → HTTP request, save, fire it, every node succeeds", async ({ page, state }) => {
  const sink = await startSink();
  const second = await startSecondAgent(state);
  try {
    await newWorkflow(page, state);
    // The manual trigger goes: click it, Delete.
    await select(page, "start");
    await page.keyboard.press("Delete");
    await expect(node(page, "start")).toHaveCount(0);

    // The webhook is dragged in from the palette with the mouse.
    await dragIn(page, "trigger.webhook", 80, 160);
    await expect(node(page, "webhook")).toBeVisible();
    // The rest by the keyboard, each beside the one before.
    await addByKeyboard(page, "condition");
    await field(page, "condition").fill("json.body.deploy == `true`");
    await addByKeyboard(page, "run script");
    await page.getByRole("complementary", { name: "Inspector" }).getByText("Tags", { exact: true }).click();
    await page.getByRole("textbox", { name: "Tags (agents with every tag)" }).click();
    await page.getByRole("option", { name: "e2e", exact: true }).click();
    await page.keyboard.press("Escape");
    await field(page, "script").fill("echo hello from $(hostname)");
    await addByKeyboard(page, "merge");
    await addByKeyboard(page, "http request");
    await page.getByRole("button", { name: "Expression for url" }).click();
    await field(page, "url").fill(`${sink.url}/done/{{ length(items) }}`);
    await expect(page.getByTestId("expression-preview")).toContainText("run the workflow once");
    await field(page, "method").selectOption("POST");
    await page.keyboard.press("Escape");
    await page.getByRole("button", { name: "Fit View" }).click();

    await connect(page, "webhook", "condition");
    await page.screenshot({ path: "/tmp/canvas-debug.png" });
    await connect(page, "condition", "run_script", "true");
    await connect(page, "run_script", "merge", "main", "in1");
    await connect(page, "condition", "merge", "false", "in2");
    await connect(page, "merge", "request");
    await expect(page.locator(".react-flow__edge")).toHaveCount(5);
    // A connection the ports refuse: an output into an output makes no edge.
    await page.locator('.react-flow__handle.source[data-nodeid="request"][data-handleid="main"]').dragTo(
      page.locator('.react-flow__handle.source[data-nodeid="merge"][data-handleid="main"]'),
    );
    await expect(page.locator(".react-flow__edge")).toHaveCount(5);

    await page.keyboard.press("Control+s");
    await expect(page.getByText("Saved version 2")).toBeVisible();
    await node(page, "webhook").click();
    const hook = (await page.getByTestId("hook-url").innerText()).trim();
    expect(hook).toMatch(/\/hooks\/\S+$/);
    await node(page, "run_script").click();
    await checkAccessibility(page, "the workflow editor");
    await page.evaluate(() => window.scrollTo(0, 0));
    await screenshot(page, "workflow-editor");

    const fired = await fetch(hook, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ deploy: true }) });
    expect(fired.status).toBe(202);
    const { run_id: runId } = (await fired.json()) as { run_id: string };
    await page.getByRole("button", { name: "Runs" }).click();
    await page.locator(`a[href$="?run=${runId}"]`).click();
    for (const id of ["webhook", "condition", "run_script", "merge", "request"]) {
      await expect(node(page, id).locator(".wf-node")).toHaveAttribute("data-status", "succeeded", { timeout: 45_000 });
    }
    await expect(page.getByTestId("run-status")).toHaveAttribute("data-status", "succeeded");
    await node(page, "run_script").click();
    await page.getByRole("tab", { name: "In this run" }).click();
    const output = page.getByRole("table", { name: "run_script output" });
    await expect(output.locator("tbody tr")).toHaveCount(2);
    await expect(output).toContainText("hello from");
    await checkAccessibility(page, "a run on the canvas");
    await page.evaluate(() => window.scrollTo(0, 0));
    await screenshot(page, "workflow-run");
    await waitFor("the test server to get the request", async () => sink.received.length >= 1);
    expect(sink.received[0]?.method).toBe("POST");
    expect(sink.received[0]?.url).toBe("/done/2");
  } finally {
    await removeSecondAgent(state, second);
    await sink.close();
  }
});

test("a node configured wrong shows the server's error on that node and field; the save is refused", async ({ page, state, guard }) => {
  guard.allow(400, /\/api\/v1\/workflows\/[0-9a-f]+$/); // the refused save is the point
  const id = await newWorkflow(page, state);
  await select(page, "start");
  await addByKeyboard(page, "condition");
  await field(page, "condition").fill("json.[");
  await page.keyboard.press("Control+s");
  await expect(page.getByRole("alert").filter({ hasText: "the workflow is not valid" })).toBeVisible();
  await expect(node(page, "condition").locator(".wf-node")).toHaveAttribute("data-problems", "1");
  await expect(page.locator('[data-field-error="params.condition"]')).toContainText("not a valid expression");
  const stored = await api<{ version: number }>(state, `/api/v1/workflows/${id}`);
  expect(stored.version).toBe(1);
});

test("two browsers edit the same workflow: the second save shows the conflict", async ({ page, browser, state }) => {
  const id = await newWorkflow(page, state);
  const other = await browser.newContext();
  const second = await other.newPage();
  try {
    await logIn(second, state.admin.username, state.admin.password);
    await second.goto(`/workflows/${id}`);
    await expect(node(second, "start")).toBeVisible();

    await page.getByRole("textbox", { name: "Workflow name" }).fill("first");
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await expect(page.getByText("Saved version 2")).toBeVisible();

    await second.getByRole("textbox", { name: "Workflow name" }).fill("second");
    await second.getByRole("button", { name: "Save", exact: true }).click();
    await expect(second.getByText("Someone saved this workflow meanwhile")).toBeVisible();
    await second.getByRole("button", { name: "Reload" }).click();
    await expect(second.getByRole("textbox", { name: "Workflow name" })).toHaveValue("first");
  } finally {
    await other.close();
  }
});

async function exported(page: import("@playwright/test").Page): Promise<string> {
  const download = page.waitForEvent("download");
  await page.getByRole("button", { name: "Export" }).click();
  const file = await (await download).path();
  return readFileSync(file, "utf8");
}

test("undo and redo restore the graph exactly (the exported JSON)", async ({ page, state }) => {
  await newWorkflow(page, state);
  await select(page, "start");
  await addByKeyboard(page, "set");
  await page.getByRole("button", { name: "Fit View" }).click();
  await connect(page, "start", "set");
  const before = await exported(page);
  await select(page, "set");
  await addByKeyboard(page, "delay");
  await page.getByRole("button", { name: "Fit View" }).click();
  await connect(page, "set", "delay");
  await node(page, "set").dragTo(page.getByTestId("canvas"), { targetPosition: { x: 300, y: 400 } });
  await page.keyboard.press("l");
  const after = await exported(page);
  expect(after).not.toEqual(before);
  await page.locator(".react-flow__pane").click({ position: { x: 5, y: 5 } });
  for (let i = 0; i < 4; i++) await page.keyboard.press("Control+z"); // layout, drag, connect, add
  expect(await exported(page)).toEqual(before);
  for (let i = 0; i < 4; i++) await page.keyboard.press("Control+Shift+z");
  expect(await exported(page)).toEqual(after);
});

test("the list shows the workflow, and a template file imported through the UI runs on the agent", async ({ page, state }) => {
  const sink = await startSink();
  try {
    await logIn(page, state.admin.username, state.admin.password);
    await page.goto("/workflows");
    const chooser = page.waitForEvent("filechooser");
    await page.getByRole("button", { name: "Import a file" }).click();
    await (await chooser).setFiles(join(process.cwd(), "src", "canvas", "templates", "webhook-diagnostic.json"));
    await expect(node(page, "post")).toBeVisible();
    await node(page, "post").click();
    await field(page, "url").fill(`${sink.url}/diagnostics`);
    await page.keyboard.press("Control+s");
    await expect(page.getByText("Saved version 2")).toBeVisible();
    await node(page, "alert").click();
    const hook = (await page.getByTestId("hook-url").innerText()).trim();
    const agents = await api<{ items: { id: string; status: string }[] }>(state, "/api/v1/agents");
    const agent = agents.items.find((a) => a.status === "online");
    const fired = await fetch(hook, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ agent_id: agent?.id, alert: "load high" }) });
    const { run_id: runId } = (await fired.json()) as { run_id: string };
    await page.goto(page.url() + `?run=${runId}`);
    await expect(page.getByTestId("run-status")).toHaveAttribute("data-status", "succeeded", { timeout: 45_000 });
    await waitFor("the diagnostic to be posted back", async () => sink.received.length >= 1);
    const posted = JSON.parse(sink.received[0]?.body ?? "{}") as { alert?: string; status?: string; output?: string };
    expect(posted.alert).toBe("load high");
    expect(posted.status).toBe("succeeded");
    expect(posted.output).toContain("load average");

    await page.goto("/workflows");
    await expect(page.getByRole("table", { name: "Workflows" })).toContainText("Monitoring alert");
    await checkAccessibility(page, "the workflows list");
    await screenshot(page, "workflows");
  } finally {
    await sink.close();
  }
});

test("a failing HTTP node retries as configured, then follows its error port, on the canvas", async ({ page, state }) => {
  const sink = await startSink(503);
  try {
    const made = await api<{ id: string }>(state, "/api/v1/workflows", {
      method: "POST",
      body: JSON.stringify({
        name: "retries",
        description: "",
        document: {
          nodes: [
            { id: "start", type: "trigger.manual", params: {}, ui: { x: 0, y: 0 } },
            { id: "call", type: "http.request", params: { url: `${sink.url}/flaky` }, settings: { retries: 2, retry_backoff_s: 0.1, on_error: "error_port" }, ui: { x: 260, y: 0 } },
            { id: "fallback", type: "data.set", params: { values: { handled: true } }, ui: { x: 520, y: 80 } },
          ],
          edges: [
            { id: "e1", source: "start", target: "call" },
            { id: "e2", source: "call", source_port: "error", target: "fallback" },
          ],
        },
      }),
    });
    await logIn(page, state.admin.username, state.admin.password);
    await page.goto(`/workflows/${made.id}`);
    await expect(handleOf(page, "call", "source", "error")).toBeVisible();
    await page.getByRole("button", { name: "Run", exact: true }).click();
    await page.getByRole("button", { name: "Start", exact: true }).click();
    await expect(page.getByTestId("run-status")).toHaveAttribute("data-status", "succeeded", { timeout: 30_000 });
    await expect(node(page, "fallback").locator(".wf-node")).toHaveAttribute("data-status", "succeeded");
    await expect(page.getByTestId("status-call")).toContainText("×3");
    expect(sink.received.length).toBe(3);
    await node(page, "call").click();
    await page.getByRole("tab", { name: "In this run" }).click();
    await expect(page.getByTestId("node-run").getByText(/^attempt \d$/)).toHaveCount(3);

    // Run history: the run is listed; re-run starts a new run with the same input, shown on the canvas.
    const first = new URL(page.url()).searchParams.get("run");
    await page.getByRole("button", { name: "Runs" }).click();
    await expect(page.getByRole("table", { name: "Runs" }).locator("tbody tr")).toHaveCount(1);
    await page.getByRole("button", { name: "Re-run" }).click();
    await expect(page).toHaveURL(/\?run=/);
    expect(new URL(page.url()).searchParams.get("run")).not.toBe(first);
    await expect(page.getByTestId("run-status")).toHaveAttribute("data-status", "succeeded", { timeout: 30_000 });
    expect(sink.received.length).toBe(6);
  } finally {
    await sink.close();
  }
});

test("a schedule trigger shows the schedules that start the workflow and their next time", async ({ page, state }) => {
  const made = await api<{ id: string }>(state, "/api/v1/workflows", {
    method: "POST",
    body: JSON.stringify({
      name: "scheduled",
      description: "",
      document: { nodes: [{ id: "timer", type: "trigger.schedule", params: {}, ui: { x: 0, y: 0 } }], edges: [] },
    }),
  });
  await api(state, "/api/v1/schedules", {
    method: "POST",
    body: JSON.stringify({ name: "hourly check", interval_s: 3600, action: { type: "workflow", workflow_id: made.id } }),
  });
  await logIn(page, state.admin.username, state.admin.password);
  await page.goto(`/workflows/${made.id}`);
  await select(page, "timer");
  await expect(page.getByTestId("schedule-times")).toContainText(/hourly check: next /);
});

test("run one node alone: on pinned data, on its input in the last run, and an agent node after confirming", async ({ page, state, guard }) => {
  guard.allow(409, /\/nodes\/greet\/trial$/); // the server asks before an agent node runs
  const agents = await api<{ items: { id: string; status: string; hostname: string }[] }>(state, "/api/v1/agents");
  const agent = agents.items.find((a) => a.status === "online");
  if (!agent) throw new Error("no online agent");
  const made = await api<{ id: string }>(state, "/api/v1/workflows", {
    method: "POST",
    body: JSON.stringify({
      name: "trial",
      description: "",
      document: {
        nodes: [
          { id: "start", type: "trigger.manual", params: {}, ui: { x: 0, y: 0 } },
          { id: "label", type: "data.set", params: { values: { label: "n={{ json.n }}" } }, ui: { x: 260, y: 0 } },
          {
            id: "greet",
            type: "agents.run_script",
            params: { target: { agents: [agent.id] }, language: "bash", script: 'echo "tried $LABEL"', env: { LABEL: "{{ json.label }}" }, timeout_s: 30 },
            ui: { x: 520, y: 0 },
          },
        ],
        edges: [
          { id: "e1", source: "start", target: "label" },
          { id: "e2", source: "label", target: "greet" },
        ],
      },
    }),
  });
  await logIn(page, state.admin.username, state.admin.password);
  await page.goto(`/workflows/${made.id}`);
  const inspector = page.getByRole("complementary", { name: "Inspector" });

  // No run yet: pinned data.
  await select(page, "label");
  await expect(inspector.getByTestId("node-trial")).toBeVisible();
  await inspector.getByLabel("Pinned input (JSON: an object, or a list of items)").fill('{"n": 41}');
  await inspector.getByRole("button", { name: "Run this node" }).click();
  await expect(inspector.getByTestId("trial-result")).toHaveAttribute("data-status", "succeeded");
  await expect(inspector.getByTestId("trial-result")).toContainText("n=41");

  // After a run: the node's input in it, by default.
  await page.getByRole("button", { name: "Run", exact: true }).click();
  await page.getByLabel("Input (JSON: an object, or a list of items)", { exact: true }).fill('{"n": 5}');
  await page.getByRole("button", { name: "Start", exact: true }).click();
  await expect(page.getByTestId("run-status")).toHaveAttribute("data-status", "succeeded", { timeout: 45_000 });
  await select(page, "label");
  await page.getByRole("tab", { name: "Node" }).click();
  await inspector.getByRole("button", { name: "Run this node" }).click();
  await expect(inspector.getByTestId("trial-result")).toContainText("n=5");

  // An agent node names its agents and runs only when confirmed.
  await select(page, "greet");
  await page.getByRole("tab", { name: "Node" }).click();
  await inspector.getByRole("button", { name: "Run this node" }).click();
  const confirm = inspector.getByTestId("trial-confirm");
  await expect(confirm).toContainText("Run on 1 agent?");
  await expect(confirm).toContainText(agent.hostname);
  await checkAccessibility(page, "the node trial's confirmation");
  await confirm.getByRole("button", { name: "Run on 1 agent" }).click();
  await expect(inspector.getByTestId("trial-result")).toHaveAttribute("data-status", "succeeded", { timeout: 45_000 });
  await expect(inspector.getByTestId("trial-result")).toContainText("tried n=5");
  await inspector.getByTestId("trial-result").scrollIntoViewIfNeeded();
  await checkAccessibility(page, "the node trial's result");
  await screenshot(page, "workflow-node-trial");
});

/** Imports a template through "Import a file", points its first agent node at the template agent's
 *  tag and its notification at the sink, saves, runs it and waits for the run to succeed. */
async function importAndRun(page: import("@playwright/test").Page, state: E2EState, file: string, agentNode: string, notifyNode: string, notifyUrl: string): Promise<void> {
  await logIn(page, state.admin.username, state.admin.password);
  await page.goto("/workflows");
  const chooser = page.waitForEvent("filechooser");
  await page.getByRole("button", { name: "Import a file" }).click();
  await (await chooser).setFiles(join(process.cwd(), "src", "canvas", "templates", file));
  await expect(node(page, agentNode)).toBeVisible();
  await select(page, agentNode);
  const inspector = page.getByRole("complementary", { name: "Inspector" });
  await inspector.getByText("Tags", { exact: true }).click();
  await page.getByRole("textbox", { name: "Tags (agents with every tag)" }).click();
  await page.getByRole("option", { name: TAG, exact: true }).click();
  await page.keyboard.press("Escape");
  await select(page, notifyNode);
  await field(page, "url").fill(notifyUrl);
  await page.keyboard.press("Escape");
  await page.keyboard.press("Control+s");
  await expect(page.getByText("Saved version 2")).toBeVisible();
  await page.getByRole("button", { name: "Run", exact: true }).click();
  await page.getByRole("button", { name: "Start", exact: true }).click();
  await expect(page.getByTestId("run-status")).toHaveAttribute("data-status", "succeeded", { timeout: 90_000 });
}

test("the disk template, imported through the UI, cleans old temp files where a disk is over 90 % and notifies", async ({ page, state }) => {
  const sink = await startSink();
  const agent = await startTemplateAgent(state, []);
  try {
    await importAndRun(page, state, "disk-cleanup.json", "disks", "notify", `${sink.url}/chat`);
    for (const id of ["start", "disks", "full", "clean", "notify"]) {
      await expect(node(page, id).locator(".wf-node")).toHaveAttribute("data-status", "succeeded");
    }
    await waitFor("the message to the chat hook", async () => sink.received.length >= 1);
    expect(sink.received).toHaveLength(1);
    const message = JSON.parse(sink.received[0]?.body ?? "{}") as { text?: string };
    expect(message.text).toBe(`Cleaned temp files on 1 machine(s): ${agent.id}`);
    for (const folder of ["/tmp", "/var/tmp"]) {
      const left = agentSees(agent, folder);
      expect(left).toContain("new-file");
      expect(left).not.toContain("old-file");
    }
  } finally {
    await removeTemplateAgent(state, agent);
    await sink.close();
  }
});

test("the security-updates template, imported through the UI, installs a pending security update and reports", async ({ page, state }) => {
  const sink = await startSink();
  const options = securityRepo();
  const agent = await startTemplateAgent(state, options);
  try {
    expect(installedVersion()).toBe("1.0");
    await importAndRun(page, state, "security-updates.json", "pending", "report", `${sink.url}/patching`);
    const run = await api<{ nodes: { node_id: string; output: unknown }[] }>(state, `/api/v1/runs/${new URL(page.url()).searchParams.get("run")}`);
    expect(JSON.stringify(run.nodes.find((n) => n.node_id === "pending")?.output)).toContain(`"name":"${PROBE}"`);
    for (const id of ["start", "pending", "security", "install", "report"]) {
      await expect(node(page, id).locator(".wf-node")).toHaveAttribute("data-status", "succeeded");
    }
    expect(installedVersion()).toBe("1.1");
    await waitFor("the report", async () => sink.received.length >= 1);
    const report = JSON.parse(sink.received[0]?.body ?? "{}") as { text?: string; results?: { agent: string; status: string; installed: number }[] };
    expect(report.text).toBe("Security updates installed on 1 machine(s)");
    expect(report.results).toEqual([{ agent: agent.id, status: "succeeded", installed: 1 }]);
    await node(page, "install").click();
    await page.getByRole("tab", { name: "In this run" }).click();
    await expect(page.getByTestId("node-run")).toContainText(PROBE);
  } finally {
    await removeTemplateAgent(state, agent);
    purgeProbe();
    await sink.close();
  }
});

test("while a run goes each node shows waiting, running, then succeeded; a branch not taken shows skipped", async ({ page, state }) => {
  const made = await api<{ id: string }>(state, "/api/v1/workflows", {
    method: "POST",
    body: JSON.stringify({
      name: "states",
      description: "",
      document: {
        nodes: [
          { id: "start", type: "trigger.manual", params: {}, ui: { x: 0, y: 0 } },
          { id: "wait", type: "logic.delay", params: { seconds: 4 }, ui: { x: 260, y: 0 } },
          { id: "check", type: "logic.condition", params: { condition: "json.go == `true`" }, ui: { x: 520, y: 0 } },
          { id: "yes", type: "data.set", params: { values: { went: true } }, ui: { x: 780, y: -80 } },
          { id: "no", type: "data.set", params: { values: { went: false } }, ui: { x: 780, y: 80 } },
        ],
        edges: [
          { id: "e1", source: "start", target: "wait" },
          { id: "e2", source: "wait", target: "check" },
          { id: "e3", source: "check", source_port: "true", target: "yes" },
          { id: "e4", source: "check", source_port: "false", target: "no" },
        ],
      },
    }),
  });
  await logIn(page, state.admin.username, state.admin.password);
  await page.goto(`/workflows/${made.id}`);
  await page.getByRole("button", { name: "Run", exact: true }).click();
  await page.getByLabel("Input (JSON: an object, or a list of items)", { exact: true }).fill('{"go": true}');
  await page.getByRole("button", { name: "Start", exact: true }).click();
  const status = (id: string) => node(page, id).locator(".wf-node");
  await expect(status("wait")).toHaveAttribute("data-status", "running");
  await expect(status("start")).toHaveAttribute("data-status", "succeeded");
  await expect(status("check")).toHaveAttribute("data-status", "waiting");
  await expect(page.getByTestId("status-wait")).toHaveText("running");
  await checkAccessibility(page, "node states while a run goes");
  await expect(status("yes")).toHaveAttribute("data-status", "succeeded", { timeout: 20_000 });
  await expect(page.getByTestId("run-status")).toHaveAttribute("data-status", "succeeded");
  await expect(status("no")).toHaveAttribute("data-status", "skipped");
  await expect(status("check")).toHaveAttribute("data-status", "succeeded");
  await checkAccessibility(page, "node states after a run");
});
