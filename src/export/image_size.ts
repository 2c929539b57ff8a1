// The image sizes an exported generator takes: the generator's own rule, without the
// discriminator's (registry.ts checkImageSize also asks that every discriminator scale fits).
import { requiredDivisor } from '../models/registry.js';
import type { ModelOptions } from '../models/types.js';

export interface SizeRule {
  /** Width and height must be multiples of this. */
  multiple: number;
  /** ... and at least this. */
  min: number;
  /** Why, in words. */
  why: string;
}

export function generatorSizeRule(o: ModelOptions): SizeRule {
  const d = requiredDivisor(o);
  switch (o.model) {
    case 'proposed':
    case 'pix2pixhd':
      // The bottleneck is at least 2x2; the 7x7 reflection padding of the global generator (at 1 / 2^L) needs 4.
      return {
        multiple: d,
        min: Math.max(2 * d, 4 * 2 ** o.numLocalEnhancers),
        why: `2^(nDown + local enhancers) = 2^(${o.nDown} + ${o.numLocalEnhancers})`,
      };
    case 'pix2pix':
      return { multiple: d, min: d, why: `2^numDowns = 2^${o.numDowns}` };
    case 'spade':
      // The first SPADE block normalises at size / 2^u: 2x2 at least.
      return { multiple: d, min: 2 * d, why: `2^${Math.log2(d)} for SPADE's '${o.upsampling}' upsampling` };
  }
}

/** Throws a RangeError naming `flag` when width x height does not fit the rule. */
export function checkExportSize(flag: string, rule: SizeRule, width: number, height: number): void {
  const size = `${width}x${height}`;
  if (width % rule.multiple !== 0 || height % rule.multiple !== 0) {
    const up = (v: number): number => Math.max(rule.min, Math.ceil(v / rule.multiple) * rule.multiple);
    throw new RangeError(
      `${flag} ${size}: width and height must be multiples of ${rule.multiple} for this generator (${rule.why}); the nearest larger size is ${up(width)}x${up(height)}`,
    );
  }
  if (width < rule.min || height < rule.min) {
    throw new RangeError(
      `${flag} ${size}: too small for this generator: width and height must be multiples of ${rule.multiple} and at least ${rule.min}`,
    );
  }
}

/** The rule in words, for the model's metadata and the input's documentation. */
export function sizeRuleText(rule: SizeRule): string {
  return `width and height multiples of ${rule.multiple}, at least ${rule.min}`;
}
