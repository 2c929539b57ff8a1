// Command-line flags of the benchmarks: `--name value`, checked, with defaults.

/** The value after `--name`, or the fallback. */
export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

/** An integer flag of at least `min`. */
export function intArg(name: string, fallback: number, min: number): number {
  const v = Number(arg(name, String(fallback)));
  if (!Number.isInteger(v) || v < min)
    throw new RangeError(`--${name} must be an integer >= ${min}, got ${arg(name, '')}`);
  return v;
}

/** A comma-separated list of positive integers. */
export function intListArg(name: string, fallback: string): number[] {
  const v = arg(name, fallback).split(',').map(Number);
  if (v.some((n) => !Number.isInteger(n) || n < 1))
    throw new RangeError(`--${name}: expected positive integers, got ${arg(name, '')}`);
  return v;
}
