// The FID Inception-v3: torchvision's / pytorch-fid's state-dict names and shapes, the strict
// safetensors loader, input handling, and parity with the same network in Python PyTorch
// (bench/inception_pytorch.py) on shared random weights, written by PyTorch (torch.save) and
// converted by scripts/to_safetensors.py: the converter's output loads strictly and both sides
// agree on pool3 and the logits, for the anti-aliased bicubic and pytorch-fid's bilinear resize.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { InceptionV3, loadInceptionV3, type InceptionResize } from '../../src/models/inception_v3.js';
import { extractFeatures, inceptionWithLogits } from '../../src/eval/features.js';
import { freeModule, gc } from './helpers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const PYTHON = '/usr/bin/python3';
const HAS_TORCH = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
const HAS_PIL = spawnSync(PYTHON, ['-c', 'import PIL.Image, numpy'], { stdio: 'ignore' }).status === 0;
if (!HAS_PIL)
  console.warn(
    `inception_v3.test: the PIL resize comparison is skipped: ${PYTHON} cannot import PIL and numpy (apt install python3-pil)`,
  );
if (!HAS_TORCH)
  console.warn(`inception_v3.test: parity tests skipped: ${PYTHON} cannot import torch (apt install python3-torch)`);

let dir = '';
let shared: InceptionV3 | null = null;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dermosynth-inception-'));
});
afterAll(async () => {
  if (shared) freeModule(shared);
  await fs.rm(dir, { recursive: true, force: true });
  gc();
});

function net(): InceptionV3 {
  shared ??= new InceptionV3().freeze();
  return shared;
}

describe('InceptionV3', () => {
  it("has torchvision's Inception3 names (1008 classes, no AuxLogits) and shapes", () => {
    const sd = net().stateDict();
    const keys = [...sd.keys()];
    expect(keys.length).toBe(566); // 94 BasicConv2d x 6 (conv.weight + bn's 5) + fc.weight + fc.bias
    for (const k of [
      'conv.weight',
      'bn.weight',
      'bn.bias',
      'bn.running_mean',
      'bn.running_var',
      'bn.num_batches_tracked',
    ]) {
      expect(sd.has(`Conv2d_1a_3x3.${k}`)).toBe(true);
      expect(sd.has(`Mixed_7b.branch3x3dbl_3a.${k}`)).toBe(true);
    }
    const shape = (k: string): number[] => sd.get(k)!.shape;
    expect(shape('Conv2d_1a_3x3.conv.weight')).toEqual([32, 3, 3, 3]);
    expect(shape('Mixed_5b.branch_pool.conv.weight')).toEqual([32, 192, 1, 1]);
    expect(shape('Mixed_6e.branch7x7dbl_5.conv.weight')).toEqual([192, 192, 1, 7]);
    expect(shape('Mixed_7a.branch3x3_2.conv.weight')).toEqual([320, 192, 3, 3]);
    expect(shape('Mixed_7c.branch3x3dbl_3b.conv.weight')).toEqual([384, 384, 3, 1]);
    expect(shape('Mixed_7c.branch_pool.conv.weight')).toEqual([192, 2048, 1, 1]);
    expect(shape('fc.weight')).toEqual([1008, 2048]);
    expect(keys.some((k) => k.startsWith('AuxLogits'))).toBe(false);
    expect(net().numParameters()).toBe(23_850_960); // torch.nn's count of the same network (bench/inception_pytorch.py)
  });

  it('maps any image size to pool3 [B, 2048] and logits [B, 1008]; resize none needs 299x299', () => {
    torch.manualSeed(0);
    torch.tidy(() => {
      const x = torch.rand([2, 3, 40, 56]);
      const { pool3, logits } = torch.inferenceMode(() => net().call(x));
      expect(pool3.shape).toEqual([2, 2048]);
      expect(logits.shape).toEqual([2, 1008]);
      expect(pool3.min().item()).toBeGreaterThanOrEqual(0); // after a ReLU
      // logits = pool3 W^T without the bias by default.
      const w = net().fc.param('weight');
      expect(logits.sub(pool3.mm(w.t())).abs().max().item()).toBeLessThan(1e-5);
      expect(() => new InceptionV3({ resize: 'none' }).preprocess(x)).toThrow(
        "InceptionV3: resize 'none' needs 299x299 images, got 56x40",
      );
      expect(() => net().call(torch.rand([1, 1, 32, 32]))).toThrow('expected images [B, 3, H, W] in [0, 1]');
      expect(() => new InceptionV3({ resize: 'lanczos' as InceptionResize })).toThrow(
        "resize must be one of bicubic-antialias, bilinear-antialias, bilinear, none, got 'lanczos'",
      );
    });
  });

  it('preprocess: anti-aliased bicubic to 299x299 then 2x - 1 (identity on 299x299 inputs up to the map)', () => {
    torch.tidy(() => {
      const x = torch.rand([1, 3, 299, 299]);
      const y = net().preprocess(x);
      expect(y.shape).toEqual([1, 3, 299, 299]);
      expect(y.sub(x.mul(2).sub(1)).abs().max().item()).toBeLessThan(1e-5);
      const big = torch.rand([1, 3, 600, 640]);
      const expected = torch.F.interpolate(big, { size: [299, 299], mode: 'bicubic', antialias: true })
        .mul(2)
        .sub(1);
      expect(net().preprocess(big).sub(expected).abs().max().item()).toBe(0);
    });
  });
});

