// Data augmentation applied identically to an image batch and its label batch.
//
//   image  float32 [B, 3, H, W] in [-1, 1]
//   label  uint8   [B, 1, H, W] of label bytes (bits 0-6 the class, bit 7 the boundary flag)
//
// Geometric transforms (flips, quarter turns, a small affine map) move image and label pixels
// together; the label is only ever moved (nearest neighbour, reflection at the borders), so its
// bytes after augmentation are a subset of those before. Colour jitter touches the image only.
// Parameters are drawn per sample from a seeded `Rng` (sampleAugmentParams) and applied by
// augmentBatch, so that augmentation is reproducible from (seed, epoch, index) alone.
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import type { Rng } from './random.js';

export interface AffineJitter {
  /** Rotation drawn uniformly from [-degrees, degrees]. */
  degrees: number;
  /** Translation in each axis drawn uniformly from [-translate, translate], as a fraction of the size. */
  translate: number;
  /** Zoom factor drawn uniformly from [scale[0], scale[1]] (> 1 enlarges). */
  scale: [number, number];
}

export interface ColourJitter {
  /** Brightness factor drawn from [max(0, 1 - brightness), 1 + brightness]. */
  brightness: number;
  /** Contrast factor (around the image's mean grey) drawn from [max(0, 1 - contrast), 1 + contrast]. */
  contrast: number;
  /** Saturation factor (blend with greyscale) drawn from [max(0, 1 - saturation), 1 + saturation]. */
  saturation: number;
  /** Hue rotation drawn from [-hue, hue], in turns (0.5 = 180 degrees); at most 0.5. */
  hue: number;
}

export interface AugmentOptions {
  /** Random horizontal and vertical flips (default true). */
  flip?: boolean;
  /** Random multiples of 90 degrees (default true); for non-square images only 0 or 180. */
  rot90?: boolean;
  /** A small random affine map (default null: off). */
  affine?: AffineJitter | null;
  /** Colour jitter of the image only (default null: off). */
  colour?: ColourJitter | null;
}

export const DEFAULT_AUGMENT: Required<AugmentOptions> = Object.freeze({
  flip: true,
  rot90: true,
  affine: null,
  colour: null,
});

export const STRONG_AUGMENT: Required<AugmentOptions> = Object.freeze({
  flip: true,
  rot90: true,
  affine: Object.freeze({ degrees: 15, translate: 0.05, scale: [0.9, 1.1] as [number, number] }),
  colour: Object.freeze({ brightness: 0.2, contrast: 0.2, saturation: 0.2, hue: 0.02 }),
});

export const NO_AUGMENT: Required<AugmentOptions> = Object.freeze({
  flip: false,
  rot90: false,
  affine: null,
  colour: null,
});

/** One sample's augmentation. The identity is all false / 0 / 1 (see IDENTITY_PARAMS). */
export interface AugmentParams {
  /** Mirror left-right (along W). */
  flipH: boolean;
  /** Mirror top-bottom (along H). */
  flipV: boolean;
  /** Quarter turns (0..3), applied after the flips, as `rot90(k, [H, W])`. */
  rot90: number;
  /** Rotation in degrees (counter-clockwise as displayed), applied after the quarter turns. */
  angle: number;
  /** Translation as fractions of W and H (positive: right and down). */
  tx: number;
  ty: number;
  /** Zoom factor (> 1 enlarges). */
  scale: number;
  /** Colour factors (1 = unchanged) and hue rotation in turns (0 = unchanged). */
  brightness: number;
  contrast: number;
  saturation: number;
  hue: number;
}

export const IDENTITY_PARAMS: Readonly<AugmentParams> = Object.freeze({
  flipH: false,
  flipV: false,
  rot90: 0,
  angle: 0,
  tx: 0,
  ty: 0,
  scale: 1,
  brightness: 1,
  contrast: 1,
  saturation: 1,
  hue: 0,
});

const PRESETS: Record<string, Required<AugmentOptions>> = {
  none: NO_AUGMENT,
  default: DEFAULT_AUGMENT,
  strong: STRONG_AUGMENT,
};

function finiteIn(v: unknown, lo: number, hi: number, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) {
    throw new RangeError(`augment: ${what} must be a number in [${lo}, ${hi}], got ${String(v)}`);
  }
  return v;
}

