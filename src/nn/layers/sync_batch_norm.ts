// Synchronized batch normalisation for data-parallel training, as torch.nn.SyncBatchNorm: in
// training mode the batch statistics are those of the whole batch over every rank of a process
// group, so N ranks with batches of B train exactly as one process with a batch of N*B.
// Same parameters, buffers and state-dict names as BatchNorm2d (the two load each other's
// checkpoints); `convertSyncBatchNorm` swaps the BatchNorm2d modules of a model for these.
//
// How the statistics travel: each rank puts (count, mean, M2 = sum of squared deviations from its
// mean) per channel into its own row of an [R, 1 + 2C] table, zeros in the others; one all-reduce
// (sum) fills in every row on every rank, bit for bit the same table everywhere. The global mean and
// variance are combined from the rows with Chan's formula (no E[x^2] - E[x]^2 cancellation), so all
// ranks normalise with the same values and update identical running statistics.
//
// Gradients: the all-reduce is not differentiable. The table used is
// `local + (gathered - local).detach()`: the values are the gathered ones, the gradient reaches
// this rank's row only. Its gradient is summed over the ranks when backward reaches it
// (ProcessGroup.sumGradientAcrossRanks), so rank r's statistics receive what every rank's loss
// says about them. With L_r this rank's loss: the input gradient on rank r is
// d(sum_s L_s)/dx_r, and the parameter gradients averaged over ranks (the gradient reducer) are
// d(mean_s L_s)/dθ, exactly those of one process on the concatenated batch with the mean loss.
import { cat, full, noGrad, tidy, zeros, type Tensor } from '../../torch/index.js';
import type { ProcessGroup } from '../../torch/distributed.js';
import { Module } from '../module.js';
import { BatchNorm2d, type NormOptions } from './normalization.js';

export interface SyncBatchNormOptions extends NormOptions {
  /** The ranks whose batches are normalised together; null (or a group of one) is plain BatchNorm2d. */
  processGroup?: ProcessGroup | null;
}

export class SyncBatchNorm2d extends BatchNorm2d {
  processGroup: ProcessGroup | null;

  constructor(numFeatures: number, o: SyncBatchNormOptions = {}) {
    super(numFeatures, o);
    this.processGroup = o.processGroup ?? null;
  }

  /**
   * A SyncBatchNorm2d with `bn`'s settings and its very tensors (weight, bias, running stats,
   * batch counter): optimizers built on `bn`'s parameters keep training this module.
   */
  static fromBatchNorm(bn: BatchNorm2d, processGroup: ProcessGroup | null): SyncBatchNorm2d {
    const weight = bn.optionalParam('weight');
    const bias = bn.optionalParam('bias');
    if ((weight === null) !== (bias === null)) {
      throw new TypeError(
        `SyncBatchNorm2d.fromBatchNorm: the BatchNorm2d(${bn.numFeatures}) has ${weight ? 'a weight but no bias' : 'a bias but no weight'}; it must have both or neither`,
      );
    }
    const sync = new SyncBatchNorm2d(bn.numFeatures, {
      eps: bn.eps,
      momentum: bn.momentum,
      affine: weight !== null,
      trackRunningStats: bn.trackRunningStats,
      evalStats: bn.evalStats,
      processGroup,
    });
    // Registering under the same names drops the fresh tensors the constructor made.
    if (weight && bias) {
      sync.registerParameter('weight', weight);
      sync.registerParameter('bias', bias);
    }
    if (bn.trackRunningStats) {
      for (const name of ['running_mean', 'running_var', 'num_batches_tracked']) {
        const b = bn.buffer(name);
        if (!b)
          throw new TypeError(
            `SyncBatchNorm2d.fromBatchNorm: the BatchNorm2d(${bn.numFeatures}) tracks running stats but has no '${name}' buffer`,
          );
        sync.registerBuffer(name, b);
      }
    }
    sync.training = bn.training;
    return sync;
  }

