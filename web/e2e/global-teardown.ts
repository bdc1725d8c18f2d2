import { rmSync } from "node:fs";

import { readState, stopGroup } from "./borealis";

export default async function globalTeardown(): Promise<void> {
  const state = readState();
  if (state.agentPid) await stopGroup(state.agentPid);
  if (state.serverPid) await stopGroup(state.serverPid, 15_000);
  if (!process.env.BOREALIS_E2E_KEEP) rmSync(state.work, { recursive: true, force: true });
}
