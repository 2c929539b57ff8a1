// Label maps as pictures: one colour per class, white boundary, for sample grids and the studio.
import { BOUNDARY_BIT, CLASS_BITS, classCount, type LabelMapSpec } from './label_map.js';

/** Skin, then one colour per diagnosis (nevus green, melanoma red, SK blue, others cycling), frame black. */
const DIAGNOSIS_COLOURS: [number, number, number][] = [
  [60, 170, 75],
  [215, 40, 40],
  [50, 90, 215],
  [230, 160, 30],
  [150, 60, 190],
  [40, 180, 190],
  [120, 120, 120],
];
const SKIN: [number, number, number] = [225, 196, 170];
const FRAME: [number, number, number] = [20, 20, 20];
const BOUNDARY: [number, number, number] = [255, 255, 255];

export function classColours(spec: LabelMapSpec): [number, number, number][] {
  const colours = [SKIN, ...spec.classes.map((_, k) => DIAGNOSIS_COLOURS[k % DIAGNOSIS_COLOURS.length]!)];
  if (spec.frame) colours.push(FRAME);
  if (colours.length !== classCount(spec)) throw new Error('classColours: class count mismatch');
  return colours;
}

/** Label bytes [H*W] to interleaved RGB [H*W*3]. */
export function colouriseLabels(labelBytes: Uint8Array, spec: LabelMapSpec): Uint8Array {
  const colours = classColours(spec);
  const out = new Uint8Array(labelBytes.length * 3);
  for (let i = 0; i < labelBytes.length; i++) {
    const v = labelBytes[i]!;
    const c = spec.boundary > 0 && v & BOUNDARY_BIT ? BOUNDARY : (colours[v & CLASS_BITS] ?? FRAME);
    out[3 * i] = c[0];
    out[3 * i + 1] = c[1];
    out[3 * i + 2] = c[2];
  }
  return out;
}
