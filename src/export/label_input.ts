// The label map's one-hot step inside the graph, for models that take label bytes: the same [256, C]
// table as label_map.ts's oneHotLabels (row v is the one-hot encoding of label byte v: bits 0-6
// the class, skin 0, diagnosis k at 1 + k, [frame at 1 + K]; bit 7 the boundary flag; a class
// byte no class takes, such as NO_SEGMENTATION 127, encodes to zeros), looked up per pixel.
import { oneHotTable, type LabelMapSpec } from '../data/label_map.js';
import type { GraphBuilder } from './onnx_graph.js';
import { DataType } from './onnx_proto.js';

/** uint8 label bytes [N, 1, H, W] -> the one-hot map [N, C, H, W] in the graph's float type. */
export function labelsToOneHot(g: GraphBuilder, labels: string, spec: LabelMapSpec): string {
  const table = g.weight('label_map.one_hot_table', [256, spec.channels.length], oneHotTable(spec));
  const squeezed = g.node('Squeeze', [labels, g.int64Constant([1])], {}, { name: 'label_map/squeeze' }); // [N, H, W]
  const index = g.node('Cast', [squeezed], { to: DataType.INT32 }, { name: 'label_map/index' });
  const rows = g.node('Gather', [table, index], { axis: 0 }, { name: 'label_map/one_hot' }); // [N, H, W, C]
  return g.node('Transpose', [rows], { perm: [0, 3, 1, 2] }, { name: 'label_map/nchw' });
}