/**
 * Complete, validated options from a preset name ('none', 'default', 'strong') or a partial
 * object (missing fields take DEFAULT_AUGMENT's values). Throws a RangeError on bad values.
 */
export function parseAugmentOptions(
  spec: string | AugmentOptions | undefined | null = 'default',
): Required<AugmentOptions> {
  if (spec === undefined || spec === null) return DEFAULT_AUGMENT;
  if (typeof spec === 'string') {
    const preset = PRESETS[spec.trim().toLowerCase()];
    if (!preset) throw new RangeError(`augment: unknown preset '${spec}' (${Object.keys(PRESETS).join(', ')})`);
    return preset;
  }
  if (typeof spec !== 'object')
    throw new TypeError(`augment: options must be an object or a preset name, got ${typeof spec}`);
  const flip = spec.flip ?? DEFAULT_AUGMENT.flip;
  const rot90 = spec.rot90 ?? DEFAULT_AUGMENT.rot90;
  if (typeof flip !== 'boolean') throw new TypeError(`augment: flip must be a boolean, got ${String(flip)}`);
  if (typeof rot90 !== 'boolean') throw new TypeError(`augment: rot90 must be a boolean, got ${String(rot90)}`);
  let affine: AffineJitter | null = null;
  if (spec.affine) {
    const a = spec.affine;
    if (!Array.isArray(a.scale) || a.scale.length !== 2)
      throw new RangeError(`augment: affine.scale must be [min, max], got ${JSON.stringify(a.scale)}`);
    const lo = finiteIn(a.scale[0], 0.25, 4, 'affine.scale[0]');
    const hi = finiteIn(a.scale[1], 0.25, 4, 'affine.scale[1]');
    if (lo > hi) throw new RangeError(`augment: affine.scale must be [min, max] with min <= max, got [${lo}, ${hi}]`);
    affine = {
      degrees: finiteIn(a.degrees, 0, 180, 'affine.degrees'),
      translate: finiteIn(a.translate, 0, 0.5, 'affine.translate'),
      scale: [lo, hi],
    };
  }
  let colour: ColourJitter | null = null;
  if (spec.colour) {
    const c = spec.colour;
    colour = {
      brightness: finiteIn(c.brightness, 0, 1, 'colour.brightness'),
      contrast: finiteIn(c.contrast, 0, 1, 'colour.contrast'),
      saturation: finiteIn(c.saturation, 0, 1, 'colour.saturation'),
      hue: finiteIn(c.hue, 0, 0.5, 'colour.hue'),
    };
  }
  return { flip, rot90, affine, colour };
}

/**
 * Draws one sample's parameters. Every call consumes the same ten numbers from `rng` whatever
 * the options, so turning one transform on or off leaves the others' draws unchanged. `square`
 * (H == W) allows odd quarter turns. All transforms off gives the identity.
 */
export function sampleAugmentParams(rng: Rng, o: AugmentOptions | string, square: boolean): AugmentParams {
  const opts = parseAugmentOptions(o);
  const u = (): number => rng.random();
  const spread = (v: number, half: number): number => (half === 0 ? 0 : (2 * v - 1) * half);
  const factor = (v: number, half: number): number =>
    half === 0 ? 1 : Math.max(0, 1 - half) + v * (1 + half - Math.max(0, 1 - half));

  const uFlipH = u(),
    uFlipV = u(),
    uRot = u();
  const uAngle = u(),
    uTx = u(),
    uTy = u(),
    uScale = u();
  const uB = u(),
    uC = u(),
    uS = u(),
    uH = u();

  const p: AugmentParams = { ...IDENTITY_PARAMS };
  if (opts.flip) {
    p.flipH = uFlipH < 0.5;
    p.flipV = uFlipV < 0.5;
  }
  if (opts.rot90) p.rot90 = square ? Math.min(3, Math.floor(uRot * 4)) : uRot < 0.5 ? 0 : 2;
  if (opts.affine) {
    const a = opts.affine;
    p.angle = spread(uAngle, a.degrees);
    p.tx = spread(uTx, a.translate);
    p.ty = spread(uTy, a.translate);
    p.scale = a.scale[0] === a.scale[1] ? a.scale[0] : a.scale[0] + uScale * (a.scale[1] - a.scale[0]);
  }
  if (opts.colour) {
    const c = opts.colour;
    p.brightness = factor(uB, c.brightness);
    p.contrast = factor(uC, c.contrast);
    p.saturation = factor(uS, c.saturation);
    p.hue = spread(uH, c.hue);
  }
  return p;
}

