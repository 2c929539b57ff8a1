// The static studio (`dermosynth studio build`) end to end in real headless Chromium: the site of a
// tiny trained run, served by a plain static file server (site_server.ts; no dermosynth server), runs
// the generator with onnxruntime-web (WebAssembly: headless Chromium without a GPU has no WebGPU).
// A drawn mask, melanoma, seed 7 and "vary shape" give exactly the label bytes the server builds
// (the same deformMask and buildLabelBytes), the image equals the run's generator on them within
// 1e-4 (float32), and the page's PNG equals `dermosynth serve`'s answer for the same mask within one
// 8-bit level (both round the same float32 image; a difference under 1e-4 can still cross a rounding
// boundary). No console errors, no Content-Security-Policy violations.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { Browser, Page } from 'playwright-core';
import * as torch from '../../src/torch/index.js';
import { buildLabelBytes } from '../../src/data/label_map.js';
import { deformMask } from '../../src/synth/deform.js';
import { RunGenerator } from '../../src/synth/run_generator.js';
import { startStudioServer, type StudioServer } from '../../src/serve/server.js';
import { SITE_CSP, buildStaticSite, pickLesions, staticIndexHtml } from '../../src/serve/static_site.js';
import { encodeRle } from '../../src/serve/validate.js';
import { CHROMIUM, RUN_SIZE, buildStudio, launchChromium, maskPng, root, trainTinyRun } from './helpers.js';
import { startSiteServer, type SiteServer } from './site_server.js';

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium)
  console.warn(`static_studio_e2e: skipped, ${CHROMIUM} is missing (apt-get install chromium; .ci/run installs it)`);

/** The issue's bound for float32: max absolute difference from dermosynth's generator. */
const FP32_BOUND = 1e-4;
/** What the editor paints lesion pixels with (studio/src/mask_editor.ts). */
const LESION_RGB = [92, 52, 34];
const N = RUN_SIZE;
const SITE_PATH = '/lab/studio/';

