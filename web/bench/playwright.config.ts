// The console benchmark (docs/performance.md, "Console"): `npm run bench:fleet`. Not part of `npm run e2e`.
import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: ".",
  testMatch: "*.bench.ts",
  workers: 1,
  timeout: 30 * 60_000,
  reporter: [["list"]],
  use: {
    headless: true,
    viewport: { width: 1360, height: 850 },
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-dev-shm-usage"],
    },
  },
});
