// A procedural dermoscopy dataset: skin-lesion images, their segmentation masks and ISIC-2017-style
// labels, drawn from nothing but (seed, index). It lets the whole pipeline (data loading, the
// conditional GAN, the classifiers) run and be tested without downloading the real ISIC archive,
// and its classes differ in the ways dermatologists tell them apart, so a model has something real
// to learn.
//
// Every image is a square of skin seen through a dermoscope:
//   - Skin: a tone between light pinkish-beige and darker tan/brown, slow shading (a few random
//     sinusoids plus smooth value noise), faint redness patches, fine skin texture and sensor grain,
//     an uneven illumination, 1-6 dark thin curved hairs (none in about 45% of the images), and in
//     about a third of the images the dermoscope's vignette: either a near-black circular frame
//     outside a circle of radius 0.45-0.55 * size (1/6 of the images) or darkened corners (1/6).
//     The vignette is never part of the mask; with a circular frame the lesion is kept inside it.
//   - The lesion outline is a star-shaped polar curve r(θ) = R * (1 + Σ_k a_k cos(kθ + φ_k))
//     around a centre near the middle of the image; the mask is the inside of that curve (a hard
//     0/255 edge) while the image gets a soft, anti-aliased edge. R is about 0.16-0.34 * size and
//     the whole lesion is scaled down if needed to stay inside the image.
//
// The three classes follow the textbook dermoscopic criteria (ABCD rule, 7-point checklist):
//   - nevus (benign mole): Small and round (tiny a_k: a symmetric, smooth border), one uniform
//     medium brown, slightly darker in the centre and fading softly at the border, with a faint,
//     regular honeycomb pigment network (a Worley-cell network on an almost regular grid) that fades
//     towards the periphery.
//   - melanoma: Larger, asymmetric (a strong k=1 term) with an irregular, notched border (large low-
//     and high-frequency a_k), an edge that is sharp in places and blurred in others, and several
//     colours in irregular blotches: dark brown, black (off-centre), blue-grey veil, reddish
//     areas and sometimes whitish regression. Patches of an atypical network with thick, uneven
//     lines, and irregular dark dots/globules and radial streaks clustered in a few sectors of the
//     periphery, some reaching beyond the border. These are the features (asymmetry, border,
//     colour variegation, diameter, atypical structures) that raise suspicion of melanoma.
//   - seborrheic_keratosis (benign, waxy "stuck-on" growth): Sharply demarcated (a crisp edge, an
//     oval, slightly lumpy outline), tan to mid brown, a mottled waxy surface, cerebriform
//     ("brain-like") pattern: dark winding fissures of even width (level sets of smooth noise)
//     between lighter rounded ridges, bright whitish-yellow milia-like cysts (small bright dots) and
//     dark comedo-like openings (small crisp dark dots).
//
// So class differences are measurable with simple statistics: melanoma masks have a higher
// perimeter²/area than nevus masks, melanoma lesions have a much larger colour variance than nevi,
// seborrheic keratoses contain small bright dots that the others lack and are brighter on average
// than melanomas.
//
// writeSampleDataset lays the data out exactly like the flat ISIC-2017 download:
//   DIR/images/<id>.jpg, DIR/masks/<id>_segmentation.png, DIR/labels.csv
// with ids SAMPLE_0000, SAMPLE_0001, ... and labels.csv's header image_id,melanoma,seborrheic_keratosis
// (values 0.0/1.0, neither = nevus). Class i % 3 of ['nevus', 'melanoma', 'seborrheic_keratosis'],
// so the classes are balanced. All randomness comes from Rng(seed, index) (src/data/random.ts; the
// per-pixel grain from its sibling stream Rng(seed, index, 1)), so two runs with the same options
// give byte-identical files. Rendering is plain typed-array JavaScript (smooth noise fields are
// evaluated on a coarse grid and upsampled); 60 images of 256 px take about 1-2 s.
import { ISIC2017_CLASSES } from './diagnosis.js';
import { DataError } from './problems.js';
import { LABELS_HEADER, encodeMaskPng, encodeRgb, labelsRow, maskFileName } from './flat_writer.js';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Rng } from './random.js';
import { writeFileAtomic } from '../util/atomic_file.js';

/** The sample's classes are ISIC-2017's, in the same order (class i is index i % 3). */
export const SAMPLE_CLASSES = ISIC2017_CLASSES;
export type SampleClass = (typeof SAMPLE_CLASSES)[number];

export interface SampleDatasetOptions {
  /** Number of images; default 60. */
  n?: number;
  /** Seed of the whole dataset; default 0. */
  seed?: number;
  /** Side of the square images in pixels; default 256. */
  size?: number;
}

export interface SampleDatasetSummary {
  dir: string;
  n: number;
  counts: Record<string, number>;
}

const MAX_N = 100_000;
const MIN_SIZE = 32;
const MAX_SIZE = 4096;
/** Images rendered and written at the same time by writeSampleDataset. */
const WRITE_CONCURRENCY = 4;

// ---------------------------------------------------------------------------------------------
// Small numeric helpers

type RGB = [number, number, number];

const TAU = 2 * Math.PI;

function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}

/** sqrt(x² + y²); Math.hypot is several times slower. */
function hypot(x: number, y: number): number {
  return Math.sqrt(x * x + y * y);
}

function smoothstep(a: number, b: number, x: number): number {
  const t = clamp01((x - a) / (b - a));
  return t * t * (3 - 2 * t);
}