  override forward(x: Tensor): Tensor {
    const pg = this.processGroup;
    // Eval mode, no group or a group of one: nothing to share, and BatchNorm2d does exactly this.
    if (!this.training || !pg || pg.worldSize === 1) return super.forward(x);
    this.checkInput(x);
    const C = this.numFeatures;
    const R = pg.worldSize;
    const K = 1 + 2 * C;
    const out = tidy(() => {
      // This rank's row: [count, mean (C), M2 (C)], differentiable in x.
      const n = x.numel / C;
      const o = { dtype: x.dtype, device: x.device };
      const mean = n > 0 ? x.mean([0, 2, 3]) : zeros([C], o);
      const m2 = n > 0 ? x.var([0, 2, 3], { correction: 0 }).mul(n) : zeros([C], o);
      const row = cat([full([1], n, o), mean, m2]).reshape(1, K);
      const local = cat([zeros([pg.rank, K], o), row, zeros([R - pg.rank - 1, K], o)], 0);
      // Every rank's row, everywhere (a sum in which every entry has one non-zero term: exact).
      const gathered = noGrad(() => local.detach().clone());
      pg.allReduce([gathered]);
      // Values: gathered (own row: t + 0 = t, others: 0 + s = s, both exact); gradient: own row only.
      const table = local.add(noGrad(() => gathered.sub(local.detach())));
      pg.sumGradientAcrossRanks(table);

      const counts = gathered.select(1, 0); // no gradient needed: counts are not functions of x
      const N = counts.sum().item();
      if (N <= 1) {
        throw new RangeError(
          `SyncBatchNorm2d(${C}): training needs more than 1 value per channel over all ${R} ranks, got ${N} (input [${x.shape.join(', ')}] on rank ${pg.rank})`,
        );
      }
      const means = table.narrow(1, 1, C); // [R, C]
      const m2s = table.narrow(1, 1 + C, C);
      const weights = counts.reshape(R, 1);
      const gMean = means.mul(weights).sum(0).div(N);
      const gM2 = m2s.sum(0).add(means.sub(gMean).square().mul(weights).sum(0));
      const gVar = gM2.div(N); // biased: what the batch is normalised with

      const w = this.optionalParam('weight');
      const b = this.optionalParam('bias');
      const invstd = gVar.add(this.eps).rsqrt();
      const scale = (w ? invstd.mul(w) : invstd).reshape(1, C, 1, 1);
      let y = x.sub(gMean.reshape(1, C, 1, 1)).mul(scale);
      if (b) y = y.add(b.reshape(1, C, 1, 1));

      const runningMean = this.buffer('running_mean');
      const runningVar = this.buffer('running_var');
      if (this.trackRunningStats && runningMean && runningVar) {
        noGrad(() => {
          const m = this.momentum;
          runningMean.mul_(1 - m).add_(gMean.detach().to(runningMean.dtype), m);
          runningVar.mul_(1 - m).add_(
            gM2
              .detach()
              .div(N - 1)
              .to(runningVar.dtype),
            m,
          ); // unbiased, as PyTorch
        });
      }
      return y;
    });
    if (this.trackRunningStats) this.countBatch();
    return out;
  }
}

/**
 * Replaces every BatchNorm2d in `module`'s tree by a SyncBatchNorm2d over `processGroup` that
 * shares its tensors (as torch.nn.SyncBatchNorm.convert_sync_batchnorm). Returns the module, or
 * the new SyncBatchNorm2d when `module` itself is a BatchNorm2d. Call it before wrapping the
 * model for data-parallel training; optimizers already built keep working (same tensors).
 *
 * Parents hold their children twice: in the registry (names, state dicts) and in their own fields
 * (`this.bn1`, `Sequential.layers`, `[name, module]` lists) that forward uses. Both are updated:
 * the registry entry by re-registering under the same name (the order is kept), the fields by
 * swapping every reference the parent's own properties hold, directly or inside arrays, plain
 * objects and Maps.
 */
export function convertSyncBatchNorm(module: BatchNorm2d, processGroup: ProcessGroup | null): SyncBatchNorm2d;
export function convertSyncBatchNorm<M extends Module<any, any>>(module: M, processGroup: ProcessGroup | null): M;
export function convertSyncBatchNorm(module: Module<any, any>, processGroup: ProcessGroup | null): Module<any, any> {
  if (module instanceof BatchNorm2d && !(module instanceof SyncBatchNorm2d))
    return SyncBatchNorm2d.fromBatchNorm(module, processGroup);
  if (module instanceof SyncBatchNorm2d) {
    module.processGroup = processGroup;
    return module;
  }
  for (const [name, child] of [...module.namedChildren()]) {
    const converted = convertSyncBatchNorm(child, processGroup);
    if (converted === child) continue;
    module.registerModule(name, converted);
    swapReferences(module, child, converted);
  }
  return module;
}

/** Replaces `from` by `to` wherever `owner`'s own properties hold it (not inside other modules). */
function swapReferences(owner: object, from: Module<any, any>, to: Module<any, any>): void {
  const seen = new Set<object>();
  const visit = (value: unknown, replace: (v: unknown) => void): void => {
    if (value === from) {
      replace(to);
      return;
    }
    if (value === null || typeof value !== 'object' || value instanceof Module || seen.has(value)) return;
    seen.add(value);
    if (Array.isArray(value)) {
      value.forEach((v, i) => visit(v, (n) => (value[i] = n)));
    } else if (value instanceof Map) {
      for (const [k, v] of value) visit(v, (n) => value.set(k, n));
    } else if (Object.getPrototypeOf(value) === Object.prototype) {
      const rec = value as Record<string, unknown>;
      for (const k of Object.keys(rec)) visit(rec[k], (n) => (rec[k] = n));
    }
  };
  const props = owner as Record<string, unknown>;
  for (const key of Object.keys(props)) {
    const v = props[key];
    if (v === from) props[key] = to;
    else if (v !== null && typeof v === 'object' && !(v instanceof Module)) visit(v, (n) => (props[key] = n));
  }
}
