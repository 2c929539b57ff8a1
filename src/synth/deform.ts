// New lesion masks from real ones: a random rotation, scaling, translation and a smooth elastic
// deformation, reproducible from a seed. The whole deformed lesion stays inside the frame (at
// least `margin` pixels from every edge): the scale is capped so that the rotated lesion plus the
// largest elastic displacement fits, then the lesion is moved within the room that is left.
//
// Output pixel p is lesion when the source mask, sampled bilinearly at
//   q = c + R(-theta) (p + d(p) - c') / s
// is at least 1/2 (c: the source lesion's centroid, c': the new centre, d: the elastic field).
// Since |d| <= alpha everywhere, the lesion lies within its rotated, scaled bounding box grown by
// alpha, which is what the scale cap and the translation keep inside the frame.
import { MASK_THRESHOLD } from '../data/label_bytes.js';
import { Rng } from '../data/random.js';

export interface DeformOptions {
  /** Largest rotation in degrees, either way (180: any orientation, as lesions have none). */
  rotate: number;
  /** Range of the linear scale factor (before the cap that keeps the lesion inside the frame). */
  scale: [number, number];
  /** Largest move of the lesion's centre, as a fraction of the image's width and height. */
  translate: number;
  /** Elastic displacement amplitude, as a fraction of the lesion's size (sqrt of its area). */
  elastic: number;
  /** Elastic field smoothness: node spacing of its grid, as a fraction of the lesion's size. */
  elasticScale: number;
  /** Pixels kept free between the lesion and each edge of the frame. */
  margin: number;
}

export const DEFAULT_DEFORM: Readonly<DeformOptions> = Object.freeze({
  rotate: 180,
  scale: [0.8, 1.2] as [number, number],
  translate: 0.15,
  elastic: 0.06,
  elasticScale: 0.3,
  margin: 2,
});

export class EmptyMaskError extends RangeError {}

/**
 * Deforms a mask ([H*W], >= 128 is lesion) into a new 0/255 mask of the same size. The result is
 * never empty and lies inside the frame; the same seed gives the same mask.
 */
export function deformMask(
  mask: Uint8Array,
  width: number,
  height: number,
  seed: number,
  options: Partial<DeformOptions> = {},
): Uint8Array {
  const o = { ...DEFAULT_DEFORM, ...options };
  checkOptions(o);
  if (mask.length !== width * height)
    throw new RangeError(`deformMask: the mask has ${mask.length} pixels, expected ${width}x${height}`);
  const src = new Uint8Array(mask.length);
  let area = 0;
  let cx = 0;
  let cy = 0;
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i++) {
      if (mask[i]! >= MASK_THRESHOLD) {
        src[i] = 1;
        area++;
        cx += x;
        cy += y;
      }
    }
  }
  if (area === 0) throw new EmptyMaskError('deformMask: the mask marks no lesion pixel; there is nothing to deform');
  cx /= area;
  cy /= area;
  const rng = new Rng(seed, 0xdef0);
  const size = Math.sqrt(area);
  // A draw can come out empty (a thin lesion shrunk and folded by the field); the next draws of the
  // same generator are tried, and finally the rigid transform alone, which cannot vanish.
  for (let attempt = 0; attempt < 8; attempt++) {
    const out = draw(src, width, height, cx, cy, size, rng, attempt < 7 ? o : { ...o, elastic: 0 });
    if (out) return out;
  }
  // Unreachable in practice: the rigid transform of a non-empty mask at scale >= its cap keeps pixels.
  throw new EmptyMaskError(
    'deformMask: every deformation of this mask came out empty; the lesion is too small to deform',
  );
}

function checkOptions(o: DeformOptions): void {
  const bad = (what: string) => {
    throw new RangeError(`deform option ${what}`);
  };
  if (!(o.rotate >= 0 && o.rotate <= 180)) bad(`rotate must be from 0 to 180 degrees, got ${o.rotate}`);
  if (!(o.scale[0] > 0 && o.scale[1] >= o.scale[0] && o.scale[1] <= 4))
    bad(`scale must be a range 0 < lo <= hi <= 4, got ${o.scale.join('..')}`);
  if (!(o.translate >= 0 && o.translate <= 1)) bad(`translate must be from 0 to 1, got ${o.translate}`);
  if (!(o.elastic >= 0 && o.elastic <= 0.5)) bad(`elastic must be from 0 to 0.5, got ${o.elastic}`);
  if (!(o.elasticScale > 0 && o.elasticScale <= 4)) bad(`elasticScale must be in (0, 4], got ${o.elasticScale}`);
  if (!(Number.isInteger(o.margin) && o.margin >= 0)) bad(`margin must be a non-negative integer, got ${o.margin}`);
}

