// VGG19 features: torchvision's names, the five ReLU outputs, input normalisation, and the
// safetensors loader (a full fake state dict in float16, and small broken files).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { IMAGENET_MEAN, IMAGENET_STD, loadVgg19, Vgg19, VGG19_FEATURE_LAYERS } from '../../src/models/index.js';
import { freeModule, gc } from './helpers.js';

const CONV_INDICES = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34];
let dir = '';

beforeAll(async () => {
  torch.setNumThreads(2);
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dermosynth-vgg-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
  gc();
});

describe('Vgg19', () => {
  it("has torchvision's parameter names and shapes, features.0 .. features.34", () => {
    const vgg = new Vgg19();
    const sd = vgg.stateDict();
    expect([...sd.keys()]).toEqual(CONV_INDICES.flatMap((i) => [`features.${i}.weight`, `features.${i}.bias`]));
    expect(sd.get('features.0.weight')!.shape).toEqual([64, 3, 3, 3]);
    expect(sd.get('features.34.weight')!.shape).toEqual([512, 512, 3, 3]);
    expect(VGG19_FEATURE_LAYERS).toEqual([1, 6, 11, 20, 29]);
    freeModule(vgg);
  });

  it('returns relu1_1 .. relu5_1 (64 .. 512 channels, halving sizes, non-negative), and passes gradients to the input only when frozen', () => {
    const vgg = new Vgg19().freeze();
    const x = torch.rand([1, 3, 32, 32]).mul(2).sub(1).requiresGrad_(true);
    torch.tidy(() => {
      const feats = vgg.call(x);
      expect(feats.map((f) => f.shape)).toEqual([
        [1, 64, 32, 32],
        [1, 128, 16, 16],
        [1, 256, 8, 8],
        [1, 512, 4, 4],
        [1, 512, 2, 2],
      ]);
      for (const f of feats) expect(f.min().item()).toBeGreaterThanOrEqual(0);
      feats.reduce((acc: Tensor, f) => acc.add(f.mean()), torch.zeros([])).backward();
    });
    expect(vgg.parameters().every((p) => !p.requiresGrad && p.grad === null)).toBe(true);
    expect(x.grad).not.toBeNull();
    x.dispose();
    const small = torch.zeros([1, 3, 8, 16]);
    expect(() => vgg.call(small)).toThrow(
      'Vgg19: images must be at least 16x16 (relu5_1 follows four 2x2 max pools), got 16x8',
    );
    small.dispose();
    freeModule(vgg);
  });

  it('maps [-1, 1] to ImageNet normalisation: relu1_1 = relu(conv0((x + 1) / 2 - mean) / std)); normalizeInput false feeds x as is', () => {
    torch.manualSeed(1);
    const x = torch.rand([2, 3, 16, 16]).mul(2).sub(1);
    for (const normalizeInput of [true, false]) {
      const vgg = new Vgg19({ normalizeInput });
      torch.tidy(() => {
        const mean = torch.tensor(Float32Array.from(IMAGENET_MEAN), { shape: [1, 3, 1, 1] });
        const std = torch.tensor(Float32Array.from(IMAGENET_STD), { shape: [1, 3, 1, 1] });
        const input = normalizeInput ? x.add(1).div(2).sub(mean).div(std) : x;
        const sd = vgg.stateDict();
        const expected = torch.F.conv2d(input, sd.get('features.0.weight')!, sd.get('features.0.bias')!, {
          padding: 1,
        }).relu();
        expect(vgg.call(x)[0]!.sub(expected).abs().max().item()).toBeLessThan(1e-5);
      });
      freeModule(vgg);
    }
    x.dispose();
  });
});

describe('loadVgg19', () => {
  it("loads torchvision's state dict (float16 here), ignores classifier.*, returns it frozen in eval mode", async () => {
    torch.manualSeed(2);
    const reference = new Vgg19();
    const state = new Map<string, Tensor>();
    for (const [k, t] of reference.stateDict()) state.set(k, t.to('float16'));
    state.set('classifier.0.weight', torch.randn([4, 8]).to('float16'));
    state.set('classifier.0.bias', torch.randn([4]).to('float16'));
    const file = path.join(dir, 'vgg19.safetensors');
    await torch.saveSafetensors(file, state);
    const vgg = await loadVgg19(file);
    expect(vgg.training).toBe(false);
    expect(vgg.parameters().every((p) => !p.requiresGrad && p.dtype === 'float32')).toBe(true);
    for (const [k, t] of vgg.stateDict()) {
      const diff = torch.tidy(() => t.sub(state.get(k)!.to('float32')).abs().max().item());
      expect(diff, k).toBe(0);
    }
    torch.dispose(state);
    freeModule(vgg, reference);
  });

  it('names every missing key, shape mismatch and unexpected features key', async () => {
    const file = path.join(dir, 'broken.safetensors');
    const state = {
      'features.0.weight': torch.zeros([64, 1, 3, 3]), // a one-channel first layer
      'features.1.weight': torch.zeros([64]), // vgg19_bn's first batch norm
      'classifier.6.bias': torch.zeros([1000]),
    };
    await torch.saveSafetensors(file, state);
    torch.dispose(state);
    const err = await loadVgg19(file).then(
      () => null,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(Error);
    const msg = err!.message;
    expect(msg).toContain(`loadVgg19: ${file} is not torchvision's VGG19 state dict`);
    expect(msg).toContain('missing keys: features.0.bias, features.2.weight');
    expect(msg).toContain('features.34.bias');
    expect(msg).toContain('shape mismatches: features.0.weight is [64, 1, 3, 3], expected [64, 3, 3, 3]');
    expect(msg).toContain("unexpected keys (not VGG19's features): features.1.weight");
    expect(msg).not.toContain('classifier');
  });

  it('a single missing key is reported alone', async () => {
    const file = path.join(dir, 'almost.safetensors');
    const net = new Vgg19();
    const state = new Map(
      [...net.stateDict()].filter(([k]) => k !== 'features.34.bias').map(([k, t]) => [k, t.to('float16')] as const),
    );
    await torch.saveSafetensors(file, state);
    torch.dispose(state);
    freeModule(net);
    await expect(loadVgg19(file)).rejects.toThrow(
      /not torchvision's VGG19 state dict: missing keys: features\.34\.bias$/,
    );
  });

  it('a file that cannot be read is an error naming it', async () => {
    await expect(loadVgg19(path.join(dir, 'absent.safetensors'))).rejects.toThrow(/absent\.safetensors/);
  });
});
