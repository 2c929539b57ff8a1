// A small seeded PRNG for data work (shuffles, splits, augmentation, procedural images).
// It is independent of libtorch's generators so that data order and augmentation are reproducible
// from (seed, epoch, index) alone, which makes an exact resume cheap: no state to save but numbers.

/** SplitMix64-derived 32-bit mixing: turns any list of integers into a well-spread 32-bit seed. */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9 >>> 0;
  for (const p of parts) {
    if (!Number.isFinite(p)) throw new RangeError(`mixSeed: parts must be finite numbers, got ${p}`);
    // Fold the value in 32-bit halves so seeds above 2^32 still matter.
    const lo = p >>> 0;
    const hi = Math.floor(p / 4294967296) >>> 0;
    for (const v of [lo, hi]) {
      h = Math.imul(h ^ v, 0x85ebca6b) >>> 0;
      h = (h ^ (h >>> 13)) >>> 0;
      h = Math.imul(h, 0xc2b2ae35) >>> 0;
      h = (h ^ (h >>> 16)) >>> 0;
    }
  }
  return h >>> 0;
}

/** A deterministic random stream (mulberry32). Not for cryptography. */
export class Rng {
  private state: number;
  constructor(seed: number, ...streams: number[]) {
    this.state = mixSeed(seed, ...streams);
  }
  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Uniform in [0, 1). */
  random(): number {
    return this.nextUint32() / 4294967296;
  }
  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.random();
  }
  /** A uniform integer in [lo, hi). */
  int(lo: number, hi: number): number {
    if (!(hi > lo)) throw new RangeError(`Rng.int: empty range [${lo}, ${hi})`);
    return lo + Math.floor(this.random() * (hi - lo));
  }
  /** A standard normal sample (Box-Muller). */
  normal(mean = 0, std = 1): number {
    const u = 1 - this.random();
    const v = this.random();
    return mean + std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  /** True with probability p. */
  chance(p: number): boolean {
    return this.random() < p;
  }
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('Rng.pick: empty array');
    return items[this.int(0, items.length)]!;
  }
  /** Fisher-Yates shuffle in place; returns the array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i + 1);
      const t = items[i]!;
      items[i] = items[j]!;
      items[j] = t;
    }
    return items;
  }
}

/** A random permutation of 0..n-1. */
export function permutation(n: number, rng: Rng): number[] {
  return rng.shuffle(Array.from({ length: n }, (_, i) => i));
}
