// Augmentation of image and label batches: one geometric transform reaching both, labels only
// moved (never interpolated), colour on the image only, identity fast paths, reproducible
// parameters, and no leaked tensors.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { native } from '../../src/torch/native.js';
import { opId } from '../../src/torch/ops.js';
import {
  augmentBatch,
  DEFAULT_AUGMENT,
  IDENTITY_PARAMS,
  isIdentity,
  NO_AUGMENT,
  parseAugmentOptions,
  sampleAugmentParams,
  sampleBatchParams,
  STRONG_AUGMENT,
  type AugmentOptions,
  type AugmentParams,
} from '../../src/data/augment.js';
import { Rng } from '../../src/data/random.js';

const GEOMETRY_ONLY: AugmentOptions = { ...STRONG_AUGMENT, colour: null };
const COLOUR_ONLY: AugmentOptions = { flip: false, rot90: false, affine: null, colour: STRONG_AUGMENT.colour };

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** Label bytes [B, 1, H, W]: 8x8 blocks of classes 0..3, with the boundary bit on lesion pixels next to another class. */
function makeLabel(b: number, h: number, w: number, seed: number): { bytes: Uint8Array; tensor: Tensor } {
  const rng = new Rng(seed);
  const bytes = new Uint8Array(b * h * w);
  const block = 8;
  const bh = Math.ceil(h / block);
  const bw = Math.ceil(w / block);
  for (let n = 0; n < b; n++) {
    const classes = Array.from({ length: bh * bw }, () => rng.int(0, 4));
    const cls = (y: number, x: number): number => classes[Math.floor(y / block) * bw + Math.floor(x / block)]!;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const c = cls(y, x);
        const edge = (x + 1 < w && cls(y, x + 1) !== c) || (y + 1 < h && cls(y + 1, x) !== c);
        bytes[(n * h + y) * w + x] = c | (c > 0 && edge ? 128 : 0);
      }
    }
  }
  return { bytes, tensor: torch.tensor(bytes, { shape: [b, 1, h, w] }) };
}

/** Image [B, 3, H, W] in [-1, 1] whose channel 0 encodes the label byte (v / 255 * 2 - 1); channels 1, 2 random. */
function makeImage(labelBytes: Uint8Array, b: number, h: number, w: number, seed: number): Tensor {
  const rng = new Rng(seed, 1);
  const hw = h * w;
  const data = new Float32Array(b * 3 * hw);
  for (let n = 0; n < b; n++) {
    for (let i = 0; i < hw; i++) {
      data[n * 3 * hw + i] = (labelBytes[n * hw + i]! / 255) * 2 - 1;
      data[(n * 3 + 1) * hw + i] = rng.uniform(-0.9, 0.9);
      data[(n * 3 + 2) * hw + i] = rng.uniform(-0.9, 0.9);
    }
  }
  return torch.tensor(data, { shape: [b, 3, h, w] });
}

function makeBatch(b: number, h: number, w: number, seed = 1): { image: Tensor; label: Tensor; bytes: Uint8Array } {
  const { bytes, tensor } = makeLabel(b, h, w, seed);
  return { image: makeImage(bytes, b, h, w, seed), label: tensor, bytes };
}

const decode = (v: number): number => Math.round(((v + 1) / 2) * 255);

/**
 * Checks that image channel 0 still encodes the label wherever the augmented label is uniform
 * in a (2r+1)^2 neighbourhood (away from class edges, where bilinear and nearest may differ).
 * Returns the fraction of pixels checked.
 */
function checkConsistent(image: Tensor, label: Tensor, r = 2): number {
  const [b, , h, w] = image.shape as [number, number, number, number];
  const img = image.toFloat32Array();
  const lab = label.data() as Uint8Array;
  let checked = 0;
  for (let n = 0; n < b; n++) {
    for (let y = r; y < h - r; y++) {
      for (let x = r; x < w - r; x++) {
        const v = lab[(n * h + y) * w + x]!;
        let uniform = true;
        for (let dy = -r; dy <= r && uniform; dy++)
          for (let dx = -r; dx <= r; dx++)
            if (lab[(n * h + y + dy) * w + x + dx] !== v) {
              uniform = false;
              break;
            }
        if (!uniform) continue;
        checked++;
        const got = decode(img[(n * 3 * h + y) * w + x]!);
        if (got !== v) throw new Error(`sample ${n} pixel (${y}, ${x}): image encodes ${got}, label is ${v}`);
      }
    }
  }
  return checked / (b * h * w);
}

