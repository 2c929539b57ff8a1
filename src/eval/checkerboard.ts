// Checkerboard energy: how much of an image's variation is a pattern that repeats every 2x2
// pixels, the signature of stride-2 transposed convolutions (Odena et al. 2016). The image's
// pixels fall into four phases (row and column parity); the mean of each phase, less the mean of
// all four, is the 2x2-periodic pattern (the image's components at the three highest 2D
// frequencies: (pi, 0), (0, pi), (pi, pi)). Its energy over the image's variance is a fraction in
// [0, 1]: exactly 1 for a pure checkerboard, 0 for a constant or phase-balanced image, and for an
// image without such a pattern it is of the order of 3 / (pixels / 4) (the phase means of noise).
// Natural dermoscopy images are smooth at the pixel scale, so their energy is tiny.

/**
 * The checkerboard energy of one image, interleaved HWC (any channel count; `data` in any unit),
 * averaged over channels weighted by each channel's variance (so a flat channel does not dilute it).
 */
export function checkerboardEnergy(data: ArrayLike<number>, width: number, height: number, channels: number): number {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 2 || height < 2)
    throw new RangeError(`checkerboard: the image must be at least 2x2, got ${width}x${height}`);
  if (data.length !== width * height * channels)
    throw new RangeError(`checkerboard: ${data.length} values for a ${width}x${height}x${channels} image`);
  // Only whole 2x2 cells count, so that every phase has the same number of pixels.
  const w = width - (width % 2);
  const h = height - (height % 2);
  let pattern = 0;
  let variance = 0;
  for (let c = 0; c < channels; c++) {
    const sum = [0, 0, 0, 0];
    let total = 0;
    let squares = 0;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const v = data[(y * width + x) * channels + c]!;
        sum[(y & 1) * 2 + (x & 1)]! += v;
        total += v;
        squares += v * v;
      }
    }
    const n = w * h;
    const mean = total / n;
    variance += squares / n - mean * mean;
    for (const s of sum) pattern += (s / (n / 4) - mean) ** 2 / 4;
  }
  return variance <= 0 ? 0 : Math.min(1, pattern / variance);
}