function mixRgb(a: RGB, b: RGB, t: number): RGB {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

/** A colour varied mostly in brightness (a shared offset) and only a little in hue. */
function jitter(rng: Rng, c: RGB, std: number): RGB {
  const common = rng.normal(0, std);
  const hue = 0.3 * std;
  return [c[0] + common + rng.normal(0, hue), c[1] + common + rng.normal(0, hue), c[2] + common + rng.normal(0, hue)];
}

/**
 * Smooth value noise sampled at u, v in [0, 1]: `cells` lattice cells across, on a randomly rotated
 * lattice (so that thresholded fields show no axis-aligned edges).
 */
class ValueNoise {
  private readonly lattice: Float32Array;
  private readonly stride: number;
  private readonly cos: number;
  private readonly sin: number;
  private readonly max: number;
  constructor(
    rng: Rng,
    private readonly cells: number,
  ) {
    // A rotated unit square spans [0.5 - 0.71, 0.5 + 0.71]: cover [-0.25, 1.25] of lattice space.
    this.stride = Math.ceil(cells * 1.5) + 3;
    this.max = this.stride - 2;
    this.lattice = new Float32Array(this.stride * this.stride);
    for (let i = 0; i < this.lattice.length; i++) this.lattice[i] = rng.random();
    const angle = rng.uniform(0, TAU);
    this.cos = Math.cos(angle);
    this.sin = Math.sin(angle);
  }
  at(u: number, v: number): number {
    const du = u - 0.5;
    const dv = v - 0.5;
    let fx = (0.75 + this.cos * du - this.sin * dv) * this.cells;
    let fy = (0.75 + this.sin * du + this.cos * dv) * this.cells;
    fx = fx < 0 ? 0 : fx > this.max ? this.max : fx;
    fy = fy < 0 ? 0 : fy > this.max ? this.max : fy;
    const ix = Math.floor(fx);
    const iy = Math.floor(fy);
    let tx = fx - ix;
    let ty = fy - iy;
    tx = tx * tx * (3 - 2 * tx);
    ty = ty * ty * (3 - 2 * ty);
    const s = this.stride;
    const l = this.lattice;
    const i0 = iy * s + ix;
    const a = l[i0]! + (l[i0 + 1]! - l[i0]!) * tx;
    const b = l[i0 + s]! + (l[i0 + s + 1]! - l[i0 + s]!) * tx;
    return a + (b - a) * ty;
  }
}

/** A few octaves of value noise, normalised back to about [0, 1] with mean 0.5. */
class FractalNoise {
  private readonly octaves: ValueNoise[] = [];
  private readonly weights: number[] = [];
  constructor(rng: Rng, cells: number, octaves: number, gain = 0.5) {
    let w = 1;
    let total = 0;
    for (let o = 0; o < octaves; o++) {
      this.octaves.push(new ValueNoise(rng, Math.round(cells * 2 ** o)));
      this.weights.push(w);
      total += w;
      w *= gain;
    }
    for (let o = 0; o < octaves; o++) this.weights[o]! /= total;
  }
  at(u: number, v: number): number {
    let sum = 0;
    for (let o = 0; o < this.octaves.length; o++) sum += this.weights[o]! * this.octaves[o]!.at(u, v);
    return sum;
  }
}

/**
 * Samples a smooth function f(u, v), u, v in [0, 1], over a w x h box on a coarse grid (every
 * `step` pixels) and upsamples it bilinearly: smooth noise fields cost a fraction of per-pixel calls.
 */
function coarseField(w: number, h: number, step: number, f: (u: number, v: number) => number): Float32Array {
  const gw = Math.ceil((w - 1) / step) + 2;
  const gh = Math.ceil((h - 1) / step) + 2;
  const grid = new Float32Array(gw * gh);
  for (let j = 0; j < gh; j++) for (let i = 0; i < gw; i++) grid[j * gw + i] = f((i * step) / w, (j * step) / h);
  const ix = new Int32Array(w);
  const tx = new Float32Array(w);
  for (let x = 0; x < w; x++) {
    ix[x] = Math.floor(x / step);
    tx[x] = x / step - ix[x]!;
  }
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    const j = Math.floor(y / step);
    const ty = y / step - j;
    const row = j * gw;
    for (let x = 0; x < w; x++) {
      const k = row + ix[x]!;
      const t = tx[x]!;
      const a = grid[k]! + (grid[k + 1]! - grid[k]!) * t;
      const b = grid[k + gw]! + (grid[k + gw + 1]! - grid[k + gw]!) * t;
      out[y * w + x] = a + (b - a) * ty;
    }
  }
  return out;
}

/**
 * A Worley (cellular) network on a jittered grid: for a point, the gap d2 - d1 between the two
 * nearest feature points is small along the Voronoi cell borders, which look like a pigment network.
 */
class WorleyNetwork {
  private readonly px: Float32Array;
  private readonly py: Float32Array;
  private readonly gw: number;
  private readonly gh: number;
  constructor(
    rng: Rng,
    private readonly x0: number,
    private readonly y0: number,
    width: number,
    height: number,
    private readonly cell: number,
    jitterAmount: number,
  ) {
    this.gw = Math.ceil(width / cell) + 3;
    this.gh = Math.ceil(height / cell) + 3;
    this.px = new Float32Array(this.gw * this.gh);
    this.py = new Float32Array(this.gw * this.gh);
    for (let j = 0; j < this.gh; j++) {
      for (let i = 0; i < this.gw; i++) {
        // Odd rows shifted by half a cell: a honeycomb rather than a square grid.
        this.px[j * this.gw + i] = (i - 1 + 0.5 + (j % 2) * 0.5 + jitterAmount * (rng.random() - 0.5)) * cell;
        this.py[j * this.gw + i] = (j - 1 + 0.5 + jitterAmount * (rng.random() - 0.5)) * cell;
      }
    }
  }
  /** d2 - d1 in pixels at image point (x, y). */
  edge(x: number, y: number): number {
    const lx = x - this.x0;
    const ly = y - this.y0;
    const ci = Math.floor(lx / this.cell) + 1;
    const cj = Math.floor(ly / this.cell) + 1;
    let d1 = Infinity;
    let d2 = Infinity;
    for (let dj = -1; dj <= 1; dj++) {
      const j = cj + dj;
      if (j < 0 || j >= this.gh) continue;
      for (let di = -1; di <= 1; di++) {
        const i = ci + di;
        if (i < 0 || i >= this.gw) continue;
        const k = j * this.gw + i;
        const dx = this.px[k]! - lx;
        const dy = this.py[k]! - ly;
        const d = dx * dx + dy * dy;
        if (d < d1) {
          d2 = d1;
          d1 = d;
        } else if (d < d2) d2 = d;
      }
    }
    return Math.sqrt(d2) - Math.sqrt(d1);
  }
}

// ---------------------------------------------------------------------------------------------
// Drawing primitives on a float HxWx3 canvas (values 0..255)

/** Composites `colour` over the canvas where `cover` (a bounding box of coverage values) is > 0. */
function compositeCoverage(
  img: Float32Array,
  size: number,
  cover: Float32Array,
  bx0: number,
  by0: number,
  bw: number,
  bh: number,
  colour: RGB,
  opacity: number,
): void {
  for (let y = 0; y < bh; y++) {
    const iy = by0 + y;
    for (let x = 0; x < bw; x++) {
      const a = cover[y * bw + x]! * opacity;
      if (a <= 0) continue;
      const p = (iy * size + bx0 + x) * 3;
      img[p] = img[p]! + (colour[0] - img[p]!) * a;
      img[p + 1] = img[p + 1]! + (colour[1] - img[p + 1]!) * a;
      img[p + 2] = img[p + 2]! + (colour[2] - img[p + 2]!) * a;
    }
  }
}

