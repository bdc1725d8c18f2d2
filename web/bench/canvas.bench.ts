// The workflow canvas with a 200-node workflow: time until it is drawn and answers a click (a page load
// of its URL, and a click in the list), and the frame rate while a node is dragged (requestAnimationFrame
// timestamps in the page); then a 40-node run: each node view's renders against its state changes. A real server on a
// free loopback port. Prints one JSON line and writes bench/results/console-canvas.json.
import { test } from "@playwright/test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { ROOT, borealis, startBorealis, stopGroup, waitFor } from "../e2e/borealis";

const NODES = Number(process.env.BENCH_NODES ?? 200);
const PASSWORD = "bench-admin-password-1";

async function freePort(): Promise<number> {
  return new Promise((done) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => done(typeof address === "object" && address ? address.port : 0));
    });
  });
}

function document(count: number) {
  const nodes = [{ id: "start", type: "trigger.manual", params: {}, ui: { x: 0, y: 0 } }];
  const edges = [];
  for (let i = 1; i < count; i++) {
    nodes.push({ id: `n${i}`, type: "data.set", params: { values: { step: i } }, ui: { x: (i % 20) * 260, y: Math.floor(i / 20) * 120 } } as never);
    edges.push({ id: `e${i}`, source: i === 1 ? "start" : `n${i - 1}`, target: `n${i}` });
  }
  return { nodes, edges };
}

const RUN_NODES = 40;

/** A trigger and 39 short delays in a chain: one node finishes every 50 ms or so. */
function runDocument(count: number) {
  const nodes = [{ id: "start", type: "trigger.manual", params: {}, ui: { x: 0, y: 0 } }];
  const edges = [];
  for (let i = 1; i < count; i++) {
    nodes.push({ id: `d${i}`, type: "logic.delay", params: { seconds: 0.05 }, ui: { x: (i % 8) * 260, y: Math.floor(i / 8) * 120 } } as never);
    edges.push({ id: `e${i}`, source: i === 1 ? "start" : `d${i - 1}`, target: `d${i}` });
  }
  return { nodes, edges };
}