function dihedralIdentity(p: AugmentParams): boolean {
  return !p.flipH && !p.flipV && ((p.rot90 % 4) + 4) % 4 === 0;
}
function affineIdentity(p: AugmentParams): boolean {
  return p.angle === 0 && p.tx === 0 && p.ty === 0 && p.scale === 1;
}
function colourIdentity(p: AugmentParams): boolean {
  return p.brightness === 1 && p.contrast === 1 && p.saturation === 1 && p.hue === 0;
}

/** True when the parameters leave image and label unchanged. */
export function isIdentity(p: AugmentParams): boolean {
  return dihedralIdentity(p) && affineIdentity(p) && colourIdentity(p);
}

// ---- geometry --------------------------------------------------------------------------------

/** Reverse the H and/or W axis, then optionally swap them. */
interface DihedralOp {
  reverseH: boolean;
  reverseW: boolean;
  transpose: boolean;
}

/**
 * flips then rot90(k, [H, W]) as one flip and an optional transpose of H and W:
 * rot90(1) = flip(W) then transpose, rot90(2) = flip(H, W), rot90(3) = flip(H) then transpose,
 * and flips compose by exclusive or.
 */
function dihedralOps(p: AugmentParams): DihedralOp {
  const k = ((p.rot90 % 4) + 4) % 4;
  return {
    reverseW: p.flipH !== (k === 1 || k === 2),
    reverseH: p.flipV !== (k === 2 || k === 3),
    transpose: k % 2 === 1,
  };
}

/** An int64 index tensor. */
function indexTensor(idx: readonly number[], device: torch.Device): Tensor {
  return torch.tensor(Int32Array.from(idx), { dtype: 'int64', device });
}

/**
 * Assembles a new [B, ...] batch from groups of samples: `groups` maps each group's sample
 * indices to a function making that group's output [n, ...] from its inputs `sub` [n, ...] (the
 * samples of x at those indices, in order). One whole-batch operation per group, not per sample:
 * libtorch's per-sample copies and `stack` are several times slower than a few batched copies.
 */
function assemble(x: Tensor, groups: readonly { idx: number[]; make: (sub: Tensor) => Tensor }[]): Tensor {
  const b = x.shape[0]!;
  const present = groups.filter((g) => g.idx.length > 0);
  if (present.length === 1 && present[0]!.idx.length === b && present[0]!.idx.every((v, i) => v === i)) {
    const out = present[0]!.make(x);
    return out === x ? x.clone() : out.contiguous();
  }
  const out = torch.empty(x.shape, { dtype: x.dtype, device: x.device });
  for (const g of present) {
    const idx = indexTensor(g.idx, x.device);
    const sub = g.idx.length === 1 ? x.narrow(0, g.idx[0]!, 1) : x.indexSelect(0, idx);
    out.indexPut_([idx], g.make(sub));
  }
  return out;
}

/** One sample's flips and quarter turns on [n, C, H, W]: one flip (a copy) and a transposed view. */
function applyDihedral(x: Tensor, op: DihedralOp): Tensor {
  const dims: number[] = [];
  if (op.reverseH) dims.push(2);
  if (op.reverseW) dims.push(3);
  const f = dims.length > 0 ? x.flip(...dims) : x;
  return op.transpose ? f.transpose(2, 3) : f;
}

function dihedralKey(op: DihedralOp): number {
  return (op.reverseW ? 1 : 0) | (op.reverseH ? 2 : 0) | (op.transpose ? 4 : 0);
}

/**
 * theta [2, 3] of `F.affineGrid` (output -> input, normalised coordinates, alignCorners false)
 * for the forward map: zoom by `scale` and rotate by `angle` about the centre, then translate by
 * (tx W, ty H), in pixel units so that rotation stays a rotation on non-square images; preceded
 * by the sample's flips and quarter turns.
 */
