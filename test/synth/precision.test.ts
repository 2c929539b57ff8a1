// Inference precision on a tiny trained run: `synthesize --precision bf16` writes the same dataset
// as fp32 up to small image differences and records the precision (a resume in another precision
// is refused); RunGenerator, the studio's inference queue likewise; and the flag's errors
// (unknown value, fp16 on the CPU) for synthesize, evaluate and serve.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import * as torch from '../../src/torch/index.js';
import { buildLabelBytes } from '../../src/data/label_map.js';
import { RunGenerator } from '../../src/synth/run_generator.js';
import { InferenceQueue } from '../../src/serve/inference_queue.js';
import { cliEnv, cliRunner, sampleAndTinyRun, synthFourMelanomas } from '../helpers/cli.js';
import { BF16_SKIP_REASON } from '../helpers/isa.js';

const env = cliEnv;
const cli = cliRunner({ env, timeoutMs: 120_000 });

let work = '';
let data = '';
let run = '';

function synth(out: string, ...extra: string[]) {
  return synthFourMelanomas(cli, { run, data }, out, ...extra);
}

async function pixels(file: string): Promise<Uint8Array> {
  return new Uint8Array(await sharp(file).raw().toBuffer());
}

/** The largest and the mean absolute difference of two images, in 0-255 levels. */
function difference(a: Uint8Array, b: Uint8Array): { max: number; mean: number } {
  expect(a.length).toBe(b.length);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / a.length };
}

/** A 32x32 0/255 mask with a rectangular lesion. */
function squareMask(): Uint8Array {
  const m = new Uint8Array(32 * 32);
  for (let y = 8; y < 24; y++) for (let x = 6; x < 26; x++) m[y * 32 + x] = 255;
  return m;
}

beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-precision-'));
  ({ data, run } = sampleAndTinyRun(work, cli, { lesions: 24, size: 48 }));
}, 120_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('inference precision', () => {
  it.skipIf(BF16_SKIP_REASON !== null)(
    'synthesize --precision bf16: the same lesions and masks, images within a few levels of fp32, the precision recorded',
    async () => {
      const a = path.join(work, 'fp32');
      const b = path.join(work, 'bf16');
      let r = synth(a);
      expect(r.status, r.stderr).toBe(0);
      r = synth(b, '--precision', 'bf16');
      expect(r.status, r.stderr).toBe(0);
      const manifest = (dir: string) =>
        JSON.parse(readFileSync(path.join(dir, 'synthesis.json'), 'utf8')) as { precision: string; planSha256: string };
      expect(manifest(a).precision).toBe('fp32');
      expect(manifest(b).precision).toBe('bf16');
      expect(manifest(b).planSha256).toBe(manifest(a).planSha256);
      expect(readFileSync(path.join(b, 'provenance.csv'), 'utf8')).toBe(
        readFileSync(path.join(a, 'provenance.csv'), 'utf8'),
      );
      const images = readdirSync(path.join(a, 'images')).sort();
      expect(images).toHaveLength(4);
      expect(readdirSync(path.join(b, 'images')).sort()).toEqual(images);
      for (const m of readdirSync(path.join(a, 'masks')))
        expect(readFileSync(path.join(b, 'masks', m)).equals(readFileSync(path.join(a, 'masks', m)))).toBe(true);
      let changed = 0;
      for (const f of images) {
        const d = difference(await pixels(path.join(a, 'images', f)), await pixels(path.join(b, 'images', f)));
        // A few levels of 255 (see the RunGenerator case below for the size of bfloat16's errors).
        expect(d.max, f).toBeLessThanOrEqual(20);
        expect(d.mean, f).toBeLessThan(3);
        if (d.max > 0) changed++;
      }
      expect(changed).toBeGreaterThan(0);
      // Continuing a bf16 synthesis in fp32 would mix precisions in one dataset.
      r = synth(b, '--resume');
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/precision: before bf16, now fp32/);
    },
  );

  it.skipIf(BF16_SKIP_REASON !== null)(
    'RunGenerator: float32 images from a bf16 forward, close to fp32; provenance names the precision',
    async () => {
      const fp32 = await RunGenerator.load(run);
      const bf16 = await RunGenerator.load(run, { precision: 'bf16' });
      try {
        expect(fp32.provenance.precision).toBe('fp32');
        expect(bf16.provenance.precision).toBe('bf16');
        const bytes = [1, 0].map((k) => buildLabelBytes(squareMask(), k, fp32.spec, 32, 32));
        const labels = torch.fromBytes(Uint8Array.from([...bytes[0]!, ...bytes[1]!]), 'uint8', [2, 1, 32, 32]);
        const x = fp32.generateImages(labels);
        const y = bf16.generateImages(labels);
        expect(x.dtype).toBe('float32');
        expect(y.dtype).toBe('float32');
        expect(y.shape).toEqual([2, 3, 32, 32]);
        // In [-1, 1]. Measured 0.067 at most and 0.009 on average (a few % of the images' mean
        // magnitude 0.25: bfloat16 convolutions err by ~1% each, and the errors compound over the
        // layers); a wrong image would be off by ~0.25 on average.
        const diff = y.sub(x).abs();
        expect(diff.max().item()).toBeGreaterThan(0);
        expect(diff.max().item()).toBeLessThan(0.15);
        expect(diff.mean().item()).toBeLessThan(0.025);
        // Autocast is off again afterwards.
        expect(torch.amp.isAutocastEnabled('cpu').enabled).toBe(false);
        expect(fp32.generateImages(labels).sub(x).abs().max().item()).toBe(0);
        await expect(RunGenerator.load(run, { precision: 'fp16' })).rejects.toThrow(
          '--precision fp16 needs a CUDA device; use bf16 on CPU',
        );
      } finally {
        fp32.dispose();
        bf16.dispose();
      }
    },
  );

  it.skipIf(BF16_SKIP_REASON !== null)("the studio's inference worker runs the precision it is given", async () => {
    const job = { mask: squareMask(), classIndex: 1, seed: 0, vary: false };
    const images: Uint8Array[] = [];
    for (const precision of ['fp32', 'bf16'] as const) {
      const q = await InferenceQueue.start({ runDir: run, device: 'cpu', precision, threads: 1, capacity: 2 });
      try {
        expect(q.info.precision).toBe(precision);
        images.push((await q.submit(job)).rgb);
      } finally {
        await q.close();
      }
    }
    const d = difference(images[0]!, images[1]!);
    expect(d.max).toBeGreaterThan(0);
    expect(d.max).toBeLessThanOrEqual(20);
  });

  it('names the flag for an unknown precision and refuses fp16 on the CPU, in synthesize, evaluate and serve', () => {
    const out = path.join(work, 'never');
    const commands = [
      ['synthesize', '--run', run, '--dataset', data, '--class', 'melanoma', '--count', '1', '--out', out],
      ['evaluate', '--run', run, '--max-images', '1'],
      ['serve', '--run', run, '--port', '0'],
    ];
    for (const c of commands) {
      let r = cli(...c, '--precision', 'fp8');
      expect(r.status, c[0]).not.toBe(0);
      expect(r.stderr, c[0]).toMatch(
        /option '--precision <p>' argument 'fp8' is invalid. Allowed choices are fp32, bf16, fp16/,
      );
      r = cli(...c, '--precision', 'fp16');
      expect(r.status, c[0]).toBe(1);
      expect(r.stderr.trim(), c[0]).toBe(
        "dermosynth: --precision fp16 needs a CUDA device; use bf16 on CPU (libtorch's CPU autocast computes in bfloat16 only)",
      );
    }
  });
});
