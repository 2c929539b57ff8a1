// Dynamic loss scaling for float16 training, as torch.cuda.amp.GradScaler: the loss is multiplied
// by a large scale before backward (so that small float16 gradients do not flush to zero), the
// gradients are divided by it again before the optimizer step, a step whose gradients hold an
// inf or NaN is skipped and the scale halved, and after `growthInterval` clean steps in a row the
// scale doubles. Per step:
//   scaler.scale(loss).backward();  scaler.step(optimizer);  scaler.update();
// (scaler.unscale(optimizer) first when the gradients are to be clipped or inspected.)
import { noGrad, ops, stack, tidy, type Tensor } from '../../torch/index.js';
import type { Optimizer } from './optimizer.js';

export interface GradScalerOptions {
  /** The first scale (65536). */
  initScale: number;
  /** Multiplies the scale after growthInterval steps without inf/NaN gradients (2). */
  growthFactor: number;
  /** Multiplies the scale after a step with inf/NaN gradients (0.5). */
  backoffFactor: number;
  /** Clean steps in a row before the scale grows (2000). */
  growthInterval: number;
  /** false: every method passes through (scale(loss) is loss, step() just steps). */
  enabled: boolean;
}

/** The scaler's state as plain numbers (for a checkpoint's JSON). */
export interface GradScalerState {
  scale: number;
  /** Clean steps in a row since the scale last changed. */
  growthTracker: number;
}

type AnyOptimizer = Optimizer<{ lr: number }>;

/** Where an optimizer is in the current step: its gradients unscaled, and whether any was inf/NaN. */
interface OptimizerStage {
  stage: 'unscaled' | 'stepped';
  foundInf: boolean;
}

export class GradScaler {
  readonly options: Readonly<GradScalerOptions>;
  private scaleValue: number;
  private growthTracker = 0;
  private readonly perOptimizer = new Map<AnyOptimizer, OptimizerStage>();

  constructor(o: Partial<GradScalerOptions> = {}) {
    const opts: GradScalerOptions = {
      initScale: 2 ** 16,
      growthFactor: 2,
      backoffFactor: 0.5,
      growthInterval: 2000,
      enabled: true,
      ...o,
    };
    if (!(opts.initScale > 0) || !Number.isFinite(Math.fround(opts.initScale)))
      throw new RangeError(`GradScaler: initScale must be a positive float32 number, got ${opts.initScale}`);
    if (!(opts.growthFactor > 1))
      throw new RangeError(`GradScaler: growthFactor must be > 1, got ${opts.growthFactor}`);
    if (!(opts.backoffFactor > 0 && opts.backoffFactor < 1))
      throw new RangeError(`GradScaler: backoffFactor must be in (0, 1), got ${opts.backoffFactor}`);
    if (!Number.isInteger(opts.growthInterval) || opts.growthInterval < 1)
      throw new RangeError(`GradScaler: growthInterval must be a positive integer, got ${opts.growthInterval}`);
    this.options = Object.freeze(opts);
    // PyTorch keeps the scale in a float32 tensor: every value here is rounded as it would be.
    this.scaleValue = Math.fround(opts.initScale);
  }

  get enabled(): boolean {
    return this.options.enabled;
  }

  /** The current scale; 1 when disabled. */
  getScale(): number {
    return this.enabled ? this.scaleValue : 1;
  }

  /** Clean steps in a row since the scale last changed. */
  getGrowthTracker(): number {
    return this.growthTracker;
  }

  /**
   * The loss times the scale, to call backward on. A float16 or bfloat16 loss is scaled in float32
   * (65536 times a float16 loss would overflow). Disabled: the loss itself.
   */
  scale(loss: Tensor): Tensor {
    if (!this.enabled) return loss;
    const lower = loss.dtype === 'float16' || loss.dtype === 'bfloat16';
    if (!lower) return loss.mul(this.scaleValue);
    return tidy(() => loss.to('float32').mul(this.scaleValue));
  }