/** An anti-aliased filled disc. `soft` widens the edge (a glow), in pixels. */
function drawDisc(
  img: Float32Array,
  size: number,
  cx: number,
  cy: number,
  r: number,
  colour: RGB,
  opacity: number,
  soft = 0.5,
): void {
  const reach = r + soft + 1;
  const x0 = Math.max(0, Math.floor(cx - reach));
  const x1 = Math.min(size - 1, Math.ceil(cx + reach));
  const y0 = Math.max(0, Math.floor(cy - reach));
  const y1 = Math.min(size - 1, Math.ceil(cy + reach));
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const d = hypot(x + 0.5 - cx, y + 0.5 - cy);
      const a = opacity * (1 - smoothstep(r - soft, r + soft, d));
      if (a <= 0) continue;
      const p = (y * size + x) * 3;
      img[p] = img[p]! + (colour[0] - img[p]!) * a;
      img[p + 1] = img[p + 1]! + (colour[1] - img[p + 1]!) * a;
      img[p + 2] = img[p + 2]! + (colour[2] - img[p + 2]!) * a;
    }
  }
}

/**
 * An anti-aliased stroke along a polyline (points in pixels), width tapering by `widthAt(t)` for
 * t in [0, 1]. Coverage is the maximum over the stroke, so overlaps do not darken twice.
 */
function drawStroke(
  img: Float32Array,
  size: number,
  pts: Array<[number, number]>,
  widthAt: (t: number) => number,
  colour: RGB,
  opacity: number,
): void {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  let maxW = 0;
  for (let i = 0; i < pts.length; i++) {
    const [x, y] = pts[i]!;
    minX = Math.min(minX, x);
    minY = Math.min(minY, y);
    maxX = Math.max(maxX, x);
    maxY = Math.max(maxY, y);
    maxW = Math.max(maxW, widthAt(i / Math.max(1, pts.length - 1)));
  }
  const pad = maxW / 2 + 2;
  const bx0 = Math.max(0, Math.floor(minX - pad));
  const by0 = Math.max(0, Math.floor(minY - pad));
  const bx1 = Math.min(size - 1, Math.ceil(maxX + pad));
  const by1 = Math.min(size - 1, Math.ceil(maxY + pad));
  if (bx1 < bx0 || by1 < by0) return;
  const bw = bx1 - bx0 + 1;
  const bh = by1 - by0 + 1;
  const cover = new Float32Array(bw * bh);
  // Dense samples along the polyline, each stamping a small anti-aliased disc into `cover`.
  for (let i = 0; i + 1 < pts.length; i++) {
    const [ax, ay] = pts[i]!;
    const [bx, by] = pts[i + 1]!;
    const len = hypot(bx - ax, by - ay);
    const steps = Math.max(1, Math.ceil(len / 0.35));
    for (let s = 0; s < steps; s++) {
      const f = s / steps;
      const t = (i + f) / Math.max(1, pts.length - 1);
      const hx = ax + (bx - ax) * f;
      const hy = ay + (by - ay) * f;
      const hw = widthAt(t) / 2;
      const r = hw + 1;
      const x0 = Math.max(bx0, Math.floor(hx - r));
      const x1 = Math.min(bx1, Math.ceil(hx + r));
      const y0 = Math.max(by0, Math.floor(hy - r));
      const y1 = Math.min(by1, Math.ceil(hy + r));
      for (let y = y0; y <= y1; y++) {
        for (let x = x0; x <= x1; x++) {
          const d = hypot(x + 0.5 - hx, y + 0.5 - hy);
          // A thin stroke covers a pixel partially: coverage ~ its width, capped at 1.
          const a = clamp01(hw + 0.5 - d) * Math.min(1, 2 * hw + 0.35);
          const k = (y - by0) * bw + (x - bx0);
          if (a > cover[k]!) cover[k] = a;
        }
      }
    }
  }
  compositeCoverage(img, size, cover, bx0, by0, bw, bh, colour, opacity);
}

// ---------------------------------------------------------------------------------------------
// The lesion outline

const N_ANGLES = 1024;

interface Outline {
  cx: number;
  cy: number;
  /** r(θ) in pixels at θ = 2π i / N_ANGLES, with one wrap-around entry. */
  lut: Float32Array;
  rMax: number;
  rMean: number;
}

function radiusAt(o: Outline, theta: number): number {
  let f = (theta / TAU) * N_ANGLES;
  f -= Math.floor(f / N_ANGLES) * N_ANGLES;
  const i = Math.floor(f);
  const t = f - i;
  return o.lut[i]! + (o.lut[i + 1]! - o.lut[i]!) * t;
}

interface Harmonic {
  k: number;
  a: number;
  phi: number;
}

function harmonicsFor(cls: SampleClass, rng: Rng): Harmonic[] {
  const hs: Harmonic[] = [];
  const add = (k: number, a: number): void => {
    hs.push({ k, a, phi: rng.uniform(0, TAU) });
  };
  if (cls === 'nevus') {
    // Round and symmetric: a slight oval, tiny wobble.
    add(2, rng.uniform(0.02, 0.08));
    for (let k = 3; k <= 5; k++) add(k, rng.uniform(0, 0.025) / Math.sqrt(k - 1));
    for (let k = 6; k <= 9; k++) add(k, rng.uniform(0, 0.004));
  } else if (cls === 'melanoma') {
    // Asymmetric (k = 1), lobulated (k = 2..7) and notched (k = 8..24).
    add(1, rng.uniform(0.08, 0.2));
    for (let k = 2; k <= 7; k++) add(k, rng.uniform(0.04, 0.12) / Math.sqrt(k - 1));
    for (let k = 8; k <= 24; k++) add(k, rng.uniform(0.004, 0.018));
  } else {
    // Oval, slightly lumpy ("stuck-on" plaque).
    add(2, rng.uniform(0.05, 0.16));
    for (let k = 3; k <= 6; k++) add(k, rng.uniform(0.0, 0.045));
    for (let k = 7; k <= 12; k++) add(k, rng.uniform(0.002, 0.012));
  }
  return hs;
}

interface Frame {
  kind: 'none' | 'circle' | 'corners';
  /** Circle radius (circle) or the start of the corner fall-off (corners), in pixels. */
  radius: number;
  strength: number;
}

