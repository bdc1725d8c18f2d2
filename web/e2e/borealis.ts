// The real Borealis processes behind the end-to-end tests: the `borealis` command line, a server, agents.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const PYTHON =
  process.env.BOREALIS_PYTHON_BIN ?? (existsSync(join(ROOT, ".venv/bin/python")) ? join(ROOT, ".venv/bin/python") : "python3");

export interface E2EState {
  url: string;
  work: string;
  serverHome: string;
  agentHome: string;
  serverPid: number;
  agentPid: number;
  token: string;
  admin: { username: string; password: string };
  viewer: { username: string; password: string };
}

export function statePath(): string {
  const path = process.env.BOREALIS_E2E_STATE;
  if (!path) throw new Error("BOREALIS_E2E_STATE is not set: run through `npm run e2e`");
  return path;
}

export function readState(): E2EState {
  return JSON.parse(readFileSync(statePath(), "utf8")) as E2EState;
}

export function writeState(state: E2EState): void {
  writeFileSync(statePath(), JSON.stringify(state, null, 2));
}

/** Runs `borealis ARGS` to completion; returns its stdout (the CLI prints only the secret there). */
export function borealis(args: string[], input?: string): string {
  const result = spawnSync(PYTHON, ["-m", "borealis", ...args], { input, encoding: "utf8", timeout: 60_000 });
  if (result.status !== 0) {
    throw new Error(`borealis ${args.join(" ")} failed (${result.status}): ${result.stderr}`);
  }
  return result.stdout.trim();
}

/** Starts a long-running `borealis ARGS` in its own process group, its output in LOG. */
export function startBorealis(args: string[], log: string): ChildProcess {
  mkdirSync(dirname(log), { recursive: true });
  const out = openSync(log, "a");
  const child = spawn(PYTHON, ["-m", "borealis", ...args], { detached: true, stdio: ["ignore", out, out] });
  closeSync(out);
  child.unref();
  return child;
}

/** SIGTERM to the process group, then SIGKILL if it is still there after `graceMs`. */
export async function stopGroup(pid: number, graceMs = 5000): Promise<void> {
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  try {
    process.kill(-pid, "SIGTERM");
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (alive()) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
}

export function startAgent(state: E2EState): number {
  const child = startBorealis(
    ["agent", "run", "--home", state.agentHome, "--no-startup-delay"],
    join(state.work, "agent.out.log"),
  );
  if (!child.pid) throw new Error("the agent did not start");
  return child.pid;
}

export async function api<T = unknown>(state: E2EState, path: string, init: RequestInit = {}): Promise<T> {
  const response = await fetch(state.url + path, {
    ...init,
    headers: { Authorization: `Bearer ${state.token}`, "Content-Type": "application/json", ...(init.headers ?? {}) },
  });
  if (!response.ok) throw new Error(`${init.method ?? "GET"} ${path}: ${response.status} ${await response.text()}`);
  return (response.status === 204 ? undefined : await response.json()) as T;
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}
