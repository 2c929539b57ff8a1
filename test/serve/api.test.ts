// The studio's JSON API against a server on an ephemeral port: images equal the run's generator's
// own output; bad requests (content type, body size, malformed PNG, unknown class, colour, empty or
// oversized masks, bad run-length encodings) get a 4xx JSON error and the server stays up; a full
// queue answers 503 at once; nothing from a request reaches the file system.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { pngChannels } from '../../src/data/image_io.js';
import { buildLabelBytes } from '../../src/data/label_map.js';
import { RunGenerator } from '../../src/synth/run_generator.js';
import { InferenceQueue, QueueFullError } from '../../src/serve/inference_queue.js';
import { startStudioServer, type StudioServer } from '../../src/serve/server.js';
import { encodeRle } from '../../src/serve/validate.js';
import { RUN_SIZE, buildStudio, maskPng, root, trainTinyRun } from './helpers.js';

const N = RUN_SIZE;
let work = '';
let runDir = '';
let studio: StudioServer;
let reference: RunGenerator;

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One HTTP request with full control of headers and body (a Buffer, or a generator of chunks). */
function request(
  method: string,
  p: string,
  o: { headers?: Record<string, string>; body?: Buffer | (() => Iterable<Buffer>) } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${studio.url}${p}`, { method, headers: o.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    let answered = false;
    req.on('response', () => (answered = true));
    req.on('error', (e) => {
      if (!answered) reject(e);
    });
    if (typeof o.body === 'function') {
      // Streams chunks (chunked encoding) until the server has answered.
      const it = o.body()[Symbol.iterator]();
      const pump = () => {
        for (;;) {
          if (answered || req.destroyed) return;
          const n = it.next();
          if (n.done) return void req.end();
          if (!req.write(n.value)) return void req.once('drain', pump);
        }
      };
      pump();
    } else {
      req.end(o.body);
    }
  });
}

const png = (p: string, body: Buffer) => request('POST', p, { headers: { 'Content-Type': 'image/png' }, body });
const postJson = (p: string, value: unknown) =>
  request('POST', p, { headers: { 'Content-Type': 'application/json' }, body: Buffer.from(JSON.stringify(value)) });

async function rgbOf(body: Buffer): Promise<{ width: number; height: number; data: Buffer }> {
  const { data, info } = await sharp(body).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data };
}

function boxMask(box: [number, number, number, number]): Uint8Array {
  const m = new Uint8Array(N * N);
  for (let y = box[1]; y < box[3]; y++) for (let x = box[0]; x < box[2]; x++) m[y * N + x] = 255;
  return m;
}

function expectJsonError(r: Reply, status: number, pattern: RegExp): void {
  expect(r.status, r.body.toString()).toBe(status);
  expect(r.headers['content-type']).toMatch(/^application\/json/);
  const j = JSON.parse(r.body.toString()) as { error: string };
  expect(j.error).toMatch(pattern);
}

async function expectAlive(): Promise<void> {
  const r = await request('GET', '/healthz');
  expect(r.status).toBe(200);
  expect(JSON.parse(r.body.toString()).ok).toBe(true);
}

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-serve-api-'));
  runDir = path.join(work, 'run');
  trainTinyRun(runDir);
  await buildStudio(path.join(work, 'bundle'));
  studio = await startStudioServer({ runDir, port: 0, bundleDir: path.join(work, 'bundle'), maxBody: 256 * 1024 });
  reference = await RunGenerator.load(runDir);
});

afterAll(async () => {
  await studio?.close();
  reference?.dispose();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the API answers', () => {
  it('GET /healthz and /api/run describe the server and the run', async () => {
    await expectAlive();
    const r = await request('GET', '/api/run');
    expect(r.status).toBe(200);
    const run = JSON.parse(r.body.toString());
    expect(run).toMatchObject({
      model: 'proposed',
      width: N,
      height: N,
      classes: ['nevus', 'melanoma', 'seborrheic_keratosis'],
      deterministic: true,
    });
    expect(run.weights.name).toBe('generator.safetensors');
    expect(run.weights.sha256).toBe(reference.weights.sha256);
    expect(run.dataset.count).toBeGreaterThan(0);
    expect(studio.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it("POST /api/generate (PNG) gives the run generator's own image; RLE gives the same; the seed is recorded", async () => {
    const mask = boxMask([8, 6, 24, 22]);
    const r = await png('/api/generate?class=melanoma&seed=42', await maskPng(N, N, [8, 6, 24, 22]));
    expect(r.status, r.body.toString()).toBe(200);
    expect(r.headers['content-type']).toBe('image/png');
    expect(r.headers['x-dermosynth-seed']).toBe('42');
    expect(r.headers['x-dermosynth-class']).toBe('melanoma');
    expect(r.headers['x-dermosynth-vary']).toBe('false');
    expect(r.headers['x-dermosynth-notice']).toBeUndefined();
    const got = await rgbOf(r.body);
    expect([got.width, got.height]).toEqual([N, N]);
    const want = reference.generate([buildLabelBytes(mask, 1, reference.spec, N, N)])[0]!;
    expect(Buffer.from(want).equals(got.data)).toBe(true);

    const j = await postJson('/api/generate', { class: 'melanoma', seed: 42, rle: encodeRle(mask, N, N) });
    expect(j.status, j.body.toString()).toBe(200);
    expect((await rgbOf(j.body)).data.equals(got.data)).toBe(true);

    // The diagnosis changes the image; the seed alone does not (no noise input).
    const nevus = await postJson('/api/generate', { class: 'nevus', seed: 42, rle: encodeRle(mask, N, N) });
    expect((await rgbOf(nevus.body)).data.equals(got.data)).toBe(false);
    const otherSeed = await postJson('/api/generate', { class: 'melanoma', seed: 7, rle: encodeRle(mask, N, N) });
    expect((await rgbOf(otherSeed.body)).data.equals(got.data)).toBe(true);
  });

  it('vary deforms the mask from the seed: reproducible, different across seeds', async () => {
    const rle = encodeRle(boxMask([10, 8, 22, 26]), N, N);
    const a = await postJson('/api/generate', { class: 'nevus', seed: 1, vary: true, rle });
    const b = await postJson('/api/generate', { class: 'nevus', seed: 1, vary: true, rle });
    const c = await postJson('/api/generate', { class: 'nevus', seed: 2, vary: true, rle });
    const plain = await postJson('/api/generate', { class: 'nevus', seed: 1, rle });
    expect(a.status, a.body.toString()).toBe(200);
    expect(a.headers['x-dermosynth-vary']).toBe('true');
    const [ra, rb, rc, rp] = await Promise.all([a, b, c, plain].map((r) => rgbOf(r.body)));
    expect(ra!.data.equals(rb!.data)).toBe(true);
    expect(ra!.data.equals(rc!.data)).toBe(false);
    expect(ra!.data.equals(rp!.data)).toBe(false);
  });

  it('a mask of another size is resized (nearest) with a notice', async () => {
    const r = await png('/api/generate?class=nevus', await maskPng(64, 64, [16, 12, 48, 44]));
    expect(r.status, r.body.toString()).toBe(200);
    expect(r.headers['x-dermosynth-notice']).toMatch(/64x64.*resized.*32x32/);
    expect((await rgbOf(r.body)).width).toBe(N);
    // The same through POST /api/mask, which answers the resized mask itself.
    const m = await png('/api/mask', await maskPng(64, 64, [16, 12, 48, 44]));
    expect(m.status).toBe(200);
    expect(pngChannels(m.body)).toBe(1);
    const { data, info } = await sharp(m.body).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([N, N]);
    expect(Buffer.from(data).equals(Buffer.from(boxMask([8, 6, 24, 22])))).toBe(true);
  });

  it("the dataset's masks, sample grids, loss log and metrics", async () => {
    const list = JSON.parse((await request('GET', '/api/dataset')).body.toString());
    expect(list.lesions.length).toBeGreaterThan(0);
    expect(list.lesions[0]).toMatchObject({ index: 0, id: expect.stringMatching(/^SAMPLE_/) });
    const m = await request('GET', '/api/dataset/0/mask.png');
    expect(m.status).toBe(200);
    const meta = await sharp(m.body).metadata();
    expect([meta.width, meta.height, pngChannels(m.body)]).toEqual([N, N, 1]);
    expectJsonError(await request('GET', '/api/dataset/99999/mask.png'), 404, /no lesion 99999/);

    const samples = JSON.parse((await request('GET', '/api/run/samples')).body.toString()).samples;
    expect(samples).toEqual(['step-00000002.png', 'step-00000001.png']);
    const grid = await request('GET', `/api/run/samples/${samples[0]}`);
    expect(grid.status).toBe(200);
    expect(grid.headers['content-type']).toBe('image/png');

    const log = JSON.parse((await request('GET', '/api/run/log')).body.toString()).log;
    expect(log.entries).toBe(2);
    expect(log.lastStep).toBe(2);
    expect(log.losses.G_GAN.curve).toHaveLength(2);

    expect(JSON.parse((await request('GET', '/api/run/metrics')).body.toString()).metrics).toBeNull();
    writeFileSync(path.join(runDir, 'metrics.json'), JSON.stringify({ fid: 12.5 }));
    expect(JSON.parse((await request('GET', '/api/run/metrics')).body.toString()).metrics).toEqual({ fid: 12.5 });
  });

  it('the bundle is served with security headers', async () => {
    const r = await request('GET', '/');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/html/);
    expect(r.body.toString()).toContain('dermosynth studio');
    expect(r.headers['content-security-policy']).toMatch(/default-src 'self'/);
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(r.body.toString())![1]!;
    const js = await request('GET', asset);
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toMatch(/^text\/javascript/);
  });
});

describe('bad requests get a 4xx JSON error and the server stays up', () => {
  const good = () => maskPng(N, N, [8, 8, 24, 24]);

  it('wrong content type: 415', async () => {
    const r = await request('POST', '/api/generate?class=nevus', {
      headers: { 'Content-Type': 'text/plain' },
      body: await good(),
    });
    expectJsonError(r, 415, /unsupported Content-Type 'text\/plain'.*image\/png.*application\/json/);
    expectJsonError(await request('POST', '/api/generate?class=nevus', { body: await good() }), 415, /\(none\)/);
    await expectAlive();
  });

  it('huge body: 413, whether declared or streamed', async () => {
    const big = Buffer.alloc(8 * 1024 * 1024, 1);
    expectJsonError(await png('/api/generate?class=nevus', big), 413, /too large.*limit is 262144 bytes/);
    const chunk = Buffer.alloc(64 * 1024, 7);
    const r = await request('POST', '/api/generate?class=nevus', {
      headers: { 'Content-Type': 'image/png', 'Transfer-Encoding': 'chunked' },
      body: function* () {
        for (let i = 0; i < 1024; i++) yield chunk; // 64 MiB if nobody stops it
      },
    });
    expectJsonError(r, 413, /too large/);
    await expectAlive();
  });

  it('malformed PNG: 400', async () => {
    const ok = await good();
    expectJsonError(await png('/api/generate?class=nevus', Buffer.from('definitely not a png')), 400, /not a PNG/);
    expectJsonError(await png('/api/generate?class=nevus', ok.subarray(0, 45)), 400, /malformed/);
    const corrupt = Buffer.from(ok);
    for (let i = 40; i < corrupt.length - 12; i++) corrupt[i] = 0xa5; // IDAT garbage
    expectJsonError(await png('/api/generate?class=nevus', corrupt), 400, /malformed/);
    await expectAlive();
  });

  it('unknown or missing class, bad seed or flag: 400', async () => {
    expectJsonError(
      await png('/api/generate?class=basal_cell_carcinoma', await good()),
      400,
      /unknown class 'basal_cell_carcinoma'.*nevus, melanoma, seborrheic_keratosis/,
    );
    expectJsonError(await png('/api/generate', await good()), 400, /missing 'class'/);
    expectJsonError(await png('/api/generate?class=nevus&seed=-3', await good()), 400, /'seed' must be an integer/);
    expectJsonError(
      await png('/api/generate?class=nevus&vary=maybe', await good()),
      400,
      /'vary' must be true or false/,
    );
    await expectAlive();
  });

  it('colour, grey-level, empty and oversized masks: 422', async () => {
    const colour = Buffer.alloc(N * N * 3);
    for (let i = 0; i < colour.length; i += 3) colour[i] = 200;
    expectJsonError(
      await png(
        '/api/generate?class=nevus',
        await sharp(colour, { raw: { width: N, height: N, channels: 3 } })
          .png()
          .toBuffer(),
      ),
      422,
      /colour/,
    );
    const grey = Buffer.alloc(N * N, 100);
    expectJsonError(
      await png(
        '/api/generate?class=nevus',
        await sharp(grey, { raw: { width: N, height: N, channels: 1 } })
          .png()
          .toBuffer(),
      ),
      422,
      /neither near 0 nor near 255/,
    );
    expectJsonError(await png('/api/generate?class=nevus', await maskPng(N, N, null)), 422, /empty/);
    expectJsonError(
      await png('/api/generate?class=nevus', await maskPng(5000, 2, [0, 0, 100, 2])),
      422,
      /5000x2.*at most|from 1x1 to 4096x4096/,
    );
    // A mask whose lesion vanishes when shrunk to the run's size.
    expectJsonError(
      await png('/api/generate?class=nevus', await maskPng(320, 320, [0, 0, 1, 1])),
      422,
      /empty at the run's size/,
    );
    await expectAlive();
  });

  it('bad JSON and bad run-length encodings: 400', async () => {
    expectJsonError(
      await request('POST', '/api/generate', {
        headers: { 'Content-Type': 'application/json' },
        body: Buffer.from('{"class": '),
      }),
      400,
      /not valid JSON/,
    );
    expectJsonError(await postJson('/api/generate', [1, 2]), 400, /JSON object/);
    expectJsonError(await postJson('/api/generate', { class: 'nevus' }), 400, /'rle' is missing/);
    expectJsonError(
      await postJson('/api/generate', { class: 'nevus', rle: { width: N, height: N, counts: [10, 10] } }),
      400,
      /add up to 20 pixels/,
    );
    expectJsonError(
      await postJson('/api/generate', { class: 'nevus', rle: { width: N, height: N, counts: [N * N, 5] } }),
      400,
      /more than/,
    );
    expectJsonError(
      await postJson('/api/generate', { class: 'nevus', rle: { width: N, height: N, counts: [-1, N * N + 1] } }),
      400,
      /not a non-negative integer/,
    );
    expectJsonError(
      await postJson('/api/generate', { class: 'nevus', rle: { width: 0.5, height: N, counts: [] } }),
      400,
      /width/,
    );
    await expectAlive();
  });

  it('wrong methods, unknown routes, paths that try to leave the bundle or the samples: 404/405', async () => {
    expectJsonError(await request('GET', '/api/generate'), 405, /takes POST/);
    expectJsonError(await request('DELETE', '/api/run'), 405, /takes GET/);
    expectJsonError(await request('GET', '/api/nothing'), 404, /no API route/);
    for (const p of [
      '/../package.json',
      '/%2e%2e/package.json',
      '/..%2f..%2fpackage.json',
      '/src/main.ts',
      '/assets/../../package.json',
      '/.%2e/package.json',
    ]) {
      expect((await request('GET', p)).status, p).toBe(404);
    }
    for (const p of [
      '/api/run/samples/..%2Fconfig.json',
      '/api/run/samples/%2e%2e%2fconfig.json',
      '/api/run/samples/config.json',
      '/api/run/samples/%E0%A4%A',
    ]) {
      expectJsonError(await request('GET', p), 404, /no such sample grid/);
    }
    await expectAlive();
  });

  it('a Host other than localhost (DNS rebinding) gets 421', async () => {
    const r = await request('GET', '/api/run', { headers: { Host: 'attacker.example' } });
    expectJsonError(r, 421, /unexpected Host header 'attacker.example'/);
    expect((await request('GET', '/healthz', { headers: { Host: `localhost:${studio.port}` } })).status).toBe(200);
  });

  it('after all of that, generation still works', async () => {
    const r = await png('/api/generate?class=seborrheic_keratosis', await good());
    expect(r.status).toBe(200);
  });
});

describe('the bounded queue', () => {
  it('refuses a job beyond its capacity at once', async () => {
    const q = await InferenceQueue.start({ runDir, device: 'cpu', threads: 1, capacity: 2, maxBatch: 1 });
    try {
      const job = { mask: boxMask([4, 4, 20, 20]), classIndex: 0, seed: 0, vary: false };
      const a = q.submit(job);
      const b = q.submit(job);
      expect(q.depth).toBe(2);
      expect(() => q.submit(job)).toThrow(QueueFullError);
      expect(q.counts.refused).toBe(1);
      const [ra, rb] = await Promise.all([a, b]);
      expect(ra.rgb.length).toBe(N * N * 3);
      expect(Buffer.from(ra.rgb).equals(Buffer.from(rb.rgb))).toBe(true);
      expect(q.depth).toBe(0);
      await expect(q.submit(job)).resolves.toBeDefined();
    } finally {
      await q.close();
    }
  });

  it('a failing batch rejects its jobs; a dead worker is replaced and the queue goes on', async () => {
    const q = await InferenceQueue.start({ runDir, device: 'cpu', threads: 1, capacity: 4, maxBatch: 1 });
    try {
      const job = { mask: boxMask([4, 4, 20, 20]), classIndex: 2, seed: 0, vary: false };
      await expect(q.submit({ ...job, mask: new Uint8Array(10) })).rejects.toThrow(
        /inference failed: .*mask has 10 pixels/,
      );
      const before = await q.submit(job);
      // Kill the worker thread as a crash would (the field is private: this is the test's way in).
      await (q as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
      const after = await q.submit(job);
      expect(q.counts.restarts).toBe(1);
      expect(Buffer.from(after.rgb).equals(Buffer.from(before.rgb))).toBe(true);
    } finally {
      await q.close();
    }
  });

  it('over HTTP: a burst gets 200s and immediate 503s, every request answered', async () => {
    const small = await startStudioServer({
      runDir,
      port: 0,
      bundleDir: path.join(work, 'bundle'),
      queue: 1,
      maxBatch: 1,
    });
    try {
      const body = await maskPng(N, N, [8, 8, 24, 24]);
      const replies = await Promise.all(
        Array.from({ length: 40 }, () =>
          fetch(`${small.url}/api/generate?class=nevus`, {
            method: 'POST',
            headers: { 'Content-Type': 'image/png' },
            body: new Uint8Array(body),
          }).then(async (r) => ({
            status: r.status,
            retry: r.headers.get('retry-after'),
            text: r.status === 503 ? await r.text() : (await r.arrayBuffer(), ''),
          })),
        ),
      );
      const statuses = replies.map((r) => r.status);
      expect(
        statuses.every((s) => s === 200 || s === 503),
        statuses.join(','),
      ).toBe(true);
      expect(statuses).toContain(200);
      expect(statuses).toContain(503);
      const busy = replies.find((r) => r.status === 503)!;
      expect(busy.retry).toBe('1');
      expect(JSON.parse(busy.text).error).toMatch(/busy/);
    } finally {
      await small.close();
    }
  });
});

describe('dermosynth serve', () => {
  it('starts, answers, and stops on SIGINT; or says to build the bundle when it is missing', async () => {
    const child = spawn(
      process.execPath,
      [path.join(root, 'bin/dermosynth.mjs'), 'serve', '--run', runDir, '--port', '0'],
      { cwd: root, env: process.env },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    if (!existsSync(path.join(root, 'studio/dist/index.html'))) {
      expect(await exited).toBe(1);
      expect(err).toMatch(/run npm run build:studio/);
      return;
    }
    const deadline = Date.now() + 60_000;
    while (!/dermosynth studio: (http:\S+)\//.test(out) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    const url = /dermosynth studio: (http:\S+)\//.exec(out)?.[1];
    expect(url, err).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(err).toMatch(/loaded .*proposed, 32x32/);
  });

  it('a missing run folder is one clear line', async () => {
    const child = spawn(
      process.execPath,
      [path.join(root, 'bin/dermosynth.mjs'), 'serve', '--run', path.join(work, 'nowhere')],
      { cwd: root },
    );
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    expect(await new Promise((resolve) => child.on('exit', resolve))).toBe(1);
    expect(err.trim()).toMatch(/^dermosynth: --run .*nowhere: no such run folder/);
  });
});
