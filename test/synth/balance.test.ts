// Class balancing arithmetic and the --target syntax.
import { describe, expect, it } from 'vitest';
import { balanceCounts, parseBalanceTarget } from '../../src/synth/balance.js';

describe('balance', () => {
  // ISIC-2017's training split: 1,372 nevi, 374 melanomas, 254 seborrheic keratoses.
  const isic = [1372, 374, 254];

  it('fills every class up to a count', () => {
    expect(balanceCounts(isic, { kind: 'count', count: 1500 })).toEqual([128, 1126, 1246]);
    expect(balanceCounts(isic, { kind: 'count', count: 300 })).toEqual([0, 0, 46]);
  });

  it('fills every class up to a ratio of the largest, rounding up', () => {
    expect(balanceCounts(isic, { kind: 'ratio', ratio: 1 })).toEqual([0, 998, 1118]);
    expect(balanceCounts(isic, { kind: 'ratio', ratio: 0.5 })).toEqual([0, 312, 432]);
    expect(balanceCounts([3, 1, 0], { kind: 'ratio', ratio: 0.5 })).toEqual([0, 1, 2]);
    expect(balanceCounts([0, 0, 0], { kind: 'ratio', ratio: 1 })).toEqual([0, 0, 0]);
  });

  it('never removes anything', () => {
    for (const c of balanceCounts(isic, { kind: 'count', count: 1 })) expect(c).toBe(0);
  });

  it('parses counts and ratios, and rejects the rest', () => {
    expect(parseBalanceTarget('1000')).toEqual({ kind: 'count', count: 1000 });
    expect(parseBalanceTarget('1.0')).toEqual({ kind: 'ratio', ratio: 1 });
    expect(parseBalanceTarget('.5')).toEqual({ kind: 'ratio', ratio: 0.5 });
    for (const bad of ['', 'many', '-3', '0', '0.0', '1e3', '1,5'])
      expect(() => parseBalanceTarget(bad), bad).toThrow(/--target/);
  });
});