  /**
   * Divides the optimizer's gradients by the scale in place (to clip or inspect them before the
   * step) and records whether any of them holds an inf or NaN. Once per optimizer per step, before
   * step(); step() calls it when it was not called. One device-to-host read.
   */
  unscale(optimizer: AnyOptimizer): void {
    if (!this.enabled) return;
    const stage = this.perOptimizer.get(optimizer);
    if (stage?.stage === 'unscaled')
      throw new Error('GradScaler.unscale: already called on this optimizer since the last update()');
    if (stage?.stage === 'stepped')
      throw new Error('GradScaler.unscale: called after step() on this optimizer; call update() first');
    // As PyTorch: the reciprocal is taken in double precision, then rounded to float32.
    const invScale = Math.fround(1 / this.scaleValue);
    const foundInf = noGrad(() =>
      tidy(() => {
        const grads: Tensor[] = [];
        for (const group of optimizer.groups) {
          for (const p of group.params) {
            const g = p.grad;
            if (!g) continue;
            if (g.dtype === 'float16') {
              throw new TypeError(
                `GradScaler.unscale: a parameter's gradient is float16 (${p.toString()}); keep parameters in float32 (autocast casts them per op)`,
              );
            }
            grads.push(g);
          }
        }
        if (grads.length === 0) {
          throw new Error(
            "GradScaler.unscale: none of the optimizer's parameters has a gradient; call backward on scaler.scale(loss) first",
          );
        }
        // Checked before unscaling, as PyTorch (a tiny scale's large reciprocal must not overflow the check).
        const finite =
          stack(grads.map((g) => ops.isfinite(g).all()))
            .all()
            .item() === 1;
        for (const g of grads) g.mul_(invScale);
        return !finite;
      }),
    );
    this.perOptimizer.set(optimizer, { stage: 'unscaled', foundInf });
  }

  /**
   * Steps the optimizer unless its (unscaled) gradients hold an inf or NaN; returns whether it
   * stepped. Disabled: always steps.
   */
  step(optimizer: AnyOptimizer): boolean {
    if (!this.enabled) {
      optimizer.step();
      return true;
    }
    if (this.perOptimizer.get(optimizer)?.stage === 'stepped')
      throw new Error('GradScaler.step: already called on this optimizer since the last update()');
    if (!this.perOptimizer.has(optimizer)) this.unscale(optimizer);
    const state = this.perOptimizer.get(optimizer)!;
    const stepped = !state.foundInf;
    if (stepped) optimizer.step();
    state.stage = 'stepped';
    return stepped;
  }

  /**
   * Ends the step: halves (backoffFactor) the scale and resets the count of clean steps when any
   * optimizer unscaled since the last update found an inf or NaN; otherwise counts a clean step and
   * grows (growthFactor) the scale when the count reaches growthInterval. `newScale` sets the scale
   * instead. Disabled: nothing.
   */
  update(newScale?: number): void {
    if (!this.enabled) return;
    if (newScale !== undefined) {
      if (!(newScale > 0) || !Number.isFinite(Math.fround(newScale)))
        throw new RangeError(`GradScaler.update: newScale must be a positive float32 number, got ${newScale}`);
      this.scaleValue = Math.fround(newScale);
    } else {
      if (this.perOptimizer.size === 0)
        throw new Error(
          'GradScaler.update: no optimizer was unscaled or stepped since the last update(); call step(optimizer) first',
        );
      const foundInf = [...this.perOptimizer.values()].some((s) => s.foundInf);
      if (foundInf) {
        this.scaleValue = Math.fround(this.scaleValue * this.options.backoffFactor);
        this.growthTracker = 0;
      } else {
        const clean = this.growthTracker + 1;
        if (clean === this.options.growthInterval) {
          // A scale that would overflow float32 stays where it is.
          const grown = Math.fround(this.scaleValue * this.options.growthFactor);
          if (Number.isFinite(grown)) this.scaleValue = grown;
          this.growthTracker = 0;
        } else {
          this.growthTracker = clean;
        }
      }
    }
    this.perOptimizer.clear();
  }

  stateDict(): GradScalerState {
    return { scale: this.scaleValue, growthTracker: this.growthTracker };
  }

  /** Restores a state from stateDict (e.g. read back from a checkpoint's JSON). */
  loadStateDict(s: GradScalerState): void {
    const scale = (s as Partial<GradScalerState> | null)?.scale;
    const tracker = (s as Partial<GradScalerState> | null)?.growthTracker;
    if (typeof scale !== 'number' || !(scale > 0) || !Number.isFinite(Math.fround(scale))) {
      throw new RangeError(
        `GradScaler.loadStateDict: scale must be a positive float32 number, got ${JSON.stringify(scale)}`,
      );
    }
    if (typeof tracker !== 'number' || !Number.isInteger(tracker) || tracker < 0) {
      throw new RangeError(
        `GradScaler.loadStateDict: growthTracker must be an integer >= 0, got ${JSON.stringify(tracker)}`,
      );
    }
    this.scaleValue = Math.fround(scale);
    this.growthTracker = tracker;
    this.perOptimizer.clear();
  }
}
