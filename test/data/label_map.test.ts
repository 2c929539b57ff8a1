// Label map v1 (class bytes, boundary band, frame class, one-hot channels) and the dermoscope
// frame detector with its morphology, checked against hand-made maps and brute-force references.
import { beforeEach, describe, expect, it } from 'vitest';
import * as torch from '../../src/torch/index.js';
import {
  BOUNDARY_BIT,
  buildLabelBytes,
  classCount,
  frameClass,
  labelMapSpec,
  oneHotLabels,
  type LabelMapSpec,
} from '../../src/data/label_map.js';
import { detectFrame, dilate, erode } from '../../src/data/frame.js';
import { Rng } from '../../src/data/random.js';

const CLASSES = ['nevus', 'melanoma', 'seborrheic_keratosis'];

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}
beforeEach(() => gc());

/** A 0/255 mask from a predicate on (x, y). */
function maskOf(w: number, h: number, inside: (x: number, y: number) => boolean, on = 255): Uint8Array {
  const m = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (inside(x, y)) m[y * w + x] = on;
  return m;
}

describe('labelMapSpec', () => {
  it('lists skin, the diagnoses, then frame and boundary when asked for', () => {
    expect(labelMapSpec(CLASSES, { boundary: 0, frame: false }).channels).toEqual([
      'skin',
      'lesion:nevus',
      'lesion:melanoma',
      'lesion:seborrheic_keratosis',
    ]);
    const full = labelMapSpec(CLASSES, { boundary: 3, frame: true });
    expect(full.channels).toEqual([
      'skin',
      'lesion:nevus',
      'lesion:melanoma',
      'lesion:seborrheic_keratosis',
      'frame',
      'boundary',
    ]);
    expect(full.version).toBe(1);
    expect(full.classes).toEqual(CLASSES);
    expect(classCount(full)).toBe(5);
    expect(frameClass(full)).toBe(4);
    const boundaryOnly = labelMapSpec(['a', 'b'], { boundary: 1, frame: false });
    expect(boundaryOnly.channels).toEqual(['skin', 'lesion:a', 'lesion:b', 'boundary']);
    expect(classCount(boundaryOnly)).toBe(3);
    expect(() => frameClass(boundaryOnly)).toThrow(/no frame class/);
  });

  it('rejects a bad boundary width and an empty or oversized class list', () => {
    for (const boundary of [-1, 65, 1.5, Number.NaN, Infinity]) {
      expect(() => labelMapSpec(CLASSES, { boundary, frame: false })).toThrow(RangeError);
    }
    expect(() => labelMapSpec(CLASSES, { boundary: 64, frame: false })).not.toThrow();
    expect(() => labelMapSpec([], { boundary: 0, frame: false })).toThrow(RangeError);
    const many = Array.from({ length: 126 }, (_, i) => `c${i}`);
    expect(() => labelMapSpec(many, { boundary: 0, frame: true })).toThrow(RangeError);
    expect(() => labelMapSpec(many.slice(0, 125), { boundary: 0, frame: true })).not.toThrow();
  });

  it('does not alias the caller’s class list', () => {
    const classes = ['a', 'b'];
    const spec = labelMapSpec(classes, { boundary: 0, frame: false });
    classes.push('c');
    expect(spec.classes).toEqual(['a', 'b']);
  });
});

