/**
 * Draws the app's install icons (public/icons/*.png) from public/favicon.svg
 * with the browser the tests use, so the icons are the favicon at any size:
 *
 *   node --import tsx scripts/make-icons.ts
 *
 * - icon-192.png, icon-512.png: the logo on the theme colour's light tint,
 *   with rounded corners ("any" purpose);
 * - icon-maskable-512.png: full-bleed background with the logo inside the
 *   safe zone (the central 80 % circle), for launchers that crop to a shape.
 * Run once after changing the logo; the PNGs are committed.
 */
import { readFile } from 'node:fs/promises';
import { mkdir, writeFile } from 'node:fs/promises';
import { chromium } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './chromium.ts';

const BACKGROUND = '#fff7ed';

const svg = await readFile('public/favicon.svg', 'utf8');
const icons = [
  { file: 'icon-192.png', size: 192, logo: 0.8, radius: 0.18 },
  { file: 'icon-512.png', size: 512, logo: 0.8, radius: 0.18 },
  { file: 'icon-maskable-512.png', size: 512, logo: 0.56, radius: 0 },
];

const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
try {
  const page = await browser.newPage();
  await mkdir('public/icons', { recursive: true });
  for (const icon of icons) {
    await page.setViewportSize({ width: icon.size, height: icon.size });
    const logo = Math.round(icon.size * icon.logo);
    await page.setContent(
      `<html><body style="margin:0;background:transparent">
        <div style="width:${icon.size}px;height:${icon.size}px;display:grid;place-items:center;background:${BACKGROUND};border-radius:${icon.radius * 100}%">
          <img src="data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}" width="${logo}" height="${logo}">
        </div></body></html>`,
    );
    await page.locator('img').evaluate((img: HTMLImageElement) => img.decode());
    await writeFile(`public/icons/${icon.file}`, await page.screenshot({ omitBackground: true }));
    console.log(`public/icons/${icon.file}`);
  }
} finally {
  await browser.close();
}