/** Builds the outline for a class, scaled down so that `reach` * r(θ) stays inside the image and the frame. */
function makeOutline(cls: SampleClass, rng: Rng, size: number, frame: Frame): Outline {
  const [rLo, rHi] = cls === 'nevus' ? [0.16, 0.24] : cls === 'melanoma' ? [0.24, 0.34] : [0.19, 0.29];
  const R = rng.uniform(rLo, rHi) * size;
  const off = 0.05 * size;
  const cx = size / 2 + Math.max(-off, Math.min(off, rng.normal(0, off / 2)));
  const cy = size / 2 + Math.max(-off, Math.min(off, rng.normal(0, off / 2)));
  const hs = harmonicsFor(cls, rng);
  const lut = new Float32Array(N_ANGLES + 1);
  for (let i = 0; i < N_ANGLES; i++) {
    const th = (TAU * i) / N_ANGLES;
    let s = 1;
    for (const h of hs) s += h.a * Math.cos(h.k * th + h.phi);
    lut[i] = R * Math.max(0.3, s);
  }
  // Melanoma streaks and dots reach past the border; keep them in the picture too.
  const reach = cls === 'melanoma' ? 1.2 : 1.04;
  const margin = 0.03 * size;
  let scale = 1;
  const ox = size / 2;
  const oy = size / 2;
  const limit = frame.kind === 'circle' ? 0.93 * frame.radius : Infinity;
  for (let i = 0; i < N_ANGLES; i++) {
    const th = (TAU * i) / N_ANGLES;
    const vx = reach * lut[i]! * Math.cos(th);
    const vy = reach * lut[i]! * Math.sin(th);
    if (vx > 1e-9) scale = Math.min(scale, (size - margin - cx) / vx);
    if (vx < -1e-9) scale = Math.min(scale, (margin - cx) / vx);
    if (vy > 1e-9) scale = Math.min(scale, (size - margin - cy) / vy);
    if (vy < -1e-9) scale = Math.min(scale, (margin - cy) / vy);
    if (Number.isFinite(limit)) {
      // Largest s with |(c - o) + s v| <= limit (the centre is well inside the circle).
      const dx = cx - ox;
      const dy = cy - oy;
      const vv = vx * vx + vy * vy;
      const dv = dx * vx + dy * vy;
      const dd = dx * dx + dy * dy - limit * limit;
      const s = (-dv + Math.sqrt(Math.max(0, dv * dv - vv * dd))) / vv;
      scale = Math.min(scale, s);
    }
  }
  let rMax = 0;
  let rSum = 0;
  for (let i = 0; i < N_ANGLES; i++) {
    lut[i] = lut[i]! * scale;
    rMax = Math.max(rMax, lut[i]!);
    rSum += lut[i]!;
  }
  lut[N_ANGLES] = lut[0]!;
  return { cx, cy, lut, rMax, rMean: rSum / N_ANGLES };
}

// ---------------------------------------------------------------------------------------------
// Rendering

/** Per-pixel lesion geometry over the lesion's bounding box. */
interface LesionBox {
  x0: number;
  y0: number;
  w: number;
  h: number;
  /** Distance from the centre divided by r(θ): 0 at the centre, 1 on the border. */
  rho: Float32Array;
  /** Signed distance to the border along the ray, in pixels (positive inside). */
  depth: Float32Array;
  theta: Float32Array;
}

function lesionBox(o: Outline, size: number, reach: number): LesionBox {
  const pad = o.rMax * reach + 3;
  const x0 = Math.max(0, Math.floor(o.cx - pad));
  const y0 = Math.max(0, Math.floor(o.cy - pad));
  const x1 = Math.min(size - 1, Math.ceil(o.cx + pad));
  const y1 = Math.min(size - 1, Math.ceil(o.cy + pad));
  const w = x1 - x0 + 1;
  const h = y1 - y0 + 1;
  const rho = new Float32Array(w * h);
  const depth = new Float32Array(w * h);
  const theta = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    const dy = y0 + y + 0.5 - o.cy;
    for (let x = 0; x < w; x++) {
      const dx = x0 + x + 0.5 - o.cx;
      const d = hypot(dx, dy);
      const th = Math.atan2(dy, dx);
      const r = radiusAt(o, th);
      const k = y * w + x;
      rho[k] = d / r;
      depth[k] = r - d;
      theta[k] = th;
    }
  }
  return { x0, y0, w, h, rho, depth, theta };
}

function skinTone(rng: Rng): RGB {
  const t = rng.random() ** 1.3; // more light skin than dark, as in the ISIC archive
  const light: RGB = [238, 198, 182];
  const mid: RGB = [214, 160, 134];
  const dark: RGB = [172, 118, 88];
  const base = t < 0.5 ? mixRgb(light, mid, t / 0.5) : mixRgb(mid, dark, (t - 0.5) / 0.5);
  const pink = rng.uniform(-6, 10); // pinkish vs yellowish
  return [
    base[0] + pink * 0.6 + rng.normal(0, 3),
    base[1] - pink * 0.5 + rng.normal(0, 3),
    base[2] + pink * 0.2 + rng.normal(0, 3),
  ];
}

function renderSkin(img: Float32Array, size: number, rng: Rng): RGB {
  const tone = skinTone(rng);
  const broad = new FractalNoise(rng, 3, 2);
  const texture = new FractalNoise(rng, Math.max(4, Math.round(size / 12)), 2, 0.6);
  const redness = new FractalNoise(rng, 3, 2);
  const rednessAmount = rng.uniform(0, 1) ** 2 * 28;
  const rednessLevel = rng.uniform(0.4, 0.6);
  const waves: Array<{ fx: number; fy: number; phase: number; amp: number }> = [];
  for (let i = 0; i < 4; i++) {
    const angle = rng.uniform(0, TAU);
    const freq = rng.uniform(0.5, 2.2) * TAU; // cycles per image side
    waves.push({
      fx: freq * Math.cos(angle),
      fy: freq * Math.sin(angle),
      phase: rng.uniform(0, TAU),
      amp: rng.uniform(0.008, 0.025),
    });
  }
  const broadAmp = rng.uniform(0.05, 0.12);
  const textureAmp = rng.uniform(0.015, 0.04);
  // Everything but the fine texture is smooth: evaluate it on a coarse grid.
  const step = Math.max(2, Math.round(size / 64));
  const shadeField = coarseField(size, size, step, (u, v) => {
    let sh = 1 + broadAmp * (broad.at(u, v) - 0.5) * 2;
    for (const w of waves) sh += w.amp * Math.sin(w.fx * u + w.fy * v + w.phase);
    return sh;
  });
  const redField = coarseField(
    size,
    size,
    step,
    (u, v) => rednessAmount * smoothstep(rednessLevel, rednessLevel + 0.3, redness.at(u, v)),
  );
  // The skin texture has features of ~6 px and up: every other pixel is enough.
  const textureField = coarseField(size, size, 2, (u, v) => textureAmp * (texture.at(u, v) - 0.5) * 2);
  const [tr, tg, tb] = tone;
  for (let k = 0; k < size * size; k++) {
    const shade = shadeField[k]! + textureField[k]!;
    const red = redField[k]!;
    const p = k * 3;
    img[p] = tr * shade + red * 0.3;
    img[p + 1] = tg * shade - red * 0.75;
    img[p + 2] = tb * shade - red * 0.4;
  }
  return tone;
}

