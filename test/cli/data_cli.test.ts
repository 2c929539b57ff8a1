// The real `dermosynth data ...` command line, run as a child process: sample -> inspect ->
// prepare -> inspect the cache, flag errors, bad lesions with and without --skip-bad, and
// `data download isic2017` against a local HTTP server.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeZip } from '../helpers/zip_writer.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ENV: NodeJS.ProcessEnv = { ...process.env, DERMOSYNTH_NO_BAR: '1' };
delete ENV.DERMOSYNTH_DEBUG;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function cli(...args: string[]): Run {
  const r = spawnSync(process.execPath, ['bin/dermosynth.mjs', ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: ENV,
    timeout: 60_000,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Like cli, without blocking the event loop (for the HTTP server in this process, and to run several at once). */
function cliAsync(...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/dermosynth.mjs', ...args], { cwd: repoRoot, env: ENV });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** No stack trace: a user error is one clear line. */
function expectNoStack(r: Run): void {
  expect(r.stderr).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/);
}

let tmp: string;
beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'dermosynth-cli-'));
});
afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('data sample, inspect, prepare', () => {
  let data: string;
  let cache: string;

  it('sample writes a flat dataset', () => {
    data = path.join(tmp, 'data');
    const r = cli('data', 'sample', '--out', data, '--n', '9', '--size', '64');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/wrote 9 lesions \(3 nevus, 3 melanoma, 3 seborrheic_keratosis\) at 64x64 to /);
    expect(existsSync(path.join(data, 'labels.csv'))).toBe(true);
    expect(existsSync(path.join(data, 'images', 'SAMPLE_0008.jpg'))).toBe(true);
    expect(existsSync(path.join(data, 'masks', 'SAMPLE_0008_segmentation.png'))).toBe(true);
  });

  it('inspect counts lesions per class and finds no problem', () => {
    const r = cli('data', 'inspect', data);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`${data} (flat layout): 9 lesions, 9 usable`);
    expect(r.stdout).toMatch(/^split\s+NV\s+MEL\s+SK\s+total$/m);
    expect(r.stdout).toMatch(/^none\s+3\s+3\s+3\s+9$/m);
    expect(r.stdout).toMatch(/^all\s+3\s+3\s+3\s+9$/m);
    expect(r.stdout).toMatch(/^64x64\s+9$/m);
    expect(r.stdout).toMatch(/^melanoma\s+3\s+\d+\.\d%/m);
    expect(r.stdout).toContain('no problems found');
  });

  it('prepare writes a cache, and a second run reuses it', () => {
    cache = path.join(tmp, 'cache');
    const r = cli('data', 'prepare', data, '--size', '32', '--out', cache);
    expect(r.status).toBe(0);
    expectNoStack(r);
    expect(existsSync(path.join(cache, 'cache.json'))).toBe(true);
    expect(r.stdout).toContain(`${cache}: cache of 9 lesions at 32x32 (fit crop)`);
    expect(r.stdout).toContain('9 lesion(s) decoded, 0 reused from existing shards');
    const again = cli('data', 'prepare', data, '--size', '32x32', '--out', cache);
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('0 lesion(s) decoded, 9 reused from existing shards');
    // Other options into the same folder: refused unless --overwrite.
    const other = cli('data', 'prepare', data, '--size', '40x24', '--out', cache);
    expect(other.status).toBe(1);
    expect(other.stderr).toMatch(/^dermosynth: .*other options.*--overwrite/m);
    expectNoStack(other);
  });

  it('inspect describes a prepared cache', () => {
    const r = cli('data', 'inspect', cache);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`${cache}: cache of 9 lesions at 32x32 (fit crop), from ${data} (flat)`);
    expect(r.stdout).toContain(
      'label map v1, channels: skin, lesion:nevus, lesion:melanoma, lesion:seborrheic_keratosis',
    );
    expect(r.stdout).toContain('split: stratified by diagnosis (val 0.15, test 0.15, seed 0)');
    expect(r.stdout).toMatch(/^train\s+3\s+3\s+3\s+9$/m);
    expect(r.stdout).toMatch(/1 shard\(s\), .* MiB; 0 problem\(s\) skipped, 0 warning\(s\)/);
  });

  it('bad flags exit non-zero naming the flag, and write nothing', async () => {
    const out = path.join(tmp, 'never');
    const runs = await Promise.all([
      cliAsync('data', 'prepare', data, '--size', '12q', '--out', out),
      cliAsync('data', 'sample', '--out', out, '--n', '0'),
      cliAsync('data', 'prepare', data, '--size', '32', '--fit', 'diagonal', '--out', out),
      cliAsync('data', 'download', 'isic2017', '--out', out, '--splits', 'val,holdout'),
    ]);
    const want: [string, RegExp][] = [
      ['--size', /'12q'/],
      ['--n', /from 1 to 100000, got 0/],
      ['--fit', /Allowed choices are crop, pad/],
      ['--splits', /holdout/],
    ];
    runs.forEach((r, i) => {
      const [flag, detail] = want[i]!;
      expect(r.status, r.stderr).not.toBe(0);
      expect(r.stderr).toContain(flag);
      expect(r.stderr).toMatch(detail);
      expectNoStack(r);
    });
    expect(existsSync(out)).toBe(false);
  });

  it('prepare with a missing mask exits 1 naming the lesion; --skip-bad goes on and lists it in skipped.csv', async () => {
    const broken = path.join(tmp, 'broken');
    await fs.cp(data, broken, { recursive: true });
    await fs.rm(path.join(broken, 'masks', 'SAMPLE_0004_segmentation.png'));
    const out = path.join(tmp, 'cache-broken');
    const [inspect, fail] = await Promise.all([
      cliAsync('data', 'inspect', broken),
      cliAsync('data', 'prepare', broken, '--size', '32', '--out', out),
    ]);
    expect(inspect.status).toBe(1);
    expect(inspect.stdout).toMatch(
      /1 error\(s\), 0 warning\(s\):\n\s+error: SAMPLE_0004 .*SAMPLE_0004_segmentation\.png: the segmentation mask is missing/,
    );
    expect(fail.status).toBe(1);
    expect(fail.stderr).toMatch(/^dermosynth: .*broken: 1 problem\(s\) make lesions unusable/m);
    expect(fail.stderr).toContain('SAMPLE_0004');
    expect(fail.stderr).toContain('--skip-bad');
    expectNoStack(fail);
    expect(existsSync(path.join(out, 'cache.json'))).toBe(false);

    const skip = cli('data', 'prepare', broken, '--size', '32', '--out', out, '--skip-bad');
    expect(skip.status).toBe(0);
    expect(skip.stdout).toContain('cache of 8 lesions');
    expect(skip.stdout).toContain(path.join(out, 'skipped.csv'));
    expect(skip.stdout).toContain('SAMPLE_0004');
    const csv = await fs.readFile(path.join(out, 'skipped.csv'), 'utf8');
    expect(csv).toMatch(/^SAMPLE_0004,error,missing-mask,/m);
  });
});

