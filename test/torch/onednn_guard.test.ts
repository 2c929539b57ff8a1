// The oneDNN guard (src/torch/onednn_guard.ts): whatever cap it chose on this machine, the
// convolutions libtorch sends to oneDNN are right, and the choice is made once, kept, and never
// overrides the user's.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { native, ONEDNN } from '../../src/torch/native.js';
import { conv2d, convTranspose2d } from '../../src/torch/functional.js';
import { tensor } from '../../src/torch/creation.js';

const root = path.resolve(import.meta.dirname, '../..');
const work = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-onednn-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A fresh process loading the addon with its own cache folder: what it chose, and its stderr. */
function choose(env: NodeJS.ProcessEnv): { choice: typeof ONEDNN; stderr: string } {
  const script = "import('./src/torch/native.ts').then((m) => process.stdout.write(JSON.stringify(m.ONEDNN)))";
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], {
    cwd: root,
    encoding: 'utf8',
    env,
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`the child process failed:\n${r.stderr}`);
  return { choice: JSON.parse(r.stdout) as typeof ONEDNN, stderr: r.stderr };
}

function cleanEnv(cache: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_CACHE_HOME: cache };
  delete env.ONEDNN_MAX_CPU_ISA;
  delete env.DNNL_MAX_CPU_ISA;
  delete env.DERMOSYNTH_ONEDNN_CHECK;
  return env;
}

describe('the oneDNN guard', () => {
  it(`the self-check passes under the cap in force here (${ONEDNN.isa ?? 'none'}, ${ONEDNN.source})`, () => {
    for (const c of native.onednnCheck()) {
      expect(c.error, `${c.name}: off by ${c.error}, allowed ${c.bound}`).toBeLessThanOrEqual(c.bound);
    }
  });

  it('a transposed convolution with 3 output channels equals its definition (the sum of the scattered kernels)', () => {
    // Computed here in float64 by the definition, not by libtorch: y[o, i+p, j+q] += x[c, i, j] w[c, o, p, q].
    const [C, O, H, W, K] = [4, 3, 5, 6, 3];
    const xs = Float32Array.from({ length: C * H * W }, (_, i) => Math.sin(i * 0.37 + 0.1));
    const ws = Float32Array.from({ length: C * O * K * K }, (_, i) => Math.cos(i * 0.53 + 0.2) * 0.3);
    const want = new Float64Array(O * (H + K - 1) * (W + K - 1));
    const OH = H + K - 1,
      OW = W + K - 1;
    for (let c = 0; c < C; c++)
      for (let i = 0; i < H; i++)
        for (let j = 0; j < W; j++)
          for (let o = 0; o < O; o++)
            for (let p = 0; p < K; p++)
              for (let q = 0; q < K; q++) {
                want[(o * OH + i + p) * OW + j + q]! += xs[(c * H + i) * W + j]! * ws[((c * O + o) * K + p) * K + q]!;
              }
    const x = tensor(xs, { shape: [1, C, H, W] });
    const w = tensor(ws, { shape: [C, O, K, K] });
    const got = convTranspose2d(x, w).toFloat32Array();
    // float32: each output sums at most C*K*K = 36 products of magnitude <= 0.3, so 36 * 0.3 * 2^-23 * 36 bounds the rounding.
    const bound = 36 * 0.3 * 36 * 2 ** -23;
    got.forEach((v, k) => expect(Math.abs(v - want[k]!), `element ${k}`).toBeLessThanOrEqual(bound));
    // And the input gradient path of a 7x7 convolution (oneDNN's backward-data kernel) on a 3-channel input.
    const xi = tensor(
      Float32Array.from({ length: 3 * 20 * 20 }, (_, i) => Math.sin(i * 0.11)),
      { shape: [1, 3, 20, 20] },
    ).requiresGrad_();
    const wi = tensor(
      Float32Array.from({ length: 8 * 3 * 49 }, (_, i) => Math.cos(i * 0.07) * 0.1),
      { shape: [8, 3, 7, 7] },
    );
    conv2d(xi, wi, null, { padding: 3 }).sum().backward();
    // d/dx of sum(conv(x, w)) at a pixel far from the border is the sum of all the kernel taps of its
    // channel: 392 terms of magnitude <= 0.1, so float32 summation is off by at most 392 * 2^-24 * 39.2.
    const g = xi.grad!.toFloat32Array();
    const wsArr = wi.toFloat32Array();
    for (let c = 0; c < 3; c++) {
      let s = 0;
      for (let o = 0; o < 8; o++) for (let t = 0; t < 49; t++) s += wsArr[(o * 3 + c) * 49 + t]!;
      expect(Math.abs(g[c * 400 + 10 * 20 + 10]! - s)).toBeLessThanOrEqual(392 * 2 ** -24 * 39.2);
    }
  });

  it('checks once per build and CPU, then recalls the answer from the cache', () => {
    const cache = path.join(work, 'cache-a');
    const first = choose(cleanEnv(cache));
    expect(['checked', 'none']).toContain(first.choice.source);
    if (first.choice.source === 'none') return; // a libtorch without oneDNN: nothing to check
    const file = path.join(cache, 'dermosynth', 'onednn-check.json');
    expect(existsSync(file)).toBe(true);
    const kept = JSON.parse(readFileSync(file, 'utf8')) as { entries: Record<string, typeof ONEDNN> };
    expect(Object.values(kept.entries).map((e) => e.isa)).toEqual([first.choice.isa]);
    // Every candidate before the chosen one failed and said why; the chosen one passed.
    const tried = first.choice.tried!;
    expect(tried.at(-1)!.failed).toEqual(first.choice.onednn ? [] : tried.at(-1)!.failed);
    for (const t of tried.slice(0, -1)) expect(t.failed.length).toBeGreaterThan(0);
    expect(first.stderr.includes('computes wrong convolutions')).toBe(
      first.choice.isa !== null || !first.choice.onednn,
    );
    const second = choose(cleanEnv(cache));
    expect(second.choice.source).toBe('cached');
    expect(second.choice.isa).toBe(first.choice.isa);
    expect(second.stderr).not.toContain('oneDNN');
  });

  it("never overrides the user's cap, and DERMOSYNTH_ONEDNN_CHECK=off skips the check", () => {
    const cache = path.join(work, 'cache-b');
    const user = choose({ ...cleanEnv(cache), ONEDNN_MAX_CPU_ISA: 'SSE41' });
    expect(user.choice).toEqual({ isa: 'SSE41', onednn: true, source: 'user' });
    const off = choose({ ...cleanEnv(cache), DERMOSYNTH_ONEDNN_CHECK: 'off' });
    expect(off.choice.source === 'off' || off.choice.source === 'none').toBe(true);
    expect(existsSync(path.join(cache, 'dermosynth', 'onednn-check.json'))).toBe(false);
  });
});
