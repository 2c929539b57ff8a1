// Paired image metrics: PSNR (against scikit-image's peak_signal_noise_ratio, Infinity for
// identical images), MS-SSIM (1 for identical images, equal to SSIM with one scale, scales that fit
// small images, monotone in noise) and LPIPS (parity with the lpips package's forward written in
// plain torch, test/fixtures/lpips_reference.py, on random weights; 0 for identical images,
// monotone in noise, strict loading, gradients to the images).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { psnr } from '../../src/eval/psnr.js';
import { msSsim, msSsimScales, MS_SSIM_WEIGHTS } from '../../src/eval/ms_ssim.js';
import { ssim } from '../../src/eval/ssim.js';
import { Lpips, loadLpips } from '../../src/models/lpips.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const PYTHON = '/usr/bin/python3';
const HAS_SKIMAGE = spawnSync(PYTHON, ['-c', 'import skimage.metrics'], { stdio: 'ignore' }).status === 0;
const HAS_TORCH = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
if (!HAS_SKIMAGE)
  console.warn(
    `paired_metrics.test: PSNR parity skipped: ${PYTHON} cannot import skimage (apt install python3-skimage)`,
  );
if (!HAS_TORCH)
  console.warn(`paired_metrics.test: LPIPS parity skipped: ${PYTHON} cannot import torch (apt install python3-torch)`);

let dir = '';
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dermosynth-paired-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** x plus uniform noise of amplitude s, clamped to [0, 1] (seeded). */
function noisy(x: Tensor, s: number, seed: number): Tensor {
  return torch.tidy(() =>
    x
      .add(
        torch
          .rand(x.shape, { generator: new torch.Generator(seed) })
          .sub(0.5)
          .mul(2 * s),
      )
      .clamp(0, 1),
  );
}

describe('psnr', () => {
  it('identical images: Infinity; a hand-computed case; dataRange', () => {
    torch.tidy(() => {
      const a = torch.rand([2, 3, 8, 8]);
      expect(psnr(a, a)).toEqual([Infinity, Infinity]);
      const z = torch.zeros([1, 1, 2, 2]);
      const b = torch.full([1, 1, 2, 2], 0.1);
      expect(psnr(z, b)[0]).toBeCloseTo(20, 5); // MSE 0.01
      expect(psnr(z, b, { dataRange: 2 })[0]).toBeCloseTo(20 + 20 * Math.log10(2), 5);
      expect(() => psnr(a, z)).toThrow('psnr: expected two batches of images of one shape');
    });
  });

  it.skipIf(!HAS_SKIMAGE)('equals skimage.metrics.peak_signal_noise_ratio per image', () => {
    torch.manualSeed(1);
    const a = torch.rand([3, 3, 9, 7], { dtype: 'float64' });
    const b = torch.tidy(() => a.add(torch.randn([3, 3, 9, 7], { dtype: 'float64' }).mul(0.05)).clamp(0, 1));
    const ours = psnr(a, b);
    const code = `
import json, sys, numpy as np
from skimage.metrics import peak_signal_noise_ratio
d = json.load(sys.stdin)
a = np.array(d['a']).reshape(3, 3, 9, 7); b = np.array(d['b']).reshape(3, 3, 9, 7)
print(json.dumps([peak_signal_noise_ratio(a[i], b[i], data_range=1) for i in range(3)]))`;
    const ref = JSON.parse(
      execFileSync(PYTHON, ['-c', code], {
        input: JSON.stringify({ a: a.toArray(), b: b.toArray() }),
        encoding: 'utf8',
      }),
    ) as number[];
    ours.forEach((v, i) => expect(Math.abs(v - ref[i]!)).toBeLessThan(1e-10));
    torch.dispose([a, b]);
  });

  it('decreases as noise grows', () => {
    torch.manualSeed(2);
    const a = torch.rand([1, 3, 16, 16]);
    const values = [0.02, 0.05, 0.1, 0.3].map((s) => torch.tidy(() => psnr(a, noisy(a, s, 3))[0]!));
    for (let i = 1; i < values.length; i++) expect(values[i]).toBeLessThan(values[i - 1]!);
    a.dispose();
  });
});

