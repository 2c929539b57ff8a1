// Every generator variant exported and run in onnxruntime against dermosynth's own forward on the
// same label maps: float32 within the 1e-4, fp16 within FP16_BOUND (two 8-bit levels), at the built size and,
// with symbolic H and W, at another size; both inputs (label bytes, one-hot map).
import { beforeAll, describe, expect, it } from 'vitest';
import * as torch from '../../src/torch/index.js';
import * as nn from '../../src/nn/index.js';
import { labelMapSpec, oneHotLabels } from '../../src/data/label_map.js';
import { buildGenerator, type ModelOverrides } from '../../src/models/registry.js';
import type { GeneratorModule, ModelName } from '../../src/models/types.js';
import { generatorGraph, type ExportPrecision } from '../../src/export/generator_graph.js';
import { generatorSizeRule } from '../../src/export/image_size.js';
import { decodeModel, encodeModel } from '../../src/export/onnx_proto.js';
import {
  FP16_BOUND,
  FP16_MEAN_BOUND,
  FP32_BOUND,
  calibrateBatchNorm,
  difference,
  labelFeed,
  lesionLabels,
  oneHotFeed,
  reference,
  runOnnx,
  session,
} from './helpers.js';

const spec = labelMapSpec(['nevus', 'melanoma', 'seborrheic_keratosis'], { boundary: 2, frame: true });

interface Variant {
  name: string;
  model: ModelName;
  overrides: ModelOverrides;
  /** The built size (square) and another size [w, h] for the symbolic-size model. */
  size: number;
  other: [number, number];
}

const VARIANTS: Variant[] = [
  {
    name: 'proposed, concat skips, no local enhancer',
    model: 'proposed',
    overrides: { ngf: 8, nDown: 2, nBlocks: 1, numLocalEnhancers: 0 },
    size: 32,
    other: [48, 24],
  },
  {
    name: 'proposed, add skips, resize upsampling, 1 local enhancer',
    model: 'proposed',
    overrides: { ngf: 8, nDown: 2, nBlocks: 1, numLocalEnhancers: 1, upsample: 'resize', skip: 'add' },
    size: 32,
    other: [24, 40],
  },
  {
    name: 'proposed, concat skips, 2 local enhancers, spectral-instance norm',
    model: 'proposed',
    overrides: { ngf: 8, nDown: 1, nBlocks: 1, numLocalEnhancers: 2, nBlocksLocal: 1, norm: 'spectral-instance' },
    size: 32,
    other: [16, 48],
  },
  {
    name: 'pix2pixhd, 1 local enhancer',
    model: 'pix2pixhd',
    overrides: { ngf: 8, nDown: 2, nBlocks: 2, numLocalEnhancers: 1, nBlocksLocal: 1 },
    size: 32,
    other: [40, 32],
  },
  {
    name: 'pix2pixhd, batch norm',
    model: 'pix2pixhd',
    overrides: { ngf: 8, nDown: 2, nBlocks: 1, numLocalEnhancers: 0, norm: 'batch' },
    size: 32,
    other: [32, 16],
  },
  {
    name: 'pix2pix (unet_64, batch norm, dropout)',
    model: 'pix2pix',
    overrides: { ngf: 4, numDowns: 6 },
    size: 64,
    other: [128, 64],
  },
  {
    name: 'pix2pix (unet_32, instance norm)',
    model: 'pix2pix',
    overrides: { ngf: 4, numDowns: 5, norm: 'instance' },
    size: 32,
    other: [64, 96],
  },
  {
    name: 'pix2pix (unet_32, batch norm, resize upsampling)',
    model: 'pix2pix',
    overrides: { ngf: 4, numDowns: 5, upsample: 'resize' },
    size: 32,
    other: [64, 32],
  },
  {
    name: "spade ('normal', sync-batch SPADE, spectral)",
    model: 'spade',
    overrides: { ngf: 4, spadeHidden: 8 },
    size: 64,
    other: [128, 64],
  },
  {
    name: "spade ('more', instance SPADE, no spectral norm)",
    model: 'spade',
    overrides: { ngf: 2, spadeHidden: 4, upsampling: 'more', spadeNorm: 'instance', spectral: false },
    size: 128,
    other: [128, 192],
  },
];

/**
 * A generator with realistic statistics: batch norms calibrated on label maps, then the last
 * convolution scaled so that the image's RMS is about 0.3 (untrained, several of them make images
 * near 0, where a comparison would see little of tanh).
 */
function makeGenerator(v: Variant): GeneratorModule {
  const { generator } = buildGenerator(v.model, spec.channels.length, v.overrides, 'cpu');
  const labels = lesionLabels(spec, 4, v.size, v.size, 1);
  const calibration = torch.tidy(() =>
    torch.keep(oneHotLabels(torch.fromBytes(labels, 'uint8', [4, 1, v.size, v.size]), spec)),
  );
  calibrateBatchNorm(generator, calibration);
  calibration.dispose();
  const { rms } = difference(
    reference(generator, spec, labels, 4, v.size, v.size),
    new Float32Array(4 * 3 * v.size * v.size),
  );
  const convs = [...generator.namedModules()]
    .map(([, m]) => m)
    .filter((m) => m instanceof nn.Conv2d || m instanceof nn.ConvTranspose2d);
  const last = convs[convs.length - 1]!;
  const factor = Math.min(1000, Math.max(1, 0.3 / rms));
  torch.noGrad(() => {
    for (const name of ['weight', 'bias']) last.optionalParam(name)?.mul_(factor);
  });
  return generator;
}

