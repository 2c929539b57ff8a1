// FID, KID and the Inception Score on feature matrices: FID and KID against numpy/scipy values
// (test/fixtures/make_fid_reference.py: pytorch-fid's formula with scipy.linalg.sqrtm, the
// unbiased cubic-kernel MMD² and KID over the same seeded subsets), closed forms (a translated
// set, diagonal Gaussians, singular covariances), FID(X, X) = 0, KID of two samples of one
// distribution ~ 0, hand-computed Inception Scores, statistics files, and errors.
import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import {
  featureStats,
  fid,
  frechetDistance,
  loadFeatureStats,
  saveFeatureStats,
  traceSqrtProduct,
} from '../../src/eval/fid.js';
import { defaultKidSubsetSize, drawSubset, kid, mmd2Unbiased } from '../../src/eval/kid.js';
import { inceptionScore } from '../../src/eval/inception_score.js';
import { Rng } from '../../src/data/random.js';
import { TORCH_FIXTURES_MISSING, torchFixture } from '../helpers/torch_fixtures.js';

if (TORCH_FIXTURES_MISSING)
  console.warn(`distribution_metrics.test.ts: the comparison with numpy/SciPy is skipped: ${TORCH_FIXTURES_MISSING}`);
const tmp: string[] = [];
afterAll(async () => {
  for (const d of tmp) await fs.rm(d, { recursive: true, force: true });
});

function scalar(t: Tensor): number {
  return t.toArray()[0]!;
}
/** A float64 diagonal matrix. */
function diag(v: number[]): Tensor {
  return torch.eye(v.length, { dtype: 'float64' }).mul(torch.tensor(v, { dtype: 'float64' }));
}
function rel(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);
}

describe.skipIf(TORCH_FIXTURES_MISSING !== null)(
  'against numpy / scipy (make_fid_reference.py, run on this machine)',
  async () => {
    const { tensors, metadata } = await torch.loadSafetensors(torchFixture('fid_kid.safetensors'));
    const get = (k: string): Tensor => tensors.get(k)!;

    it("ports dermosynth's Rng exactly (the subset draws are the fixture's)", () => {
      for (const seed of [0, 7]) {
        const r = new Rng(seed);
        expect(Array.from({ length: 4 }, () => r.nextUint32())).toEqual(get(`rng.${seed}`).toArray());
      }
    });

    for (const name of ['small', 'wide']) {
      it(`${name}: FID equals scipy's to 1e-9, MMD² and KID (mean, std over the same subsets) to 1e-10`, () => {
        const a = get(`${name}.a`);
        const b = get(`${name}.b`);
        expect(rel(fid(a, b), scalar(get(`${name}.fid`)))).toBeLessThan(1e-9);
        expect(rel(mmd2Unbiased(a, b), scalar(get(`${name}.mmd2_full`)))).toBeLessThan(1e-10);
        const o = JSON.parse(metadata[`${name}.kid`]!) as { subsets: number; subsetSize: number; seed: number };
        const k = kid(a, b, o);
        expect(k.subsets).toBe(o.subsets);
        expect(k.subsetSize).toBe(o.subsetSize);
        expect(rel(k.mean, scalar(get(`${name}.kid_mean`)))).toBeLessThan(1e-10);
        expect(rel(k.std, scalar(get(`${name}.kid_std`)))).toBeLessThan(1e-9);
        // float32 and float64 inputs give the same (the values are float32 in the file).
        const a64 = a.to('float64');
        expect(rel(fid(a64, b), fid(a, b))).toBeLessThan(1e-12);
        a64.dispose();
      });
    }
  },
);

