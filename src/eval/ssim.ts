// Image-quality measures for evaluating generators against the real images: SSIM and L1.
//
// SSIM is Wang et al. 2004 as scikit-image computes it with
//   structural_similarity(x, y, channel_axis=..., gaussian_weights=True, sigma=1.5,
//                         use_sample_covariance=False, data_range=1)
// on images in [0, 1]: per channel, local means, variances and the covariance are Gaussian-
// weighted (11x11 window, sigma 1.5: scipy's gaussian_filter with truncate 3.5 gives radius 5),
// variances are population variances, C1 = (K1 R)^2 and C2 = (K2 R)^2 with K1 0.01, K2 0.03, and
// the SSIM map is averaged after skimage crops a strip of the window's radius (5 pixels) from
// every border. skimage filters the whole image with 'reflect' padding and then crops; every
// pixel it keeps only reads pixels inside the image, so a 'valid' convolution gives exactly the
// kept region, and the padding never matters. A C-channel image's SSIM is the mean of its
// channels' SSIMs (channels are the same size, so this is the mean over the stacked maps).
//
//   const s = ssim(toUnitRange(fake), toUnitRange(real));   // float64 [B]
import * as torch from '../torch/index.js';
import { F, isFloating, type Tensor } from '../torch/index.js';

export interface SsimOptions {
  /** The images' value range R (skimage's data_range): 1 for images in [0, 1]. Default 1. */
  dataRange?: number;
  /** Standard deviation of the Gaussian window (the window has radius floor(3.5 sigma + 0.5)). Default 1.5. */
  sigma?: number;
  /** Default 0.01. */
  k1?: number;
  /** Default 0.03. */
  k2?: number;
}

export const SSIM_DEFAULTS: Readonly<Required<SsimOptions>> = Object.freeze({
  dataRange: 1,
  sigma: 1.5,
  k1: 0.01,
  k2: 0.03,
});

/** scipy.ndimage's truncation of the Gaussian, as skimage sets it for SSIM (11 taps at sigma 1.5). */
const TRUNCATE = 3.5;

/** The window side for a sigma, as skimage: 2 * int(3.5 sigma + 0.5) + 1 (11 at sigma 1.5). */
export function ssimWindowSize(sigma: number = SSIM_DEFAULTS.sigma): number {
  return 2 * Math.floor(TRUNCATE * sigma + 0.5) + 1;
}

/** The normalised 1-D Gaussian of the window (as scipy's _gaussian_kernel1d), float64 values. */
export function gaussianWindow1d(sigma: number = SSIM_DEFAULTS.sigma): Float64Array {
  if (!(Number.isFinite(sigma) && sigma > 0))
    throw new RangeError(`ssim: sigma must be a positive number, got ${sigma}`);
  const r = (ssimWindowSize(sigma) - 1) / 2;
  const w = new Float64Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) {
    const v = Math.exp((-0.5 / (sigma * sigma)) * i * i);
    w[i + r] = v;
    sum += v;
  }
  return w.map((v) => v / sum);
}

/**
 * Images in [-1, 1] (the generators' tanh output, the loader's images) to [0, 1]: (x + 1) / 2,
 * clamped to [0, 1]. A new tensor of x's dtype.
 */
export function toUnitRange(images: Tensor): Tensor {
  return torch.tidy(() => images.add(1).mul(0.5).clamp(0, 1));
}

function describe(t: Tensor): string {
  return `[${t.shape.join(', ')}]`;
}

/** Both [B, C, H, W], the same shape, floating point, on one device. */
function checkPair(fn: string, a: Tensor, b: Tensor): void {
  if (a.ndim !== 4) throw new TypeError(`${fn}: expected images [B, C, H, W], got shape ${describe(a)}`);
  if (b.ndim !== 4) throw new TypeError(`${fn}: expected images [B, C, H, W], got shape ${describe(b)}`);
  if (a.shape.some((s, i) => s !== b.shape[i]))
    throw new TypeError(`${fn}: the images differ in shape: ${describe(a)} and ${describe(b)}`);
  if (!isFloating(a.dtype) || !isFloating(b.dtype))
    throw new TypeError(`${fn}: expected floating-point images, got ${a.dtype} and ${b.dtype}`);
  if (a.device !== b.device)
    throw new TypeError(`${fn}: the images are on different devices (${a.device} and ${b.device})`);
  if (a.shape[0] === 0 || a.shape[1] === 0) throw new TypeError(`${fn}: no image to compare in shape ${describe(a)}`);
}

