// Shared by the studio's tests: a tiny trained run (32x32, two steps: seconds), the studio bundle
// built from the current sources into a temporary folder, small PNG masks, and Debian's chromium.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import sharp from 'sharp';
import { build } from 'vite';

export const root = path.resolve(import.meta.dirname, '../..');
export const RUN_SIZE = 32;
/** Debian's chromium (set-up installs it; the browser tests skip, saying so, without it). */
export const CHROMIUM = '/usr/bin/chromium';

/** Headless chromium without a GPU, as CI runs it (and so without WebGPU). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
}

/** `dermosynth train` on the built-in sample data: a tiny proposed generator, 2 steps, 2 sample grids. */
export function trainTinyRun(out: string): void {
  const r = spawnSync(
    process.execPath,
    [
      path.join(root, 'bin/dermosynth.mjs'),
      'train',
      '--out',
      out,
      '--size',
      `${RUN_SIZE}x${RUN_SIZE}`,
      '--ngf',
      '8',
      '--n-down',
      '2',
      '--n-blocks',
      '1',
      '--ndf',
      '8',
      '--n-layers-d',
      '2',
      '--steps',
      '2',
      '--sample-every',
      '1',
    ],
    { cwd: root, encoding: 'utf8', env: { ...process.env, DERMOSYNTH_NO_BAR: '1' }, timeout: 120_000 },
  );
  if (r.status !== 0) throw new Error(`training the test run failed:\n${r.stderr}`);
}

/** Builds studio/ (the current sources) into `outDir`. */
export async function buildStudio(outDir: string): Promise<void> {
  await build({ root: path.join(root, 'studio'), logLevel: 'warn', build: { outDir, emptyOutDir: true } });
}

/** A PNG of `channels` channels, `width`x`height`, lesion (255) inside the box [x0, x1) x [y0, y1). */
export async function maskPng(
  width: number,
  height: number,
  box: [number, number, number, number] | null,
  channels: 1 | 3 = 1,
): Promise<Buffer> {
  const px = Buffer.alloc(width * height * channels);
  if (box) {
    const [x0, y0, x1, y1] = box;
    for (let y = y0; y < y1; y++)
      for (let x = x0; x < x1; x++) for (let c = 0; c < channels; c++) px[(y * width + x) * channels + c] = 255;
  }
  return sharp(px, { raw: { width, height, channels } }).png().toBuffer();
}