function affineTheta(p: AugmentParams, h: number, w: number): number[] {
  const a = (p.angle * Math.PI) / 180;
  // Forward, in pixels with y down: counter-clockwise as displayed is [[c, s], [-s, c]].
  // Its inverse divided by the scale: L = R(-a) / scale.
  const c = Math.cos(a) / p.scale;
  const s = Math.sin(a) / p.scale;
  const l = [c, -s, s, c]; // row-major 2x2
  const d = [w / 2, h / 2]; // pixels per normalised unit along x and y
  const lin = [l[0]!, (l[1]! * d[1]!) / d[0]!, (l[2]! * d[0]!) / d[1]!, l[3]!]; // D^-1 L D
  // Translation (tx W, ty H) pixels = (2 tx, 2 ty) normalised; theta's offset is -lin * t.
  const t = [2 * p.tx, 2 * p.ty];
  const affine = [
    lin[0]!,
    lin[1]!,
    -(lin[0]! * t[0]! + lin[1]! * t[1]!),
    lin[2]!,
    lin[3]!,
    -(lin[2]! * t[0]! + lin[3]! * t[1]!),
  ];
  // The flips and quarter turns before it, folded in: the dihedral image z of x is
  // z(px, py) = x(sW qx, sH qy) with (qx, qy) = (py, px) when transposed, else (px, py), exact in
  // normalised coordinates; so theta = G [A | t] with G the 2x2 signed (permutation) matrix.
  const op = dihedralOps(p);
  const sW = op.reverseW ? -1 : 1;
  const sH = op.reverseH ? -1 : 1;
  const row = (r: number): number[] => affine.slice(r * 3, r * 3 + 3);
  const [r0, r1] = op.transpose ? [row(1), row(0)] : [row(0), row(1)];
  return [...r0.map((v) => sW * v), ...r1.map((v) => sH * v)];
}

/**
 * `F.affineGrid(theta, [N, C, h, w], false)` for thetas known here, as two broadcast products
 * of [N, 1, w, 2] and [N, h, 1, 2]: a few times faster than libtorch's CPU affine_grid_generator
 * (a batched matmul with an inner size of 3) at augmentation sizes. Equal to it up to rounding.
 */
function affineGridOf(thetas: readonly number[][], h: number, w: number, device: torch.Device): Tensor {
  const n = thetas.length;
  const col = (j: number): Tensor =>
    torch.tensor(Float32Array.from(thetas.flatMap((t) => [t[j]!, t[3 + j]!])), { shape: [n, 1, 1, 2], device });
  // The pixel centres in normalised coordinates, as affine_grid_generator's base grid.
  const xs = torch
    .linspace(-1, 1, w, { device })
    .mul((w - 1) / w)
    .reshape(1, 1, w, 1);
  const ys = torch
    .linspace(-1, 1, h, { device })
    .mul((h - 1) / h)
    .reshape(1, h, 1, 1);
  return col(0).mul(xs).add_(col(2)).add(col(1).mul(ys));
}

// ---- colour ------------------------------------------------------------------------------------

type Mat3 = number[]; // row-major 3x3
type Vec3 = [number, number, number];

const GREY: Vec3 = [0.299, 0.587, 0.114];
const YIQ: Mat3 = [0.299, 0.587, 0.114, 0.595716, -0.274453, -0.321263, 0.211456, -0.522591, 0.311135];

function matMul(a: Mat3, b: Mat3): Mat3 {
  const out = new Array<number>(9);
  for (let i = 0; i < 3; i++)
    for (let j = 0; j < 3; j++)
      out[i * 3 + j] = a[i * 3]! * b[j]! + a[i * 3 + 1]! * b[3 + j]! + a[i * 3 + 2]! * b[6 + j]!;
  return out;
}
function matVec(a: Mat3, v: Vec3): Vec3 {
  return [0, 1, 2].map((i) => a[i * 3]! * v[0] + a[i * 3 + 1]! * v[1] + a[i * 3 + 2]! * v[2]) as Vec3;
}
function inverse(m: Mat3): Mat3 {
  const [a, b, c, d, e, f, g, h, i] = m as [number, number, number, number, number, number, number, number, number];
  const A = e * i - f * h,
    B = -(d * i - f * g),
    C = d * h - e * g;
  const det = a * A + b * B + c * C;
  return [
    A,
    -(b * i - c * h),
    b * f - c * e,
    B,
    a * i - c * g,
    -(a * f - c * d),
    C,
    -(a * h - b * g),
    a * e - b * d,
  ].map((v) => v / det);
}
const YIQ_INV = inverse(YIQ);