describe.skipIf(!HAS_PIL)("the anti-aliased resize is PIL's bicubic (clean-fid's)", () => {
  it('downscaling 150x130 and upscaling 64x80 to 299x299 agree with PIL.Image.resize(BICUBIC) on float images to 1e-4', () => {
    for (const [h, w] of [
      [150, 130],
      [64, 80],
    ] as const) {
      torch.manualSeed(h);
      const x = torch.rand([1, 3, h, w]);
      const ours = torch.tidy(() => net().preprocess(x).add(1).mul(0.5).toArray());
      const code = `
import json, sys, numpy as np
from PIL import Image
x = np.array(json.load(sys.stdin), dtype=np.float32).reshape(3, ${h}, ${w})
out = [np.asarray(Image.fromarray(x[c], mode='F').resize((299, 299), resample=Image.BICUBIC)) for c in range(3)]
print(json.dumps(np.stack(out).ravel().tolist()))`;
      const ref = JSON.parse(
        execFileSync(PYTHON, ['-c', code], {
          input: JSON.stringify(x.toArray()),
          encoding: 'utf8',
          maxBuffer: 64 << 20,
        }),
      ) as number[];
      expect(ref.length).toBe(ours.length);
      let worst = 0;
      for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(ref[i]! - ours[i]!));
      expect(worst).toBeLessThan(1e-4);
      x.dispose();
    }
  });
});

describe('loadInceptionV3', () => {
  it('loads strictly: the first missing, unexpected or mis-shaped tensor is named with the file; num_batches_tracked is optional', async () => {
    const state = new Map<string, Tensor>();
    for (const [k, t] of net().stateDict()) if (!k.endsWith('num_batches_tracked')) state.set(k, t.to('float16'));
    const file = path.join(dir, 'ok.safetensors');
    await torch.saveSafetensors(file, state);
    const loaded = await loadInceptionV3(file);
    expect(loaded.parameters().every((p) => !p.requiresGrad)).toBe(true);
    expect(loaded.training).toBe(false);
    const a = loaded.stateDict().get('Mixed_6b.branch7x7_2.conv.weight')!;
    expect(a.sub(state.get('Mixed_6b.branch7x7_2.conv.weight')!.to('float32')).abs().max().item()).toBe(0);
    freeModule(loaded);

    const variants: [string, (m: Map<string, Tensor>) => void, string][] = [
      [
        'missing',
        (m) => m.delete('Mixed_5c.branch5x5_2.bn.running_var'),
        "missing tensor 'Mixed_5c.branch5x5_2.bn.running_var'",
      ],
      [
        'unexpected',
        (m) => m.set('AuxLogits.fc.weight', torch.zeros([1000, 768])),
        "unexpected tensor 'AuxLogits.fc.weight'",
      ],
      [
        'shape',
        (m) => m.set('fc.weight', torch.zeros([1000, 2048])),
        "tensor 'fc.weight' is [1000, 2048], expected [1008, 2048]",
      ],
    ];
    for (const [name, change, message] of variants) {
      const m = new Map(state);
      change(m);
      const f = path.join(dir, `${name}.safetensors`);
      await torch.saveSafetensors(f, m);
      await expect(loadInceptionV3(f)).rejects.toThrow(`loadInceptionV3: ${f}: ${message}`);
    }
    torch.dispose([...state.values()]);
  });
});

describe.skipIf(!HAS_TORCH)('parity with PyTorch (bench/inception_pytorch.py)', () => {
  it('random weights from torch.save, converted by scripts/to_safetensors.py, load strictly; pool3 and logits agree (bicubic-antialias and bilinear)', async () => {
    const pth = path.join(dir, 'random.pth');
    const weights = path.join(dir, 'random.safetensors');
    execFileSync(PYTHON, [path.join(ROOT, 'bench/inception_pytorch.py'), '--init', pth, '--seed', '3'], {
      env: { ...process.env, OMP_NUM_THREADS: '1' },
    });
    const log = execFileSync(PYTHON, [path.join(ROOT, 'scripts/to_safetensors.py'), pth, weights], {
      encoding: 'utf8',
    });
    expect(log).toContain('566 tensors');
    torch.manualSeed(7);
    const images = torch.rand([3, 3, 48, 64]);
    const imageFile = path.join(dir, 'images.safetensors');
    await torch.saveSafetensors(imageFile, { images });
    for (const resize of ['bicubic-antialias', 'bilinear'] as const) {
      const ours = await loadInceptionV3(weights, { resize });
      const out = path.join(dir, `out-${resize}.safetensors`);
      execFileSync(
        PYTHON,
        [
          path.join(ROOT, 'bench/inception_pytorch.py'),
          '--weights',
          weights,
          '--images',
          imageFile,
          '--out',
          out,
          '--resize',
          resize,
        ],
        {
          env: { ...process.env, OMP_NUM_THREADS: '1' },
        },
      );
      const { tensors } = await torch.loadSafetensors(out);
      // Through the features helper: float64 matrices, images given in [-1, 1] and converted to [0, 1].
      const feats = await extractFeatures(
        inceptionWithLogits(ours),
        torch.tidy(() => images.mul(2).sub(1)),
        { batchSize: 2 },
      );
      for (const k of ['pool3', 'logits'] as const) {
        const ref = tensors.get(k)!.to('float64');
        const scale = ref.abs().max().item();
        expect(scale).toBeGreaterThan(0.1);
        expect(feats[k].shape).toEqual(ref.shape);
        expect(feats[k].sub(ref).abs().max().item() / scale).toBeLessThan(2e-5);
        ref.dispose();
      }
      torch.dispose([...tensors.values(), feats.pool3, feats.logits]);
      freeModule(ours);
    }
    images.dispose();
  });
});
