// Regenerates src/api/schema.d.ts from the server's OpenAPI document, exported by the Python package
// without a running server (`python -m borealis.server.openapi_dump`). Run: `npm run gen:api`.
// `--check` exits 1 when the committed file differs from what the server describes now.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const web = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const root = resolve(web, "..");
const venvPython = join(root, ".venv", "bin", "python");
const python = process.env.BOREALIS_PYTHON_BIN ?? (existsSync(venvPython) ? venvPython : "python3");
const check = process.argv.includes("--check");
const target = join(web, "src", "api", "schema.d.ts");

const work = mkdtempSync(join(tmpdir(), "borealis-openapi-"));
const documentPath = join(work, "openapi.json");
const generated = join(work, "schema.d.ts");
execFileSync(python, ["-m", "borealis.server.openapi_dump", documentPath], { stdio: "inherit" });
execFileSync(join(web, "node_modules", ".bin", "openapi-typescript"), [documentPath, "-o", generated], {
  stdio: ["ignore", "ignore", "inherit"],
});
const fresh = readFileSync(generated, "utf8");
if (check) {
  const committed = existsSync(target) ? readFileSync(target, "utf8") : "";
  if (committed !== fresh) {
    console.error("src/api/schema.d.ts is stale: run `npm run gen:api` and commit it");
    process.exit(1);
  }
  console.log("src/api/schema.d.ts is current");
} else {
  writeFileSync(target, fresh);
  console.log(`wrote ${target}`);
}
