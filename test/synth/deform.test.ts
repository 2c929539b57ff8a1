// Mask deformation: new lesion shapes that stay inside the frame, are never empty, and depend on
// the seed alone.
import { describe, expect, it } from 'vitest';
import { deformMask, DEFAULT_DEFORM, EmptyMaskError } from '../../src/synth/deform.js';

/** An ellipse (0/255) centred at (cx, cy) with radii rx, ry. */
function ellipse(w: number, h: number, cx: number, cy: number, rx: number, ry: number): Uint8Array {
  const m = new Uint8Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) if (((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1) m[y * w + x] = 255;
  return m;
}

function stats(m: Uint8Array, w: number, h: number) {
  let area = 0;
  let x0 = w;
  let x1 = -1;
  let y0 = h;
  let y1 = -1;
  let other = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = m[y * w + x]!;
      if (v !== 0 && v !== 255) other++;
      if (!v) continue;
      area++;
      x0 = Math.min(x0, x);
      x1 = Math.max(x1, x);
      y0 = Math.min(y0, y);
      y1 = Math.max(y1, y);
    }
  }
  expect(other, 'values other than 0 and 255').toBe(0);
  return { area, x0, x1, y0, y1 };
}

describe('deformMask', () => {
  const W = 64;
  const H = 48;

  it('keeps every lesion inside the frame, with the margin, and never returns an empty mask', () => {
    const shapes = [
      ellipse(W, H, 32, 24, 10, 7), // central
      ellipse(W, H, 5, 5, 12, 9), // cut by two edges (the lesion runs out of the picture)
      ellipse(W, H, 32, 24, 40, 30), // fills the image
      ellipse(W, H, 60, 40, 1.2, 1.2), // a few pixels
      ellipse(W, H, 32, 24, 28, 1.5), // long and thin
    ];
    for (const [s, mask] of shapes.entries()) {
      for (let seed = 0; seed < 25; seed++) {
        for (const margin of [0, 2, 4]) {
          const out = deformMask(mask, W, H, seed, { margin });
          const st = stats(out, W, H);
          const where = `shape ${s} seed ${seed} margin ${margin}`;
          expect(st.area, where).toBeGreaterThan(0);
          expect(st.x0, where).toBeGreaterThanOrEqual(margin);
          expect(st.y0, where).toBeGreaterThanOrEqual(margin);
          expect(st.x1, where).toBeLessThanOrEqual(W - 1 - margin);
          expect(st.y1, where).toBeLessThanOrEqual(H - 1 - margin);
        }
      }
    }
  });

  it('depends on the seed alone', () => {
    const mask = ellipse(W, H, 30, 20, 12, 8);
    const a = deformMask(mask, W, H, 7);
    expect(deformMask(mask, W, H, 7)).toEqual(a);
    const others = [8, 9, 10].map((s) => deformMask(mask, W, H, s));
    for (const o of others) expect(o).not.toEqual(a);
  });

  it('keeps the area within the scale range when nothing caps it', () => {
    const mask = ellipse(128, 128, 64, 64, 12, 9);
    const area = stats(mask, 128, 128).area;
    for (let seed = 0; seed < 20; seed++) {
      const a = stats(deformMask(mask, 128, 128, seed, { elastic: 0 }), 128, 128).area;
      // Linear scale in [0.8, 1.2] -> area in [0.64, 1.44] (a little slack for pixelation).
      expect(a / area).toBeGreaterThan(0.64 * 0.9);
      expect(a / area).toBeLessThan(1.44 * 1.1);
    }
  });

  it('is the identity with no rotation, scaling, translation or elastic field', () => {
    const mask = ellipse(W, H, 30, 20, 12, 8);
    expect(deformMask(mask, W, H, 3, { rotate: 0, scale: [1, 1], translate: 0, elastic: 0 })).toEqual(mask);
  });

  it('changes the outline with the elastic field', () => {
    const mask = ellipse(96, 96, 48, 48, 20, 20);
    const rigid = deformMask(mask, 96, 96, 5, { elastic: 0, rotate: 0, scale: [1, 1], translate: 0 });
    const elastic = deformMask(mask, 96, 96, 5, { elastic: 0.1, rotate: 0, scale: [1, 1], translate: 0 });
    let diff = 0;
    for (let i = 0; i < rigid.length; i++) if (rigid[i] !== elastic[i]) diff++;
    expect(diff).toBeGreaterThan(20);
    expect(DEFAULT_DEFORM.elastic).toBeGreaterThan(0);
  });

  it('refuses an empty mask, a wrong size and bad options with clear errors', () => {
    expect(() => deformMask(new Uint8Array(W * H), W, H, 0)).toThrow(EmptyMaskError);
    expect(() => deformMask(new Uint8Array(W * H), W, H, 0)).toThrow(/no lesion pixel/);
    expect(() => deformMask(new Uint8Array(10), W, H, 0)).toThrow(/10 pixels, expected 64x48/);
    const m = ellipse(W, H, 30, 20, 12, 8);
    expect(() => deformMask(m, W, H, 0, { rotate: 200 })).toThrow(/rotate/);
    expect(() => deformMask(m, W, H, 0, { scale: [1.2, 0.8] })).toThrow(/scale/);
    expect(() => deformMask(m, W, H, 0, { margin: -1 })).toThrow(/margin/);
  });
});
