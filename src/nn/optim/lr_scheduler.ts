// Learning-rate schedules: a factor of each group's initial rate as a function of the epoch
// (or step) count, advanced by step(). Their state is one number, saved for resume.
import type { Optimizer } from './optimizer.js';

export abstract class LRScheduler {
  /** How many times step() has been called. */
  lastEpoch = 0;
  readonly baseLrs: number[];

  constructor(readonly optimizer: Optimizer<{ lr: number }>) {
    this.baseLrs = optimizer.groups.map((g) => g.hyper.lr);
    // No apply() here: subclass fields are not set yet during super() (factor(0) would be NaN),
    // and factor(0) is 1 for every schedule, so the initial rates already hold.
  }

  /** The multiplier of the initial learning rate at `epoch`. */
  abstract factor(epoch: number): number;

  step(): void {
    this.lastEpoch++;
    this.apply();
  }
  get lr(): number[] {
    return this.optimizer.groups.map((g) => g.hyper.lr);
  }
  private apply(): void {
    const f = this.factor(this.lastEpoch);
    this.optimizer.groups.forEach((g, i) => (g.hyper.lr = this.baseLrs[i]! * f));
  }
  stateDict(): { lastEpoch: number; baseLrs: number[] } {
    return { lastEpoch: this.lastEpoch, baseLrs: [...this.baseLrs] };
  }
  loadStateDict(s: { lastEpoch: number; baseLrs: number[] }): void {
    if (s.baseLrs.length !== this.baseLrs.length)
      throw new Error(`loading scheduler state: ${s.baseLrs.length} groups saved, ${this.baseLrs.length} present`);
    this.lastEpoch = s.lastEpoch;
    s.baseLrs.forEach((lr, i) => (this.baseLrs[i] = lr));
    this.apply();
  }
}

/**
 * pix2pixHD's schedule: the initial rate for `constant` epochs, then a linear decay to zero over
 * `decay` epochs (lr = lr0 * (1 - (epoch - constant) / decay)).
 */
export class LinearDecayLR extends LRScheduler {
  constructor(
    optimizer: Optimizer<{ lr: number }>,
    readonly constant: number,
    readonly decay: number,
  ) {
    if (!(constant >= 0) || !(decay >= 0))
      throw new RangeError(`LinearDecayLR: epoch counts must be >= 0, got ${constant} and ${decay}`);
    super(optimizer);
  }
  factor(epoch: number): number {
    if (epoch <= this.constant) return 1;
    if (this.decay === 0) return 0;
    return Math.max(0, 1 - (epoch - this.constant) / this.decay);
  }
}

/** Multiplies the rate by gamma every stepSize epochs, as torch.optim.lr_scheduler.StepLR. */
export class StepLR extends LRScheduler {
  constructor(
    optimizer: Optimizer<{ lr: number }>,
    readonly stepSize: number,
    readonly gamma = 0.1,
  ) {
    if (!(stepSize >= 1)) throw new RangeError(`StepLR: stepSize must be >= 1, got ${stepSize}`);
    super(optimizer);
  }
  factor(epoch: number): number {
    return this.gamma ** Math.floor(epoch / this.stepSize);
  }
}

/** Cosine annealing from the initial rate to etaMin over tMax epochs (closed form). */
export class CosineAnnealingLR extends LRScheduler {
  constructor(
    optimizer: Optimizer<{ lr: number }>,
    readonly tMax: number,
    readonly etaMinFactor = 0,
  ) {
    if (!(tMax >= 1)) throw new RangeError(`CosineAnnealingLR: tMax must be >= 1, got ${tMax}`);
    super(optimizer);
  }
  factor(epoch: number): number {
    const e = Math.min(epoch, this.tMax);
    return this.etaMinFactor + ((1 - this.etaMinFactor) * (1 + Math.cos((Math.PI * e) / this.tMax))) / 2;
  }
}