/**
 * The colour jitter of one sample as an affine map of [-1, 1] RGB: out = M x + o (clamped
 * later). Applied in order brightness, contrast (around the mean grey of the image so far,
 * from its per-channel mean `mean` in [-1, 1]), saturation, hue (rotation of the YIQ chroma).
 * The composition is done in [0, 1] RGB and converted; the identity gives M = I, o = 0 exactly.
 */
function colourMap(p: AugmentParams, mean: Vec3 | null): { m: Mat3; o: Vec3 } {
  let m: Mat3 = [1, 0, 0, 0, 1, 0, 0, 0, 1];
  let o: Vec3 = [0, 0, 0];
  const apply = (t: Mat3): void => {
    m = matMul(t, m);
    o = matVec(t, o);
  };
  if (p.brightness !== 1) {
    m = m.map((v) => v * p.brightness);
    o = o.map((v) => v * p.brightness) as Vec3;
  }
  if (p.contrast !== 1) {
    // The mean of the current image in [0, 1]: M mu01 + o, then its grey level.
    const mu01 = (mean ?? [0, 0, 0]).map((v) => 0.5 * v + 0.5) as Vec3;
    const cur = matVec(m, mu01).map((v, i) => v + o[i]!);
    const grey = GREY[0] * cur[0]! + GREY[1] * cur[1]! + GREY[2] * cur[2]!;
    m = m.map((v) => v * p.contrast);
    o = o.map((v) => v * p.contrast + (1 - p.contrast) * grey) as Vec3;
  }
  if (p.saturation !== 1) {
    const s = p.saturation;
    const t: Mat3 = [];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) t.push((i === j ? s : 0) + (1 - s) * GREY[j]!);
    apply(t);
  }
  if (p.hue !== 0) {
    const th = 2 * Math.PI * p.hue;
    const cs = Math.cos(th),
      sn = Math.sin(th);
    apply(matMul(YIQ_INV, matMul([1, 0, 0, 0, cs, -sn, 0, sn, cs], YIQ)));
  }
  // y01 = M (x + 1) / 2 + o  =>  out = 2 y01 - 1 = M x + (M 1 + 2 o - 1).
  const rowSums = [0, 1, 2].map((i) => m[i * 3]! + m[i * 3 + 1]! + m[i * 3 + 2]!);
  return { m, o: [0, 1, 2].map((i) => rowSums[i]! + 2 * o[i]! - 1) as Vec3 };
}

// ---- the batch ---------------------------------------------------------------------------------

/**
 * Augments a batch: image float [B, C, H, W] (C = 3 when colour jitter is used) and label uint8
 * [B, 1, H, W], with one AugmentParams per sample. Flips and quarter turns, then the affine map
 * (bilinear for the image, nearest for the label, both reflecting at the borders), then colour
 * jitter of the image (clamped to [-1, 1]). Returns new tensors; the inputs are neither changed
 * nor disposed. Samples and batches whose transforms are the identity skip that work.
 */
