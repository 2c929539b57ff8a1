// The web studio end to end in real headless Chromium (playwright-core, Debian's chromium): draw a
// stroke, pick melanoma, press Generate and see an image of the run's size; errors reach the page.
// A screenshot is kept in test-results/studio-e2e.png.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startStudioServer, type StudioServer } from '../../src/serve/server.js';
import { CHROMIUM, RUN_SIZE, buildStudio, launchChromium, maskPng, root, trainTinyRun } from './helpers.js';

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium)
  console.warn(`studio_e2e: skipped, ${CHROMIUM} is missing (apt-get install chromium; .ci/run installs it)`);

let work = '';
let studio: StudioServer;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  if (!haveChromium) return;
  work = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-studio-e2e-'));
  trainTinyRun(path.join(work, 'run'));
  await buildStudio(path.join(work, 'bundle'));
  studio = await startStudioServer({ runDir: path.join(work, 'run'), port: 0, bundleDir: path.join(work, 'bundle') });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  // Uncaught errors and console errors (a Content-Security-Policy violation among them) fail the test.
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) pageErrors.push(m.text());
  });
});

afterAll(async () => {
  await browser?.close();
  await studio?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.skipIf(!haveChromium)('the studio in Chromium', () => {
  it('draws a stroke, picks melanoma, generates an image of the run size', async () => {
    await page.goto(`${studio.url}/`);
    await page.waitForSelector('body[data-ready="true"]');
    expect(await page.textContent('#run-summary')).toContain(`${RUN_SIZE}x${RUN_SIZE}`);

    // A stroke across the middle of the canvas.
    const box = (await page.locator('#mask-canvas').boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.4);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.7, box.y + box.height * 0.6, { steps: 12 });
    await page.mouse.up();
    expect(await page.textContent('#mask-hint')).toMatch(/Lesion: \d+ pixels/);

    await page.selectOption('#class-select', 'melanoma');
    await page.fill('#seed', '7');
    await page.click('#generate');
    const img = page.locator('figure.result img.generated').first();
    await img.waitFor({ timeout: 30_000 });
    await page.waitForFunction(() => {
      const i = document.querySelector<HTMLImageElement>('figure.result img.generated');
      return !!i && i.complete && i.naturalWidth > 0;
    });
    const size = await img.evaluate((i: HTMLImageElement) => [i.naturalWidth, i.naturalHeight]);
    expect(size).toEqual([RUN_SIZE, RUN_SIZE]);
    const caption = await page.textContent('figure.result figcaption');
    expect(caption).toContain('melanoma');
    expect(caption).toContain('seed 7');
    expect(await page.getAttribute('figure.result a.download', 'download')).toMatch(
      /^dermosynth-melanoma-seed7-.*\.png$/,
    );
    expect(await page.isHidden('#error')).toBe(true);
    expect(await page.isHidden('#progress')).toBe(true);

    mkdirSync(path.join(root, 'test-results'), { recursive: true });
    await page.screenshot({ path: path.join(root, 'test-results/studio-e2e.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  });

  it("shows the server's error for a colour mask upload, and an empty mask's error, then still generates", async () => {
    await page.setInputFiles('#mask-upload', { name: 'colour.png', mimeType: 'image/png', buffer: await colourPng() });
    await page.waitForSelector('#error:not([hidden])');
    expect(await page.textContent('#error')).toMatch(/upload: .*colour/);

    await page.click('#clear');
    await page.click('#generate');
    expect(await page.textContent('#error')).toMatch(/mask is empty/);

    // A mask of another size is resized by the server with a notice, and generation works again.
    await page.setInputFiles('#mask-upload', {
      name: 'big.png',
      mimeType: 'image/png',
      buffer: await maskPng(64, 64, [16, 16, 48, 48]),
    });
    await page.waitForSelector('#notice:not([hidden])');
    expect(await page.textContent('#notice')).toMatch(/resized/);
    await page.click('#generate');
    await page.waitForFunction(() => document.querySelectorAll('figure.result').length === 2);
    expect(await page.isHidden('#error')).toBe(true);
    expect(pageErrors).toEqual([]);
  });

  it('the run tab shows the sample grids and the loss summary', async () => {
    await page.click('#tab-run');
    await page.waitForSelector('#samples img');
    expect(await page.locator('#samples img').count()).toBe(2);
    await page.waitForSelector('#losses table');
    expect(await page.textContent('#losses')).toContain('G_GAN');
    expect(await page.textContent('#metrics')).toMatch(/no metrics\.json/);
    expect(pageErrors).toEqual([]);
  });
});

async function colourPng(): Promise<Buffer> {
  const sharp = (await import('sharp')).default;
  const px = Buffer.alloc(RUN_SIZE * RUN_SIZE * 3);
  for (let i = 0; i < px.length; i += 3) px[i] = 255; // pure red
  return sharp(px, { raw: { width: RUN_SIZE, height: RUN_SIZE, channels: 3 } })
    .png()
    .toBuffer();
}
