// Checkerboard energy: exact values for patterns whose arithmetic is known, and the layer property
// it exists to measure (a transposed convolution draws a 2x2 pattern from a flat input, a resize +
// convolution cannot).
import { describe, expect, it } from 'vitest';
import * as torch from '../../src/torch/index.js';
import { checkerboardEnergy } from '../../src/eval/checkerboard.js';
import { upsampleLayers } from '../../src/models/blocks.js';
import * as nn from '../../src/nn/index.js';
import { Rng } from '../../src/data/random.js';

const image = (w: number, h: number, c: number, f: (x: number, y: number, k: number) => number): Float64Array => {
  const out = new Float64Array(w * h * c);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) out[(y * w + x) * c + k] = f(x, y, k);
  return out;
};

describe('checkerboardEnergy', () => {
  it('is 1 for 2x2-periodic patterns (checkerboard, stripes) and 0 for a flat image', () => {
    expect(
      checkerboardEnergy(
        image(8, 6, 3, (x, y) => ((x + y) % 2 ? 1 : -1)),
        8,
        6,
        3,
      ),
    ).toBeCloseTo(1, 12);
    expect(
      checkerboardEnergy(
        image(8, 6, 1, (x) => (x % 2) * 200),
        8,
        6,
        1,
      ),
    ).toBeCloseTo(1, 12);
    expect(
      checkerboardEnergy(
        image(6, 8, 1, (_x, y) => 5 + (y % 2)),
        6,
        8,
        1,
      ),
    ).toBeCloseTo(1, 12);
    expect(
      checkerboardEnergy(
        image(8, 8, 3, () => 7),
        8,
        8,
        3,
      ),
    ).toBe(0);
  });

  it('of a ramp along x of width w: phase means +-1/2 from the mean, variance (w^2 - 1) / 12, so 3 / (w^2 - 1)', () => {
    for (const w of [4, 16, 64])
      expect(
        checkerboardEnergy(
          image(w, 10, 1, (x) => x),
          w,
          10,
          1,
        ),
      ).toBeCloseTo(3 / (w * w - 1), 12);
  });

  it('a checkerboard of amplitude a over a smooth image of variance v: a^2 / (v + a^2), up to the ramp term', () => {
    const w = 64;
    const a = 2;
    const ramp = (w * w - 1) / 12;
    const e = checkerboardEnergy(
      image(w, w, 1, (x, y) => x + ((x + y) % 2 ? a : -a)),
      w,
      w,
      1,
    );
    // The ramp and the checkerboard are uncorrelated over whole cells except through the ramp's own 1/2 phase offset.
    expect(e).toBeGreaterThan((a * a) / (ramp + a * a + 1));
    expect(e).toBeLessThan((a * a + 1) / (ramp + a * a - 1));
  });

  it('of white noise is about 3 / pixels (the spread of four phase means)', () => {
    const rng = new Rng(7, 1);
    const n = 64 * 64;
    const e = checkerboardEnergy(
      image(64, 64, 1, () => rng.random()),
      64,
      64,
      1,
    );
    expect(e).toBeLessThan(30 / n);
  });

  it('counts only whole 2x2 cells and refuses a size that does not match the data', () => {
    // An odd last column that breaks the pattern is ignored.
    expect(
      checkerboardEnergy(
        image(5, 4, 1, (x, y) => (x === 4 ? 100 : (x + y) % 2)),
        5,
        4,
        1,
      ),
    ).toBeCloseTo(1, 12);
    expect(() => checkerboardEnergy(new Float64Array(11), 2, 2, 3)).toThrow(/11 values for a 2x2x3 image/);
    expect(() => checkerboardEnergy(new Float64Array(3), 1, 1, 3)).toThrow(/at least 2x2/);
  });
});

describe('upsampling layers', () => {
  /** The checkerboard energy of the layer's output for a flat input, inside a 1-pixel border. */
  const flatResponse = (mode: 'deconv' | 'resize'): { energy: number; spread: number } => {
    torch.manualSeed(5);
    const layer = new nn.Sequential(...upsampleLayers(mode, 'none', 4, 3));
    return torch.tidy(() => {
      const y = torch.noGrad(() => layer.call(torch.full([1, 4, 8, 8], 0.7)));
      expect(y.shape).toEqual([1, 3, 16, 16]);
      const inner = y.narrow(2, 2, 12).narrow(3, 2, 12).permute(0, 2, 3, 1).contiguous();
      const data = inner.data() as Float32Array;
      // The largest spread of one channel over the pixels (channels differ from each other).
      let spread = 0;
      for (let k = 0; k < 3; k++) {
        const v = data.filter((_, i) => i % 3 === k);
        spread = Math.max(spread, Math.max(...v) - Math.min(...v));
      }
      return { energy: checkerboardEnergy(data, 12, 12, 3), spread };
    });
  };

  it('a transposed convolution turns a flat input into a 2x2 pattern; a resize + convolution keeps it flat', () => {
    const deconv = flatResponse('deconv');
    expect(deconv.spread).toBeGreaterThan(1e-3);
    expect(deconv.energy).toBeGreaterThan(0.99); // all of its variation is the pattern
    const resize = flatResponse('resize');
    expect(resize.spread).toBeLessThan(1e-6);
  });
});
