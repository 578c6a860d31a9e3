/**
 * How every browser run here launches Chromium: Debian's binary (Playwright's
 * own download cannot work on this network) with the flags that keep it from
 * reaching for Google's hosts. Shared by the e2e config and the benchmarks.
 */
export const CHROMIUM_PATH = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
