// Automatic mixed precision: `autocast(device, precision, fn)` runs fn with libtorch's autocast on,
// as `with torch.autocast(device_type, dtype)`. Inside, the ops autocast lists (convolutions,
// linear, matmul...) run in bfloat16 or float16 and reduction-heavy ones stay float32; tensors
// made outside keep their dtype. Gradients flow back to float32 leaves as float32.
import { dtypeCode, dtypeName, type DType } from './dtype.js';
import { native } from './native.js';
import type { Device } from './tensor.js';

/** The precision of the forward passes: float32, or autocast to bfloat16 or float16. */
export type Precision = 'fp32' | 'bf16' | 'fp16';

export const PRECISIONS: readonly Precision[] = ['fp32', 'bf16', 'fp16'];

/** A precision that the device cannot run (fp16 on the CPU) or an unknown name: the user's to fix. */
export class PrecisionError extends RangeError {
  override name = 'PrecisionError';
}

/** Parses a precision name; `what` names the flag or field in the error (e.g. '--precision'). */
export function parsePrecision(s: string, what = '--precision'): Precision {
  if ((PRECISIONS as readonly string[]).includes(s)) return s as Precision;
  throw new PrecisionError(
    `${what}: expected ${PRECISIONS.join(', ')} (float32, or autocast to bfloat16 or float16), got '${s}'`,
  );
}

/** The lower dtype autocast computes in; null for fp32 (no autocast). */
export function autocastDtype(p: Precision): DType | null {
  switch (p) {
    case 'fp32':
      return null;
    case 'bf16':
      return 'bfloat16';
    case 'fp16':
      return 'float16';
  }
}

/** The autocast device type of a device name: 'cuda:1' -> 'cuda'. */
export function deviceType(device: Device): 'cpu' | 'cuda' {
  return device === 'cpu' ? 'cpu' : 'cuda';
}

/**
 * Checks that a device of this type can run `p`: libtorch 1.13's CPU autocast computes in bfloat16
 * only, so fp16 needs a CUDA device. Returns `p`. (Whether the device exists is checkDevice's.)
 */
export function checkPrecision(p: Precision, device: Device, what = '--precision'): Precision {
  if (!(PRECISIONS as readonly string[]).includes(p)) parsePrecision(String(p), what);
  if (p === 'fp16' && deviceType(device) === 'cpu') {
    throw new PrecisionError(
      `${what} fp16 needs a CUDA device; use bf16 on CPU (libtorch's CPU autocast computes in bfloat16 only)`,
    );
  }
  return p;
}

/**
 * Runs `fn` (synchronous) with autocast on for the device's type at the precision's dtype, as
 * `with torch.autocast(...)`. fp32 just runs fn (it does not switch off an enclosing autocast).
 * Scopes nest; the previous autocast state is restored on return and on throw, and leaving the
 * outermost scope frees autocast's cache of lower-precision weight copies.
 */
export function autocast<T>(device: Device, precision: Precision, fn: () => T): T {
  if (precision === 'fp32') return fn();
  checkPrecision(precision, device);
  const type = deviceType(device);
  const [wasEnabled, previousDtype] = native.setAutocast(type, true, dtypeCode(autocastDtype(precision)!));
  native.autocastEnter();
  try {
    const result = fn();
    if (result instanceof Promise)
      throw new TypeError(
        'autocast(device, precision, fn): fn must be synchronous; use autocast inside the async steps instead',
      );
    return result;
  } finally {
    native.autocastExit();
    native.setAutocast(type, wasEnabled, previousDtype);
  }
}

/** Whether autocast is on for a device type now (restores what it reads). */
export function isAutocastEnabled(type: 'cpu' | 'cuda' = 'cpu'): { enabled: boolean; dtype: DType } {
  // The addon has a setter that returns the previous state; read by setting it back at once.
  const [enabled, code] = native.setAutocast(type, false, dtypeCode('bfloat16'));
  native.setAutocast(type, enabled, code);
  return { enabled, dtype: dtypeName(code) };
}