let work = '';
let site = '';
let files: SiteServer;
let studio: StudioServer;
let generator: RunGenerator;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  if (!haveChromium) return;
  work = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-static-studio-'));
  const runDir = path.join(work, 'run');
  trainTinyRun(runDir);
  await buildStudio(path.join(work, 'bundle'));
  site = path.join(work, 'site');
  await buildStaticSite({ runDir, out: site, bundleDir: path.join(work, 'bundle'), masks: 4 });
  // Published under a sub-path, as on most hosts: every URL of the page must be relative.
  files = await startSiteServer(site, SITE_PATH);
  studio = await startStudioServer({ runDir, port: 0, bundleDir: path.join(work, 'bundle') });
  generator = await RunGenerator.load(runDir);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  // Uncaught errors and console errors fail the test; so does any CSP violation (reported by the page itself too).
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text());
  });
  await page.addInitScript(() =>
    document.addEventListener('securitypolicyviolation', (e) =>
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`),
    ),
  );
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await studio?.close();
  generator?.dispose();
  await files?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The page's last generation (label bytes, float32 image) and its PNG as RGB bytes. */
async function lastGeneration(): Promise<{ labels: Uint8Array; image: Float32Array; rgb: Uint8Array }> {
  const last = await page.evaluate(() => {
    // studio/src/static_backend.ts keeps the last generation here, for tests and the console.
    const w = window as unknown as { dermosynthStudio: { last: { labels: Uint8Array; image: Float32Array } } };
    const l = w.dermosynthStudio.last;
    // The PNG as the page shows it, read back through a canvas (the page's policy allows no fetch of blob: URLs).
    const img = document.querySelector<HTMLImageElement>('figure.result img.generated')!;
    const c = document.createElement('canvas');
    c.width = img.naturalWidth;
    c.height = img.naturalHeight;
    const ctx = c.getContext('2d')!;
    ctx.drawImage(img, 0, 0);
    const rgba = ctx.getImageData(0, 0, c.width, c.height).data;
    return { labels: Array.from(l.labels), image: Array.from(l.image), rgba: Array.from(rgba) };
  });
  const rgb = new Uint8Array((last.rgba.length / 4) * 3);
  for (let i = 0; i < rgb.length / 3; i++) for (let k = 0; k < 3; k++) rgb[i * 3 + k] = last.rgba[i * 4 + k]!;
  return { labels: Uint8Array.from(last.labels), image: Float32Array.from(last.image), rgb };
}

/** The mask as drawn: the editor canvas's lesion-coloured pixels, 0/255. */
async function drawnMask(): Promise<Uint8Array> {
  const px = await page.evaluate(() => {
    const c = document.querySelector<HTMLCanvasElement>('#mask-canvas')!;
    return Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data);
  });
  const mask = new Uint8Array(px.length / 4);
  for (let i = 0; i < mask.length; i++)
    mask[i] =
      px[i * 4] === LESION_RGB[0] && px[i * 4 + 1] === LESION_RGB[1] && px[i * 4 + 2] === LESION_RGB[2] ? 255 : 0;
  return mask;
}

function reference(labels: Uint8Array): Float32Array {
  return torch.tidy(() =>
    generator
      .generateImages(torch.fromBytes(labels, 'uint8', [1, 1, N, N]))
      .contiguous()
      .toFloat32Array(),
  );
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

async function waitForResults(n: number): Promise<void> {
  await page.waitForFunction(
    (k) => {
      const imgs = document.querySelectorAll<HTMLImageElement>('figure.result img.generated');
      return imgs.length === k && imgs[0]!.complete && imgs[0]!.naturalWidth > 0;
    },
    n,
    { timeout: 60_000 },
  );
}

describe.skipIf(!haveChromium)('the static studio in Chromium', () => {
  it('writes the page with its policy, the model, onnxruntime-web and the run files', () => {
    const html = readFileSync(path.join(site, 'index.html'), 'utf8');
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="${SITE_CSP}" />`);
    expect(html).toContain('<meta name="dermosynth-backend" content="static" />');
    expect(SITE_CSP).toContain("'wasm-unsafe-eval'");
    for (const f of [
      'model/generator.onnx',
      'ort/ort.wasm.min.js',
      'ort/ort-wasm-simd-threaded.wasm',
      'ort/ort.webgpu.min.js',
      'data/site.json',
      'data/dataset.json',
      'data/dataset/0.png',
      'data/samples.json',
      'data/log.json',
      'data/metrics.json',
    ])
      expect(existsSync(path.join(site, f)), f).toBe(true);
    const s = JSON.parse(readFileSync(path.join(site, 'data/site.json'), 'utf8'));
    expect(s.run).toMatchObject({ width: N, height: N, classes: generator.classes });
    expect(s.labelMap.channels).toEqual(generator.spec.channels);
    const dataset = JSON.parse(readFileSync(path.join(site, 'data/dataset.json'), 'utf8'));
    expect(dataset.lesions).toHaveLength(4);
    // Spread over the diagnoses: the sample data has every one of them.
    expect(new Set(dataset.lesions.map((l: { diagnosis: string }) => l.diagnosis)).size).toBe(
      Math.min(4, generator.classes.length),
    );
  });

  it('draws, varies the shape, generates in the browser: the same label bytes and image as the server', async () => {
    await page.goto(`${files.url}${SITE_PATH}`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    expect(await page.getAttribute('body', 'data-backend')).toBe('wasm');
    const summary = await page.textContent('#run-summary');
    expect(summary).toContain(`${N}x${N}`);
    expect(summary).toMatch(/onnxruntime-web [\d.]+ on WebAssembly/);

    const box = (await page.locator('#mask-canvas').boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.35);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.65, box.y + box.height * 0.6, { steps: 12 });
    await page.mouse.up();
    expect(await page.textContent('#mask-hint')).toMatch(/Lesion: \d+ pixels/);
    await page.selectOption('#class-select', 'melanoma');
    await page.fill('#seed', '7');
    await page.check('#vary');
    await page.click('#generate');
    await waitForResults(1);
    expect(await page.isHidden('#error')).toBe(true);
    const caption = await page.textContent('figure.result figcaption');
    expect(caption).toContain('melanoma');
    expect(caption).toContain('seed 7, shape varied');

    // The label bytes: the server's functions on the drawn mask.
    const mask = await drawnMask();
    const classIndex = generator.classes.indexOf('melanoma');
    const labels = buildLabelBytes(deformMask(mask, N, N, 7), classIndex, generator.spec, N, N);
    const got = await lastGeneration();
    expect(Buffer.from(got.labels).equals(Buffer.from(labels))).toBe(true);
    expect(Buffer.from(labels).equals(Buffer.from(buildLabelBytes(mask, classIndex, generator.spec, N, N)))).toBe(
      false,
    ); // the shape did vary

    // The image: the run's generator on those bytes, float32.
    const diff = maxAbsDiff(got.image, reference(labels));
    console.log(`static studio: max |browser - dermosynth| = ${diff.toExponential(2)} (float32, bound ${FP32_BOUND})`);
    expect(diff).toBeLessThanOrEqual(FP32_BOUND);

    // The server's answer for the same mask, class, seed and vary: PNG bytes within one level.
    const res = await fetch(`${studio.url}/api/generate`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ class: 'melanoma', seed: 7, vary: true, rle: encodeRle(mask, N, N) }),
    });
    expect(res.status).toBe(200);
    const serverRgb = await sharp(Buffer.from(await res.arrayBuffer()))
      .raw()
      .toBuffer();
    expect(maxAbsDiff(got.rgb, serverRgb)).toBeLessThanOrEqual(1);
    expect(pageErrors).toEqual([]);
  });

  it("starts from one of the run's dataset masks, and checks and resizes uploads in the browser", async () => {
    const dataset = JSON.parse(readFileSync(path.join(site, 'data/dataset.json'), 'utf8'));
    await page.selectOption('#dataset-select', '1');
    await page.waitForSelector('#notice:not([hidden])');
    expect(await page.textContent('#notice')).toContain(dataset.lesions[1].id);
    await page.uncheck('#vary');
    await page.click('#generate');
    await waitForResults(2);
    const mask = await drawnMask();
    const cls = await page.inputValue('#class-select');
    const labels = buildLabelBytes(mask, generator.classes.indexOf(cls), generator.spec, N, N);
    const got = await lastGeneration();
    expect(Buffer.from(got.labels).equals(Buffer.from(labels))).toBe(true);
    expect(maxAbsDiff(got.image, reference(labels))).toBeLessThanOrEqual(FP32_BOUND);

    // A colour image is refused; a mask of another size is resized (nearest, the run's fit) with a notice.
    const px = Buffer.alloc(N * N * 3);
    for (let i = 0; i < px.length; i += 3) px[i] = 255;
    const colour = await sharp(px, { raw: { width: N, height: N, channels: 3 } })
      .png()
      .toBuffer();
    await page.setInputFiles('#mask-upload', { name: 'colour.png', mimeType: 'image/png', buffer: colour });
    await page.waitForSelector('#error:not([hidden])');
    expect(await page.textContent('#error')).toMatch(/upload: .*colour/);
    await page.setInputFiles('#mask-upload', {
      name: 'big.png',
      mimeType: 'image/png',
      buffer: await maskPng(2 * N, 2 * N, [N / 2, N / 2, (3 * N) / 2, (3 * N) / 2]),
    });
    await page.waitForFunction(() => /resized/.test(document.querySelector('#notice')?.textContent ?? ''));
    const resized = await drawnMask();
    // The middle half of a 2x mask, at 1x: the box [N/4, 3N/4).
    for (let y = 0; y < N; y++)
      for (let x = 0; x < N; x++) {
        const inside = x >= N / 4 && x < (3 * N) / 4 && y >= N / 4 && y < (3 * N) / 4;
        expect(resized[y * N + x], `${x},${y}`).toBe(inside ? 255 : 0);
      }
    expect(pageErrors).toEqual([]);
  });

  it('the run tab shows the sample grids and the loss summary from the site', async () => {
    await page.click('#tab-run');
    await page.waitForSelector('#samples img');
    expect(await page.locator('#samples img').count()).toBe(2);
    await page.waitForFunction(() =>
      [...document.querySelectorAll<HTMLImageElement>('#samples img')].every((i) => i.complete && i.naturalWidth > 0),
    );
    await page.waitForSelector('#losses table');
    expect(await page.textContent('#losses')).toContain('G_GAN');
    expect(await page.textContent('#metrics')).toMatch(/no metrics\.json/);
    mkdirSync(path.join(root, 'test-results'), { recursive: true });
    await page.screenshot({ path: path.join(root, 'test-results/static-studio-e2e.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
    // Everything came from the site, with its MIME type; the WebAssembly as application/wasm.
    expect(files.served.filter((s) => s.status !== 200)).toEqual([]);
    expect(files.served.find((s) => s.path.endsWith('.wasm'))?.type).toBe('application/wasm');
    expect(files.served.some((s) => s.path.includes('asyncify'))).toBe(false); // no WebGPU here: its build is not fetched
  });
});

describe('pickLesions', () => {
  it('takes the diagnoses in turn', () => {
    const l = (i: number, diagnosis: string) => ({ index: i, id: `L${i}`, diagnosis, split: 'train', coverage: 0.1 });
    const all = [l(0, 'a'), l(1, 'a'), l(2, 'a'), l(3, 'b'), l(4, 'c'), l(5, 'c')];
    expect(pickLesions(all, 4).map((x) => x.index)).toEqual([0, 3, 4, 1]);
    expect(pickLesions(all, 10).map((x) => x.index)).toEqual([0, 3, 4, 1, 5, 2]);
    expect(pickLesions(all, 0)).toEqual([]);
  });
});

describe('buildStaticSite refuses', () => {
  it('an existing folder without --overwrite, a folder that is not a static studio, an old bundle', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-static-refuse-'));
    try {
      const runDir = path.join(dir, 'run');
      mkdirSync(runDir);
      const out = path.join(dir, 'out');
      mkdirSync(out);
      await expect(buildStaticSite({ runDir, out })).rejects.toThrow(/exists; add --overwrite/);
      await expect(buildStaticSite({ runDir, out, overwrite: true })).rejects.toThrow(/not a static studio/);
      // A bundle built before the static studio: absolute asset URLs, no in-browser backend.
      const bundle = path.join(dir, 'bundle');
      mkdirSync(path.join(bundle, 'assets'), { recursive: true });
      writeFileSync(
        path.join(bundle, 'index.html'),
        '<!doctype html><meta charset="utf-8" /><script type="module" src="/assets/index-x.js"></script>',
      );
      writeFileSync(path.join(bundle, 'assets/index-x.js'), '');
      await expect(buildStaticSite({ runDir, out: path.join(dir, 'new'), bundleDir: bundle })).rejects.toThrow(
        /older than the static studio.*npm run build:studio/,
      );
      expect(existsSync(path.join(dir, 'new'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('staticIndexHtml puts the policy and the backend switch right after the charset', () => {
    const html = staticIndexHtml('<html><head><meta charset="utf-8" /><title>t</title></head></html>');
    expect(html).toMatch(
      /<meta charset="utf-8" \/>\s*<meta http-equiv="Content-Security-Policy" content="[^"]+" \/>\s*<meta name="dermosynth-backend" content="static" \/>\s*<title>/,
    );
    expect(() => staticIndexHtml('<html></html>')).toThrow(/no <meta charset>/);
    // The bundle is built for the server's root: its asset URLs become relative.
    expect(
      staticIndexHtml('<meta charset="utf-8" /><script src="/assets/a.js"></script><link href="/assets/a.css" />'),
    ).toContain('<script src="./assets/a.js"></script><link href="./assets/a.css" />');
    expect(() => staticIndexHtml('<meta charset="utf-8" /><img src="/logo.png" />')).toThrow(/root-relative URL/);
  });
});
