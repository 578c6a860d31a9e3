import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    setupFiles: ['./src/platform/node-polyfills.ts'],
    testTimeout: 30_000,
  },
});
