import { VitePWA } from 'vite-plugin-pwa';
import { defineConfig } from 'vite';

// One build for the app, the lab and the Hydrogen test page (hydrogen.html): the HTML files are the entries, workers are bundled by Vite
// when referenced as `new Worker(new URL('./x.ts', import.meta.url), { type: 'module' })`.
export default defineConfig({
  // Relative asset URLs: the built site (dist/) works from any host and any path, next to its hearth-config.json (docs/deploy.md).
  base: './',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  worker: { format: 'es' },
  build: { target: 'es2023', sourcemap: true, rollupOptions: { input: { main: 'index.html', lab: 'lab.html', hydrogen: 'hydrogen.html' } } },
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
  plugins: [
    // Hearth's one Service Worker (workers/sw.ts): the Client-Server API door and, in builds, the precached
    // app shell — Workbox's precache manifest is injected into it. The page registers it itself (src/app/sw-bridge.ts).
    VitePWA({
      strategies: 'injectManifest',
      srcDir: 'workers',
      filename: 'sw.ts',
      injectRegister: false,
      injectManifest: {
        globPatterns: ['**/*.{html,js,css,svg,wasm}'], // icons and the web manifest are added by the plugin
        // The Hydrogen page's bundle is larger than Workbox's 2 MiB default.
        maximumFileSizeToCacheInBytes: 8 * 1024 * 1024,
      },
      manifest: {
        name: 'Hearth — a Matrix homeserver in your tab',
        short_name: 'Hearth',
        description: 'Your own Matrix homeserver, in this browser: chat peer-to-peer, even offline.',
        start_url: './',
        scope: './',
        display: 'standalone',
        theme_color: '#c2410c',
        background_color: '#fff7ed',
        icons: [
          { src: 'icons/icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any' },
          { src: 'icons/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
          { src: 'icons/icon-maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
        ],
      },
      // `npm start`: the worker is served as a module at /dev-sw.js?dev-sw, the door only (nothing precached).
      devOptions: { enabled: true, type: 'module' },
    }),
  ],
});
