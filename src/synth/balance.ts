// Class balancing: how many synthetic lesions each diagnosis needs to reach a target.
//
//   --target N      (an integer) every class is filled up to N lesions
//   --target R      (with a decimal point, e.g. 1.0 or 0.5) every class is filled up to R times the
//                   largest class's count, rounded up
// A class already at or above its target gets none; nothing is ever removed.

export type BalanceTarget = { kind: 'count'; count: number } | { kind: 'ratio'; ratio: number };

export const DEFAULT_BALANCE_TARGET: BalanceTarget = { kind: 'ratio', ratio: 1 };

export function parseBalanceTarget(v: string): BalanceTarget {
  const t = v.trim();
  if (/^\d+$/.test(t)) {
    const count = Number(t);
    if (count < 1 || count > 9_999_999) throw new RangeError(`--target: a count must be from 1 to 9999999, got ${t}`);
    return { kind: 'count', count };
  }
  if (/^\d*\.\d+$|^\d+\.\d*$/.test(t)) {
    const ratio = Number(t);
    if (!(ratio > 0 && ratio <= 100))
      throw new RangeError(`--target: a ratio must be above 0 and at most 100, got ${t}`);
    return { kind: 'ratio', ratio };
  }
  throw new RangeError(
    `--target: expected a count (e.g. 1000) or a ratio of the largest class with a decimal point (e.g. 1.0, 0.5), got '${v}'`,
  );
}

export function formatBalanceTarget(t: BalanceTarget): string {
  return t.kind === 'count' ? `${t.count} per class` : `${t.ratio} x the largest class`;
}

/** Synthetic lesions to add per class, given the real counts per class. */
export function balanceCounts(real: readonly number[], target: BalanceTarget): number[] {
  for (const n of real)
    if (!Number.isInteger(n) || n < 0)
      throw new RangeError(`balanceCounts: class counts must be non-negative integers, got ${real.join(', ')}`);
  const goal = target.kind === 'count' ? target.count : Math.ceil(target.ratio * Math.max(0, ...real));
  return real.map((n) => Math.max(0, goal - n));
}
