// Parsers for command-line values: each error names the flag and says what is expected.
import { InvalidArgumentError, Option } from 'commander';
import { amp } from '../torch/index.js';

/** 'WxH' or 'N' (square). */
export function parseSize(v: string): { width: number; height: number } {
  const m = /^(\d+)(?:[xX](\d+))?$/.exec(v.trim());
  if (!m)
    throw new InvalidArgumentError(
      `expected WIDTHxHEIGHT (e.g. 256x256, 1024x768) or one number for a square, got '${v}'`,
    );
  const width = Number(m[1]);
  const height = m[2] === undefined ? width : Number(m[2]);
  for (const d of [width, height]) {
    if (d < 8 || d > 8192) throw new InvalidArgumentError(`each side must be from 8 to 8192 pixels, got '${v}'`);
  }
  return { width, height };
}

export function intIn(lo: number, hi: number): (v: string) => number {
  return (v: string) => {
    const t = v.trim();
    if (!/^-?\d+$/.test(t)) throw new InvalidArgumentError(`expected an integer, got '${v}'`);
    const n = Number(t);
    if (n < lo || n > hi) throw new InvalidArgumentError(`expected an integer from ${lo} to ${hi}, got ${n}`);
    return n;
  };
}

export function fraction(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n >= 1)
    throw new InvalidArgumentError(`expected a fraction in [0, 1), got '${v}'`);
  return n;
}

export function oneOf<T extends string>(values: readonly T[]): (v: string) => T {
  return (v: string) => {
    if (!(values as readonly string[]).includes(v))
      throw new InvalidArgumentError(`expected one of ${values.join(', ')}, got '${v}'`);
    return v as T;
  };
}

export function listOf<T extends string>(values: readonly T[]): (v: string) => T[] {
  const one = oneOf(values);
  return (v: string) => v.split(',').map((s) => one(s.trim()));
}

/** `--precision`: the generator's forward in float32, or under bf16/fp16 autocast; `more` ends the help. */
export function precisionOption(more = ''): Option {
  return new Option(
    '--precision <p>',
    `the generator's forward: float32, or autocast to bf16 (CPU or CUDA) or fp16 (CUDA)${more}`,
  )
    .choices([...amp.PRECISIONS])
    .default('fp32');
}