/** The reference flips-then-rot90 of each sample: flipH along W, flipV along H, then rot90(k, [H, W]). */
function referenceDihedral(x: Tensor, params: AugmentParams[]): Tensor {
  return torch.tidy(() =>
    torch.stack(
      params.map((p, i) => {
        let s = x.select(0, i);
        if (p.flipH) s = s.flip(2);
        if (p.flipV) s = s.flip(1);
        return s.rot90(p.rot90, [1, 2]);
      }),
    ),
  );
}

function params(over: Partial<AugmentParams>): AugmentParams {
  return { ...IDENTITY_PARAMS, ...over };
}

function maxAbsDiff(a: Tensor, b: Tensor): number {
  return torch.tidy(() => a.to('float32').sub(b.to('float32')).abs().max().item());
}

function uniqueValues(t: Tensor): number[] {
  return [...new Set(t.data() as Uint8Array)].sort((p, q) => p - q);
}

/** Counts the calls of an operator through the addon while fn runs. */
function countOpCalls(qualified: string, fn: () => void): number {
  const id = opId(qualified);
  const original = native.callOp.bind(native);
  let count = 0;
  const spy = vi.spyOn(native, 'callOp').mockImplementation((op, args, discard) => {
    if (op === id) count++;
    return original(op, args, discard);
  });
  try {
    fn();
  } finally {
    spy.mockRestore();
  }
  return count;
}

