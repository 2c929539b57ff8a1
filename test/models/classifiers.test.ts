// The four classifiers: torchvision's parameter counts and state-dict names, logits and features,
// train/eval behaviour, and the strict safetensors weight loader (head skipped when the class
// count differs; a clear error naming the file and the first mismatched tensor otherwise).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as torch from '../../src/torch/index.js';
import * as nn from '../../src/nn/index.js';
import {
  CLASSIFIER_NAMES,
  TORCHVISION_PARAMETERS,
  buildClassifier,
  checkClassifierName,
  loadClassifierWeights,
  makeDivisible,
} from '../../src/models/classifiers/index.js';
import { freeModule, gc } from './helpers.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-classifiers-'));
const ROOT = path.resolve(import.meta.dirname, '../..');
const PYTHON = '/usr/bin/python3';
const HAS_TORCH = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
if (!HAS_TORCH)
  console.warn(`classifiers.test: parity tests skipped: ${PYTHON} cannot import torch (apt install python3-torch)`);
beforeAll(() => torch.setNumThreads(2));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => gc());

/** Names and shapes that torchvision's state dicts have (spot checks across each network). */
const TORCHVISION_KEYS: Record<string, [string, number[]][]> = {
  resnet18: [
    ['conv1.weight', [64, 3, 7, 7]],
    ['bn1.running_var', [64]],
    ['bn1.num_batches_tracked', []],
    ['layer1.0.conv1.weight', [64, 64, 3, 3]],
    ['layer2.0.downsample.0.weight', [128, 64, 1, 1]],
    ['layer2.0.downsample.1.bias', [128]],
    ['layer4.1.bn2.weight', [512]],
    ['fc.weight', [1000, 512]],
    ['fc.bias', [1000]],
  ],
  resnet50: [
    ['layer1.0.conv3.weight', [256, 64, 1, 1]],
    ['layer1.0.downsample.0.weight', [256, 64, 1, 1]],
    ['layer3.5.conv2.weight', [256, 256, 3, 3]],
    ['layer4.0.conv2.weight', [512, 512, 3, 3]],
    ['fc.weight', [1000, 2048]],
  ],
  densenet121: [
    ['features.conv0.weight', [64, 3, 7, 7]],
    ['features.norm0.running_mean', [64]],
    ['features.denseblock1.denselayer1.norm1.weight', [64]],
    ['features.denseblock1.denselayer1.conv1.weight', [128, 64, 1, 1]],
    ['features.denseblock1.denselayer6.conv2.weight', [32, 128, 3, 3]],
    ['features.transition1.conv.weight', [128, 256, 1, 1]],
    ['features.denseblock4.denselayer16.norm1.weight', [992]],
    ['features.norm5.weight', [1024]],
    ['classifier.weight', [1000, 1024]],
  ],
  efficientnet_b0: [
    ['features.0.0.weight', [32, 3, 3, 3]],
    ['features.0.1.weight', [32]],
    ['features.1.0.block.0.0.weight', [32, 1, 3, 3]],
    ['features.1.0.block.1.fc1.weight', [8, 32, 1, 1]],
    ['features.1.0.block.1.fc2.bias', [32]],
    ['features.1.0.block.2.0.weight', [16, 32, 1, 1]],
    ['features.2.0.block.0.0.weight', [96, 16, 1, 1]],
    ['features.2.0.block.1.0.weight', [96, 1, 3, 3]],
    ['features.3.1.block.1.0.weight', [240, 1, 5, 5]],
    ['features.6.3.block.3.1.running_var', [192]],
    ['features.7.0.block.3.0.weight', [320, 1152, 1, 1]],
    ['features.8.0.weight', [1280, 320, 1, 1]],
    ['classifier.1.weight', [1000, 1280]],
  ],
};
/** Entries in torchvision's state dicts (parameters and batch-norm buffers). */
const STATE_DICT_SIZE: Record<string, number> = {
  resnet18: 122,
  resnet50: 320,
  densenet121: 727,
  efficientnet_b0: 360,
};

