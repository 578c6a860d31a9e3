#!/usr/bin/env node
// The `hearth` command. Sources are TypeScript, run through tsx's loader so
// that `npx hearth ...` works straight after `npm ci` with no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/platform/node-polyfills.ts');
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
