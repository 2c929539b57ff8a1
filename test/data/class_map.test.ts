// Class maps (src/data/class_map.ts): parsing, every mistake one error naming the file and line,
// and relabelling a dataset onto the target vocabulary.
import { describe, expect, it } from 'vitest';
import { applyClassMap, parseClassMap } from '../../src/data/class_map.js';
import type { DatasetIndex } from '../../src/data/dataset.js';

const index = (classes: string[], labels: (number | null)[]): DatasetIndex => ({
  root: '/data/x',
  format: 'flat',
  classes,
  records: labels.map((label, i) => ({
    id: `L${i}`,
    image: `/i${i}`,
    mask: `/m${i}`,
    label,
    split: null,
    synthetic: false,
  })),
  problems: [],
});

describe('class maps', () => {
  it('declared classes fix the order; names already in the vocabulary map onto themselves', () => {
    const cm = parseClassMap(
      'classes: nevus, melanoma, seborrheic_keratosis, other\nBKL -> seborrheic_keratosis\nNV -> nevus\nBCC -> other # not a target of ISIC-2017\n',
      'm.txt',
    );
    expect(cm.classes).toEqual(['nevus', 'melanoma', 'seborrheic_keratosis', 'other']);
    const out = applyClassMap(index(['melanoma', 'NV', 'BKL', 'BCC'], [0, 1, 2, 3, null]), cm);
    expect(out.classes).toEqual(cm.classes);
    expect(out.records.map((r) => r.label)).toEqual([1, 0, 2, 3, null]);
  });

  it('without a classes line the targets come in the order they first appear', () => {
    const cm = parseClassMap('atypical_nevus -> nevus\ncommon_nevus -> nevus\nmelanoma -> melanoma\n', 'm.txt');
    expect(cm.classes).toEqual(['nevus', 'melanoma']);
    expect(
      applyClassMap(index(['common_nevus', 'atypical_nevus', 'melanoma'], [0, 1, 2]), cm).records.map((r) => r.label),
    ).toEqual([0, 0, 1]);
  });

  it('mistakes are one error naming the file and line', () => {
    expect(() => parseClassMap('a -> b\nc => d\n', 'm.txt')).toThrow(/^m\.txt:2: "c => d" is not "from -> to"/);
    expect(() => parseClassMap('a -> b\na -> c\n', 'm.txt')).toThrow(/^m\.txt:2: "a" is mapped twice \(to b and c\)/);
    expect(() => parseClassMap('classes: b\na -> c\n', 'm.txt')).toThrow(
      /"a -> c": c is not one of the declared classes \(b\)/,
    );
    expect(() => parseClassMap('classes: b, b\n', 'm.txt')).toThrow(/^m\.txt:1: a class is named twice/);
    expect(() => parseClassMap('# nothing\n', 'm.txt')).toThrow(/maps nothing/);
    expect(() => applyClassMap(index(['NV', 'DF'], [0, 1]), parseClassMap('NV -> nevus\n', 'm.txt'))).toThrow(
      /diagnosis DF is not covered by the class map m\.txt \(targets: nevus\); add a line such as "DF -> nevus"/,
    );
  });
});