describe('buildLabelBytes', () => {
  const plain = labelMapSpec(CLASSES, { boundary: 0, frame: false });

  it('marks a disc with class 1 + diagnosis and the rest as skin', () => {
    const w = 40;
    const h = 30;
    const inside = (x: number, y: number) => (x - 20) ** 2 + (y - 15) ** 2 <= 81;
    const mask = maskOf(w, h, inside);
    for (let k = 0; k < CLASSES.length; k++) {
      const out = buildLabelBytes(mask, k, plain, w, h);
      expect(out.length).toBe(w * h);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) expect(out[y * w + x]).toBe(inside(x, y) ? 1 + k : 0);
    }
  });

  it('thresholds the mask at 128', () => {
    const mask = Uint8Array.from([0, 1, 126, 127, 128, 129, 200, 255]);
    expect(Array.from(buildLabelBytes(mask, 1, plain, 8, 1))).toEqual([0, 0, 0, 0, 2, 2, 2, 2]);
  });

  it('rejects a mask of the wrong size and an unknown diagnosis', () => {
    expect(() => buildLabelBytes(new Uint8Array(10), 0, plain, 4, 3)).toThrow(RangeError);
    expect(() => buildLabelBytes(new Uint8Array(12), 3, plain, 4, 3)).toThrow(RangeError);
    expect(() => buildLabelBytes(new Uint8Array(12), -1, plain, 4, 3)).toThrow(RangeError);
    expect(() => buildLabelBytes(new Uint8Array(12), 0.5, plain, 4, 3)).toThrow(RangeError);
  });

  it('sets the boundary bit on an inner band exactly w pixels wide', () => {
    const W = 32;
    const H = 28;
    // The square lesion [x0, x1] x [y0, y1], away from the image border.
    const x0 = 6,
      x1 = 23,
      y0 = 5,
      y1 = 20;
    const mask = maskOf(W, H, (x, y) => x >= x0 && x <= x1 && y >= y0 && y <= y1);
    for (const bw of [1, 2, 3, 5]) {
      const spec = labelMapSpec(CLASSES, { boundary: bw, frame: false });
      const out = buildLabelBytes(mask, 2, spec, W, H);
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const v = out[y * W + x]!;
          const inLesion = x >= x0 && x <= x1 && y >= y0 && y <= y1;
          if (!inLesion) {
            expect(v).toBe(0);
            continue;
          }
          // Chebyshev distance to the nearest pixel outside the square (1 for the outermost ring).
          const d = Math.min(x - x0, x1 - x, y - y0, y1 - y) + 1;
          expect(v & 127).toBe(3);
          expect((v & BOUNDARY_BIT) !== 0, `w=${bw} at (${x}, ${y}), distance ${d}`).toBe(d <= bw);
        }
      }
    }
  });

  it('does not treat the image border as a lesion edge', () => {
    const W = 20;
    const H = 16;
    // A lesion covering the left 8 columns entirely: its only edge is the column x = 7 | 8.
    const mask = maskOf(W, H, (x) => x < 8);
    const spec = labelMapSpec(CLASSES, { boundary: 2, frame: false });
    const out = buildLabelBytes(mask, 0, spec, W, H);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const v = out[y * W + x]!;
        if (x >= 8) expect(v).toBe(0);
        else expect(v, `(${x}, ${y})`).toBe(1 | (x >= 6 ? BOUNDARY_BIT : 0));
      }
    }
    // A lesion filling the whole image has no boundary at all.
    const all = buildLabelBytes(new Uint8Array(W * H).fill(255), 1, spec, W, H);
    expect(all.every((v) => v === 2)).toBe(true);
  });

  it('labels frame pixels with the frame class, and lesion wins over frame', () => {
    const W = 10;
    const H = 6;
    const spec = labelMapSpec(CLASSES, { boundary: 0, frame: true });
    const fc = frameClass(spec);
    const mask = maskOf(W, H, (x, y) => x >= 3 && x <= 6 && y >= 1 && y <= 4);
    const frame = maskOf(W, H, (x) => x <= 4, 1); // overlaps the lesion in columns 3 and 4
    const out = buildLabelBytes(mask, 1, spec, W, H, frame);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const lesion = x >= 3 && x <= 6 && y >= 1 && y <= 4;
        expect(out[y * W + x], `(${x}, ${y})`).toBe(lesion ? 2 : x <= 4 ? fc : 0);
      }
    }
    // Without the frame class in the spec a frame map is ignored.
    const noFrame = buildLabelBytes(mask, 1, plain, W, H, frame);
    expect(noFrame.some((v) => v === fc)).toBe(false);
  });
});

