/**
 * Bundles a module into one script for a browser page (Vite, IIFE): its
 * exports become the global `name`. For tests that run this repository's
 * code inside Chromium on the app's origin without the app (a store check, a
 * shared test suite). `alias` replaces imports (e.g. `vitest` by a stand-in).
 */
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

export async function pageBundle(entry: URL, name: string, alias: Record<string, URL> = {}): Promise<string> {
  const out = await build({
    configFile: false,
    logLevel: 'silent',
    resolve: { alias: Object.fromEntries(Object.entries(alias).map(([k, v]) => [k, fileURLToPath(v)])) },
    build: { write: false, minify: false, lib: { entry: fileURLToPath(entry), formats: ['iife'], name } },
  });
  const first = Array.isArray(out) ? out[0] : out;
  const chunk = first && 'output' in first ? first.output.find((c) => c.type === 'chunk') : undefined;
  if (chunk?.type !== 'chunk') throw new Error(`bundling ${fileURLToPath(entry)} gave no script`);
  return chunk.code;
}