/**
 * The structural similarity of each pair of images: `a` and `b` [B, C, H, W] with values in
 * [0, dataRange] (convert [-1, 1] images with `toUnitRange`). Returns float64 [B], each the mean
 * over channels of that channel's mean SSIM over the 'valid' region (H - 10) x (W - 10); 1 for
 * identical images. Computed in float64 as skimage does; differentiable. H and W must be at
 * least the window size (11).
 */
export function ssim(a: Tensor, b: Tensor, o: SsimOptions = {}): Tensor {
  const { dataRange, sigma, k1, k2 } = { ...SSIM_DEFAULTS, ...o };
  checkPair('ssim', a, b);
  if (!(Number.isFinite(dataRange) && dataRange > 0))
    throw new RangeError(`ssim: dataRange must be a positive number, got ${dataRange}`);
  const g = gaussianWindow1d(sigma);
  const win = g.length;
  const [n, c, h, w] = a.shape as [number, number, number, number];
  if (h < win || w < win) {
    throw new RangeError(
      `ssim: images must be at least ${win}x${win} pixels (the Gaussian window at sigma ${sigma}), got ${h}x${w} (height x width)`,
    );
  }
  const c1 = (k1 * dataRange) ** 2;
  const c2 = (k2 * dataRange) ** 2;
  return torch.tidy(() => {
    const x = a.to('float64').reshape(n * c, 1, h, w);
    const y = b.to('float64').reshape(n * c, 1, h, w);
    const { ux, uy, vx, vy, vxy } = localStatistics(x, y, g);
    const uxuy = ux.mul(uy);
    const ux2 = ux.mul(ux);
    const uy2 = uy.mul(uy);
    const num = uxuy.mul(2).add(c1).mul(vxy.mul(2).add(c2));
    const den = ux2.add(uy2).add(c1).mul(vx.add(vy).add(c2));
    return num.div(den).reshape(n, -1).mean(1);
  });
}

/**
 * Gaussian-weighted local means, variances (population) and covariance of two float64 image stacks
 * [N, 1, H, W], over the 'valid' region [N, H - win + 1, W - win + 1]: the five filtered maps in one
 * separable, grouped convolution. Shared by SSIM and MS-SSIM.
 */
export function localStatistics(
  x: Tensor,
  y: Tensor,
  g: Float64Array,
): { ux: Tensor; uy: Tensor; vx: Tensor; vy: Tensor; vxy: Tensor } {
  const win = g.length;
  const maps = torch.cat([x, y, x.mul(x), y.mul(y), x.mul(y)], 1);
  const kw = torch.tensor(g, { dtype: 'float64', device: x.device });
  const rows = kw.reshape(1, 1, 1, win).expand(5, 1, 1, win);
  const cols = kw.reshape(1, 1, win, 1).expand(5, 1, win, 1);
  const filtered = F.conv2d(F.conv2d(maps, rows, null, { groups: 5 }), cols, null, { groups: 5 });
  const [ux, uy, uxx, uyy, uxy] = [0, 1, 2, 3, 4].map((i) => filtered.select(1, i)) as [
    Tensor,
    Tensor,
    Tensor,
    Tensor,
    Tensor,
  ];
  return { ux, uy, vx: uxx.sub(ux.mul(ux)), vy: uyy.sub(uy.mul(uy)), vxy: uxy.sub(ux.mul(uy)) };
}

/**
 * The mean absolute difference of each pair of images, [B, ...] of one shape: float32 or float64
 * [B] (the inputs' dtype). On [0, 1] images it is the error as a fraction of the range; on
 * [-1, 1] images it is twice that.
 */
export function l1Distance(a: Tensor, b: Tensor): Tensor {
  if (a.ndim < 2 || b.ndim < 2)
    throw new TypeError(
      `l1Distance: expected batches of images [B, ...], got shapes ${describe(a)} and ${describe(b)}`,
    );
  if (a.ndim !== b.ndim || a.shape.some((s, i) => s !== b.shape[i]))
    throw new TypeError(`l1Distance: the images differ in shape: ${describe(a)} and ${describe(b)}`);
  if (!isFloating(a.dtype) || !isFloating(b.dtype))
    throw new TypeError(`l1Distance: expected floating-point images, got ${a.dtype} and ${b.dtype}`);
  if (a.device !== b.device)
    throw new TypeError(`l1Distance: the images are on different devices (${a.device} and ${b.device})`);
  if (a.numel === 0) throw new TypeError(`l1Distance: no pixel to compare in shape ${describe(a)}`);
  return torch.tidy(() => a.sub(b).abs().flatten(1).mean(1));
}
