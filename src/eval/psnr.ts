// Peak signal-to-noise ratio of each pair of images, as scikit-image's
// peak_signal_noise_ratio(true, test, data_range=R) computes it for one image:
//
//   PSNR = 10 log10(R² / MSE),   MSE the mean squared difference over all channels and pixels,
//
// in float64, in decibels. Identical images give Infinity (MSE 0; a report prints it as "inf").
// Images in [0, 1] (dataRange 1, the default); convert [-1, 1] images with toUnitRange (ssim.ts),
// or pass dataRange 2 for them as they are.
//
//   psnr(a: Tensor [B, C, H, W], b: Tensor [B, C, H, W], { dataRange?: 1 }) -> number[]  (B values)
import * as torch from '../torch/index.js';
import { isFloating, type Tensor } from '../torch/index.js';

export function psnr(a: Tensor, b: Tensor, o: { dataRange?: number } = {}): number[] {
  const dataRange = o.dataRange ?? 1;
  if (!(Number.isFinite(dataRange) && dataRange > 0))
    throw new RangeError(`psnr: dataRange must be a positive number, got ${dataRange}`);
  if (a.ndim < 2 || a.ndim !== b.ndim || a.shape.some((s, i) => s !== b.shape[i])) {
    throw new TypeError(
      `psnr: expected two batches of images of one shape [B, ...], got [${a.shape.join(', ')}] and [${b.shape.join(', ')}]`,
    );
  }
  if (!isFloating(a.dtype) || !isFloating(b.dtype))
    throw new TypeError(`psnr: expected floating-point images, got ${a.dtype} and ${b.dtype}`);
  if (a.numel === 0) throw new TypeError(`psnr: no pixel to compare in shape [${a.shape.join(', ')}]`);
  const mse = torch.tidy(() => a.to('float64').sub(b.to('float64')).square().flatten(1).mean(1).toArray());
  return mse.map((m) => (m === 0 ? Infinity : 10 * Math.log10((dataRange * dataRange) / m)));
}