describe('oneHotLabels', () => {
  it('encodes a hand-computed example', () => {
    const spec = labelMapSpec(['a', 'b'], { boundary: 1, frame: true });
    // classes: 0 skin, 1 a, 2 b, 3 frame; channels skin, a, b, frame, boundary.
    const bytes = Uint8Array.from([0, 1, 2, 3, 1 | 128, 2 | 128]);
    const t = torch.tensor(bytes, { shape: [1, 1, 2, 3] });
    const hot = oneHotLabels(t, spec);
    expect(hot.shape).toEqual([1, 5, 2, 3]);
    expect(hot.dtype).toBe('float32');
    expect(hot.toArray()).toEqual([
      // skin
      1, 0, 0, 0, 0, 0,
      // lesion:a
      0, 1, 0, 0, 1, 0,
      // lesion:b
      0, 0, 1, 0, 0, 1,
      // frame
      0, 0, 0, 1, 0, 0,
      // boundary
      0, 0, 0, 0, 1, 1,
    ]);
    torch.dispose([t, hot]);
  });

  it('has exactly one class channel set per pixel and the boundary channel equal to bit 7', () => {
    const cases: [LabelMapSpec, number][] = [
      [labelMapSpec(CLASSES, { boundary: 0, frame: false }), 4],
      [labelMapSpec(CLASSES, { boundary: 2, frame: false }), 4],
      [labelMapSpec(CLASSES, { boundary: 2, frame: true }), 5],
    ];
    const [B, H, W] = [3, 5, 7];
    for (const [spec, k] of cases) {
      const rng = new Rng(11, k, spec.boundary);
      const bytes = new Uint8Array(B * H * W);
      for (let i = 0; i < bytes.length; i++)
        bytes[i] = rng.int(0, k) | (spec.boundary > 0 && rng.chance(0.3) ? 128 : 0);
      const t = torch.tensor(bytes, { shape: [B, 1, H, W] });
      const hot = oneHotLabels(t, spec);
      const C = spec.channels.length;
      expect(hot.shape).toEqual([B, C, H, W]);
      const v = hot.toArray();
      for (let b = 0; b < B; b++) {
        for (let i = 0; i < H * W; i++) {
          const byte = bytes[b * H * W + i]!;
          let sum = 0;
          for (let c = 0; c < k; c++) {
            const x = v[(b * C + c) * H * W + i]!;
            expect(x === 0 || x === 1).toBe(true);
            expect(x).toBe(c === (byte & 127) ? 1 : 0);
            sum += x;
          }
          expect(sum).toBe(1);
          if (spec.boundary > 0) expect(v[(b * C + k) * H * W + i]).toBe(byte >= 128 ? 1 : 0);
        }
      }
      torch.dispose([t, hot]);
    }
  });

  it('rejects label bytes of another dtype or shape', () => {
    const spec = labelMapSpec(CLASSES, { boundary: 0, frame: false });
    const f = torch.zeros([1, 1, 2, 2]);
    const wrongC = torch.zeros([1, 2, 2, 2], { dtype: 'uint8' });
    const threeD = torch.zeros([1, 2, 2], { dtype: 'uint8' });
    expect(() => oneHotLabels(f, spec)).toThrow(TypeError);
    expect(() => oneHotLabels(wrongC, spec)).toThrow(TypeError);
    expect(() => oneHotLabels(threeD, spec)).toThrow(TypeError);
    torch.dispose([f, wrongC, threeD]);
  });

  it('leaks no tensors', () => {
    gc();
    const before = torch.liveTensors();
    const spec = labelMapSpec(CLASSES, { boundary: 2, frame: true });
    const t = torch.zeros([2, 1, 4, 4], { dtype: 'uint8' });
    const hot = oneHotLabels(t, spec);
    expect(torch.liveTensors()).toBe(before + 2);
    torch.dispose([t, hot]);
    expect(torch.liveTensors()).toBe(before);
  });
});

// ---- frame ----------------------------------------------------------------------------------

const SKIN: [number, number, number] = [205, 160, 140];

/** An interleaved RGB image of skin with small deterministic noise. */
function skinImage(w: number, h: number, seed = 1): Uint8Array {
  const rng = new Rng(seed);
  const rgb = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) for (let c = 0; c < 3; c++) rgb[i * 3 + c] = SKIN[c]! + rng.int(-10, 11);
  return rgb;
}

