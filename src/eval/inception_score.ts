// The Inception Score (Salimans et al. 2016) of a set of class predictions:
//
//   IS = exp( E_x KL( p(y|x) || p(y) ) ),   p(y) the mean of p(y|x) over the split,
//
// computed on `splits` contiguous splits of the N predictions (split i holds rows
// floor(i N / splits) .. floor((i + 1) N / splits) - 1, as the original code and torch-fidelity
// cut them; shuffle the rows first if their order means something), returning the mean and the
// (population) standard deviation of the splits' scores. From logits (default: log-softmax, the
// 1008 Inception logits of src/models/inception_v3.ts) or from probabilities (rows summing to 1;
// zero probabilities contribute 0, as x log x -> 0). Float64 throughout.
//
//   inceptionScore(predictions: Tensor [N, C], { splits?: 10, input?: 'logits' | 'probabilities' })
//     -> { mean, std, splits }
import * as torch from '../torch/index.js';
import { F, isFloating, type Tensor } from '../torch/index.js';

export interface InceptionScoreOptions {
  /** Default 10 (at most N). */
  splits?: number;
  /** What the rows are; default 'logits'. */
  input?: 'logits' | 'probabilities';
}

export interface InceptionScoreResult {
  mean: number;
  std: number;
  splits: number;
}

export function inceptionScore(predictions: Tensor, o: InceptionScoreOptions = {}): InceptionScoreResult {
  const fn = 'inceptionScore';
  if (predictions.ndim !== 2)
    throw new TypeError(`${fn}: predictions must be [N, classes], got shape [${predictions.shape.join(', ')}]`);
  if (!isFloating(predictions.dtype))
    throw new TypeError(`${fn}: predictions must be floating point, got ${predictions.dtype}`);
  const [n, c] = predictions.shape as [number, number];
  const splits = o.splits ?? Math.min(10, n);
  if (!Number.isInteger(splits) || splits < 1 || splits > n)
    throw new RangeError(`${fn}: splits must be an integer from 1 to N (${n}), got ${splits}`);
  if (c < 2) throw new RangeError(`${fn}: predictions need at least 2 classes, got ${c}`);
  const input = o.input ?? 'logits';
  if (input !== 'logits' && input !== 'probabilities')
    throw new TypeError(`${fn}: input must be 'logits' or 'probabilities', got '${String(input)}'`);
  const scores = torch.tidy(() => {
    const x = predictions.to('float64');
    let p: Tensor;
    let logP: Tensor;
    if (input === 'logits') {
      logP = F.logSoftmax(x, 1);
      p = logP.exp();
    } else {
      if (x.lt(0).any().item() || x.sum(1).sub(1).abs().max().item() > 1e-6) {
        throw new RangeError(`${fn}: probabilities must be non-negative with rows summing to 1`);
      }
      p = x;
      logP = x.log();
    }
    const out: number[] = [];
    for (let i = 0; i < splits; i++) {
      const lo = Math.floor((i * n) / splits);
      const hi = Math.floor(((i + 1) * n) / splits);
      out.push(
        torch.tidy(() => {
          const ps = p.narrow(0, lo, hi - lo);
          const ls = logP.narrow(0, lo, hi - lo);
          const logQ = ps.mean(0, true).log();
          // p (log p - log q), with 0 where p is 0 (x log x -> 0).
          const kl = F.where(ps.gt(0), ps.mul(ls.sub(logQ)), 0);
          return Math.exp(kl.sum(1).mean().item());
        }),
      );
    }
    return out;
  });
  const mean = scores.reduce((s, v) => s + v, 0) / splits;
  const std = Math.sqrt(scores.reduce((s, v) => s + (v - mean) ** 2, 0) / splits);
  return { mean, std, splits };
}