describe('the four classifiers', () => {
  for (const name of CLASSIFIER_NAMES) {
    it(`${name}: torchvision's parameter count (${TORCHVISION_PARAMETERS[name].toLocaleString('en')}) and names`, () => {
      const m = buildClassifier(name, { numClasses: 1000 });
      try {
        expect(m.numParameters()).toBe(TORCHVISION_PARAMETERS[name]);
        const sd = m.stateDict();
        expect(sd.size).toBe(STATE_DICT_SIZE[name]);
        for (const [k, shape] of TORCHVISION_KEYS[name]!) expect(sd.get(k)?.shape, k).toEqual(shape);
        // Nothing but torchvision's tensors: the input normalisation is not persistent.
        expect([...sd.keys()].some((k) => k.startsWith('input_'))).toBe(false);
      } finally {
        freeModule(m);
      }
    });
  }

  it('logits [N, classes] and pooled features [N, featureDim] for [-1, 1] images', () => {
    torch.manualSeed(0);
    const x = torch.rand([2, 3, 48, 40]).mul(2).sub(1);
    for (const name of CLASSIFIER_NAMES) {
      const m = buildClassifier(name).eval();
      torch.tidy(() =>
        torch.noGrad(() => {
          const y = m.call(x);
          const f = m.features(x);
          expect(y.shape).toEqual([2, 3]);
          expect(f.shape).toEqual([2, m.featureDim]);
          expect(Number.isFinite(y.abs().sum().item())).toBe(true);
          // The head is the final linear layer on exactly these features.
          const head = [...m.namedModules()].find(([n]) => n === m.headPrefix)![1] as nn.Linear;
          expect(y.sub(head.call(f)).abs().max().item()).toBeLessThan(1e-4);
        }),
      );
      freeModule(m);
    }
    expect(() => buildClassifier('resnet18').call(torch.zeros([1, 1, 64, 64]))).toThrow(
      /expected images \[N, 3, H, W\]/,
    );
    expect(() => buildClassifier('resnet18').call(torch.zeros([1, 3, 16, 16]))).toThrow(/at least 32x32/);
    expect(() => checkClassifierName('vgg11')).toThrow(/unknown classifier 'vgg11'; choose one of resnet18/);
  });

  it('the input normalisation is ImageNet mean/std on (x + 1) / 2', () => {
    torch.manualSeed(1);
    const a = buildClassifier('resnet18').eval();
    const b = buildClassifier('resnet18', { normalizeInput: false }).eval();
    b.loadStateDict(a.stateDict());
    const x = torch.rand([1, 3, 32, 32]).mul(2).sub(1);
    const mean = torch.tensor([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1);
    const std = torch.tensor([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1);
    const xn = x.add(1).div(2).sub(mean).div(std);
    torch.noGrad(() => expect(a.call(x).sub(b.call(xn)).abs().max().item()).toBeLessThan(1e-4));
  });

  it('train mode updates batch-norm statistics and gradients reach every parameter; eval is deterministic', () => {
    torch.manualSeed(2);
    for (const name of CLASSIFIER_NAMES) {
      const m = buildClassifier(name, { numClasses: 3 });
      const x = torch.rand([2, 3, 32, 32]).mul(2).sub(1);
      const before = m
        .stateDict()
        .get(
          name.startsWith('resnet')
            ? 'bn1.running_mean'
            : name === 'densenet121'
              ? 'features.norm0.running_mean'
              : 'features.0.1.running_mean',
        )!
        .clone();
      torch.tidy(() => torch.F.crossEntropy(m.train().call(x), torch.tensor([0, 2], { dtype: 'int64' })).backward());
      const after = m
        .stateDict()
        .get(
          name.startsWith('resnet')
            ? 'bn1.running_mean'
            : name === 'densenet121'
              ? 'features.norm0.running_mean'
              : 'features.0.1.running_mean',
        )!;
      expect(torch.tidy(() => after.sub(before).abs().max().item())).toBeGreaterThan(0);
      const noGrad = [...m.namedParameters()].filter(([, p]) => !p.grad).map(([n]) => n);
      expect(noGrad, name).toEqual([]);
      m.eval();
      const y1 = torch.noGrad(() => m.call(x));
      const y2 = torch.noGrad(() => m.call(x));
      expect(torch.tidy(() => y1.sub(y2).abs().max().item())).toBe(0);
      freeModule(m);
    }
  });

  it('EfficientNet-B0 channels follow torchvision (make_divisible)', () => {
    expect(makeDivisible(32 * 6, 8)).toBe(192);
    expect(makeDivisible(10, 8)).toBe(16); // 8 would be < 90% of 10
    expect(makeDivisible(3, 8)).toBe(8);
  });
});

describe('loadClassifierWeights', () => {
  it('loads a torchvision-named file strictly, the same network gives the same outputs', async () => {
    torch.manualSeed(3);
    const src = buildClassifier('resnet18', { numClasses: 3 }).eval();
    const file = path.join(dir, 'r18-3.safetensors');
    await nn.saveModule(file, src);
    const dst = buildClassifier('resnet18', { numClasses: 3 }).eval();
    const r = await loadClassifierWeights(dst, file);
    expect(r.skippedHead).toEqual([]);
    expect(r.loaded).toBe(122);
    const x = torch.rand([1, 3, 32, 32]);
    torch.noGrad(() => expect(torch.tidy(() => src.call(x).sub(dst.call(x)).abs().max().item())).toBe(0));
  });

  it('skips a 1000-class head for a 3-class model and says so; the rest is loaded', async () => {
    torch.manualSeed(4);
    const imagenet = buildClassifier('efficientnet_b0', { numClasses: 1000 });
    const file = path.join(dir, 'effb0-1000.safetensors');
    await nn.saveModule(file, imagenet);
    const m = buildClassifier('efficientnet_b0', { numClasses: 3 });
    const head = m.stateDict().get('classifier.1.weight')!.clone();
    const r = await loadClassifierWeights(m, file);
    expect(r.skippedHead).toEqual(['classifier.1.weight', 'classifier.1.bias']);
    expect(r.notices.join('\n')).toMatch(
      /skipped classifier\.1\.weight, classifier\.1\.bias \(1000 classes in the file, the model has 3\)/,
    );
    const sd = m.stateDict();
    expect(torch.tidy(() => sd.get('classifier.1.weight')!.sub(head).abs().max().item())).toBe(0);
    const a = imagenet.stateDict().get('features.3.1.block.1.0.weight')!;
    expect(torch.tidy(() => sd.get('features.3.1.block.1.0.weight')!.sub(a).abs().max().item())).toBe(0);
    freeModule(imagenet, m);
  });

  it('refuses a file of another network, naming the file and the first mismatch', async () => {
    const file = path.join(dir, 'r18.safetensors');
    const r18 = buildClassifier('resnet18');
    await nn.saveModule(file, r18);
    const r50 = buildClassifier('resnet50');
    await expect(loadClassifierWeights(r50, file)).rejects.toThrow(
      new RegExp(
        `${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} does not hold torchvision's resnet50 weights: 'layer1\\.0\\.conv1\\.weight' is \\[64, 64, 3, 3\\], expected \\[64, 64, 1, 1\\] \\(and \\d+ more problems\\); convert torchvision's resnet50 state dict with scripts/to_safetensors.py`,
      ),
    );
    // One tensor missing.
    const sd = new Map(r18.stateDict());
    sd.delete('layer3.1.conv2.weight');
    const partial = path.join(dir, 'partial.safetensors');
    await torch.saveSafetensors(partial, sd);
    await expect(loadClassifierWeights(buildClassifier('resnet18'), partial)).rejects.toThrow(
      /partial\.safetensors does not hold torchvision's resnet18 weights: 'layer3\.1\.conv2\.weight' is missing \(expected \[256, 256, 3, 3\]\); convert/,
    );
    freeModule(r18, r50);
  });

  it("accepts DenseNet's pre-0.4 names and files without num_batches_tracked, as torchvision does", async () => {
    torch.manualSeed(5);
    const src = buildClassifier('densenet121', { numClasses: 1000 });
    const old = new Map<string, torch.Tensor>();
    for (const [k, t] of src.stateDict()) {
      if (k.endsWith('num_batches_tracked')) continue;
      old.set(k.replace(/(denselayer\d+\.(?:norm|conv))([12])\./, '$1.$2.'), t);
    }
    expect(old.has('features.denseblock1.denselayer1.norm.1.weight')).toBe(true);
    const file = path.join(dir, 'densenet-old.safetensors');
    await torch.saveSafetensors(file, old);
    const m = buildClassifier('densenet121', { numClasses: 3 });
    const r = await loadClassifierWeights(m, file);
    expect(r.notices.join('\n')).toMatch(/renamed \d+ DenseNet keys/);
    expect(r.skippedHead).toEqual(['classifier.weight', 'classifier.bias']);
    const k = 'features.denseblock2.denselayer3.conv2.weight';
    expect(torch.tidy(() => m.stateDict().get(k)!.sub(src.stateDict().get(k)!).abs().max().item())).toBe(0);
    freeModule(src, m);
  });
});

describe.skipIf(!HAS_TORCH)('parity with PyTorch (test/fixtures/classifiers_pytorch.py)', () => {
  for (const name of CLASSIFIER_NAMES) {
    it(`${name}: a torch state dict converted by scripts/to_safetensors.py loads strictly; eval logits and features agree`, async () => {
      const out = path.join(dir, `pt-${name}`);
      mkdirSync(out, { recursive: true });
      const env = { ...process.env, OMP_NUM_THREADS: '1' };
      execFileSync(PYTHON, [path.join(ROOT, 'test/fixtures/classifiers_pytorch.py'), name, '11', out], { env });
      for (const f of ['weights', 'io'])
        execFileSync(
          PYTHON,
          [
            path.join(ROOT, 'scripts/to_safetensors.py'),
            path.join(out, `${f}.pth`),
            path.join(out, `${f}.safetensors`),
          ],
          { env },
        );
      const m = buildClassifier(name, { numClasses: 3 });
      const r = await loadClassifierWeights(m, path.join(out, 'weights.safetensors'));
      expect(r.skippedHead).toEqual([]);
      expect(r.loaded).toBe(STATE_DICT_SIZE[name]);
      const { tensors } = await torch.loadSafetensors(path.join(out, 'io.safetensors'));
      m.eval();
      torch.tidy(() =>
        torch.noGrad(() => {
          const images = tensors.get('images')!;
          for (const [k, ours] of [
            ['logits', m.call(images)],
            ['features', m.features(images)],
          ] as const) {
            const ref = tensors.get(k)!;
            expect(ours.shape).toEqual(ref.shape);
            const scale = ref.abs().max().item();
            expect(scale).toBeGreaterThan(1e-3);
            expect(ours.sub(ref).abs().max().item() / scale, k).toBeLessThan(1e-4);
          }
        }),
      );
      torch.dispose([...tensors.values()]);
      freeModule(m);
    });
  }
});
