// Multi-scale SSIM (Wang, Simoncelli & Bovik, "Multi-scale structural similarity for image quality
// assessment", 2003), built on the single-scale SSIM of ssim.ts (same Gaussian window: 11 taps,
// sigma 1.5; same K1, K2 and data range; same 'valid' region, the map averaged away from a
// window-radius border):
//
//   MS-SSIM = prod_{j=1}^{M-1} cs_j^{w_j} * ssim_M^{w_M}
//
// cs_j the mean contrast-structure term (2 s_xy + C2) / (s_x² + s_y² + C2) at scale j, ssim_M the
// mean SSIM at the coarsest scale, and the paper's weights w = (0.0448, 0.2856, 0.3001, 0.2363,
// 0.1333). Between scales the images are low-pass filtered and halved by a 2x2 average pool
// (stride 2; an odd last row or column is dropped), as the paper's reference code. Each mean term
// is clamped at 0 before the power (a negative cs would make a fractional power undefined; the
// same choice as tf.image.ssim_multiscale and pytorch_msssim), so MS-SSIM is in [0, 1], 1 for
// identical images. Per channel, then averaged over channels, per image. Float64.
//
// Small images: 5 scales need every side >= 11 * 2^4 = 176 pixels (the coarsest scale must hold
// the 11x11 window). A smaller image uses the largest number of scales M that fits (sides >=
// 11 * 2^(M-1): 88 px -> 4 scales, 44 -> 3, 22 -> 2, 11 -> 1) with the first M weights
// renormalised to sum to 1; `scales` in the result says how many were used. Below 11 pixels it is
// an error. Pass `scales` to require a number (an error when it does not fit).
//
//   msSsim(a, b: Tensor [B, C, H, W] in [0, dataRange], { dataRange?: 1, scales? })
//     -> { values: number[] (B), scales: number, weights: number[] }
import * as torch from '../torch/index.js';
import { F, isFloating, type Tensor } from '../torch/index.js';
import { gaussianWindow1d, localStatistics, SSIM_DEFAULTS } from './ssim.js';

export const MS_SSIM_WEIGHTS = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333] as const;

export interface MsSsimOptions {
  /** Default 1 (images in [0, 1]). */
  dataRange?: number;
  /** Number of scales (1..5); default: as many as fit, at most 5. */
  scales?: number;
}

export interface MsSsimResult {
  values: number[];
  scales: number;
  weights: number[];
}

/** The most scales (<= 5) whose coarsest image still holds the window, for an h x w image. */
export function msSsimScales(h: number, w: number, window = 11): number {
  let m = 0;
  while (m < MS_SSIM_WEIGHTS.length && Math.min(h, w) >> m >= window) m++;
  return m;
}

/** Per image [N] means of the SSIM map and of the cs map, over the valid region (float64 [N*C, 1, H, W] inputs). */
function components(x: Tensor, y: Tensor, g: Float64Array, c1: number, c2: number): { ssim: Tensor; cs: Tensor } {
  const { ux, uy, vx, vy, vxy } = localStatistics(x, y, g);
  const cs = vxy.mul(2).add(c2).div(vx.add(vy).add(c2));
  const l = ux.mul(uy).mul(2).add(c1).div(ux.square().add(uy.square()).add(c1));
  const n = x.shape[0]!;
  return { ssim: l.mul(cs).reshape(n, -1).mean(1), cs: cs.reshape(n, -1).mean(1) };
}

export function msSsim(a: Tensor, b: Tensor, o: MsSsimOptions = {}): MsSsimResult {
  const fn = 'msSsim';
  if (a.ndim !== 4 || b.ndim !== 4 || a.shape.some((s, i) => s !== b.shape[i])) {
    throw new TypeError(
      `${fn}: expected two batches of images [B, C, H, W] of one shape, got [${a.shape.join(', ')}] and [${b.shape.join(', ')}]`,
    );
  }
  if (!isFloating(a.dtype) || !isFloating(b.dtype))
    throw new TypeError(`${fn}: expected floating-point images, got ${a.dtype} and ${b.dtype}`);
  const dataRange = o.dataRange ?? SSIM_DEFAULTS.dataRange;
  if (!(Number.isFinite(dataRange) && dataRange > 0))
    throw new RangeError(`${fn}: dataRange must be a positive number, got ${dataRange}`);
  const [n, c, h, w] = a.shape as [number, number, number, number];
  const g = gaussianWindow1d(SSIM_DEFAULTS.sigma);
  const fit = msSsimScales(h, w, g.length);
  if (fit === 0)
    throw new RangeError(
      `${fn}: images must be at least ${g.length}x${g.length} pixels, got ${h}x${w} (height x width)`,
    );
  const scales = o.scales ?? fit;
  if (!Number.isInteger(scales) || scales < 1 || scales > MS_SSIM_WEIGHTS.length)
    throw new RangeError(`${fn}: scales must be an integer from 1 to 5, got ${scales}`);
  if (scales > fit) {
    throw new RangeError(
      `${fn}: ${scales} scales need images of at least ${g.length << (scales - 1)} pixels a side, got ${h}x${w}; use scales <= ${fit}`,
    );
  }
  const raw = MS_SSIM_WEIGHTS.slice(0, scales);
  const total = raw.reduce((s, v) => s + v, 0);
  const weights = raw.map((v) => v / total);
  const c1 = (SSIM_DEFAULTS.k1 * dataRange) ** 2;
  const c2 = (SSIM_DEFAULTS.k2 * dataRange) ** 2;
  const values = torch.tidy(() => {
    let x = a.to('float64').reshape(n * c, 1, h, w);
    let y = b.to('float64').reshape(n * c, 1, h, w);
    let acc = torch.ones([n * c], { dtype: 'float64', device: a.device });
    for (let j = 0; j < scales; j++) {
      const { ssim, cs } = components(x, y, g, c1, c2);
      const term = j === scales - 1 ? ssim : cs;
      acc = acc.mul(term.clamp(0).pow(weights[j]!));
      if (j < scales - 1) {
        x = F.avgPool2d(x, 2, { stride: 2 });
        y = F.avgPool2d(y, 2, { stride: 2 });
      }
    }
    return acc.reshape(n, c).mean(1).toArray();
  });
  return { values, scales, weights };
}
