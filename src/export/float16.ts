// float32 -> IEEE 754 binary16 bits, rounding to nearest even (as numpy's npy_floatbits_to_halfbits
// and libtorch's conversion): for fp16 ONNX initializers, without a float16 array in Node 20.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The binary16 bits of x (rounded to float32 first): overflow gives +-inf, NaN stays NaN. */
export function float16Bits(x: number): number {
  f32[0] = x;
  const f = u32[0]!;
  const sign = (f >>> 16) & 0x8000;
  const exp = f & 0x7f800000;
  if (exp >= 0x47800000) {
    // Infinity, NaN, or too large: NaN keeps a quiet payload, the rest is infinity.
    if (exp === 0x7f800000 && (f & 0x007fffff) !== 0) return sign | 0x7e00;
    return sign | 0x7c00;
  }
  if (exp <= 0x38000000) {
    // A half subnormal or zero.
    if (exp < 0x33000000) return sign;
    const e = exp >>> 23;
    let sig = (0x00800000 + (f & 0x007fffff)) >>> 0;
    const lost = sig & ((1 << (113 - e)) - 1); // bits the shift below drops
    sig >>>= 113 - e;
    // Round half to even: add half an ulp unless the dropped part is exactly a half and the kept part is even.
    if ((sig & 0x3fff) !== 0x1000 || lost !== 0) sig += 0x1000;
    return sign | (sig >>> 13);
  }
  const hExp = (exp - 0x38000000) >>> 13;
  let sig = f & 0x007fffff;
  if ((sig & 0x3fff) !== 0x1000) sig += 0x1000;
  // A carry out of the significand increments the exponent (up to infinity): still correct.
  return sign | ((hExp + (sig >>> 13)) & 0xffff);
}

/** The binary16 value of x, as a number. */
export function float16Round(x: number): number {
  return float16Value(float16Bits(x));
}

/** The number whose binary16 bits are h. */
export function float16Value(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const sig = h & 0x3ff;
  if (exp === 0) return sign * sig * 2 ** -24;
  if (exp === 0x1f) return sig ? NaN : sign * Infinity;
  return sign * (1 + sig / 1024) * 2 ** (exp - 15);
}

/** Little-endian binary16 bytes of every element. */
export function float16Bytes(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  for (let i = 0; i < values.length; i++) {
    const h = float16Bits(values[i]!);
    out[2 * i] = h & 0xff;
    out[2 * i + 1] = h >>> 8;
  }
  return out;
}