describe('msSsim', () => {
  it('is 1 for identical images; with one scale it is SSIM; scales that fit small images, weights renormalised', () => {
    torch.manualSeed(4);
    torch.tidy(() => {
      const a = torch.rand([2, 3, 64, 48]);
      const r = msSsim(a, a);
      expect(r.scales).toBe(3); // 48 >> 2 = 12 >= 11, 48 >> 3 = 6 < 11
      r.values.forEach((v) => expect(v).toBeCloseTo(1, 12));
      const w = MS_SSIM_WEIGHTS.slice(0, 3);
      const sum = w.reduce((s, v) => s + v, 0);
      r.weights.forEach((v, i) => expect(v).toBeCloseTo(w[i]! / sum, 15));
      const b = noisy(a, 0.2, 5);
      const one = msSsim(a, b, { scales: 1 });
      const s = ssim(a, b).toArray();
      one.values.forEach((v, i) => expect(v).toBeCloseTo(s[i]!, 12));
      expect(msSsimScales(176, 200)).toBe(5);
      expect(msSsimScales(175, 200)).toBe(4);
      expect(msSsimScales(22, 22)).toBe(2);
      expect(msSsimScales(10, 64)).toBe(0);
      expect(() => msSsim(a, a, { scales: 5 })).toThrow(
        'msSsim: 5 scales need images of at least 176 pixels a side, got 64x48; use scales <= 3',
      );
      const tiny = torch.rand([1, 1, 10, 10]);
      expect(() => msSsim(tiny, tiny)).toThrow('msSsim: images must be at least 11x11 pixels, got 10x10');
    });
  });

  it('five scales at 176 px: in (0, 1], decreasing as noise grows, symmetric', () => {
    torch.manualSeed(6);
    torch.tidy(() => {
      // A smooth image (noise hurts it at every scale).
      const base = torch.rand([1, 3, 12, 12]);
      const a = torch.F.interpolate(base, { size: [176, 176], mode: 'bilinear' });
      const values = [0.02, 0.05, 0.1, 0.3].map((s) => msSsim(a, noisy(a, s, 7)).values[0]!);
      expect(msSsim(a, noisy(a, 0.1, 7)).scales).toBe(5);
      for (let i = 1; i < values.length; i++) expect(values[i]).toBeLessThan(values[i - 1]!);
      values.forEach((v) => expect(v).toBeGreaterThan(0));
      const b = noisy(a, 0.1, 8);
      expect(msSsim(a, b).values[0]).toBeCloseTo(msSsim(b, a).values[0]!, 12);
    });
  });
});

/** Random weights for LPIPS: the backbone as initialised, linear layers non-negative (as trained LPIPS). */
function randomLpips(kind: 'alex' | 'vgg', seed: number): Lpips {
  torch.manualSeed(seed);
  const net = new Lpips(kind);
  torch.noGrad(() => {
    for (const [k, t] of net.stateDict()) if (k.startsWith('lin')) t.copy_(torch.rand(t.shape).mul(0.5));
  });
  return net.freeze();
}