function draw(
  src: Uint8Array,
  width: number,
  height: number,
  cx: number,
  cy: number,
  size: number,
  rng: Rng,
  o: DeformOptions,
): Uint8Array | null {
  const theta = (rng.uniform(-o.rotate, o.rotate) * Math.PI) / 180;
  const s0 = rng.uniform(o.scale[0], o.scale[1]);
  const cos = Math.cos(theta);
  const sin = Math.sin(theta);
  // The rotated lesion's extent around its centroid (pixel squares, hence the half-pixel pad).
  let u0 = Infinity;
  let u1 = -Infinity;
  let v0 = Infinity;
  let v1 = -Infinity;
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i++) {
      if (!src[i]) continue;
      const dx = x - cx;
      const dy = y - cy;
      const u = cos * dx - sin * dy;
      const v = sin * dx + cos * dy;
      if (u < u0) u0 = u;
      if (u > u1) u1 = u;
      if (v < v0) v0 = v;
      if (v > v1) v1 = v;
    }
  }
  const pad = 0.5 * (Math.abs(cos) + Math.abs(sin));
  u0 -= pad;
  u1 += pad;
  v0 -= pad;
  v1 += pad;
  // The elastic amplitude, limited so that some room is left for the lesion itself.
  const alpha = Math.min(o.elastic * size, Math.max(0, (Math.min(width, height) - 2 * o.margin - 2) / 4));
  const roomW = width - 1 - 2 * (o.margin + alpha);
  const roomH = height - 1 - 2 * (o.margin + alpha);
  const s = Math.min(s0, roomW / (u1 - u0), roomH / (v1 - v0));
  // The new centre: the old one moved by up to `translate` of the image, clamped to where it fits.
  const nx = clamp(
    cx + rng.uniform(-o.translate, o.translate) * width,
    o.margin + alpha - s * u0,
    width - 1 - o.margin - alpha - s * u1,
  );
  const ny = clamp(
    cy + rng.uniform(-o.translate, o.translate) * height,
    o.margin + alpha - s * v0,
    height - 1 - o.margin - alpha - s * v1,
  );
  const field = alpha > 0 ? elasticField(rng, size * o.elasticScale, width, height, alpha) : null;
  // Only pixels within the grown bounding box can be lesion.
  const x0 = Math.max(0, Math.floor(nx + s * u0 - alpha - 1));
  const x1 = Math.min(width - 1, Math.ceil(nx + s * u1 + alpha + 1));
  const y0 = Math.max(0, Math.floor(ny + s * v0 - alpha - 1));
  const y1 = Math.min(height - 1, Math.ceil(ny + s * v1 + alpha + 1));
  const out = new Uint8Array(width * height);
  let count = 0;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      let wx = x - nx;
      let wy = y - ny;
      if (field) {
        wx += field.dx(x, y);
        wy += field.dy(x, y);
      }
      // Inverse rotation and scale back to the source.
      const qx = cx + (cos * wx + sin * wy) / s;
      const qy = cy + (-sin * wx + cos * wy) / s;
      if (bilinear(src, width, height, qx, qy) >= 0.5) {
        out[y * width + x] = 255;
        count++;
      }
    }
  }
  return count > 0 ? out : null;
}

function clamp(v: number, lo: number, hi: number): number {
  // When the lesion exactly fills the room (lo == hi up to rounding), take the middle.
  if (lo > hi) return (lo + hi) / 2;
  return Math.min(hi, Math.max(lo, v));
}

/** The mask (0/1) at a real position, bilinearly; outside the image it is 0. */
function bilinear(m: Uint8Array, width: number, height: number, x: number, y: number): number {
  const xf = Math.floor(x);
  const yf = Math.floor(y);
  const ax = x - xf;
  const ay = y - yf;
  const at = (xx: number, yy: number) => (xx >= 0 && yy >= 0 && xx < width && yy < height ? m[yy * width + xx]! : 0);
  return (
    (1 - ay) * ((1 - ax) * at(xf, yf) + ax * at(xf + 1, yf)) +
    ay * ((1 - ax) * at(xf, yf + 1) + ax * at(xf + 1, yf + 1))
  );
}

/**
 * A smooth random displacement field: uniform values in [-alpha, alpha] on a grid of nodes
 * `spacing` apart, interpolated with smoothstep weights (continuous first derivative). Being a
 * convex combination of node values, every displacement is within [-alpha, alpha].
 */
function elasticField(rng: Rng, spacing: number, width: number, height: number, alpha: number) {
  const step = Math.max(2, spacing);
  const nx = Math.ceil((width - 1) / step) + 2;
  const ny = Math.ceil((height - 1) / step) + 2;
  const gx = new Float64Array(nx * ny);
  const gy = new Float64Array(nx * ny);
  for (let i = 0; i < nx * ny; i++) {
    gx[i] = rng.uniform(-alpha, alpha);
    gy[i] = rng.uniform(-alpha, alpha);
  }
  const smooth = (t: number) => t * t * (3 - 2 * t);
  const sample = (g: Float64Array, x: number, y: number) => {
    const fx = x / step;
    const fy = y / step;
    const ix = Math.floor(fx);
    const iy = Math.floor(fy);
    const tx = smooth(fx - ix);
    const ty = smooth(fy - iy);
    const i = iy * nx + ix;
    return (1 - ty) * ((1 - tx) * g[i]! + tx * g[i + 1]!) + ty * ((1 - tx) * g[i + nx]! + tx * g[i + nx + 1]!);
  };
  return { dx: (x: number, y: number) => sample(gx, x, y), dy: (x: number, y: number) => sample(gy, x, y) };
}
