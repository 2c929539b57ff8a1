// A generator module as a whole ONNX graph: the named input (label bytes with the one-hot step in
// the graph, or the one-hot map itself), the module tree walked into nodes, and the named image
// output; in fp16 every weight and activation is float16 with float32 at the input and output.
import type { LabelMapSpec } from '../data/label_map.js';
import type { GeneratorModule } from '../models/types.js';
import { labelsToOneHot } from './label_input.js';
import { ModuleWalker } from './onnx_emit.js';
import { GENERATOR_EMITTERS } from './onnx_generators.js';
import { GraphBuilder, type Dim } from './onnx_graph.js';
import { LAYER_EMITTERS } from './onnx_layers.js';
import { DataType } from './onnx_proto.js';

export type ExportInput = 'labels' | 'onehot';
export type ExportPrecision = 'fp32' | 'fp16';
export const EXPORT_INPUTS: readonly ExportInput[] = ['labels', 'onehot'];
export const EXPORT_PRECISIONS: readonly ExportPrecision[] = ['fp32', 'fp16'];

/** The graph's input and output names. */
export const INPUT_NAMES: Record<ExportInput, string> = { labels: 'labels', onehot: 'label_onehot' };
export const OUTPUT_NAME = 'image';

export interface GeneratorGraphOptions {
  spec: LabelMapSpec;
  input: ExportInput;
  precision: ExportPrecision;
  opset: number;
  /** A fixed image size, or 'dynamic' for symbolic H and W. The batch dimension N is always symbolic. */
  size: { width: number; height: number } | 'dynamic';
}

/** Every module class the export knows. */
export const EMITTERS = [...LAYER_EMITTERS, ...GENERATOR_EMITTERS];

/** The generator (in eval mode) as a graph: input INPUT_NAMES[input], output 'image' float32 [N, 3, H, W] in [-1, 1]. */
export function generatorGraph(generator: GeneratorModule, o: GeneratorGraphOptions): GraphBuilder {
  const g = new GraphBuilder(o.opset, o.precision === 'fp16' ? DataType.FLOAT16 : DataType.FLOAT);
  const [h, w]: Dim[] = o.size === 'dynamic' ? ['H', 'W'] : [o.size.height, o.size.width];
  const c = o.spec.channels.length;
  let onehot: string;
  if (o.input === 'labels') {
    const labels = g.input(
      INPUT_NAMES.labels,
      DataType.UINT8,
      ['N', 1, h, w],
      'label bytes, one per pixel: bits 0-6 the class (0 skin, 1 + k diagnosis k of dermosynth.classes, then frame when the map has one; 127: no segmentation), bit 7 the boundary flag; see dermosynth.label_map',
    );
    onehot = labelsToOneHot(g, labels, o.spec);
  } else {
    const input = g.input(
      INPUT_NAMES.onehot,
      DataType.FLOAT,
      ['N', c, h, w],
      `the one-hot label map, channels ${o.spec.channels.join(', ')}`,
    );
    onehot =
      o.precision === 'fp16' ? g.node('Cast', [input], { to: DataType.FLOAT16 }, { name: 'input/to_fp16' }) : input;
  }
  const walker = new ModuleWalker(g, EMITTERS);
  let image = walker.emit(generator, '', onehot);
  if (o.precision === 'fp16') image = g.node('Cast', [image], { to: DataType.FLOAT }, { name: 'output/to_fp32' });
  g.output(
    image,
    OUTPUT_NAME,
    DataType.FLOAT,
    ['N', 3, h, w],
    'the image, RGB in [-1, 1] (bytes: round((x + 1) * 127.5) clamped to 0..255)',
  );
  return g;
}