function paint(
  rgb: Uint8Array,
  w: number,
  h: number,
  where: (x: number, y: number) => boolean,
  colour: [number, number, number],
): void {
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (where(x, y)) rgb.set(colour, (y * w + x) * 3);
}

const BLACK: [number, number, number] = [8, 6, 7];
const count = (m: Uint8Array): number => m.reduce((a, v) => a + (v ? 1 : 0), 0);

describe('detectFrame', () => {
  const S = 128;
  const outsideCircle = (x: number, y: number) => Math.hypot(x + 0.5 - S / 2, y + 0.5 - S / 2) > 0.45 * S;

  it('finds a black circular vignette', () => {
    const rgb = skinImage(S, S);
    paint(rgb, S, S, outsideCircle, BLACK);
    const truth = maskOf(S, S, outsideCircle, 1);
    const frame = detectFrame(rgb, new Uint8Array(S * S), S, S);
    let inter = 0;
    let union = 0;
    for (let i = 0; i < S * S; i++) {
      expect(frame[i] === 0 || frame[i] === 1).toBe(true);
      inter += frame[i]! & truth[i]!;
      union += frame[i]! | truth[i]!;
    }
    expect(count(truth)).toBeGreaterThan(0.3 * S * S);
    expect(inter / union).toBeGreaterThan(0.9);
  });

  it('finds nothing in an image without a frame, even with a dark lesion inside', () => {
    const rgb = skinImage(S, S, 2);
    const lesion = (x: number, y: number) => Math.hypot(x - 64, y - 60) < 20;
    paint(rgb, S, S, lesion, [30, 20, 15]);
    expect(count(detectFrame(rgb, maskOf(S, S, lesion, 1), S, S))).toBe(0);
    // Also when the lesion's mask misses it: a dark blob away from the border is not frame.
    expect(count(detectFrame(rgb, new Uint8Array(S * S), S, S))).toBe(0);
  });

  it('does not take a thin dark hair reaching the border for frame', () => {
    const rgb = skinImage(S, S, 3);
    // A 2-pixel-wide hair from the left border to the middle and a 1-pixel one from the top.
    paint(rgb, S, S, (x, y) => (y === 40 || y === 41) && x < 70, BLACK);
    paint(rgb, S, S, (x, y) => x === 90 && y < 80, BLACK);
    expect(count(detectFrame(rgb, new Uint8Array(S * S), S, S))).toBe(0);
  });

  it('does not let a hair carry the frame inwards', () => {
    const rgb = skinImage(S, S, 4);
    paint(rgb, S, S, outsideCircle, BLACK);
    // A hair from the frame at the left to well inside the field of view.
    paint(rgb, S, S, (x, y) => y === 64 && x < 80, BLACK);
    const frame = detectFrame(rgb, new Uint8Array(S * S), S, S);
    expect(count(frame)).toBeGreaterThan(0.25 * S * S);
    for (let x = 20; x < 80; x++) expect(frame[64 * S + x], `hair pixel x=${x}`).toBe(0);
  });

  it('never marks lesion pixels as frame, even a dark lesion touching the border', () => {
    const rgb = skinImage(S, S, 5);
    // A large dark lesion filling the lower-left corner region.
    const lesion = (x: number, y: number) => Math.hypot(x, y - S) < 50;
    paint(rgb, S, S, lesion, [20, 12, 10]);
    const mask = maskOf(S, S, lesion, 1);
    expect(count(detectFrame(rgb, mask, S, S))).toBe(0);
    // With a real frame too: the frame is found, but not on the lesion.
    paint(rgb, S, S, (x, y) => outsideCircle(x, y) && !lesion(x, y), BLACK);
    const frame = detectFrame(rgb, mask, S, S);
    expect(count(frame)).toBeGreaterThan(0.2 * S * S);
    for (let i = 0; i < S * S; i++) if (mask[i]) expect(frame[i]).toBe(0);
  });

  it('always counts the padding (`outside`) as frame', () => {
    const W = 64;
    const H = 64;
    // Padding of 8 rows at the top and bottom (a 'pad' fit of a wide image), here bright.
    const outside = maskOf(W, H, (_x, y) => y < 8 || y >= H - 8, 1);
    const rgb = skinImage(W, H, 6);
    paint(rgb, W, H, (_x, y) => y < 8 || y >= H - 8, [250, 250, 250]);
    const frame = detectFrame(rgb, new Uint8Array(W * H), W, H, {}, outside);
    for (let i = 0; i < W * H; i++) if (outside[i]) expect(frame[i]).toBe(1);
    expect(count(frame)).toBe(count(outside));
    // Thin padding (one row) is kept too: the minimum-size rule does not apply to it.
    const thin = maskOf(W, H, (_x, y) => y === 0, 1);
    const f2 = detectFrame(skinImage(W, H, 7), new Uint8Array(W * H), W, H, {}, thin);
    expect(count(f2)).toBe(W);
  });

  it('ignores dark border regions smaller than minFraction', () => {
    const rgb = skinImage(S, S, 8);
    // A dark 6x6 corner patch: 36 pixels < 0.005 * 128^2 = 82.
    paint(rgb, S, S, (x, y) => x < 6 && y < 6, BLACK);
    expect(count(detectFrame(rgb, new Uint8Array(S * S), S, S))).toBe(0);
    expect(count(detectFrame(rgb, new Uint8Array(S * S), S, S, { minFraction: 0.001 }))).toBe(36);
  });
});

