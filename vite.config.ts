import { defineConfig } from 'vite';

// One build for the app, the lab and the Hydrogen test page (hydrogen.html): the HTML files are the entries, workers are bundled by Vite
// when referenced as `new Worker(new URL('./x.ts', import.meta.url), { type: 'module' })`.
export default defineConfig({
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  worker: { format: 'es' },
  build: { target: 'es2023', sourcemap: true, rollupOptions: { input: { main: 'index.html', lab: 'lab.html', hydrogen: 'hydrogen.html' } } },
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
});
