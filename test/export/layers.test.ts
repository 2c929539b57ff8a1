// Each layer's ONNX form against the layer itself (eval mode, random input and statistics), run in
// onnxruntime; and the errors for what has no ONNX form.
import { beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import * as torch from '../../src/torch/index.js';
import * as nn from '../../src/nn/index.js';
import { EMITTERS } from '../../src/export/generator_graph.js';
import { ExportError, ModuleWalker, UnsupportedLayerError } from '../../src/export/onnx_emit.js';
import { GraphBuilder } from '../../src/export/onnx_graph.js';
import { DataType, encodeModel } from '../../src/export/onnx_proto.js';
import { difference, session } from './helpers.js';

/** The layer's output and its ONNX form's on the same input. */
async function compare(
  layer: nn.Module,
  shape: number[],
): Promise<{ ref: Float32Array; got: Float32Array; dims: readonly number[]; refShape: number[] }> {
  layer.freezeForInference();
  const x = torch.randn(shape);
  const y = torch.inferenceMode(() => layer.call(x));
  const g = new GraphBuilder(17);
  const input = g.input('x', DataType.FLOAT, shape);
  const out = new ModuleWalker(g, EMITTERS).emit(layer, 'layer', input);
  g.output(out, 'y', DataType.FLOAT, y.shape);
  const s = await session(encodeModel(g.model({ graphName: 'layer', producerVersion: '0', metadata: {} })));
  const r = await s.run({ x: new ort.Tensor('float32', x.contiguous().toFloat32Array(), shape) });
  const result = {
    ref: y.contiguous().toFloat32Array(),
    got: r.y!.data as Float32Array,
    dims: r.y!.dims,
    refShape: y.shape,
  };
  torch.dispose([x, y]);
  return result;
}

/** Random running statistics and affine parameters for a norm layer. */
function randomStats(m: nn.Module): nn.Module {
  torch.noGrad(() => {
    for (const [name, t] of m.stateDict()) {
      if (name === 'running_mean' || name === 'bias') t.copy_(torch.randn(t.shape).mul(0.5));
      if (name === 'running_var') t.copy_(torch.rand(t.shape).add(0.5));
      if (name === 'weight') t.copy_(torch.rand(t.shape).add(0.5));
    }
  });
  return m;
}

beforeAll(() => torch.manualSeed(11));

const CASES: [string, () => nn.Module, number[]][] = [
  ['Conv2d stride 2', () => new nn.Conv2d(3, 5, 3, { stride: 2, padding: 1 }), [2, 3, 9, 8]],
  [
    'Conv2d dilated, grouped, no bias',
    () => new nn.Conv2d(4, 6, [3, 5], { padding: [1, 2], dilation: [1, 2], groups: 2, bias: false }),
    [1, 4, 10, 12],
  ],
  ['Conv2d reflect padding', () => new nn.Conv2d(3, 4, 3, { padding: 1, paddingMode: 'reflect' }), [2, 3, 7, 6]],
  ['Conv2d replicate padding', () => new nn.Conv2d(3, 4, 5, { padding: 2, paddingMode: 'replicate' }), [1, 3, 7, 6]],
  [
    'spectral-norm Conv2d (effective weight)',
    () => nn.spectralNorm(new nn.Conv2d(3, 4, 3, { padding: 1 })),
    [2, 3, 6, 6],
  ],
  [
    'ConvTranspose2d 3x3 s2 (the sub-pixel path)',
    () => new nn.ConvTranspose2d(4, 3, 3, { stride: 2, padding: 1, outputPadding: 1 }),
    [1, 4, 32, 32],
  ],
  [
    'ConvTranspose2d 3x3 s2 (aten path)',
    () => new nn.ConvTranspose2d(4, 3, 3, { stride: 2, padding: 1, outputPadding: 1 }),
    [2, 4, 5, 7],
  ],
  [
    'ConvTranspose2d 4x4 s2 (U-Net)',
    () => new nn.ConvTranspose2d(4, 2, 4, { stride: 2, padding: 1, bias: false }),
    [2, 4, 4, 4],
  ],
  [
    'ConvTranspose2d grouped',
    () => new nn.ConvTranspose2d(4, 6, 3, { stride: 2, padding: 1, outputPadding: 1, groups: 2, subpixel: false }),
    [1, 4, 5, 5],
  ],
  [
    'spectral-norm ConvTranspose2d',
    () => nn.spectralNorm(new nn.ConvTranspose2d(4, 3, 3, { stride: 2, padding: 1, outputPadding: 1 })),
    [1, 4, 6, 6],
  ],
  ['InstanceNorm2d', () => new nn.InstanceNorm2d(4), [2, 4, 6, 5]],
  ['InstanceNorm2d affine', () => randomStats(new nn.InstanceNorm2d(4, { affine: true, eps: 1e-3 })), [2, 4, 6, 5]],
  [
    'InstanceNorm2d with running statistics',
    () => randomStats(new nn.InstanceNorm2d(4, { affine: true, trackRunningStats: true })),
    [2, 4, 3, 3],
  ],
  ['BatchNorm2d', () => randomStats(new nn.BatchNorm2d(4)), [2, 4, 3, 5]],
  ['BatchNorm2d affine-free', () => randomStats(new nn.BatchNorm2d(4, { affine: false })), [2, 4, 3, 5]],
  [
    'SyncBatchNorm2d',
    () => nn.SyncBatchNorm2d.fromBatchNorm(randomStats(new nn.BatchNorm2d(4)) as nn.BatchNorm2d, null),
    [2, 4, 3, 5],
  ],
  ['ReLU', () => new nn.ReLU({ inplace: true }), [2, 3, 4, 4]],
  ['LeakyReLU', () => new nn.LeakyReLU(0.2), [2, 3, 4, 4]],
  ['Tanh', () => new nn.Tanh(), [2, 3, 4, 4]],
  ['Sigmoid', () => new nn.Sigmoid(), [2, 3, 4, 4]],
  ['Identity', () => new nn.Identity(), [2, 3, 4, 4]],
  ['Dropout (eval)', () => new nn.Dropout(0.5), [2, 3, 4, 4]],
  ['ReflectionPad2d', () => new nn.ReflectionPad2d([1, 2, 3, 0]), [2, 3, 5, 6]],
  ['ReplicationPad2d', () => new nn.ReplicationPad2d(2), [2, 3, 5, 6]],
  ['ZeroPad2d', () => new nn.ZeroPad2d([0, 1, 2, 3]), [2, 3, 5, 6]],
  ['Upsample nearest 2x', () => new nn.Upsample({ scaleFactor: 2, mode: 'nearest' }), [2, 3, 5, 6]],
  ['Upsample nearest 2x3', () => new nn.Upsample({ scaleFactor: [2, 3], mode: 'nearest' }), [1, 2, 4, 5]],
  ['Upsample bilinear', () => new nn.Upsample({ scaleFactor: 2, mode: 'bilinear' }), [1, 2, 5, 6]],
  [
    'Upsample bilinear, aligned corners',
    () => new nn.Upsample({ scaleFactor: 2, mode: 'bilinear', alignCorners: true }),
    [1, 2, 5, 6],
  ],
  [
    'AvgPool2d, padding not counted (the local enhancers)',
    () => new nn.AvgPool2d(3, { stride: 2, padding: 1, countIncludePad: false }),
    [2, 3, 8, 6],
  ],
  ['AvgPool2d, padding counted', () => new nn.AvgPool2d(3, { stride: 2, padding: 1 }), [2, 3, 7, 6]],
  ['AvgPool2d 2x2', () => new nn.AvgPool2d(2), [2, 3, 8, 6]],
  ['MaxPool2d', () => new nn.MaxPool2d(3, { stride: 2, padding: 1 }), [2, 3, 7, 8]],
  [
    'Sequential',
    () =>
      new nn.Sequential(
        new nn.ReflectionPad2d(3),
        new nn.Conv2d(3, 4, 7),
        new nn.InstanceNorm2d(4),
        new nn.ReLU({ inplace: true }),
      ),
    [2, 3, 9, 9],
  ],
];

describe('each layer exports to what it computes', () => {
  it.each(CASES)('%s', async (_name, make, shape) => {
    const layer = make();
    if (_name.includes('sub-pixel')) expect((layer as nn.ConvTranspose2d).usesSubpixel).toBe(true);
    const { ref, got, dims, refShape } = await compare(layer, shape);
    expect([...dims]).toEqual(refShape);
    // float32 sums of at most a few hundred unit-scale products: rounding differences stay near 1e-6.
    expect(difference(ref, got).max).toBeLessThan(1e-5);
  });
});

describe('what has no ONNX form', () => {
  const exportOf = (m: nn.Module, shape = [1, 3, 8, 8]): void => {
    const g = new GraphBuilder(17);
    new ModuleWalker(g, EMITTERS).emit(m, 'net', g.input('x', DataType.FLOAT, shape));
  };

  it('names the layer and its path', () => {
    const net = new nn.Sequential(new nn.Conv2d(3, 3, 1), new nn.GELU()).eval();
    expect(() => exportOf(net)).toThrow(UnsupportedLayerError);
    expect(() => exportOf(net)).toThrow(
      /^cannot export layer 'net\.1' \(GELU\) to ONNX: no ONNX form is defined for it \(exportable: .*Conv2d.*\)$/,
    );
  });

  it('refuses layers whose eval-mode behaviour ONNX does not have', () => {
    expect(() => exportOf(new nn.AvgPool2d(3, { stride: 2, ceilMode: true }).eval())).toThrow(
      /'net' \(AvgPool2d\).*ceil_mode/,
    );
    expect(() => exportOf(new nn.BatchNorm2d(3, { trackRunningStats: false }).eval())).toThrow(
      /'net' \(BatchNorm2d\).*running statistics/,
    );
    expect(() => exportOf(new nn.Upsample({ size: [4, 4], mode: 'nearest' }).eval())).toThrow(
      /'net' \(Upsample\).*scale factor/,
    );
  });

  it('refuses a module in training mode', () => {
    const net = new nn.Sequential(new nn.Conv2d(3, 3, 1), new nn.Dropout(0.5));
    expect(() => exportOf(net)).toThrow(ExportError);
    expect(() => exportOf(net)).toThrow(/training mode/);
  });
});