export function augmentBatch(
  image: Tensor,
  label: Tensor,
  params: readonly AugmentParams[],
): { image: Tensor; label: Tensor } {
  const is = image.shape;
  const ls = label.shape;
  if (is.length !== 4) throw new TypeError(`augmentBatch: image must be [B, C, H, W], got shape [${is.join(', ')}]`);
  if (!torch.isFloating(image.dtype))
    throw new TypeError(`augmentBatch: image must be floating point, got ${image.dtype}`);
  if (label.dtype !== 'uint8') throw new TypeError(`augmentBatch: label must be uint8 label bytes, got ${label.dtype}`);
  const [b, c, h, w] = is as [number, number, number, number];
  if (ls.length !== 4 || ls[0] !== b || ls[1] !== 1 || ls[2] !== h || ls[3] !== w) {
    throw new TypeError(`augmentBatch: label must be [${b}, 1, ${h}, ${w}] to match the image, got [${ls.join(', ')}]`);
  }
  if (image.device !== label.device)
    throw new TypeError(`augmentBatch: image is on ${image.device} but label is on ${label.device}`);
  if (params.length !== b) throw new RangeError(`augmentBatch: ${params.length} parameter sets for a batch of ${b}`);
  params.forEach((p, i) => {
    if (!Number.isInteger(p.rot90))
      throw new RangeError(`augmentBatch: sample ${i}: rot90 must be an integer, got ${p.rot90}`);
    if (h !== w && p.rot90 % 2 !== 0)
      throw new RangeError(
        `augmentBatch: sample ${i}: an odd quarter turn (rot90 ${p.rot90}) needs a square image, got ${h}x${w}`,
      );
    if (!(p.scale > 0) || !Number.isFinite(p.scale))
      throw new RangeError(`augmentBatch: sample ${i}: scale must be positive, got ${p.scale}`);
  });
  const needColour = params.some((p) => !colourIdentity(p));
  if (needColour && c !== 3) throw new TypeError(`augmentBatch: colour jitter needs 3 image channels, got ${c}`);

  return torch.noGrad(() =>
    torch.tidy(() => {
      let img = image;
      let lab = label;

      // Geometry. Samples with an affine map: one grid_sample (bilinear for the image, nearest
      // for the label), with their flips and quarter turns folded into theta. The others: one
      // flip per distinct flip/turn combination (at most eight), never grid_sample.
      const moved = params.flatMap((p, i) => (affineIdentity(p) ? [] : [i]));
      const byOp = new Map<number, number[]>();
      params.forEach((p, i) => {
        if (!affineIdentity(p)) return;
        const k = dihedralKey(dihedralOps(p));
        const list = byOp.get(k);
        if (list) list.push(i);
        else byOp.set(k, [i]);
      });
      if (moved.length > 0 || [...byOp.keys()].some((k) => k !== 0)) {
        let grid: Tensor | null = null;
        if (moved.length > 0) {
          grid = affineGridOf(
            moved.map((i) => affineTheta(params[i]!, h, w)),
            h,
            w,
            image.device,
          );
        }
        const groups = (imageLike: boolean): { idx: number[]; make: (sub: Tensor) => Tensor }[] => [
          ...[...byOp].map(([k, idx]) => ({
            idx,
            make: (sub: Tensor) =>
              applyDihedral(sub, { reverseW: (k & 1) !== 0, reverseH: (k & 2) !== 0, transpose: (k & 4) !== 0 }),
          })),
          {
            idx: moved,
            make: (sub: Tensor) =>
              imageLike
                ? torch.F.gridSample(sub, sub.dtype === 'float32' ? grid! : grid!.to(sub.dtype), {
                    mode: 'bilinear',
                    paddingMode: 'reflection',
                  })
                : // Nearest copies values exactly, so the conversion back to bytes is exact.
                  torch.F.gridSample(sub.to('float32'), grid!, { mode: 'nearest', paddingMode: 'reflection' }).to(
                    'uint8',
                  ),
          },
        ];
        img = assemble(image, groups(true));
        lab = assemble(label, groups(false));
      }

      // Colour jitter: one 3x3 matrix and offset per sample.
      if (needColour) {
        const needMean = params.some((p) => p.contrast !== 1);
        const means = needMean ? img.mean([2, 3]).toArray() : null;
        const maps = params.map((p, i) => colourMap(p, means ? (means.slice(i * 3, i * 3 + 3) as Vec3) : null));
        // As a grouped 1x1 convolution of [1, 3B, H, W] (weight [3B, 3, 1, 1], bias [3B]): one
        // operator for matrix and offset, and faster on the CPU than a batched matmul.
        const m = torch.tensor(Float32Array.from(maps.flatMap((x) => x.m)), {
          shape: [3 * b, 3, 1, 1],
          dtype: image.dtype,
          device: image.device,
        });
        const o = torch.tensor(Float32Array.from(maps.flatMap((x) => x.o)), {
          shape: [3 * b],
          dtype: image.dtype,
          device: image.device,
        });
        img = torch.F.conv2d(img.reshape(1, 3 * b, h, w), m, o, { groups: b })
          .clamp_(-1, 1)
          .view(b, 3, h, w);
      }

      return { image: img === image ? image.clone() : img, label: lab === label ? label.clone() : lab };
    }),
  );
}

/** Draws parameters for a batch of `batch` samples (one Rng stream, in sample order). */
export function sampleBatchParams(
  rng: Rng,
  o: AugmentOptions | string,
  batch: number,
  square: boolean,
): AugmentParams[] {
  const opts = parseAugmentOptions(o);
  return Array.from({ length: batch }, () => sampleAugmentParams(rng, opts, square));
}