beforeEach(() => {
  gc();
  torch.manualSeed(3);
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe('options and parameters', () => {
  it('presets and defaults', () => {
    expect(DEFAULT_AUGMENT).toEqual({ flip: true, rot90: true, affine: null, colour: null });
    expect(STRONG_AUGMENT.affine).toEqual({ degrees: 15, translate: 0.05, scale: [0.9, 1.1] });
    expect(STRONG_AUGMENT.colour).toEqual({ brightness: 0.2, contrast: 0.2, saturation: 0.2, hue: 0.02 });
    expect(parseAugmentOptions('strong')).toBe(STRONG_AUGMENT);
    expect(parseAugmentOptions('Default')).toBe(DEFAULT_AUGMENT);
    expect(parseAugmentOptions(undefined)).toBe(DEFAULT_AUGMENT);
    expect(parseAugmentOptions('none')).toEqual(NO_AUGMENT);
    expect(parseAugmentOptions({ rot90: false })).toEqual({ flip: true, rot90: false, affine: null, colour: null });
  });

  it('rejects bad options with clear errors', () => {
    expect(() => parseAugmentOptions('wild')).toThrow(/unknown preset 'wild'/);
    expect(() => parseAugmentOptions({ affine: { degrees: -1, translate: 0, scale: [1, 1] } })).toThrow(
      /affine.degrees must be a number in \[0, 180\]/,
    );
    expect(() => parseAugmentOptions({ affine: { degrees: 5, translate: 0.7, scale: [1, 1] } })).toThrow(
      /affine.translate/,
    );
    expect(() => parseAugmentOptions({ affine: { degrees: 5, translate: 0.1, scale: [1.2, 0.8] } })).toThrow(
      /min <= max/,
    );
    expect(() =>
      parseAugmentOptions({ colour: { brightness: 0.1, contrast: 0.1, saturation: 0.1, hue: 0.6 } }),
    ).toThrow(/colour.hue/);
    expect(() =>
      parseAugmentOptions({ colour: { brightness: Number.NaN, contrast: 0, saturation: 0, hue: 0 } }),
    ).toThrow(/colour.brightness/);
    expect(() => parseAugmentOptions({ flip: 'yes' as unknown as boolean })).toThrow(/flip must be a boolean/);
  });

  it('everything off gives the identity', () => {
    const rng = new Rng(1);
    for (let i = 0; i < 20; i++) {
      expect(isIdentity(sampleAugmentParams(rng, NO_AUGMENT, true))).toBe(true);
      expect(
        sampleAugmentParams(
          rng,
          { flip: false, rot90: false, affine: { degrees: 0, translate: 0, scale: [1, 1] } },
          true,
        ),
      ).toEqual(IDENTITY_PARAMS);
    }
    expect(isIdentity(IDENTITY_PARAMS)).toBe(true);
    expect(isIdentity(params({ rot90: 4 }))).toBe(true);
    for (const over of [
      { flipH: true },
      { flipV: true },
      { rot90: 1 },
      { angle: 1 },
      { tx: 0.1 },
      { ty: -0.1 },
      { scale: 1.1 },
      { brightness: 1.1 },
      { contrast: 0.9 },
      { saturation: 0.9 },
      { hue: 0.01 },
    ]) {
      expect(isIdentity(params(over)), JSON.stringify(over)).toBe(false);
    }
  });

  it('are deterministic for a seed and consume a fixed number of draws', () => {
    const a = sampleBatchParams(new Rng(42, 7), STRONG_AUGMENT, 8, true);
    const b = sampleBatchParams(new Rng(42, 7), STRONG_AUGMENT, 8, true);
    const c = sampleBatchParams(new Rng(43, 7), STRONG_AUGMENT, 8, true);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    // Turning colour off leaves the geometric draws unchanged, sample by sample.
    const g = sampleBatchParams(new Rng(42, 7), GEOMETRY_ONLY, 8, true);
    g.forEach((p, i) => {
      const s = a[i]!;
      expect([p.flipH, p.flipV, p.rot90, p.angle, p.tx, p.ty, p.scale]).toEqual([
        s.flipH,
        s.flipV,
        s.rot90,
        s.angle,
        s.tx,
        s.ty,
        s.scale,
      ]);
      expect([p.brightness, p.contrast, p.saturation, p.hue]).toEqual([1, 1, 1, 0]);
    });
  });

  it('draws within the ranges, and every flip and quarter turn', () => {
    const rng = new Rng(5);
    const seen = new Set<string>();
    for (let i = 0; i < 400; i++) {
      const p = sampleAugmentParams(rng, STRONG_AUGMENT, true);
      seen.add(`${p.flipH}${p.flipV}${p.rot90}`);
      expect(Math.abs(p.angle)).toBeLessThanOrEqual(15);
      expect(Math.abs(p.tx)).toBeLessThanOrEqual(0.05);
      expect(Math.abs(p.ty)).toBeLessThanOrEqual(0.05);
      expect(p.scale).toBeGreaterThanOrEqual(0.9);
      expect(p.scale).toBeLessThanOrEqual(1.1);
      for (const f of [p.brightness, p.contrast, p.saturation]) {
        expect(f).toBeGreaterThanOrEqual(0.8);
        expect(f).toBeLessThanOrEqual(1.2);
      }
      expect(Math.abs(p.hue)).toBeLessThanOrEqual(0.02);
    }
    expect(seen.size).toBe(16);
  });

  it('non-square images only get 0 or 180 degree turns', () => {
    const rng = new Rng(9);
    const turns = new Set<number>();
    for (let i = 0; i < 200; i++) turns.add(sampleAugmentParams(rng, DEFAULT_AUGMENT, false).rot90);
    expect([...turns].sort()).toEqual([0, 2]);
    const square = new Set<number>();
    for (let i = 0; i < 200; i++) square.add(sampleAugmentParams(rng, DEFAULT_AUGMENT, true).rot90);
    expect([...square].sort()).toEqual([0, 1, 2, 3]);
  });
});

describe('augmentBatch geometry', () => {
  it('flips and quarter turns equal the reference on image and label exactly, without grid_sample', () => {
    const { image, label } = makeBatch(8, 24, 24);
    const ps = sampleBatchParams(new Rng(11), DEFAULT_AUGMENT, 8, true);
    ps[0] = params({});
    ps[1] = params({ rot90: 1, flipH: true });
    let out!: { image: Tensor; label: Tensor };
    const calls = countOpCalls('aten::grid_sampler', () => {
      out = augmentBatch(image, label, ps);
    });
    expect(calls).toBe(0);
    expect(out.image.shape).toEqual([8, 3, 24, 24]);
    expect(out.label.dtype).toBe('uint8');
    expect(out.image.toArray()).toEqual(referenceDihedral(image, ps).toArray());
    expect(out.label.toArray()).toEqual(referenceDihedral(label, ps).toArray());
    expect(out.image.isContiguous() && out.label.isContiguous()).toBe(true);
    expect(checkConsistent(out.image, out.label, 0)).toBe(1); // every pixel, exactly
    torch.dispose([image, label, out]);
  });

  it('every flip and quarter turn combination, each alone in its batch', () => {
    const { image, label } = makeBatch(1, 16, 16);
    for (const flipH of [false, true])
      for (const flipV of [false, true])
        for (const rot90 of [0, 1, 2, 3, -1, 5]) {
          const p = [params({ flipH, flipV, rot90 })];
          const out = augmentBatch(image, label, p);
          expect(out.image.toArray()).toEqual(referenceDihedral(image, p).toArray());
          expect(out.label.toArray()).toEqual(referenceDihedral(label, p).toArray());
          torch.dispose(out);
        }
    torch.dispose([image, label]);
  });

  it('the affine map moves image and label together; labels keep exactly their old values', () => {
    const { image, label } = makeBatch(8, 64, 64, 2);
    const before = uniqueValues(label);
    expect(before).toEqual(expect.arrayContaining([0, 1, 2, 3, 129, 130, 131]));
    const ps = sampleBatchParams(new Rng(12), GEOMETRY_ONLY, 8, true);
    let out!: { image: Tensor; label: Tensor };
    const calls = countOpCalls('aten::grid_sampler', () => {
      out = augmentBatch(image, label, ps);
    });
    expect(calls).toBe(2); // one for the image, one for the label, whatever the batch size
    const after = uniqueValues(out.label);
    expect(before).toEqual(expect.arrayContaining(after));
    expect(after.some((v) => v >= 128)).toBe(true);
    expect(checkConsistent(out.image, out.label)).toBeGreaterThan(0.15);
    // It did move things.
    expect(maxAbsDiff(out.label, label)).toBeGreaterThan(0);
    // The random channels were interpolated, not copied.
    expect(maxAbsDiff(out.image, image)).toBeGreaterThan(0.1);
    torch.dispose([image, label, out]);
  });

  it('folds flips and quarter turns into the affine map correctly', () => {
    const { image, label } = makeBatch(4, 32, 32, 3);
    const dihedral: Partial<AugmentParams>[] = [
      { rot90: 1 },
      { flipH: true, rot90: 3 },
      { flipV: true },
      { flipH: true, flipV: true, rot90: 2 },
    ];
    // A negligible zoom sends the samples through grid_sample, which must agree with the exact path.
    const exact = augmentBatch(
      image,
      label,
      dihedral.map((d) => params(d)),
    );
    const viaGrid = augmentBatch(
      image,
      label,
      dihedral.map((d) => params({ ...d, scale: 1 + 1e-6 })),
    );
    expect(maxAbsDiff(exact.image, viaGrid.image)).toBeLessThan(1e-3);
    expect(viaGrid.label.toArray()).toEqual(exact.label.toArray());
    torch.dispose([image, label, exact, viaGrid]);
  });

  it('angle is counter-clockwise in degrees: 90 equals one quarter turn, 180 two, -90 three', () => {
    const { image, label } = makeBatch(3, 32, 32, 4);
    const turned = augmentBatch(
      image,
      label,
      [1, 2, 3].map((k) => params({ rot90: k })),
    );
    const rotated = augmentBatch(
      image,
      label,
      [90, 180, -90].map((angle) => params({ angle })),
    );
    expect(maxAbsDiff(turned.image, rotated.image)).toBeLessThan(1e-4);
    expect(rotated.label.toArray()).toEqual(turned.label.toArray());
    torch.dispose([image, label, turned, rotated]);
  });

  it('tx and ty translate right and down by fractions of the size', () => {
    const { image, label } = makeBatch(1, 16, 32, 5);
    // 4 pixels right (4 / 32), 2 pixels down (2 / 16).
    const out = augmentBatch(image, label, [params({ tx: 4 / 32, ty: 2 / 16 })]);
    const expectedImage = image.slice(2, 0, 14).slice(3, 0, 28);
    expect(maxAbsDiff(out.image.slice(2, 2).slice(3, 4), expectedImage)).toBeLessThan(1e-5);
    expect(out.label.slice(2, 2).slice(3, 4).toArray()).toEqual(label.slice(2, 0, 14).slice(3, 0, 28).toArray());
    // Reflection at the borders: nothing new appears.
    expect(uniqueValues(label)).toEqual(expect.arrayContaining(uniqueValues(out.label)));
    torch.dispose([image, label, out]);
  });

  it('non-square batches: flips, half turns and affine keep the shape; odd quarter turns are refused', () => {
    const { image, label } = makeBatch(6, 24, 40, 6);
    const ps = sampleBatchParams(new Rng(13), GEOMETRY_ONLY, 6, false);
    expect(ps.every((p) => p.rot90 === 0 || p.rot90 === 2)).toBe(true);
    const out = augmentBatch(image, label, ps);
    expect(out.image.shape).toEqual([6, 3, 24, 40]);
    expect(out.label.shape).toEqual([6, 1, 24, 40]);
    expect(checkConsistent(out.image, out.label)).toBeGreaterThan(0.15);
    const half = augmentBatch(
      image,
      label,
      ps.map((p) => params({ flipH: p.flipH, flipV: p.flipV, rot90: p.rot90 })),
    );
    expect(half.label.toArray()).toEqual(
      referenceDihedral(
        label,
        ps.map((p) => params({ flipH: p.flipH, flipV: p.flipV, rot90: p.rot90 })),
      ).toArray(),
    );
    const odd = ps.map(() => params({}));
    odd[3] = params({ rot90: 1 });
    expect(() => augmentBatch(image, label, odd)).toThrow(
      /sample 3: an odd quarter turn \(rot90 1\) needs a square image, got 24x40/,
    );
    torch.dispose([image, label, out, half]);
  });
});

describe('augmentBatch colour', () => {
  it('changes the image only, within [-1, 1]; labels are untouched', () => {
    const { image, label } = makeBatch(6, 32, 32, 7);
    const ps = sampleBatchParams(new Rng(14), COLOUR_ONLY, 6, true);
    const out = augmentBatch(image, label, ps);
    expect(out.label.toArray()).toEqual(label.toArray());
    expect(maxAbsDiff(out.image, image)).toBeGreaterThan(0.01);
    expect(out.image.min().item()).toBeGreaterThanOrEqual(-1);
    expect(out.image.max().item()).toBeLessThanOrEqual(1);
    torch.dispose([image, label, out]);
  });

  it('brightness, contrast, saturation and hue do what they say', () => {
    torch.tidy(() => {
      const label = torch.zeros([1, 1, 8, 8], { dtype: 'uint8' });
      const image = torch.rand([1, 3, 8, 8]).mul(0.6).sub(0.3); // mid-range: no clamping below
      const x01 = image.add(1).div(2);
      const run = (over: Partial<AugmentParams>): Tensor => augmentBatch(image, label, [params(over)]).image;
      // Brightness scales [0, 1] RGB.
      expect(maxAbsDiff(run({ brightness: 1.2 }), x01.mul(1.2).mul(2).sub(1))).toBeLessThan(1e-5);
      // Saturation 0 is greyscale (0.299 R + 0.587 G + 0.114 B), the same in each channel.
      const grey = x01
        .select(1, 0)
        .mul(0.299)
        .add(x01.select(1, 1).mul(0.587))
        .add(x01.select(1, 2).mul(0.114))
        .mul(2)
        .sub(1);
      const g = run({ saturation: 0 });
      for (let ch = 0; ch < 3; ch++) expect(maxAbsDiff(g.select(1, ch), grey)).toBeLessThan(1e-5);
      // Contrast 0 is the image's mean grey everywhere.
      const flat = run({ contrast: 0 });
      expect(maxAbsDiff(flat, torch.fullLike(flat, grey.mean().item()))).toBeLessThan(1e-5);
      // Contrast 2 doubles the distance from the mean grey.
      expect(
        maxAbsDiff(run({ contrast: 2 }), image.sub(grey.mean().item()).mul(2).add(grey.mean().item())),
      ).toBeLessThan(1e-5);
      // Hue rotates chroma: luma is kept, the image changes, and -h undoes h.
      const h = run({ hue: 0.1 });
      const luma = (t: Tensor): Tensor =>
        t.select(1, 0).mul(0.299).add(t.select(1, 1).mul(0.587)).add(t.select(1, 2).mul(0.114));
      expect(maxAbsDiff(luma(h), luma(image))).toBeLessThan(1e-5);
      expect(maxAbsDiff(h, image)).toBeGreaterThan(0.01);
      expect(maxAbsDiff(augmentBatch(h, label, [params({ hue: -0.1 })]).image, image)).toBeLessThan(1e-5);
      // A full turn is the identity.
      expect(
        maxAbsDiff(run({ hue: 0.5 }), augmentBatch(run({ hue: 0.25 }), label, [params({ hue: 0.25 })]).image),
      ).toBeLessThan(1e-5);
      // Clamped to [-1, 1].
      const bright = run({ brightness: 5 });
      expect(bright.max().item()).toBe(1);
    });
  });
});

describe('augmentBatch batches', () => {
  it('identity parameters return equal new tensors and leave the inputs alone', () => {
    const { image, label } = makeBatch(4, 16, 16, 8);
    const before = { image: image.toArray(), label: label.toArray() };
    const out = augmentBatch(
      image,
      label,
      Array.from({ length: 4 }, () => params({})),
    );
    expect(out.image.toArray()).toEqual(before.image);
    expect(out.label.toArray()).toEqual(before.label);
    expect(out.image.storageId()).not.toBe(image.storageId());
    expect(out.label.storageId()).not.toBe(label.storageId());
    // The inputs are unchanged and alive after any augmentation.
    torch.dispose(augmentBatch(image, label, sampleBatchParams(new Rng(1), STRONG_AUGMENT, 4, true)));
    expect(image.isDisposed || label.isDisposed).toBe(false);
    expect(image.toArray()).toEqual(before.image);
    expect(label.toArray()).toEqual(before.label);
    torch.dispose([image, label, out]);
  });

  it('a mixed batch equals each sample augmented alone', () => {
    const { image, label } = makeBatch(6, 32, 32, 9);
    const ps = [
      params({}),
      params({ flipH: true }),
      params({ angle: 7, scale: 1.05, tx: 0.03 }),
      params({ brightness: 1.1, hue: 0.02, contrast: 0.9 }),
      params({ rot90: 1, flipV: true, angle: -5, saturation: 1.2 }),
      params({ rot90: 2 }),
    ];
    const out = augmentBatch(image, label, ps);
    ps.forEach((p, i) => {
      const one = augmentBatch(image.narrow(0, i, 1), label.narrow(0, i, 1), [p]);
      expect(maxAbsDiff(out.image.narrow(0, i, 1), one.image), `sample ${i}`).toBeLessThan(1e-5);
      expect(out.label.narrow(0, i, 1).toArray(), `sample ${i}`).toEqual(one.label.toArray());
      torch.dispose(one);
    });
    torch.dispose([image, label, out]);
  });

  it('rejects mismatched inputs with clear errors', () => {
    const { image, label } = makeBatch(2, 8, 8);
    const ps = [params({}), params({})];
    expect(() => augmentBatch(image, label, [params({})])).toThrow(/1 parameter sets for a batch of 2/);
    expect(() => augmentBatch(image, label.to('float32'), ps)).toThrow(/label must be uint8/);
    expect(() => augmentBatch(image, label.narrow(2, 0, 4), ps)).toThrow(/label must be \[2, 1, 8, 8\]/);
    expect(() => augmentBatch(image.narrow(1, 0, 1), label, [params({ hue: 0.1 }), params({})])).toThrow(
      /3 image channels/,
    );
    expect(() => augmentBatch(image.reshape(2, 3, 64), label, ps)).toThrow(/image must be \[B, C, H, W\]/);
    expect(() => augmentBatch(image, label, [params({ rot90: 0.5 }), params({})])).toThrow(/rot90 must be an integer/);
    torch.dispose([image, label]);
  });

  it('leaks no tensors', () => {
    const { image, label } = makeBatch(4, 32, 32, 10);
    const mixed = [params({}), params({ flipH: true, rot90: 1 }), params({ angle: 3 }), params({ hue: 0.01 })];
    const runs: AugmentParams[][] = [
      mixed,
      sampleBatchParams(new Rng(1), DEFAULT_AUGMENT, 4, true),
      sampleBatchParams(new Rng(2), STRONG_AUGMENT, 4, true),
      sampleBatchParams(new Rng(3), COLOUR_ONLY, 4, true),
      Array.from({ length: 4 }, () => params({})),
    ];
    // Warm up lazily created state first.
    torch.dispose(runs.map((ps) => augmentBatch(image, label, ps)));
    gc();
    const before = torch.liveTensors();
    for (const ps of runs) {
      const out = augmentBatch(image, label, ps);
      expect(torch.liveTensors()).toBe(before + 2);
      torch.dispose(out);
      expect(torch.liveTensors()).toBe(before);
    }
    expect(torch.scopeDepth()).toBe(0);
    expect(() => augmentBatch(image, label, [params({})])).toThrow();
    expect(torch.liveTensors()).toBe(before);
    torch.dispose([image, label]);
  });
});
