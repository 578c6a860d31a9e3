import { defineConfig } from '@playwright/test';

// Playwright drives Debian's Chromium (installed by scripts/ensure-chromium.sh):
// Playwright's own browser download cannot reach its host from this network.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
// Overridable so that two test runs (e.g. a benchmark beside the suite) do not collide.
const PORT = Number(process.env.HEARTH_E2E_PORT ?? 4173);

export default defineConfig({
  testDir: 'e2e',
  timeout: 60_000,
  fullyParallel: false,
  workers: 1,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    launchOptions: { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS },
    screenshot: 'only-on-failure',
  },
  webServer: {
    command: `node --import tsx scripts/app-server.ts --preview --port ${PORT} --relay-port 0`,
    url: `http://127.0.0.1:${PORT}`,
    reuseExistingServer: false,
    timeout: 120_000,
  },
});
