// npm run bench:serve [-- --run RUN --requests 50 --rounds 5 --queue 16 --threads N --browser-iters 10]
//
// The studio's server under a burst: `dermosynth serve` runs as a child process; each round fires
// `--requests` generate requests at once (64x64 masks, a different lesion and diagnosis each) and
// waits for every answer. Prints per round the answers (200 / 503 / other), p50 and p95 latency of
// the 200s and of the 503s, and the server's RSS; the RSS after the first round against the last
// shows whether memory stays flat. Without --run, a 64x64 run of the proposed model (cpu preset,
// 2 steps: the weights do not matter for speed) is trained once into .bench-cache/serve-run.
//
// Then the browser against the server on the same model, size, mask and diagnosis: the run's
// static studio (`dermosynth studio build`, from a fresh build of studio/) in headless Chromium
// (/usr/bin/chromium, no GPU: onnxruntime-web's WebAssembly backend, one thread) generates
// `--browser-iters` images one after another, and the server answers as many requests one after
// another; each side's generation time is its own measure of the same work (label map, generator,
// output; the page's dermosynthStudio.last.inferenceMs, the server's X-Dermosynth-Inference-Ms),
// after one warm-up each. Prints both medians and the ratio browser / server. `--browser-iters 0`
// skips it.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { build } from 'vite';
import { buildStaticSite } from '../src/serve/static_site.js';
import { CHROMIUM, launchChromium } from '../test/serve/helpers.js';
import { startSiteServer } from '../test/serve/site_server.js';
import { arg, intArg } from './args.js';

const root = path.resolve(import.meta.dirname, '..');
const bin = path.join(root, 'bin/dermosynth.mjs');

const requests = Number(arg('requests', '50'));
const rounds = Number(arg('rounds', '5'));
const queue = arg('queue', '16');
const threads = arg('threads', '');
const browserIters = intArg('browser-iters', 10, 0);
let runDir = arg('run', '');

if (!runDir) {
  runDir = path.join(root, '.bench-cache/serve-run');
  if (!existsSync(path.join(runDir, 'generator.safetensors'))) {
    console.log(`training a 64x64 run for the benchmark into ${runDir} ...`);
    const r = spawnSync(process.execPath, [bin, 'train', '--out', runDir, '--size', '64x64', '--steps', '2'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, DERMOSYNTH_NO_BAR: '1' },
    });
    if (r.status !== 0) throw new Error(`bench:serve: training the benchmark run failed:\n${r.stderr}`);
  }
}
if (!existsSync(path.join(root, 'studio/dist/index.html'))) {
  console.log('building the studio bundle (npm run build:studio) ...');
  await build({ root: path.join(root, 'studio'), logLevel: 'warn' });
}

const config = JSON.parse(readFileSync(path.join(runDir, 'config.json'), 'utf8')) as {
  options: { width: number; height: number; model: string };
  data: { classes: string[] };
};
const { width: W, height: H, model } = config.options;
const classes = config.data.classes;

const args = [bin, 'serve', '--run', runDir, '--port', '0', '--queue', queue];
if (threads) args.push('--threads', threads);
const server = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
let out = '';
let err = '';
server.stdout.on('data', (d) => (out += d));
server.stderr.on('data', (d) => (err += d));
const deadline = Date.now() + 120_000;
while (!/dermosynth studio: (http:\S+)\//.test(out)) {
  if (server.exitCode !== null || Date.now() > deadline)
    throw new Error(`bench:serve: the server did not start:\n${err}`);
  await new Promise((r) => setTimeout(r, 50));
}
const url = /dermosynth studio: (http:\S+)\//.exec(out)![1]!;