/** Blends the lesion colour (r, g, b) over the canvas at box index k with the soft-edge alpha a. */
function blendAt(
  img: Float32Array,
  size: number,
  box: LesionBox,
  k: number,
  r: number,
  g: number,
  b: number,
  a: number,
): void {
  const x = box.x0 + (k % box.w);
  const y = box.y0 + Math.floor(k / box.w);
  const p = (y * size + x) * 3;
  img[p] = img[p]! + (r - img[p]!) * a;
  img[p + 1] = img[p + 1]! + (g - img[p + 1]!) * a;
  img[p + 2] = img[p + 2]! + (b - img[p + 2]!) * a;
}

/** A random point inside the lesion with rho in [rhoLo, rhoHi], angle from `angle()`. */
function pointInLesion(o: Outline, rng: Rng, rhoLo: number, rhoHi: number, angle: () => number): [number, number] {
  const th = angle();
  const r = radiusAt(o, th) * Math.sqrt(rng.uniform(rhoLo * rhoLo, rhoHi * rhoHi));
  return [o.cx + r * Math.cos(th), o.cy + r * Math.sin(th)];
}

function renderNevus(img: Float32Array, size: number, rng: Rng, o: Outline, box: LesionBox): void {
  const sc = size / 256;
  const bw = box.w;
  const bh = box.h;
  const base = jitter(rng, mixRgb([152, 102, 72], [110, 70, 48], rng.random()), 3);
  const centreDark = rng.uniform(0.04, 0.16);
  const edgeWidth = rng.uniform(1.5, 3.5) * sc + 0.7;
  const netCell = Math.max(2.5, rng.uniform(6, 9) * sc);
  const net = new WorleyNetwork(rng, box.x0, box.y0, bw, bh, netCell, rng.uniform(0.25, 0.45));
  const netWidth = Math.max(0.5, netCell * rng.uniform(0.1, 0.16));
  const netStrength = rng.uniform(0.08, 0.17);
  const mottleNoise = new FractalNoise(rng, 4, 2);
  const mottle = coarseField(bw, bh, 4, (u, v) => mottleNoise.at(u, v));
  for (let k = 0; k < box.rho.length; k++) {
    const a0 = smoothstep(-edgeWidth, edgeWidth, box.depth[k]!);
    if (a0 <= 0) continue;
    const rho = box.rho[k]!;
    const x = box.x0 + (k % bw) + 0.5;
    const y = box.y0 + Math.floor(k / bw) + 0.5;
    const m = 1 + 0.1 * (mottle[k]! - 0.5);
    const line = 1 - smoothstep(netWidth * 0.4, netWidth * 1.6, net.edge(x, y));
    const netFade = 1 - 0.75 * smoothstep(0.4, 1, rho);
    const shade =
      m * (1 - centreDark * (1 - rho * rho)) * (1 - netStrength * netFade * line) * (1 + 0.03 * netFade * (1 - line));
    // Pigment thins out towards the border.
    const a = a0 * (1 - 0.3 * smoothstep(0.7, 1.05, rho));
    blendAt(img, size, box, k, base[0] * shade, base[1] * shade, base[2] * shade, a);
  }
}

function renderMelanoma(img: Float32Array, size: number, rng: Rng, o: Outline, box: LesionBox): void {
  const sc = size / 256;
  const bw = box.w;
  const bh = box.h;
  const darkBrown = jitter(rng, [92, 56, 40], 5);
  const lightBrown = jitter(rng, [146, 96, 66], 5);
  const black: RGB = jitter(rng, [38, 28, 28], 3);
  const blueGrey = jitter(rng, [108, 110, 128], 5);
  const reddish = jitter(rng, [170, 92, 90], 6);
  const whitish = jitter(rng, [200, 186, 186], 4);
  // Blotch fields, in the lesion's box, evaluated coarsely (they are smooth).
  const noise = (cells: number, oct: number): Float32Array => {
    const f = new FractalNoise(rng, cells, oct);
    return coarseField(bw, bh, Math.max(2, Math.round(3 * sc)), (u, v) => f.at(u, v));
  };
  const fLight = noise(3, 2);
  const fBlack = noise(3, 3);
  const fBlue = noise(3, 2);
  const fRed = noise(4, 2);
  const fWhite = noise(3, 2);
  const fNet = noise(3, 2);
  const fineNoise = new FractalNoise(rng, 14, 2);
  const fine = coarseField(bw, bh, Math.max(1, Math.round(2 * sc)), (u, v) => fineNoise.at(u, v));
  const fEdge = new ValueNoise(rng, 8);
  // Black concentrates off-centre, the blue-grey veil nearer the centre: asymmetric colours.
  const [bkx, bky] = pointInLesion(o, rng, 0.3, 0.75, () => rng.uniform(0, TAU));
  const tBlack = rng.uniform(0.5, 0.6);
  const tLight = rng.uniform(0.45, 0.58);
  const tBlue = rng.uniform(0.56, 0.66);
  const tRed = rng.uniform(0.5, 0.64);
  const hasWhite = rng.chance(0.35);
  const netCell = Math.max(3, rng.uniform(8, 13) * sc);
  const net = new WorleyNetwork(rng, box.x0, box.y0, bw, bh, netCell, rng.uniform(0.8, 1.0));
  const netWidth = Math.max(0.7, netCell * rng.uniform(0.16, 0.28));
  // The edge is abrupt in some sectors and smudged in others.
  const edgeLut = new Float32Array(257);
  for (let i = 0; i <= 256; i++) {
    const th = (TAU * i) / 256;
    edgeLut[i] = (0.6 + 4.5 * fEdge.at(0.5 + 0.45 * Math.cos(th), 0.5 + 0.45 * Math.sin(th)) ** 2) * sc + 0.6;
  }
  shadeMelanoma(img, size, box, {
    darkBrown,
    lightBrown,
    black,
    blueGrey,
    reddish,
    whitish,
    fLight,
    fBlack,
    fBlue,
    fRed,
    fWhite,
    fNet,
    fine,
    edgeLut,
    bkx,
    bky,
    rMean: o.rMean,
    tBlack,
    tLight,
    tBlue,
    tRed,
    whiteAmount: hasWhite ? 0.6 : 0,
    net,
    netWidth,
  });
  melanomaPeriphery(img, size, rng, o, darkBrown, black);
}

interface MelanomaShading {
  darkBrown: RGB;
  lightBrown: RGB;
  black: RGB;
  blueGrey: RGB;
  reddish: RGB;
  whitish: RGB;
  fLight: Float32Array;
  fBlack: Float32Array;
  fBlue: Float32Array;
  fRed: Float32Array;
  fWhite: Float32Array;
  fNet: Float32Array;
  fine: Float32Array;
  edgeLut: Float32Array;
  bkx: number;
  bky: number;
  rMean: number;
  tBlack: number;
  tLight: number;
  tBlue: number;
  tRed: number;
  whiteAmount: number;
  net: WorleyNetwork;
  netWidth: number;
}

