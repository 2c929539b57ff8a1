// CUDA: the commands with --device cuda (skipped without CUDA; npm run test:cuda): synthesize
// writes the CPU's dataset up to TF32 rounding, evaluate runs, serve answers from the GPU, and
// train --nproc 2 puts two workers on the one GPU over gloo (NCCL refuses two ranks on one device).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { TINY, bin, cliEnv, cliRunner, root, sampleAndTinyRun, synthFourMelanomas } from '../helpers/cli.js';
import { maskPng } from '../serve/helpers.js';
import { CUDA } from './helpers.js';

const cli = cliRunner({ env: cliEnv, timeoutMs: 300_000 });
let work = '';
let data = '';
let run = '';

beforeAll(() => {
  if (!CUDA) return;
  work = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-cuda-cli-'));
  ({ data, run } = sampleAndTinyRun(work, cli, { lesions: 24, size: 48 }));
}, 300_000);
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

async function pixels(file: string): Promise<Uint8Array> {
  return new Uint8Array(await sharp(file).raw().toBuffer());
}

describe.skipIf(!CUDA)('commands on cuda:0', () => {
  it("synthesize --device cuda: the CPU's lesions and masks, images within a few levels (TF32 convolutions)", async () => {
    const synth = (out: string, ...extra: string[]) => synthFourMelanomas(cli, { run, data }, out, ...extra);
    const a = path.join(work, 'synth-cpu');
    const b = path.join(work, 'synth-gpu');
    let r = synth(a);
    expect(r.status, r.stderr).toBe(0);
    r = synth(b, '--device', 'cuda');
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(path.join(b, 'provenance.csv'), 'utf8')).toBe(
      readFileSync(path.join(a, 'provenance.csv'), 'utf8'),
    );
    for (const f of readdirSync(path.join(a, 'images'))) {
      const x = await pixels(path.join(a, 'images', f));
      const y = await pixels(path.join(b, 'images', f));
      let max = 0;
      for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i]! - y[i]!));
      // TF32 keeps 2^-11 of each product; through the tiny generator's few layers that is well
      // under 1% of the [-1, 1] range: a handful of levels of 255.
      expect(max, f).toBeLessThanOrEqual(8);
    }
    r = synth(path.join(work, 'synth-fp16'), '--device', 'cuda', '--precision', 'fp16');
    expect(r.status, r.stderr).toBe(0);
  });

  it('evaluate --device cuda writes the metrics', () => {
    const r = cli('evaluate', '--run', run, '--device', 'cuda', '--aux-epochs', '1', '--grid-examples', '2');
    expect(r.status, r.stderr).toBe(0);
    const m = JSON.parse(readFileSync(path.join(run, 'metrics.json'), 'utf8')) as Record<string, unknown>;
    expect(JSON.stringify(m)).toMatch(/ssim/);
  });

  it('serve --device cuda:0 answers a generate request from the GPU', async () => {
    if (!existsSync(path.join(root, 'studio/dist/index.html')))
      throw new Error('studio/dist is missing: npm run build:studio');
    const child = spawn(process.execPath, [bin, 'serve', '--run', run, '--port', '0', '--device', 'cuda:0'], {
      cwd: root,
      env: cliEnv,
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    try {
      const deadline = Date.now() + 120_000;
      while (!/dermosynth studio: (http:\S+)\//.test(out) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      const url = /dermosynth studio: (http:\S+)\//.exec(out)?.[1];
      expect(url, err).toBeTruthy();
      const res = await fetch(`${url}/api/generate?class=melanoma&seed=1`, {
        method: 'POST',
        headers: { 'content-type': 'image/png' },
        body: new Uint8Array(await maskPng(32, 32, [8, 6, 24, 22])),
      });
      expect(res.status, await res.clone().text()).toBe(200);
      const png = Buffer.from(await res.arrayBuffer());
      expect((await sharp(png).metadata()).width).toBe(32);
      const info = (await (await fetch(`${url}/api/run`)).json()) as Record<string, unknown>;
      expect(JSON.stringify(info)).toMatch(/cuda/);
    } finally {
      child.kill('SIGINT');
      await new Promise((r) => child.on('exit', r));
    }
  });

  it('train --nproc 2 --device cuda:0: two workers on one GPU over gloo, the run finishes', () => {
    const out = path.join(work, 'ddp-one-gpu');
    const r = cli('train', '--out', out, '--data', data, ...TINY, '--steps', '3', '--nproc', '2', '--device', 'cuda:0');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/every worker on cuda:0, all-reducing through gloo \(NCCL refuses two ranks on one GPU\)/);
    expect(readFileSync(path.join(out, 'log.jsonl'), 'utf8').trim().split('\n')).toHaveLength(3);
    expect(existsSync(path.join(out, 'generator.safetensors'))).toBe(true);
  }, 300_000);
});