function rssMiB(): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Ellipse masks of varied size and position, as PNG. */
async function masks(n: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (let k = 0; k < n; k++) {
    const px = Buffer.alloc(W * H);
    const cx = W * (0.35 + (0.3 * ((k * 7) % 10)) / 10);
    const cy = H * (0.35 + (0.3 * ((k * 3) % 10)) / 10);
    const rx = W * (0.12 + (0.15 * ((k * 5) % 7)) / 7);
    const ry = H * (0.12 + (0.15 * ((k * 11) % 7)) / 7);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) if (((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1) px[y * W + x] = 255;
    out.push(
      await sharp(px, { raw: { width: W, height: H, channels: 1 } })
        .toColourspace('b-w')
        .png()
        .toBuffer(),
    );
  }
  return out;
}

function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

const fmt = (v: number) => (Number.isFinite(v) ? v.toFixed(1).padStart(7) : '      -');
const bodies = await masks(requests);

async function burst(): Promise<{ ok: number[]; busy: number[]; other: number[] }> {
  const ok: number[] = [];
  const busy: number[] = [];
  const other: number[] = [];
  await Promise.all(
    bodies.map(async (body, k) => {
      const t0 = performance.now();
      const r = await fetch(`${url}/api/generate?class=${classes[k % classes.length]}&seed=${k}`, {
        method: 'POST',
        headers: { 'Content-Type': 'image/png' },
        body: new Uint8Array(body),
      });
      await r.arrayBuffer();
      const ms = performance.now() - t0;
      (r.status === 200 ? ok : r.status === 503 ? busy : other).push(ms);
    }),
  );
  return { ok, busy, other };
}

try {
  console.log(
    `bench:serve: ${model} ${W}x${H}, ${requests} concurrent requests x ${rounds} rounds, queue ${queue}, ${os.availableParallelism()} cores; ${err.trim().split('\n').pop()}`,
  );
  // Warm-up: one request, so that the first round does not time libtorch's first call.
  await fetch(`${url}/api/generate?class=${classes[0]}`, {
    method: 'POST',
    headers: { 'Content-Type': 'image/png' },
    body: new Uint8Array(bodies[0]!),
  }).then((r) => r.arrayBuffer());
  const rssStart = rssMiB();
  console.log(`server RSS after warm-up: ${rssStart.toFixed(1)} MiB`);
  console.log('round    200    503  other   200 p50   200 p95   503 p50   503 p95   all p50   all p95   RSS MiB');
  const rss: number[] = [];
  const all200: number[] = [];
  for (let r = 1; r <= rounds; r++) {
    const t = await burst();
    rss.push(rssMiB());
    all200.push(...t.ok);
    const every = [...t.ok, ...t.busy, ...t.other];
    console.log(
      `${String(r).padStart(5)} ${String(t.ok.length).padStart(6)} ${String(t.busy.length).padStart(6)} ${String(t.other.length).padStart(6)}` +
        `   ${fmt(quantile(t.ok, 0.5))}   ${fmt(quantile(t.ok, 0.95))}   ${fmt(quantile(t.busy, 0.5))}   ${fmt(quantile(t.busy, 0.95))}   ${fmt(quantile(every, 0.5))}   ${fmt(quantile(every, 0.95))}   ${rss[rss.length - 1]!.toFixed(1).padStart(7)}`,
    );
    if (t.other.length > 0) console.log(`  ${t.other.length} answers were neither 200 nor 503`);
  }
  const health = (await (await fetch(`${url}/healthz`)).json()) as { queue: Record<string, number> };
  console.log(
    `latency ms (all rounds, 200s): p50 ${quantile(all200, 0.5).toFixed(1)}, p95 ${quantile(all200, 0.95).toFixed(1)}; server counts ${JSON.stringify(health.queue)}`,
  );
  const growth = rss.length > 1 ? (rss[rss.length - 1]! - rss[0]!) / rss[0]! : 0;
  console.log(
    `server RSS: ${rssStart.toFixed(1)} MiB after warm-up, ${rss[0]!.toFixed(1)} after round 1, ${rss[rss.length - 1]!.toFixed(1)} after round ${rounds}: growth after round 1 ${(growth * 100).toFixed(1)}%`,
  );
  if (browserIters > 0) await browserAgainstServer();
} finally {
  server.kill('SIGINT');
  await new Promise((r) => server.on('exit', r));
}

function median(xs: number[]): number {
  return quantile(xs, 0.5);
}

/** The same generation in headless Chromium (static studio, WebAssembly) and by the server, one at a time. */
async function browserAgainstServer(): Promise<void> {
  if (!existsSync(CHROMIUM)) {
    console.log(`browser vs server: skipped, ${CHROMIUM} is missing`);
    return;
  }
  const work = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-bench-static-'));
  const browser = await launchChromium();
  try {
    await build({
      root: path.join(root, 'studio'),
      logLevel: 'warn',
      build: { outDir: path.join(work, 'bundle'), emptyOutDir: true },
    });
    await buildStaticSite({
      runDir,
      out: path.join(work, 'site'),
      bundleDir: path.join(work, 'bundle'),
      masks: 0,
      samples: 0,
    });
    const site = await startSiteServer(path.join(work, 'site'));
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${site.url}/`);
      await page.waitForSelector('body[data-ready="true"]', { timeout: 300_000 });
      const backend = await page.getAttribute('body', 'data-backend');
      if (backend !== 'wasm') throw new Error(`bench:serve: the page runs on ${backend}, not WebAssembly`);
      await page.setInputFiles('#mask-upload', { name: 'mask.png', mimeType: 'image/png', buffer: bodies[0]! });
      await page.waitForFunction(() => /^Lesion/.test(document.querySelector('#mask-hint')?.textContent ?? ''));
      await page.selectOption('#class-select', classes[0]!);
      const browserMs: number[] = [];
      for (let i = 0; i <= browserIters; i++) {
        await page.click('#generate');
        await page.waitForFunction((k) => document.querySelectorAll('figure.result').length === k, i + 1, {
          timeout: 300_000,
        });
        const ms = await page.evaluate(
          () =>
            (window as unknown as { dermosynthStudio: { last: { inferenceMs: number } } }).dermosynthStudio.last
              .inferenceMs,
        );
        if (i > 0) browserMs.push(ms); // the first is the warm-up
      }
      if (errors.length) throw new Error(`bench:serve: the page failed: ${errors.join('; ')}`);
      const serverMs: number[] = [];
      for (let i = 0; i <= browserIters; i++) {
        const r = await fetch(`${url}/api/generate?class=${classes[0]}`, {
          method: 'POST',
          headers: { 'Content-Type': 'image/png' },
          body: new Uint8Array(bodies[0]!),
        });
        await r.arrayBuffer();
        if (r.status !== 200) throw new Error(`bench:serve: the server answered ${r.status}`);
        if (i > 0) serverMs.push(Number(r.headers.get('X-Dermosynth-Inference-Ms')));
      }
      const b = median(browserMs);
      const s = median(serverMs);
      console.log(
        `browser vs server, ${model} ${W}x${H}, one image at a time, median of ${browserIters}: browser (onnxruntime-web WebAssembly, 1 thread, headless Chromium) ${b.toFixed(1)} ms, server (libtorch, ${threads || 'default'} threads) ${s.toFixed(1)} ms; ratio browser/server ${(b / s).toFixed(2)}`,
      );
    } finally {
      await site.close();
    }
  } finally {
    await browser.close();
    rmSync(work, { recursive: true, force: true });
  }
}