// ---------------------------------------------------------------------------------------------

describe('data download isic2017', () => {
  let server: http.Server;
  let base: string;
  const files = new Map<string, Buffer>();
  const requests: string[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const p = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      requests.push(`${req.method} ${p}`);
      const data = files.get(p);
      if (!data) {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': data.length });
      res.end(req.method === 'HEAD' ? undefined : data);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

    // Two real lesions (so that the downloaded folder can be inspected too).
    const ids = ['ISIC_0000001', 'ISIC_0000002'];
    const images = [];
    const masks = [];
    for (const [i, id] of ids.entries()) {
      const jpg = await sharp({
        create: { width: 48, height: 36, channels: 3, background: { r: 200, g: 150 - 40 * i, b: 130 } },
      })
        .jpeg()
        .toBuffer();
      const m = new Uint8Array(48 * 36);
      for (let y = 10; y < 26; y++) m.fill(255, y * 48 + 14, y * 48 + 34);
      const png = await sharp(m, { raw: { width: 48, height: 36, channels: 1 } })
        .toColourspace('b-w')
        .png()
        .toBuffer();
      images.push({ name: `ISIC-2017_Validation_Data/${id}.jpg`, data: jpg });
      masks.push({ name: `ISIC-2017_Validation_Part1_GroundTruth/${id}_segmentation.png`, data: png });
    }
    files.set('/ISIC-2017_Validation_Data.zip', makeZip([{ name: 'ISIC-2017_Validation_Data/' }, ...images]));
    files.set(
      '/ISIC-2017_Validation_Part1_GroundTruth.zip',
      makeZip([{ name: 'ISIC-2017_Validation_Part1_GroundTruth/' }, ...masks]),
    );
    files.set(
      '/ISIC-2017_Validation_Part3_GroundTruth.csv',
      Buffer.from('image_id,melanoma,seborrheic_keratosis\nISIC_0000001,0.0,0.0\nISIC_0000002,1.0,0.0\n'),
    );
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('lays out the official folders from a mirror, and the result reads as an ISIC-2017 dataset', async () => {
    const out = path.join(tmp, 'isic');
    const r = await cliAsync('data', 'download', 'isic2017', '--out', out, '--base-url', base, '--splits', 'val');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('downloading 3 ISIC-2017 files');
    expect(r.stdout).toMatch(/ISIC-2017_Validation_Data\.zip\s+[\d.]+\s+downloaded/);
    expect(r.stdout).toContain(`the dataset is in ${out}`);
    expect((await fs.readdir(out)).sort()).toEqual(
      [
        '.downloads',
        'ISIC-2017_Validation_Data',
        'ISIC-2017_Validation_Part1_GroundTruth',
        'ISIC-2017_Validation_Part3_GroundTruth.csv',
      ].sort(),
    );
    expect((await fs.readdir(path.join(out, 'ISIC-2017_Validation_Data'))).sort()).toEqual([
      'ISIC_0000001.jpg',
      'ISIC_0000002.jpg',
    ]);
    expect((await fs.readdir(path.join(out, 'ISIC-2017_Validation_Part1_GroundTruth'))).sort()).toEqual([
      'ISIC_0000001_segmentation.png',
      'ISIC_0000002_segmentation.png',
    ]);
    // Only the validation files were asked for.
    expect(requests.every((q) => q.includes('Validation'))).toBe(true);

    const inspect = await cliAsync('data', 'inspect', out);
    expect(inspect.status, inspect.stdout + inspect.stderr).toBe(0);
    expect(inspect.stdout).toContain('(isic2017 layout): 2 lesions, 2 usable');
    expect(inspect.stdout).toMatch(/^val\s+1\s+1\s+0\s+2$/m);
    expect(inspect.stdout).toContain('no problems found');
  });

  it('a file missing on the mirror exits 1 naming the URL', async () => {
    const out = path.join(tmp, 'isic-test');
    const r = await cliAsync('data', 'download', 'isic2017', '--out', out, '--base-url', base, '--splits', 'test');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`HTTP 404`);
    expect(r.stderr).toContain(`${base}ISIC-2017_Test_v2_Data.zip`);
    expectNoStack(r);
  });
});