describe('Lpips', () => {
  it('0 for identical images, grows with noise, reaches the images with gradients', () => {
    const net = randomLpips('alex', 0);
    torch.manualSeed(9);
    torch.tidy(() => {
      const a01 = torch.F.interpolate(torch.rand([1, 3, 8, 8]), { size: [64, 64], mode: 'bilinear' });
      const a = a01.mul(2).sub(1);
      expect(net.distance(a, a)[0]).toBe(0);
      const values = [0.02, 0.05, 0.1, 0.3].map((s) => net.distance(a, noisy(a01, s, 10).mul(2).sub(1))[0]!);
      for (let i = 1; i < values.length; i++) expect(values[i]).toBeGreaterThan(values[i - 1]!);
      const x = noisy(a01, 0.1, 11).mul(2).sub(1).requiresGrad_(true);
      net.call(a, x).sum().backward();
      expect(x.grad!.abs().max().item()).toBeGreaterThan(0);
      expect(() => net.call(torch.zeros([1, 3, 16, 16]), torch.zeros([1, 3, 16, 16]))).toThrow(
        'Lpips(alex): images must be at least 32x32, got 16x16',
      );
    });
  });

  it.skipIf(!HAS_TORCH)(
    'equals the lpips package forward (plain torch) for alex and vgg on random weights',
    async () => {
      for (const [kind, size] of [
        ['alex', 64],
        ['vgg', 32],
      ] as const) {
        const net = randomLpips(kind, 1);
        const weights = path.join(dir, `${kind}.safetensors`);
        await torch.saveSafetensors(weights, net.stateDict());
        torch.manualSeed(12);
        const a = torch.rand([2, 3, size, size]).mul(2).sub(1);
        const b = torch.tidy(() => a.add(torch.randn(a.shape).mul(0.2)).clamp(-1, 1));
        const images = path.join(dir, `${kind}-images.safetensors`);
        await torch.saveSafetensors(images, { a, b });
        const ref = JSON.parse(
          execFileSync(PYTHON, [path.join(ROOT, 'test/fixtures/lpips_reference.py'), kind, weights, images], {
            encoding: 'utf8',
            env: { ...process.env, OMP_NUM_THREADS: '1' },
          }),
        ) as number[];
        const ours = net.distance(a, b);
        expect(ref.length).toBe(2);
        ours.forEach((v, i) => {
          expect(v).toBeGreaterThan(0);
          expect(Math.abs(v - ref[i]!) / ref[i]!).toBeLessThan(1e-5);
        });
        torch.dispose([a, b]);
      }
    },
  );

  it('loadLpips: torchvision backbone + lpips linear layers, strictly; classifier.* ignored; errors name the file', async () => {
    const net = randomLpips('alex', 2);
    const sd = net.stateDict();
    const backbone = new Map([...sd].filter(([k]) => k.startsWith('features.')));
    backbone.set('classifier.1.weight', torch.zeros([4, 4]));
    const linear = new Map([...sd].filter(([k]) => k.startsWith('lin')));
    const bFile = path.join(dir, 'alexnet.safetensors');
    const lFile = path.join(dir, 'lin.safetensors');
    await torch.saveSafetensors(bFile, backbone);
    await torch.saveSafetensors(lFile, linear);
    const loaded = await loadLpips('alex', { backbone: bFile, linear: lFile });
    expect([...loaded.stateDict().keys()]).toEqual([...sd.keys()]);
    expect(loaded.parameters().every((p) => !p.requiresGrad)).toBe(true);
    torch.tidy(() => {
      const a = torch.rand([1, 3, 32, 32]).mul(2).sub(1);
      const b = torch.rand([1, 3, 32, 32]).mul(2).sub(1);
      expect(loaded.distance(a, b)[0]).toBeCloseTo(net.distance(a, b)[0]!, 6);
    });
    linear.delete('lin3.model.1.weight');
    await torch.saveSafetensors(lFile, linear);
    await expect(loadLpips('alex', { backbone: bFile, linear: lFile })).rejects.toThrow(
      `loadLpips: ${lFile}: missing tensor 'lin3.model.1.weight'`,
    );
    await expect(loadLpips('vgg', { backbone: bFile, linear: lFile })).rejects.toThrow(
      `loadLpips: ${bFile}: missing tensor 'features.2.weight'`,
    );
    backbone.set('extra', torch.zeros([1]));
    await torch.saveSafetensors(bFile, backbone);
    await expect(loadLpips('alex', { backbone: bFile, linear: lFile })).rejects.toThrow(
      `loadLpips: ${bFile}: unexpected tensor 'extra'`,
    );
  });
});