describe('fid: closed forms', () => {
  it('FID(X, X) = 0, also with fewer vectors than dimensions (singular covariance); symmetric', () => {
    torch.manualSeed(3);
    torch.tidy(() => {
      const x = torch.randn([64, 16]).abs();
      expect(fid(x, x)).toBeLessThan(1e-10);
      const narrow = torch.randn([20, 128]).relu(); // rank <= 19
      expect(fid(narrow, narrow)).toBeLessThan(1e-9);
      const y = torch.randn([50, 16]).mul(1.5).add(0.2);
      expect(rel(fid(x, y), fid(y, x))).toBeLessThan(1e-10);
      expect(fid(x, y)).toBeGreaterThan(0.5);
    });
  });

  it('a translated set: FID = |shift|² (equal covariances cancel)', () => {
    torch.manualSeed(4);
    torch.tidy(() => {
      const x = torch.randn([100, 8], { dtype: 'float64' });
      const shift = torch.tensor([1, -2, 0.5, 0, 0, 3, 0, -1], { dtype: 'float64' });
      expect(fid(x, x.add(shift))).toBeCloseTo(1 + 4 + 0.25 + 9 + 1, 9);
    });
  });

  it('diagonal Gaussians: sum (sqrt a_i - sqrt b_i)² + |mu1 - mu2|²; Tr((AB)^1/2) of commuting matrices', () => {
    torch.tidy(() => {
      const va = [1, 4, 9, 0.25];
      const vb = [4, 1, 1, 0.25];
      const sa = { mean: torch.tensor([0, 0, 0, 0], { dtype: 'float64' }), cov: diag(va), count: 10 };
      const sb = { mean: torch.tensor([1, 0, 0, 2], { dtype: 'float64' }), cov: diag(vb), count: 10 };
      const expected = va.reduce((s, v, i) => s + (Math.sqrt(v) - Math.sqrt(vb[i]!)) ** 2, 0) + 1 + 4;
      expect(frechetDistance(sa, sb)).toBeCloseTo(expected, 12);
      expect(traceSqrtProduct(sa.cov, sb.cov)).toBeCloseTo(2 + 2 + 3 + 0.25, 12);
    });
  });

  it('featureStats: numpy-style mean and unbiased covariance; statistics files round-trip', async () => {
    const x = torch.tensor(
      [
        [1, 2],
        [3, 6],
        [5, 7],
      ],
      { dtype: 'float64' },
    );
    const s = featureStats(x);
    expect(s.mean.toArray()).toEqual([3, 5]);
    // deviations (-2,-3), (0,1), (2,2): cov = [[8, 10], [10, 14]] / 2
    expect(s.cov.toArray()).toEqual([4, 5, 5, 7]);
    expect(s.count).toBe(3);
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dermosynth-fid-'));
    tmp.push(dir);
    await saveFeatureStats(path.join(dir, 'real.safetensors'), s, { network: 'test' });
    const back = await loadFeatureStats(path.join(dir, 'real.safetensors'));
    expect(back.count).toBe(3);
    expect(back.cov.toArray()).toEqual([4, 5, 5, 7]);
    expect(frechetDistance(s, back)).toBe(0);
    await torch.saveSafetensors(path.join(dir, 'bad.safetensors'), { mean: s.mean });
    await expect(loadFeatureStats(path.join(dir, 'bad.safetensors'))).rejects.toThrow(
      /bad\.safetensors: not a feature-statistics file/,
    );
    torch.dispose([x, s.mean, s.cov, back.mean, back.cov]);
  });

  it('errors name the problem', () => {
    torch.tidy(() => {
      expect(() => fid(torch.zeros([10, 4]), torch.zeros([10, 5]))).toThrow(
        'fid: the feature dimensions differ (4 and 5)',
      );
      expect(() => fid(torch.zeros([1, 4]), torch.zeros([10, 4]))).toThrow('at least 2 are needed');
      expect(() => fid(torch.zeros([10]), torch.zeros([10, 4]))).toThrow(
        'must be a feature matrix [N, D], got shape [10]',
      );
      expect(() =>
        featureStats(
          torch.tensor([
            [1, NaN],
            [2, 3],
          ]),
        ),
      ).toThrow('NaN or infinite');
    });
  });
});