// ---- morphology ------------------------------------------------------------------------------

function bruteErode(m: Uint8Array, w: number, h: number, r: number, edge: 0 | 1): Uint8Array {
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let v = 1;
      for (let dy = -r; dy <= r && v; dy++) {
        for (let dx = -r; dx <= r; dx++) {
          const xx = x + dx;
          const yy = y + dy;
          const inside = xx >= 0 && yy >= 0 && xx < w && yy < h;
          if ((inside ? m[yy * w + xx]! : edge) === 0) {
            v = 0;
            break;
          }
        }
      }
      out[y * w + x] = v;
    }
  }
  return out;
}

function bruteDilate(m: Uint8Array, w: number, h: number, r: number): Uint8Array {
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let v = 0;
      for (let dy = -r; dy <= r && !v; dy++) {
        for (let dx = -r; dx <= r; dx++) {
          const xx = x + dx;
          const yy = y + dy;
          if (xx >= 0 && yy >= 0 && xx < w && yy < h && m[yy * w + xx]) {
            v = 1;
            break;
          }
        }
      }
      out[y * w + x] = v;
    }
  }
  return out;
}

describe('erode and dilate', () => {
  it('match a brute-force square filter on random maps', () => {
    for (const [w, h] of [
      [17, 13],
      [9, 24],
      [1, 7],
      [30, 30],
    ] as const) {
      for (const density of [0.5, 0.85, 0.97]) {
        const rng = new Rng(w * 100 + h, Math.round(density * 100));
        const m = new Uint8Array(w * h);
        for (let i = 0; i < m.length; i++) m[i] = rng.chance(density) ? 1 : 0;
        for (const r of [0, 1, 2, 4, 20]) {
          for (const edge of [0, 1] as const) {
            expect(Array.from(erode(m, w, h, r, edge)), `erode ${w}x${h} p=${density} r=${r} edge=${edge}`).toEqual(
              Array.from(bruteErode(m, w, h, r, edge)),
            );
          }
          const inv = m.map((v) => 1 - v);
          expect(Array.from(dilate(inv, w, h, r)), `dilate ${w}x${h} p=${density} r=${r}`).toEqual(
            Array.from(bruteDilate(inv, w, h, r)),
          );
        }
      }
    }
  });

  it('do not change their input', () => {
    const m = Uint8Array.from([1, 1, 0, 1, 1, 1, 1, 0, 1]);
    const copy = m.slice();
    erode(m, 3, 3, 1, 0);
    dilate(m, 3, 3, 1);
    expect(m).toEqual(copy);
  });
});