function exported(
  g: GeneratorModule,
  precision: ExportPrecision,
  input: 'labels' | 'onehot',
  size: { width: number; height: number } | 'dynamic',
): Uint8Array {
  const graph = generatorGraph(g, { spec, input, precision, opset: 17, size });
  return encodeModel(graph.model({ graphName: 'g', producerVersion: 'test', metadata: {} }));
}

beforeAll(() => torch.manualSeed(3));

describe.each(VARIANTS)('$name', (v) => {
  let generator: GeneratorModule;
  beforeAll(() => {
    generator = makeGenerator(v);
  });

  it('fp32, label bytes in: within 1e-4 of dermosynth at the built size', async () => {
    const n = 3;
    const labels = lesionLabels(spec, n, v.size, v.size, 2);
    const s = await session(exported(generator, 'fp32', 'labels', { width: v.size, height: v.size }));
    const got = await runOnnx(s, labelFeed(labels, n, v.size, v.size));
    expect(got.dims).toEqual([n, 3, v.size, v.size]);
    const d = difference(reference(generator, spec, labels, n, v.size, v.size), got.data);
    expect(d.rms, 'the image is not trivially flat').toBeGreaterThan(0.05);
    expect(d.max).toBeLessThanOrEqual(FP32_BOUND);
  });

  it('fp32, one-hot in, symbolic size: within 1e-4 at the built size and at another size', async () => {
    const s = await session(exported(generator, 'fp32', 'onehot', 'dynamic'));
    expect(s.inputNames).toEqual(['label_onehot']);
    for (const [w, h] of [[v.size, v.size], v.other]) {
      const labels = lesionLabels(spec, 2, h!, w!, 3);
      const got = await runOnnx(s, oneHotFeed(labels, 2, h!, w!, spec));
      expect(got.dims).toEqual([2, 3, h, w]);
      expect(difference(reference(generator, spec, labels, 2, h!, w!), got.data).max).toBeLessThanOrEqual(FP32_BOUND);
    }
  });

  it('fp16, label bytes in, symbolic size: within two 8-bit levels', async () => {
    const bytes = exported(generator, 'fp16', 'labels', 'dynamic');
    // Weights are stored as float16: half the float32 file.
    expect(bytes.length).toBeLessThan(0.6 * exported(generator, 'fp32', 'labels', 'dynamic').length);
    const s = await session(bytes);
    for (const [w, h] of [[v.size, v.size], v.other]) {
      const labels = lesionLabels(spec, 2, h!, w!, 4);
      const got = await runOnnx(s, labelFeed(labels, 2, h!, w!));
      const d = difference(reference(generator, spec, labels, 2, h!, w!), got.data);
      expect(d.max).toBeLessThanOrEqual(FP16_BOUND);
      expect(d.mean).toBeLessThanOrEqual(FP16_MEAN_BOUND);
    }
  });

  it('the other size fits the generator size rule', () => {
    const rule = generatorSizeRule(buildGenerator(v.model, spec.channels.length, v.overrides, 'cpu').options);
    for (const side of v.other) {
      expect(side % rule.multiple).toBe(0);
      expect(side).toBeGreaterThanOrEqual(rule.min);
    }
  });
});

describe('other opsets', () => {
  it.each([13, 21])(
    'opset %i computes what opset 17 does (Resize, Pad, AveragePool, Squeeze in their forms of that opset)',
    async (opset) => {
      for (const v of [VARIANTS[1]!, VARIANTS[7]!]) {
        const g = makeGenerator(v);
        const labels = lesionLabels(spec, 2, v.size, v.size, 8);
        const graph = generatorGraph(g, { spec, input: 'labels', precision: 'fp32', opset, size: 'dynamic' });
        const s = await session(encodeModel(graph.model({ graphName: 'g', producerVersion: 'test', metadata: {} })));
        const got = await runOnnx(s, labelFeed(labels, 2, v.size, v.size));
        expect(difference(reference(g, spec, labels, 2, v.size, v.size), got.data).max, v.name).toBeLessThanOrEqual(
          FP32_BOUND,
        );
      }
    },
  );
});

describe('the graph', () => {
  it('names its input and output and has the one-hot step inside when taking label bytes', () => {
    const g = makeGenerator(VARIANTS[0]!);
    const m = decodeModel(exported(g, 'fp32', 'labels', 'dynamic'));
    expect(m.graph.input.map((i) => [i.name, i.type.tensorType.elemType, i.type.tensorType.shape.dim])).toEqual([
      ['labels', 2, [{ dimParam: 'N' }, { dimValue: 1 }, { dimParam: 'H' }, { dimParam: 'W' }]],
    ]);
    expect(m.graph.output.map((o) => [o.name, o.type.tensorType.elemType, o.type.tensorType.shape.dim])).toEqual([
      ['image', 1, [{ dimParam: 'N' }, { dimValue: 3 }, { dimParam: 'H' }, { dimParam: 'W' }]],
    ]);
    expect(m.graph.node.slice(0, 4).map((n) => n.opType)).toEqual(['Squeeze', 'Cast', 'Gather', 'Transpose']);
    // The sub-pixel fast path exports as a plain ConvTranspose.
    expect(m.graph.node.filter((n) => n.opType === 'ConvTranspose')).toHaveLength(2);
    // Initializers are named after the state dict.
    expect(m.graph.initializer.map((t) => t.name)).toContain('front.1.weight');
    const fp16 = decodeModel(exported(g, 'fp16', 'labels', { width: 32, height: 32 }));
    expect(fp16.graph.initializer.find((t) => t.name === 'front.1.weight')!.dataType).toBe(10);
    expect(fp16.graph.output[0]!.type.tensorType.elemType).toBe(1);
  });
});
