// Starts a real `borealis server` on a free loopback port in a temporary home, with an admin, a viewer,
// an API token, and one real agent enrolled with an install code and running.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { api, borealis, startAgent, startBorealis, waitFor, writeState, type E2EState } from "./borealis";

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
    server.on("error", reject);
  });
}

export default async function globalSetup(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "borealis-e2e-"));
  const serverHome = join(work, "server");
  const agentHome = join(work, "agent");
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  process.env.BOREALIS_E2E_STATE = join(work, "state.json");
  process.env.BOREALIS_E2E_URL = url;

  // Heartbeats every second, so a silent drop shows within the 3 s the tests allow.
  mkdirSync(join(serverHome, "Server"), { recursive: true });
  writeFileSync(
    join(serverHome, "Server", "server.toml"),
    `host = "127.0.0.1"\nport = ${port}\nheartbeat_s = 1.0\nlast_seen_flush_s = 1.0\nsweep_interval_s = 0.2\nworkflow_http_allow = ["127.0.0.0/8"]\n`,
  );
  borealis(["admin", "create-user", "admin", "--role", "admin", "--password-stdin", "--home", serverHome], "e2e-admin-password-1\n");
  borealis(["admin", "create-user", "viewer", "--role", "viewer", "--password-stdin", "--home", serverHome], "e2e-viewer-password-1\n");
  const token = borealis(["admin", "create-token", "--name", "e2e", "--scope", "admin", "--home", serverHome]);

  const server = startBorealis(["server", "--home", serverHome, "--port", String(port)], join(work, "server.out.log"));
  const state: E2EState = {
    url,
    work,
    serverHome,
    agentHome,
    serverPid: server.pid ?? 0,
    agentPid: 0,
    token,
    admin: { username: "admin", password: "e2e-admin-password-1" },
    viewer: { username: "viewer", password: "e2e-viewer-password-1" },
  };
  writeState(state);
  await waitFor("the server to be ready", async () => (await fetch(`${url}/readyz`)).ok, 60_000);

  const code = borealis(["admin", "create-enrollment", "--uses", "1", "--expires", "1h", "--tag", "e2e", "--url", url, "--home", serverHome]);
  borealis(["agent", "enroll", "--home", agentHome, "--code", code]);
  state.agentPid = startAgent(state);
  writeState(state);
  await waitFor("the agent to be online", async () => {
    const fleet = await api<{ items: { status: string }[] }>(state, "/api/v1/agents");
    return fleet.items.length === 1 && fleet.items[0]?.status === "online";
  });
}
