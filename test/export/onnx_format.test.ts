// The ONNX file itself: the protobuf encoding (read back by our decoder and by onnxruntime), the IR
// version of each opset, float16 rounding against libtorch's, and the in-graph one-hot step
// against dermosynth's oneHotLabels for every byte value.
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import * as torch from '../../src/torch/index.js';
import { labelMapSpec, oneHotLabels } from '../../src/data/label_map.js';
import { float16Bits, float16Value } from '../../src/export/float16.js';
import { labelsToOneHot } from '../../src/export/label_input.js';
import { GraphBuilder, float, irVersionFor, MAX_OPSET, MIN_OPSET } from '../../src/export/onnx_graph.js';
import { DataType, decodeModel, encodeModel } from '../../src/export/onnx_proto.js';
import { session } from './helpers.js';

describe('float16 rounding', () => {
  it('gives libtorch float32 -> float16 bits (nearest even, subnormals, overflow, infinities, NaN)', () => {
    const values: number[] = [
      0,
      -0,
      1,
      -1,
      65504,
      65519.99,
      65520,
      70000,
      -1e9,
      2 ** -24,
      2 ** -25,
      3 * 2 ** -26,
      2 ** -14,
      2 ** -14 * (1 - 2 ** -11),
      1 + 2 ** -11,
      1 + 3 * 2 ** -11,
      Infinity,
      -Infinity,
    ];
    // Halfway cases between neighbouring float16 values, normal and subnormal, both parities.
    for (const h of [1, 2, 3, 1023, 1024, 1025, 15360, 15361, 31743])
      values.push((float16Value(h) + float16Value(h + 1)) / 2, -(float16Value(h) + float16Value(h + 1)) / 2);
    let s = 1;
    for (let i = 0; i < 4000; i++) {
      s = (s * 16807) % 2147483647;
      values.push(((s / 2147483647) * 2 - 1) * 2 ** ((i % 60) - 30));
    }
    const bits = torch.tidy(() =>
      Array.from(torch.tensor(Float32Array.from(values)).to('float16').data() as Uint16Array),
    );
    const ours = values.map(float16Bits);
    const wrong = ours.map((b, i) => [values[i], b, bits[i]]).filter(([, a, b]) => a !== b);
    expect(wrong.slice(0, 5)).toEqual([]);
    expect(Number.isNaN(float16Value(float16Bits(NaN)))).toBe(true);
  });
});

describe('the protobuf encoding', () => {
  it('maps every opset to the IR version that came with it and refuses others', () => {
    expect([13, 14, 15, 17, 18, 19, 20, 21].map(irVersionFor)).toEqual([7, 7, 8, 8, 8, 9, 9, 10]);
    expect(() => irVersionFor(MIN_OPSET - 1)).toThrow(/opset 12 is not supported: 13 to 21/);
    expect(() => irVersionFor(MAX_OPSET + 1)).toThrow(RangeError);
  });

  it.each([13, 17, 21])('writes a model that onnxruntime runs and our decoder reads back (opset %i)', async (opset) => {
    const g = new GraphBuilder(opset);
    const x = g.input('x', DataType.FLOAT, ['N', 3]);
    const y = g.node(
      'LeakyRelu',
      [g.node('Add', [x, g.floatConstant([1, 2, 3], [3])], {}, { name: 'add' })],
      { alpha: float(0.5) },
      { name: 'lrelu' },
    );
    g.output(y, 'y', DataType.FLOAT, ['N', 3]);
    const bytes = encodeModel(
      g.model({
        graphName: 'tiny',
        producerVersion: '1.2.3',
        docString: 'doc',
        metadata: { 'k.one': 'v1', 'k.two': '{"a":[1,2]}' },
      }),
    );
    const s = await session(bytes);
    const out = await s.run({ x: new ort.Tensor('float32', Float32Array.from([-4, 0, 1, -10, 2, -3]), [2, 3]) });
    expect(Array.from(out.y!.data as Float32Array)).toEqual([-1.5, 2, 4, -4.5, 4, 0]);
    expect(s.inputNames).toEqual(['x']);
    expect(s.outputNames).toEqual(['y']);
    const m = decodeModel(bytes);
    expect(m.irVersion).toBe(irVersionFor(opset));
    expect(m.opsetImport.map((o) => [o.domain ?? '', o.version])).toEqual([['', opset]]); // proto3 leaves default values out
    expect(m.producerName).toBe('dermosynth');
    expect(m.metadataProps).toEqual([
      { key: 'k.one', value: 'v1' },
      { key: 'k.two', value: '{"a":[1,2]}' },
    ]);
    // The output is the renamed last node, not an extra Identity.
    expect(m.graph.node.map((n) => n.opType)).toEqual(['Add', 'LeakyRelu']);
    expect(m.graph.node[1]!.output).toEqual(['y']);
    expect(m.graph.node[1]!.attribute[0]).toMatchObject({ name: 'alpha', f: 0.5 });
    expect(m.graph.input[0]!.type.tensorType.shape.dim).toEqual([{ dimParam: 'N' }, { dimValue: 3 }]);
  });
});

describe('the label map inside the graph', () => {
  const specs = [
    labelMapSpec(['nevus', 'melanoma', 'seborrheic_keratosis'], { boundary: 0, frame: false }),
    labelMapSpec(['nevus', 'melanoma', 'seborrheic_keratosis'], { boundary: 2, frame: true }),
    labelMapSpec(['MEL', 'NV', 'BCC', 'AKIEC', 'BKL', 'DF', 'VASC'], { boundary: 1, frame: false }),
  ];
  it.each(specs.map((s) => [s.channels.join(' '), s] as const))(
    'one-hot encodes every byte value as oneHotLabels does (%s)',
    async (_name, spec) => {
      for (const precision of ['fp32', 'fp16'] as const) {
        const g = new GraphBuilder(17, precision === 'fp16' ? DataType.FLOAT16 : DataType.FLOAT);
        const labels = g.input('labels', DataType.UINT8, ['N', 1, 'H', 'W']);
        let y = labelsToOneHot(g, labels, spec);
        if (precision === 'fp16') y = g.node('Cast', [y], { to: DataType.FLOAT });
        g.output(y, 'onehot', DataType.FLOAT, ['N', spec.channels.length, 'H', 'W']);
        const s = await session(encodeModel(g.model({ graphName: 'labels', producerVersion: '0', metadata: {} })));
        // Every byte value, as a 2 x 1 x 8 x 32 batch.
        const bytes = Uint8Array.from({ length: 512 }, (_, i) => (i * 37) % 256);
        const out = await s.run({ labels: new ort.Tensor('uint8', bytes, [2, 1, 8, 32]) });
        const want = torch.tidy(() =>
          oneHotLabels(torch.fromBytes(bytes, 'uint8', [2, 1, 8, 32]), spec)
            .contiguous()
            .toFloat32Array(),
        );
        expect(out.onehot!.dims).toEqual([2, spec.channels.length, 8, 32]);
        expect(Array.from(out.onehot!.data as Float32Array)).toEqual(Array.from(want));
      }
    },
  );
});