/** The melanoma's body: colour blotches layered over dark brown, patches of atypical network. */
function shadeMelanoma(img: Float32Array, size: number, box: LesionBox, m: MelanomaShading): void {
  const {
    darkBrown,
    lightBrown,
    black,
    blueGrey,
    reddish,
    whitish,
    fLight,
    fBlack,
    fBlue,
    fRed,
    fWhite,
    fNet,
    fine,
    edgeLut,
  } = m;
  const { bkx, bky, tBlack, tLight, tBlue, tRed, whiteAmount, net, netWidth } = m;
  const bw = box.w;
  const blackReach = 0.8 * m.rMean;
  for (let k = 0; k < box.rho.length; k++) {
    const th = box.theta[k]!;
    const ei = Math.round(((th + Math.PI) / TAU) * 256);
    const edgeWidth = edgeLut[ei]!;
    const a = smoothstep(-edgeWidth, edgeWidth, box.depth[k]!);
    if (a <= 0) continue;
    const rho = box.rho[k]!;
    const lx = k % bw;
    const ly = Math.floor(k / bw);
    const x = box.x0 + lx + 0.5;
    const y = box.y0 + ly + 0.5;
    // Layer the colours over dark brown; scalar channels (no per-pixel arrays).
    let r = darkBrown[0];
    let g = darkBrown[1];
    let b = darkBrown[2];
    let t = 0.9 * smoothstep(tLight, tLight + 0.15, fLight[k]! + 0.12 * rho);
    r += (lightBrown[0] - r) * t;
    g += (lightBrown[1] - g) * t;
    b += (lightBrown[2] - b) * t;
    t = 0.75 * smoothstep(tBlue, tBlue + 0.15, fBlue[k]! + 0.15 * (1 - rho));
    r += (blueGrey[0] - r) * t;
    g += (blueGrey[1] - g) * t;
    b += (blueGrey[2] - b) * t;
    t = 0.6 * smoothstep(tRed, tRed + 0.15, fRed[k]!);
    r += (reddish[0] - r) * t;
    g += (reddish[1] - g) * t;
    b += (reddish[2] - b) * t;
    const nearBlack = 1 - Math.min(1, hypot(x - bkx, y - bky) / blackReach);
    t = 0.92 * smoothstep(tBlack, tBlack + 0.12, fBlack[k]! + 0.25 * nearBlack - 0.05);
    r += (black[0] - r) * t;
    g += (black[1] - g) * t;
    b += (black[2] - b) * t;
    t = whiteAmount * smoothstep(0.63, 0.75, fWhite[k]! + 0.1 * (1 - rho));
    r += (whitish[0] - r) * t;
    g += (whitish[1] - g) * t;
    b += (whitish[2] - b) * t;
    const line = (1 - smoothstep(netWidth * 0.4, netWidth * 1.4, net.edge(x, y))) * smoothstep(0.55, 0.68, fNet[k]!);
    const shade = (1 + 0.18 * (fine[k]! - 0.5)) * (1 - 0.35 * line);
    blendAt(img, size, box, k, r * shade, g * shade, b * shade, a);
  }
}

/** Irregular dots, globules and radial streaks, clustered in a few sectors of the periphery. */
function melanomaPeriphery(img: Float32Array, size: number, rng: Rng, o: Outline, darkBrown: RGB, black: RGB): void {
  const sc = size / 256;
  const sectors = Array.from({ length: rng.int(1, 4) }, () => rng.uniform(0, TAU));
  const sectorAngle = (): number => rng.pick(sectors) + rng.normal(0, 0.45);
  const nDots = rng.int(10, 32);
  for (let i = 0; i < nDots; i++) {
    const [x, y] = pointInLesion(o, rng, 0.6, 1.1, sectorAngle);
    const r = Math.max(0.7, rng.uniform(0.7, 2.6) * sc);
    const col = rng.chance(0.5) ? black : jitter(rng, darkBrown, 8);
    drawDisc(img, size, x, y, r, col, rng.uniform(0.65, 0.95), 0.5 + 0.3 * sc);
  }
  const nStreaks = rng.int(3, 14);
  for (let i = 0; i < nStreaks; i++) {
    const th = sectorAngle();
    const r = radiusAt(o, th);
    const r0 = r * rng.uniform(0.8, 0.92);
    const r1 = r * rng.uniform(1.03, 1.14);
    const bend = rng.normal(0, 0.04);
    const pts: Array<[number, number]> = [];
    for (let s = 0; s <= 6; s++) {
      const t = s / 6;
      const rr = r0 + (r1 - r0) * t;
      const tt = th + bend * t * t;
      pts.push([o.cx + rr * Math.cos(tt), o.cy + rr * Math.sin(tt)]);
    }
    const w = Math.max(0.9, rng.uniform(2, 3.6) * sc);
    // Radial streaks (pseudopods): a thick stem tapering outwards.
    drawStroke(img, size, pts, (t) => w * (1 - 0.55 * t), jitter(rng, darkBrown, 6), rng.uniform(0.6, 0.85));
  }
}

function renderKeratosis(img: Float32Array, size: number, rng: Rng, o: Outline, box: LesionBox): void {
  const sc = size / 256;
  const bw = box.w;
  const bh = box.h;
  const tone = rng.random();
  const base = mixRgb([180, 136, 100], [114, 80, 60], tone);
  const bj = rng.normal(0, 4);
  base[0] += bj + rng.normal(0, 2);
  base[1] += bj * 0.8 + rng.normal(0, 2);
  base[2] += bj * 0.6 + rng.normal(0, 2);
  const waxyNoise = new FractalNoise(rng, 7, 3, 0.6);
  const waxyAmp = rng.uniform(0.1, 0.18);
  // Cerebriform fissures: level sets of smooth noise, with a width made uniform by the gradient.
  // A mid-frequency field with few levels winds like the gyri and sulci of a brain.
  const fissureNoise = new FractalNoise(rng, rng.uniform(7, 10), 2, 0.45);
  const levels = rng.uniform(4, 6);
  const field = coarseField(bw, bh, 2, (u, v) => levels * (fissureNoise.at(u, v) - 0.5));
  const fissureWidth = Math.max(0.8, rng.uniform(2, 3.2) * sc);
  const fissureStrength = rng.uniform(0.28, 0.45);
  const edgeWidth = 0.35 * sc + 0.5;
  const darkEdge = rng.uniform(0, 0.12);
  for (let k = 0; k < box.rho.length; k++) {
    const a = smoothstep(-edgeWidth, edgeWidth, box.depth[k]!);
    if (a <= 0) continue;
    const rho = box.rho[k]!;
    const lx = k % bw;
    const ly = Math.floor(k / bw);
    const f = field[k]!;
    const gx = (field[ly * bw + Math.min(bw - 1, lx + 1)]! - field[ly * bw + Math.max(0, lx - 1)]!) / 2;
    const gy = (field[Math.min(bh - 1, ly + 1) * bw + lx]! - field[Math.max(0, ly - 1) * bw + lx]!) / 2;
    const g = Math.max(1e-4, hypot(gx, gy));
    const frac = Math.abs(f - Math.round(f));
    const fissure = 1 - smoothstep(fissureWidth * 0.3, fissureWidth * 1.2, frac / g);
    // The ridges (gyri) between fissures are rounded and catch the light on their crests.
    const crest = Math.sin(Math.PI * Math.min(1, frac / 0.5));
    const w = waxyNoise.at(lx / bw, ly / bh);
    const shade =
      (1 + waxyAmp * (w - 0.5) * 2 + 0.14 * crest - 0.05) *
      (1 - fissureStrength * fissure) *
      (1 - darkEdge * smoothstep(0.8, 1, rho));
    blendAt(img, size, box, k, base[0] * shade, base[1] * shade, base[2] * shade, a);
  }
}

