// Helpers of the canvas end-to-end tests: a second real agent, a local HTTP server that records what it
// receives, and the editor's handles and fields.
import { mkdtempSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";

import type { Locator, Page } from "@playwright/test";

import { api, borealis, startBorealis, stopGroup, waitFor, type E2EState } from "./borealis";

export interface Sink {
  url: string;
  received: { method: string; url: string; body: string }[];
  close: () => Promise<void>;
}

/** An HTTP server on loopback answering `status` (200 unless set) and recording every request. */
export async function startSink(status = 200): Promise<Sink> {
  const received: Sink["received"] = [];
  const server: Server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString()));
    request.on("end", () => {
      received.push({ method: request.method ?? "", url: request.url ?? "", body });
      response.writeHead(status, { "Content-Type": "application/json" });
      response.end(JSON.stringify({ ok: status < 400 }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}`, received, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** A second real agent (tag e2e), online: its id and process group id. */
export async function startSecondAgent(state: E2EState): Promise<{ id: string; pid: number }> {
  const before = new Set((await api<{ items: { id: string }[] }>(state, "/api/v1/agents")).items.map((a) => a.id));
  const code = borealis(["admin", "create-enrollment", "--uses", "1", "--expires", "1h", "--tag", "e2e", "--url", state.url, "--home", state.serverHome]);
  const home = mkdtempSync(join(state.work, "canvas-agent-"));
  borealis(["agent", "enroll", "--home", home, "--code", code]);
  const agent = startBorealis(["agent", "run", "--home", home, "--no-startup-delay"], join(state.work, "canvas-agent.out.log"));
  const id = await waitFor("the second agent to be online", async () => {
    const now = await api<{ items: { id: string; status: string }[] }>(state, "/api/v1/agents");
    return now.items.find((a) => !before.has(a.id) && a.status === "online")?.id;
  });
  return { id, pid: agent.pid ?? 0 };
}

/** Revokes, stops and deletes the second agent, so the tests after these see the fleet they expect. */
export async function removeSecondAgent(state: E2EState, agent: { id: string; pid: number }): Promise<void> {
  await api(state, `/api/v1/agents/${agent.id}/revoke`, { method: "POST", body: "{}" });
  await stopGroup(agent.pid);
  await api(state, `/api/v1/agents/${agent.id}`, { method: "DELETE" });
}

export function handle(page: Page, node: string, kind: "source" | "target", port = "main"): Locator {
  return page.locator(`.react-flow__handle.${kind}[data-nodeid="${node}"][data-handleid="${port}"]`);
}

export async function connect(page: Page, from: string, to: string, fromPort = "main", toPort = "main"): Promise<void> {
  await handle(page, from, "source", fromPort).dragTo(handle(page, to, "target", toPort));
}

export function node(page: Page, id: string): Locator {
  return page.locator(`.react-flow__node[data-id="${id}"]`);
}

export function field(page: Page, name: string): Locator {
  return page.locator(`[data-field="params.${name}"]`).locator("input, textarea, select").first();
}

/** Adds a node by the keyboard: "/" focuses the palette's search, Enter adds the first match. */
export async function addByKeyboard(page: Page, name: string): Promise<void> {
  // Out of the field being edited (Escape on a focused node would unselect it instead).
  const inField = await page.evaluate(() => ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement?.tagName ?? ""));
  if (inField) await page.keyboard.press("Escape");
  await page.keyboard.press("/");
  await page.keyboard.type(name);
  await page.keyboard.press("Enter");
}

/** Drags a node type from the palette onto the canvas: the HTML5 drag events with one DataTransfer
 *  (headless Chromium does not carry a mouse drag from the palette into the canvas's drop handler). */
export async function dragIn(page: Page, type: string, x: number, y: number): Promise<void> {
  const source = page.locator(`[data-node-type="${type}"]`);
  const canvas = page.getByTestId("canvas");
  const box = await canvas.boundingBox();
  if (!box) throw new Error("the canvas is not on screen");
  const transfer = await page.evaluateHandle(() => new DataTransfer());
  const at = { clientX: box.x + x, clientY: box.y + y };
  await source.dispatchEvent("dragstart", { dataTransfer: transfer });
  await canvas.dispatchEvent("dragover", { dataTransfer: transfer, ...at });
  await canvas.dispatchEvent("drop", { dataTransfer: transfer, ...at });
  await source.dispatchEvent("dragend", { dataTransfer: transfer });
}

/** Clicks a node until it is selected (a click during the first zoom-to-fit can land on the pane). */
export async function select(page: Page, id: string): Promise<void> {
  const { expect } = await import("@playwright/test");
  await expect(async () => {
    await node(page, id).click();
    await expect(node(page, id)).toHaveClass(/selected/, { timeout: 500 });
  }).toPass({ timeout: 10_000 });
}
