// What the disk and security-update templates need from the machine, supplied by the test without
// touching anything of the machine's own: an agent whose /tmp and /var/tmp are small file systems of
// its own (a private mount namespace: /tmp filled past 90 %, an old and a new file in each), and a
// pending "security" update of a probe package from a local apt repository only that agent's apt
// options know (the machine's apt sources are not touched). Needs root, unshare and nsenter.
import { createHash } from "node:crypto";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, openSync, renameSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { api, borealis, PYTHON, stopGroup, waitFor, type E2EState } from "./borealis";

export const PROBE = "borealis-e2e-probe";
export const TAG = "templates";

function run(command: string, args: string[], cwd?: string): string {
  const done = spawnSync(command, args, { cwd, encoding: "utf8", timeout: 120_000 });
  if (done.status !== 0) throw new Error(`${command} ${args.join(" ")} failed: ${done.stderr}${done.stdout}`);
  return done.stdout;
}

function buildDeb(dir: string, version: string): string {
  const package_ = join(dir, `pkg-${version}`);
  mkdirSync(join(package_, "DEBIAN"), { recursive: true });
  writeFileSync(
    join(package_, "DEBIAN", "control"),
    `Package: ${PROBE}\nVersion: ${version}\nArchitecture: all\nMaintainer: Borealis Tests <tests@example.invalid>\nDescription: a package the e2e tests install\n`,
  );
  const deb = join(dir, `${PROBE}_${version}_all.deb`);
  run("dpkg-deb", ["--build", package_, deb]);
  return deb;
}

/** The probe 1.0 installed; 1.1 in a flat `file:` repository whose Release says it is a security
 *  suite; returns the apt options that point at it (own sources and lists). */
export function securityRepo(): string[] {
  // Outside /tmp: the template agent has a /tmp of its own.
  mkdirSync(join(process.cwd(), "test-results"), { recursive: true });
  const dir = mkdtempSync(join(process.cwd(), "test-results", "apt-"));
  const repo = join(dir, "repo");
  const lists = join(dir, "lists");
  mkdirSync(repo);
  mkdirSync(join(lists, "partial"), { recursive: true });
  const old = buildDeb(dir, "1.0");
  renameSync(buildDeb(dir, "1.1"), join(repo, `${PROBE}_1.1_all.deb`));
  const packages = run("dpkg-scanpackages", [".", "/dev/null"], repo);
  writeFileSync(join(repo, "Packages"), packages);
  const size = Buffer.byteLength(packages);
  const sha = createHash("sha256").update(readFileSync(join(repo, "Packages"))).digest("hex");
  writeFileSync(
    join(repo, "Release"),
    `Origin: Borealis-E2E-Security\nLabel: Borealis-E2E-Security\nSuite: e2e-security\nCodename: e2e-security\nDate: ${new Date().toUTCString()}\nSHA256:\n ${sha} ${size} Packages\n`,
  );
  const sources = join(dir, "sources.list");
  writeFileSync(sources, `deb [trusted=yes] file:${repo} ./\n`);
  const options = [
    `-oDir::Etc::SourceList=${sources}`,
    "-oDir::Etc::SourceParts=/dev/null",
    `-oDir::State::Lists=${lists}`,
    "-oDir::Cache::pkgcache=",
    "-oDir::Cache::srcpkgcache=",
  ];
  run("dpkg", ["-i", old]);
  run("apt-get", [...options, "update"]);
  return options;
}

export function installedVersion(): string | null {
  const done = spawnSync("dpkg-query", ["-W", "-f", "${Version}", PROBE], { encoding: "utf8" });
  return done.status === 0 ? done.stdout : null;
}

export function purgeProbe(): void {
  spawnSync("dpkg", ["--purge", PROBE]);
}

const NAMESPACE_SETUP = `set -e
mount -t tmpfs -o size=64m borealis-e2e-tmp /tmp
mount -t tmpfs -o size=8m borealis-e2e-vartmp /var/tmp
head -c 62000000 /dev/zero > /tmp/filler
for d in /tmp /var/tmp; do touch -d '10 days ago' "$d/old-file"; touch "$d/new-file"; done
exec "$@"`;

export interface TemplateAgent {
  id: string;
  pid: number;
  hostname: string;
}

/** An agent (tag `templates`) in its own mount namespace, with `aptOptions`; its home is outside /tmp. */
export async function startTemplateAgent(state: E2EState, aptOptions: string[]): Promise<TemplateAgent> {
  const before = new Set((await api<{ items: { id: string }[] }>(state, "/api/v1/agents")).items.map((a) => a.id));
  const code = borealis(["admin", "create-enrollment", "--uses", "1", "--expires", "1h", "--tag", TAG, "--url", state.url, "--home", state.serverHome]);
  mkdirSync(join(process.cwd(), "test-results"), { recursive: true });
  const home = mkdtempSync(join(process.cwd(), "test-results", "template-agent-"));
  borealis(["agent", "enroll", "--home", home, "--code", code]);
  run(PYTHON, ["-c", "import sys, pathlib, json; from borealis.core.settings import update_toml; update_toml(pathlib.Path(sys.argv[1]), apt_options=json.loads(sys.argv[2]))", join(home, "Agent", "agent.toml"), JSON.stringify(aptOptions)]);
  const out = openSync(join(state.work, "template-agent.out.log"), "a");
  const child = spawn("unshare", ["-m", "--propagation", "private", "sh", "-c", NAMESPACE_SETUP, "sh", PYTHON, "-m", "borealis", "agent", "run", "--home", home, "--no-startup-delay"], {
    detached: true,
    stdio: ["ignore", out, out],
  });
  const found = await waitFor("the template agent to be online", async () => {
    const now = await api<{ items: { id: string; status: string; hostname: string }[] }>(state, "/api/v1/agents");
    return now.items.find((a) => !before.has(a.id) && a.status === "online");
  });
  return { id: found.id, hostname: found.hostname, pid: child.pid ?? 0 };
}

/** A file listing of a folder as the agent sees it (inside its mount namespace). */
export function agentSees(agent: TemplateAgent, folder: string): string[] {
  return run("nsenter", ["-t", String(agent.pid), "-m", "ls", "-1", folder]).split("\n").filter(Boolean);
}

export async function removeTemplateAgent(state: E2EState, agent: TemplateAgent): Promise<void> {
  await api(state, `/api/v1/agents/${agent.id}/revoke`, { method: "POST", body: "{}" });
  await stopGroup(agent.pid);
  await api(state, `/api/v1/agents/${agent.id}`, { method: "DELETE" });
}