describe('kid', () => {
  it('two samples of one distribution: KID ~ 0 (well inside the subsets spread); another distribution: clearly positive', () => {
    torch.manualSeed(5);
    torch.tidy(() => {
      const x1 = torch.randn([300, 32]).relu();
      const x2 = torch.randn([300, 32]).relu();
      const same = kid(x1, x2, { seed: 1 });
      expect(same.subsetSize).toBe(150);
      expect(same.subsets).toBe(100);
      expect(Math.abs(same.mean)).toBeLessThan(same.std);
      const other = kid(x1, torch.randn([300, 32]).mul(1.3).add(0.2).relu(), { seed: 1 });
      expect(other.mean).toBeGreaterThan(10 * Math.abs(same.mean));
      expect(other.mean).toBeGreaterThan(3 * other.std);
    });
  });

  it('is seeded (same seed, same value), subsets are without replacement, defaults scale with the sets', () => {
    torch.manualSeed(6);
    torch.tidy(() => {
      const a = torch.randn([40, 4]);
      const b = torch.randn([30, 4]).add(0.5);
      expect(kid(a, b, { seed: 3 })).toEqual(kid(a, b, { seed: 3 }));
      expect(kid(a, b, { seed: 3 }).mean).not.toBe(kid(a, b, { seed: 4 }).mean);
      // The whole sets as one subset: exactly the full MMD².
      expect(kid(a.narrow(0, 0, 30), b, { subsets: 1, subsetSize: 30 }).mean).toBeCloseTo(
        mmd2Unbiased(a.narrow(0, 0, 30), b),
        12,
      );
    });
    const s = drawSubset(new Rng(0), 50, 20);
    expect(new Set(s).size).toBe(20);
    expect(s.every((i) => i >= 0 && i < 50)).toBe(true);
    expect(defaultKidSubsetSize(300, 5000)).toBe(150);
    expect(defaultKidSubsetSize(50000, 50000)).toBe(1000);
    expect(defaultKidSubsetSize(3, 3)).toBe(2);
  });

  it('errors name the problem', () => {
    torch.tidy(() => {
      expect(() => kid(torch.zeros([10, 4]), torch.zeros([8, 4]), { subsetSize: 9 })).toThrow(
        'kid: subsetSize 9 is larger than the smaller feature set (8 vectors)',
      );
      expect(() => kid(torch.zeros([10, 4]), torch.zeros([8, 4]), { subsets: 0 })).toThrow(
        'kid: subsets must be an integer >= 1, got 0',
      );
      expect(() => kid(torch.zeros([10, 4]), torch.zeros([8, 3]))).toThrow(
        'kid: the feature dimensions differ (4 and 3)',
      );
    });
  });
});

describe('inceptionScore', () => {
  it('uniform predictions score 1; one-hot predictions spread evenly over C classes score C', () => {
    torch.tidy(() => {
      expect(inceptionScore(torch.zeros([20, 1008]), { splits: 4 }).mean).toBeCloseTo(1, 12);
      // 40 one-hot rows cycling through 8 classes: each split of 10 ... use 5 splits of 8 rows.
      const labels = torch.tensor(
        Int32Array.from({ length: 40 }, (_, i) => i % 8),
        { dtype: 'int64' },
      );
      const probs = torch.F.oneHot(labels, 8, 'float64');
      const r = inceptionScore(probs, { splits: 5, input: 'probabilities' });
      expect(r.mean).toBeCloseTo(8, 12);
      expect(r.std).toBeCloseTo(0, 12);
      // The same as near-one-hot logits.
      expect(inceptionScore(probs.mul(60), { splits: 5 }).mean).toBeCloseTo(8, 6);
    });
  });

  it('a hand-computed two-class case, per split, mean and population std', () => {
    // split 1: rows (0.9, 0.1), (0.1, 0.9): q = (0.5, 0.5), KL = 0.9 ln 1.8 + 0.1 ln 0.2 each.
    // split 2: rows (0.5, 0.5) twice: q = (0.5, 0.5), KL = 0 -> score 1.
    torch.tidy(() => {
      const p = torch.tensor(
        [
          [0.9, 0.1],
          [0.1, 0.9],
          [0.5, 0.5],
          [0.5, 0.5],
        ],
        { dtype: 'float64' },
      );
      const s1 = Math.exp(0.9 * Math.log(1.8) + 0.1 * Math.log(0.2));
      const r = inceptionScore(p, { splits: 2, input: 'probabilities' });
      expect(r.mean).toBeCloseTo((s1 + 1) / 2, 12);
      expect(r.std).toBeCloseTo(Math.abs(s1 - 1) / 2, 12);
      expect(inceptionScore(p.log(), { splits: 2 }).mean).toBeCloseTo((s1 + 1) / 2, 12);
      expect(r.splits).toBe(2);
    });
  });

  it('errors name the problem', () => {
    torch.tidy(() => {
      expect(() => inceptionScore(torch.zeros([3, 5]), { splits: 4 })).toThrow(
        'inceptionScore: splits must be an integer from 1 to N (3), got 4',
      );
      expect(() => inceptionScore(torch.ones([3, 5]), { input: 'probabilities' })).toThrow('rows summing to 1');
      expect(() => inceptionScore(torch.zeros([3]))).toThrow('predictions must be [N, classes]');
    });
  });
});