/** Seborrheic keratosis's comedo-like openings and milia-like cysts. */
function keratosisDots(img: Float32Array, size: number, rng: Rng, o: Outline): void {
  const sc = size / 256;
  const anyAngle = (): number => rng.uniform(0, TAU);
  // Comedo-like openings: crisp dark plugs.
  const nComedo = rng.int(3, 12);
  for (let i = 0; i < nComedo; i++) {
    const [x, y] = pointInLesion(o, rng, 0, 0.82, anyAngle);
    drawDisc(
      img,
      size,
      x,
      y,
      Math.max(0.8, rng.uniform(1.5, 3.2) * sc),
      jitter(rng, [60, 42, 32], 5),
      rng.uniform(0.8, 0.95),
      0.45,
    );
  }
  // Milia-like cysts: small bright whitish-yellow dots with a faint glow.
  const nMilia = rng.int(6, 22);
  for (let i = 0; i < nMilia; i++) {
    const [x, y] = pointInLesion(o, rng, 0, 0.82, anyAngle);
    const r = Math.max(0.9, rng.uniform(1.0, 2.4) * sc);
    drawDisc(img, size, x, y, r * 1.8, [222, 206, 176], 0.3, r * 0.8);
    drawDisc(img, size, x, y, r, jitter(rng, [246, 242, 226], 3), rng.uniform(0.85, 1), 0.5);
  }
}

function renderHairs(img: Float32Array, size: number, rng: Rng): void {
  if (rng.chance(0.45)) return;
  const sc = size / 256;
  const n = rng.int(1, 7);
  const colour = jitter(rng, [42, 30, 24], 6);
  for (let i = 0; i < n; i++) {
    // A quadratic Bezier from an edge-ish start point in a random direction.
    const x0 = rng.uniform(-0.1, 1.1) * size;
    const y0 = rng.uniform(-0.1, 1.1) * size;
    const ang = rng.uniform(0, TAU);
    const len = rng.uniform(0.3, 1.1) * size;
    const x2 = x0 + len * Math.cos(ang);
    const y2 = y0 + len * Math.sin(ang);
    const bend = rng.normal(0, 0.2) * len;
    const x1 = (x0 + x2) / 2 - bend * Math.sin(ang);
    const y1 = (y0 + y2) / 2 + bend * Math.cos(ang);
    const pts: Array<[number, number]> = [];
    const steps = 24;
    for (let s = 0; s <= steps; s++) {
      const t = s / steps;
      const a = (1 - t) * (1 - t);
      const b = 2 * (1 - t) * t;
      const c = t * t;
      pts.push([a * x0 + b * x1 + c * x2, a * y0 + b * y1 + c * y2]);
    }
    const w = Math.max(0.6, rng.uniform(0.8, 1.8) * sc);
    drawStroke(img, size, pts, (t) => w * (1 - 0.35 * t), jitter(rng, colour, 4), rng.uniform(0.7, 0.95));
  }
}

function chooseFrame(rng: Rng, size: number): Frame {
  const r = rng.random();
  if (r < 1 / 6) return { kind: 'circle', radius: rng.uniform(0.45, 0.55) * size, strength: 1 };
  if (r < 1 / 3) return { kind: 'corners', radius: rng.uniform(0.48, 0.6) * size, strength: rng.uniform(0.6, 0.92) };
  return { kind: 'none', radius: 0, strength: 0 };
}

/** Illumination fall-off and the dermoscope's vignette, then sensor grain; writes the bytes. */
function finish(img: Float32Array, size: number, rng: Rng, frame: Frame, grainRng: Rng): Uint8Array {
  const sc = size / 256;
  const falloff = rng.uniform(0.04, 0.12);
  const ox = size / 2 + rng.normal(0, 0.05 * size);
  const oy = size / 2 + rng.normal(0, 0.05 * size);
  const frameColour: RGB = [rng.uniform(4, 16), rng.uniform(4, 14), rng.uniform(4, 14)];
  const frameSoft = rng.uniform(1, 3) * sc + 0.7;
  const grain = rng.uniform(1.5, 3.5);
  const chroma = grain * 0.35;
  // A clamped array rounds and clamps on store, which is what quantising needs.
  const out = new Uint8ClampedArray(size * size * 3);
  const half = size / 2;
  const lightScale = 1 / (0.7 * size * 0.7 * size);
  const [fr, fg, fb] = frameColour;
  // Branch-free per pixel: a far-away circle and zero-strength corners when there is no such frame.
  const circleR = frame.kind === 'circle' ? frame.radius : 4 * size;
  const rimDark = frame.kind === 'circle' ? 0.25 : 0;
  const cornerR = frame.kind === 'corners' ? frame.radius : 4 * size;
  const cornerDark = frame.kind === 'corners' ? frame.strength : 0;
  for (let y = 0; y < size; y++) {
    const ly = y + 0.5 - oy;
    const cy = y + 0.5 - half;
    for (let x = 0; x < size; x++) {
      const p = (y * size + x) * 3;
      const lx = x + 0.5 - ox;
      const cx = x + 0.5 - half;
      const d = Math.sqrt(cx * cx + cy * cy);
      const light =
        (1 - falloff * (lx * lx + ly * ly) * lightScale) *
        (1 - rimDark * smoothstep(0.75 * circleR, circleR, d)) *
        (1 - cornerDark * smoothstep(cornerR, cornerR + 0.22 * size, d));
      const frameA = smoothstep(circleR - frameSoft, circleR + frameSoft, d);
      // Grain: a triangular-distributed luma term and a small chroma term, from one 32-bit draw.
      const bits = grainRng.nextUint32();
      const n = (((bits & 0xff) + ((bits >>> 8) & 0xff)) / 255 - 1) * 2 * grain;
      const cr = (((bits >>> 16) & 0xff) / 255 - 0.5) * 2 * chroma;
      const cb = ((bits >>> 24) / 255 - 0.5) * 2 * chroma;
      const r = img[p]! * light;
      const g = img[p + 1]! * light;
      const b = img[p + 2]! * light;
      out[p] = r + (fr - r) * frameA + n + cr;
      out[p + 1] = g + (fg - g) * frameA + n - 0.5 * (cr + cb);
      out[p + 2] = b + (fb - b) * frameA + n + cb;
    }
  }
  return new Uint8Array(out.buffer);
}

