// The fleet page with 10,000 simulated agents: first render, filter latency, long tasks while 100 agent
// status changes a second arrive, and the server's CPU for the event stream with 5 consoles open.
// A real server on a free loopback port; agents enrolled and flapped by bench/simagents.py and
// bench/console_flapper.py. Prints one JSON line and writes bench/results/console-fleet.json.
import { test, type Browser, type Page } from "@playwright/test";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { PYTHON, ROOT, borealis, startBorealis, stopGroup, waitFor } from "../e2e/borealis";

const AGENTS = Number(process.env.BENCH_AGENTS ?? 10_000);
const RATE = Number(process.env.BENCH_RATE ?? 100);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const CONSOLES = 5;
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

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 10 ms
}

function python(args: string[], timeoutMs: number): string {
  const result = spawnSync(PYTHON, args, { cwd: ROOT, encoding: "utf8", timeout: timeoutMs });
  if (result.status !== 0) throw new Error(`${args.join(" ")}: ${result.stderr}`);
  return result.stdout.trim();
}

async function openConsole(browser: Browser, url: string): Promise<Page> {
  const page = await (await browser.newContext({ baseURL: url })).newPage();
  await page.goto("/login");
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("navigation", { name: "Main" }).waitFor();
  return page;
}

test("fleet page at 10,000 agents", async ({ browser }) => {
  const work = mkdtempSync(join(tmpdir(), "borealis-console-bench-"));
  const home = join(work, "server");
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  mkdirSync(join(home, "Server"), { recursive: true });
  writeFileSync(join(home, "Server", "server.toml"), `host = "127.0.0.1"\nport = ${port}\n`);
  borealis(["admin", "create-user", "admin", "--role", "admin", "--password-stdin", "--home", home], `${PASSWORD}\n`);
  const server = startBorealis(["server", "--home", home, "--port", String(port)], join(work, "server.log"));
  const pid = server.pid ?? 0;
  const result: Record<string, unknown> = { agents: AGENTS, rate_per_s: RATE, seconds: SECONDS, consoles: CONSOLES };
  try {
    await waitFor("the server", async () => (await fetch(`${url}/readyz`)).ok, 60_000);
    const code = borealis(["admin", "create-enrollment", "--uses", String(AGENTS), "--expires", "2h", "--url", url, "--home", home]);
    const identities = join(work, "agents.jsonl");
    const enrolled = python(
      ["bench/simagents.py", "enroll", "--server", url, "--code", code, "--count", String(AGENTS), "--out", identities],
      15 * 60_000,
    );
    result.enroll = JSON.parse(enrolled.split("\n").pop() ?? "{}");

    // First render: a fresh load of /fleet until the table shows rows, then until it holds every agent.
    const page = await openConsole(browser, url);
    const started = Date.now();
    await page.goto("/fleet");
    await page.locator("tr[data-agent-id]").first().waitFor({ timeout: 120_000 });
    result.first_rows_ms = Date.now() - started;
    await page.getByTestId("fleet-count").filter({ hasText: `of ${AGENTS} agents` }).waitFor({ timeout: 120_000 });
    result.all_rows_ms = Date.now() - started;

    // Filter latency: from each keystroke to the table's rows changing, measured in the page.
    await page.evaluate(() => {
      const w = window as unknown as { __lat: number[]; __key: number };
      w.__lat = [];
      w.__key = 0;
      document.addEventListener("keydown", () => (w.__key = performance.now()), true);
      const target = document.querySelector('[data-testid="fleet-table"] tbody');
      if (target) {
        new MutationObserver(() => {
          if (w.__key) w.__lat.push(performance.now() - w.__key);
          w.__key = 0;
        }).observe(target, { subtree: true, characterData: true, childList: true });
      }
    });
    await page.getByLabel("Search").click();
    for (const key of "99951") {
      await page.keyboard.type(key);
      await page.waitForTimeout(400);
    }
    const latencies = await page.evaluate(() => (window as unknown as { __lat: number[] }).__lat);
    result.filter_ms = { max: Math.round(Math.max(...latencies)), all: latencies.map(Math.round) };
    await page.getByLabel("Search").fill("");

    const ws = `ws://127.0.0.1:${port}/api/v1/agent/ws`;
    const flap = (seconds: number) =>
      python(
        ["bench/console_flapper.py", "--identities", identities, "--url", ws, "--agents", "400", "--rate", String(RATE), "--duration", String(seconds)],
        (seconds + 120) * 1000,
      );

    // Server CPU with the agents flapping and no console open, then with 5 consoles on the fleet page.
    await page.context().close();
    let before = cpuSeconds(pid);
    result.flap_without_consoles = JSON.parse(flap(SECONDS));
    const cpuWithout = cpuSeconds(pid) - before;

    const consoles: Page[] = [];
    for (let i = 0; i < CONSOLES; i++) {
      const c = await openConsole(browser, url);
      await c.goto("/fleet");
      await c.getByTestId("fleet-count").filter({ hasText: `of ${AGENTS} agents` }).waitFor({ timeout: 120_000 });
      consoles.push(c);
    }
    const watched = consoles[0] as Page;
    await watched.evaluate(() => {
      const w = window as unknown as { __long: number[] };
      w.__long = [];
      new PerformanceObserver((list) => list.getEntries().forEach((e) => w.__long.push(e.duration))).observe({ type: "longtask" });
    });
    before = cpuSeconds(pid);
    result.flap_with_consoles = JSON.parse(flap(SECONDS));
    const cpuWith = cpuSeconds(pid) - before;
    const long = await watched.evaluate(() => (window as unknown as { __long: number[] }).__long);
    result.long_tasks = { count: long.length, max_ms: Math.round(Math.max(0, ...long)), over_200ms: long.filter((d) => d > 200).length };
    result.server_cpu_pct = {
      flapping_without_consoles: Math.round((cpuWithout / SECONDS) * 1000) / 10,
      flapping_with_consoles: Math.round((cpuWith / SECONDS) * 1000) / 10,
      event_stream_share: Math.round(((cpuWith - cpuWithout) / SECONDS) * 1000) / 10,
    };
    for (const c of consoles) await c.context().close();
  } finally {
    await stopGroup(pid, 15_000);
    mkdirSync(join(ROOT, "bench", "results"), { recursive: true });
    writeFileSync(join(ROOT, "bench", "results", "console-fleet.json"), JSON.stringify(result, null, 2));
    console.log(JSON.stringify(result));
  }
});
