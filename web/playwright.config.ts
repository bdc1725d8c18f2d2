// End-to-end tests in headless Chromium against a real server and a real agent (e2e/global-setup.ts).
// The browser is the system's Chromium (Debian's package), never Playwright's own download.
import { defineConfig } from "@playwright/test";

const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export default defineConfig({
  testDir: "e2e",
  globalSetup: "./e2e/global-setup.ts",
  globalTeardown: "./e2e/global-teardown.ts",
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [["list"]],
  use: {
    baseURL: process.env.BOREALIS_E2E_URL,
    headless: true,
    viewport: { width: 1360, height: 850 },
    launchOptions: { executablePath, args: ["--no-sandbox", "--disable-dev-shm-usage"] },
    trace: "off",
  },
});