/** The hard mask: every pixel whose centre lies inside the outline (the box covers the outline). */
function maskOf(box: LesionBox, size: number): Uint8Array {
  const mask = new Uint8Array(size * size);
  for (let k = 0; k < box.depth.length; k++) {
    if (box.depth[k]! > 0) mask[(box.y0 + Math.floor(k / box.w)) * size + box.x0 + (k % box.w)] = 255;
  }
  return mask;
}

function checkInt(fn: string, name: string, value: unknown, lo: number, hi: number, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < lo || value > hi) {
    throw new RangeError(`${fn}: option "${name}" must be ${what}, got ${String(value)}`);
  }
  return value;
}

/** Pure in-memory generation of one lesion (for tests and for writeSampleDataset). */
export function renderSampleLesion(
  index: number,
  cls: SampleClass,
  seed: number,
  size: number,
): { rgb: Uint8Array; mask: Uint8Array } {
  const fn = 'renderSampleLesion';
  checkInt(fn, 'index', index, 0, Number.MAX_SAFE_INTEGER, 'a non-negative safe integer');
  checkInt(fn, 'seed', seed, 0, Number.MAX_SAFE_INTEGER, 'a non-negative safe integer');
  checkInt(fn, 'size', size, MIN_SIZE, MAX_SIZE, `an integer in ${MIN_SIZE}..${MAX_SIZE}`);
  if (!(SAMPLE_CLASSES as readonly string[]).includes(cls)) {
    throw new RangeError(`${fn}: "cls" must be one of ${SAMPLE_CLASSES.join(', ')}, got ${String(cls)}`);
  }
  // One stream for the picture's content, a separate one for the per-pixel grain.
  const rng = new Rng(seed, index);
  const grainRng = new Rng(seed, index, 1);
  const img = new Float32Array(size * size * 3);
  const frame = chooseFrame(rng, size);
  renderSkin(img, size, rng);
  const outline = makeOutline(cls, rng, size, frame);
  // The box reaches past the outline: soft edges, and melanoma's streaks and dots.
  const box = lesionBox(outline, size, cls === 'melanoma' ? 1.2 : 1.05);
  if (cls === 'nevus') renderNevus(img, size, rng, outline, box);
  else if (cls === 'melanoma') renderMelanoma(img, size, rng, outline, box);
  else {
    renderKeratosis(img, size, rng, outline, box);
    keratosisDots(img, size, rng, outline);
  }
  renderHairs(img, size, rng);
  const rgb = finish(img, size, rng, frame, grainRng);
  return { rgb, mask: maskOf(box, size) };
}

/** The class of image `index` in a sample dataset: balanced, in a fixed cycle. */
export function sampleClassOf(index: number): SampleClass {
  return SAMPLE_CLASSES[index % SAMPLE_CLASSES.length]!;
}

/** The id of image `index` in a dataset of n images: SAMPLE_0000, SAMPLE_0001, ... */
export function sampleIdOf(index: number, n: number): string {
  return `SAMPLE_${String(index).padStart(Math.max(4, String(n - 1).length), '0')}`;
}

async function refuseExistingDataset(dir: string): Promise<void> {
  let entries: string[];
  try {
    const st = await fs.stat(dir);
    if (!st.isDirectory())
      throw new DataError(`${dir} exists and is not a folder; choose an empty folder or delete it`);
    entries = await fs.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const found = ['labels.csv', 'images', 'masks'].filter((name) => entries.includes(name));
  if (found.length > 0) {
    throw new DataError(
      `${dir} already holds a dataset (${found.join(', ')}); choose an empty folder or delete it first`,
    );
  }
}

/** Writes a flat-layout dataset: DIR/images/<id>.jpg, DIR/masks/<id>_segmentation.png, DIR/labels.csv */
export async function writeSampleDataset(dir: string, o: SampleDatasetOptions = {}): Promise<SampleDatasetSummary> {
  const fn = 'writeSampleDataset';
  const n = checkInt(fn, 'n', o.n ?? 60, 1, MAX_N, `a positive integer <= ${MAX_N}`);
  const seed = checkInt(fn, 'seed', o.seed ?? 0, 0, Number.MAX_SAFE_INTEGER, 'a non-negative safe integer');
  const size = checkInt(fn, 'size', o.size ?? 256, MIN_SIZE, MAX_SIZE, `an integer in ${MIN_SIZE}..${MAX_SIZE}`);
  if (typeof dir !== 'string' || dir.length === 0) throw new TypeError(`${fn}: dir must be a non-empty path`);
  await refuseExistingDataset(dir);
  const imagesDir = path.join(dir, 'images');
  const masksDir = path.join(dir, 'masks');
  await fs.mkdir(imagesDir, { recursive: true });
  await fs.mkdir(masksDir, { recursive: true });

  const counts: Record<string, number> = Object.fromEntries(SAMPLE_CLASSES.map((c) => [c, 0]));
  const rows: string[] = [LABELS_HEADER];
  for (let i = 0; i < n; i++) {
    const cls = sampleClassOf(i);
    counts[cls] = counts[cls]! + 1;
    rows.push(labelsRow(sampleIdOf(i, n), cls));
  }

  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      const id = sampleIdOf(i, n);
      const { rgb, mask } = renderSampleLesion(i, sampleClassOf(i), seed, size);
      const [jpg, png] = await Promise.all([encodeRgb(rgb, size, size, 'jpg', 92), encodeMaskPng(mask, size, size)]);
      await Promise.all([
        writeFileAtomic(path.join(imagesDir, `${id}.jpg`), jpg),
        writeFileAtomic(path.join(masksDir, maskFileName(id)), png),
      ]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(WRITE_CONCURRENCY, n) }, () => worker()));
  // The labels last: a folder with labels.csv holds every image it lists.
  await writeFileAtomic(path.join(dir, 'labels.csv'), new TextEncoder().encode(rows.join('\n') + '\n'));
  return { dir, n, counts };
}