test("canvas with a 200-node workflow", async ({ browser }) => {
  const work = mkdtempSync(join(tmpdir(), "borealis-canvas-bench-"));
  const home = join(work, "server");
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  mkdirSync(join(home, "Server"), { recursive: true });
  writeFileSync(join(home, "Server", "server.toml"), `host = "127.0.0.1"\nport = ${port}\n`);
  borealis(["admin", "create-user", "admin", "--role", "admin", "--password-stdin", "--home", home], `${PASSWORD}\n`);
  const token = borealis(["admin", "create-token", "--name", "bench", "--scope", "admin", "--home", home]);
  const server = startBorealis(["server", "--home", home, "--port", String(port)], join(work, "server.log"));
  const result: Record<string, unknown> = { nodes: NODES };
  try {
    await waitFor("the server", async () => (await fetch(`${url}/readyz`)).ok, 60_000);
    const made = (await (
      await fetch(`${url}/api/v1/workflows`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify({ name: "big", description: "", document: document(NODES) }),
      })
    ).json()) as { id: string };
    const page = await (await browser.newContext({ baseURL: url })).newPage();
    await page.goto("/login");
    await page.getByLabel("Username").fill("admin");
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("navigation", { name: "Main" }).waitFor();

    const opens: number[] = [];
    for (let round = 0; round < 3; round++) {
      await page.goto("/workflows");
      const started = Date.now();
      await page.goto(`/workflows/${made.id}`);
      // Interactive: a node answers a click with its inspector. Nodes outside the view are not drawn
      // (xyflow renders the visible ones), so the node clicked is one in view.
      await page.locator(".react-flow__node").first().waitFor();
      await page.locator(".react-flow__node").first().click();
      await page.getByRole("complementary", { name: "Inspector" }).getByRole("heading").first().waitFor();
      opens.push(Date.now() - started);
    }
    result.open_ms = opens;
    // The same from the list with a click (the console's own navigation: the app is loaded, the
    // editor's chunk cached after the first time), which is how a user opens it.
    const clicks: number[] = [];
    for (let round = 0; round < 3; round++) {
      await page.goto("/workflows");
      const link = page.getByRole("link", { name: "big", exact: true });
      await link.waitFor();
      const started = Date.now();
      await link.click();
      await page.locator(".react-flow__node").first().waitFor();
      await page.locator(".react-flow__node").first().click();
      await page.getByRole("complementary", { name: "Inspector" }).getByRole("heading").first().waitFor();
      clicks.push(Date.now() - started);
    }
    result.open_from_list_ms = clicks;
    result.drawn_nodes = await page.locator(".react-flow__node").count();

    const target = page.locator(".react-flow__node").nth(3);
    const box = await target.boundingBox();
    if (!box) throw new Error("no node on screen");
    await page.evaluate(() => {
      const w = window as unknown as { frames_: number[]; stop_: boolean };
      w.frames_ = [];
      w.stop_ = false;
      const tick = (t: number) => {
        w.frames_.push(t);
        if (!w.stop_) requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
    await page.mouse.move(box.x + box.width / 2, box.y + 10);
    await page.mouse.down();
    for (let i = 0; i < 120; i++) await page.mouse.move(box.x + box.width / 2 + i * 2, box.y + 10 + Math.sin(i / 10) * 40);
    await page.mouse.up();
    const frames = await page.evaluate(() => {
      const w = window as unknown as { frames_: number[]; stop_: boolean };
      w.stop_ = true;
      return w.frames_;
    });
    const gaps = frames.slice(1).map((t, i) => t - (frames[i] ?? t)).sort((a, b) => a - b);
    const seconds = ((frames[frames.length - 1] ?? 0) - (frames[0] ?? 0)) / 1000;
    result.drag = {
      frames: frames.length,
      fps: Math.round((frames.length - 1) / seconds),
      p95_frame_ms: Math.round(gaps[Math.floor(gaps.length * 0.95)] ?? 0),
      max_frame_ms: Math.round(gaps[gaps.length - 1] ?? 0),
    };

    // A 40-node run on the canvas: each node view's renders against its state changes (the
    // `data-status` attribute changes seen by a MutationObserver), with the bench's render counter.
    const chain = (await (
      await fetch(`${url}/api/v1/workflows`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify({ name: "forty", description: "", document: runDocument(RUN_NODES) }),
      })
    ).json()) as { id: string };
    await page.evaluate(() => localStorage.setItem("borealis.bench.renders", "1"));
    await page.goto(`/workflows/${chain.id}`);
    await page.locator(".react-flow__node").first().waitFor();
    await page.waitForTimeout(1000);
    await page.evaluate(() => {
      const w = window as unknown as { nodeRenders_?: Record<string, number>; changes_: Record<string, number> };
      w.nodeRenders_ = {};
      w.changes_ = {};
      new MutationObserver((records) => {
        for (const record of records) {
          const id = (record.target as HTMLElement).dataset.nodeId ?? "?";
          w.changes_[id] = (w.changes_[id] ?? 0) + 1;
        }
      }).observe(window.document.body, { subtree: true, attributes: true, attributeFilter: ["data-status"] });
    });
    await page.getByRole("button", { name: "Run", exact: true }).click();
    await page.getByRole("button", { name: "Start", exact: true }).click();
    await page.getByTestId("run-status").and(page.locator('[data-status="succeeded"]')).waitFor({ timeout: 120_000 });
    await page.waitForTimeout(1500);
    const counted = await page.evaluate(() => {
      const w = window as unknown as { nodeRenders_?: Record<string, number>; changes_: Record<string, number> };
      return { renders: w.nodeRenders_ ?? {}, changes: w.changes_ };
    });
    const ids = Object.keys(counted.changes);
    const renders = Object.values(counted.renders).reduce((a, b) => a + b, 0);
    const changes = Object.values(counted.changes).reduce((a, b) => a + b, 0);
    result.run = {
      nodes: RUN_NODES,
      state_changes: changes,
      node_renders: renders,
      max_renders_per_change: Math.max(...ids.map((id) => (counted.renders[id] ?? 0) / (counted.changes[id] ?? 1))),
      nodes_over_one: ids.filter((id) => (counted.renders[id] ?? 0) > (counted.changes[id] ?? 0)).length,
    };
    await page.evaluate(() => localStorage.removeItem("borealis.bench.renders"));
  } finally {
    await stopGroup(server.pid ?? 0);
  }
  const out = join(ROOT, "web", "bench", "results");
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "console-canvas.json"), JSON.stringify(result, null, 2) + "\n");
  console.log(JSON.stringify(result));
});
