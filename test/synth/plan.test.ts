// The synthesis plan: ids, sources, seeds; reproducible, and clear about impossible requests.
import { describe, expect, it } from 'vitest';
import { makePlan, PlanError, type MaskSource, type PlanRequest } from '../../src/synth/plan.js';

const CLASSES = ['nevus', 'melanoma', 'seborrheic_keratosis'];
const sources: MaskSource[] = [
  ...Array.from({ length: 6 }, (_, i) => ({ id: `ISIC_000000${i}`, file: `/m/${i}.png`, image: null, diagnosis: 0 })),
  ...Array.from({ length: 3 }, (_, i) => ({ id: `ISIC_000010${i}`, file: `/m/1${i}.png`, image: null, diagnosis: 1 })),
  { id: 'ISIC_0000200', file: '/m/20.png', image: null, diagnosis: 2 },
];
const base: PlanRequest = {
  what: { kind: 'classes', counts: [0, 3, 0] },
  maskPool: 'same',
  deform: false,
  seed: 0,
  firstId: 1,
};

describe('makePlan', () => {
  it('numbers ids SYN_ + 7 digits from --first-id, in order', () => {
    const p = makePlan(sources, CLASSES, { ...base, what: { kind: 'classes', counts: [2, 3, 1] }, firstId: 41 });
    expect(p.map((i) => i.id)).toEqual([
      'SYN_0000041',
      'SYN_0000042',
      'SYN_0000043',
      'SYN_0000044',
      'SYN_0000045',
      'SYN_0000046',
    ]);
    expect(p.map((i) => i.diagnosis)).toEqual([0, 0, 1, 1, 1, 2]);
    for (const i of p) expect(i.id).toMatch(/^SYN_\d{7}$/);
  });

  it('draws each class from its own masks, each at most once without --deform', () => {
    const p = makePlan(sources, CLASSES, base);
    expect(new Set(p.map((i) => i.source.id)).size).toBe(3);
    for (const i of p) expect(i.source.diagnosis).toBe(1);
    for (const i of p) expect(i.deformSeed).toBeNull();
  });

  it('reuses masks with --deform, each item with its own seed', () => {
    const p = makePlan(sources, CLASSES, { ...base, what: { kind: 'classes', counts: [0, 0, 4] }, deform: true });
    expect(p.map((i) => i.source.id)).toEqual(Array(4).fill('ISIC_0000200'));
    expect(new Set(p.map((i) => i.deformSeed)).size).toBe(4);
  });

  it('is a function of its inputs: same seed, same plan, whatever the order of the sources', () => {
    const r = { ...base, what: { kind: 'classes' as const, counts: [4, 2, 0] }, deform: true, seed: 5 };
    const a = makePlan(sources, CLASSES, r);
    expect(makePlan([...sources].reverse(), CLASSES, r)).toEqual(a);
    const b = makePlan(sources, CLASSES, { ...r, seed: 6 });
    expect(b.map((i) => `${i.source.id}${i.deformSeed}`)).not.toEqual(a.map((i) => `${i.source.id}${i.deformSeed}`));
  });

  it("'as-is' keeps each source's diagnosis; --mask-pool all draws a class from every mask", () => {
    const asIs = makePlan(sources, CLASSES, { ...base, what: { kind: 'as-is', count: 10 } });
    for (const i of asIs) expect(i.diagnosis).toBe(i.source.diagnosis);
    expect(new Set(asIs.map((i) => i.source.id)).size).toBe(10);
    const all = makePlan(sources, CLASSES, { ...base, what: { kind: 'classes', counts: [0, 8, 0] }, maskPool: 'all' });
    expect(new Set(all.map((i) => i.source.diagnosis))).toEqual(new Set([0, 1, 2]));
    for (const i of all) expect(i.diagnosis).toBe(1);
  });

  it('takes masks without a diagnosis (a folder of masks) for any class', () => {
    const bare = sources.map((s) => ({ ...s, diagnosis: null }));
    const p = makePlan(bare, CLASSES, { ...base, what: { kind: 'classes', counts: [0, 0, 5] } });
    expect(p).toHaveLength(5);
  });

  it('says what to do when there are too few masks, none of a class, or ids would overflow', () => {
    expect(() => makePlan(sources, CLASSES, { ...base, what: { kind: 'classes', counts: [0, 4, 0] } })).toThrow(
      /only 3 melanoma source masks.*--deform/,
    );
    expect(() => makePlan(sources.slice(0, 6), CLASSES, base)).toThrow(PlanError);
    expect(() => makePlan(sources.slice(0, 6), CLASSES, base)).toThrow(
      /no source mask of diagnosis melanoma.*--mask-pool all/,
    );
    expect(() => makePlan(sources, CLASSES, { ...base, firstId: 9_999_998 })).toThrow(/SYN_9999999/);
  });
});
