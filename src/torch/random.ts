// Random numbers: a global seed, per-call generators, and saveable states for an exact resume.
import { native, type GeneratorHandle } from './native.js';
import { Tensor } from './tensor.js';
import type { Device } from './tensor.js';

/** Seeds the global generators (CPU and every CUDA device), as `torch.manual_seed`. */
export function manualSeed(seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new RangeError(`manualSeed: seed must be a non-negative integer, got ${seed}`);
  native.manualSeed(seed);
}

/** An independent random stream, as `torch.Generator(device).manual_seed(seed)`. */
export class Generator {
  readonly handle: GeneratorHandle;
  constructor(seed: number, device: Device = 'cpu') {
    if (!Number.isSafeInteger(seed) || seed < 0)
      throw new RangeError(`Generator: seed must be a non-negative integer, got ${seed}`);
    this.handle = native.newGenerator(seed, device);
  }
  /** The global generator of a device (changing its state changes the global stream). */
  static default(device: Device = 'cpu'): Generator {
    const g = Object.create(Generator.prototype) as { handle: GeneratorHandle };
    g.handle = native.defaultGenerator(device);
    return g as Generator;
  }
  get seed(): number {
    return this.handle.seed();
  }
  manualSeed(seed: number): this {
    if (!Number.isSafeInteger(seed) || seed < 0)
      throw new RangeError(`Generator.manualSeed: seed must be a non-negative integer, got ${seed}`);
    this.handle.manualSeed(seed);
    return this;
  }
  /** The full state as a uint8 tensor (save it in a checkpoint). */
  getState(): Tensor {
    return new Tensor(this.handle.getState());
  }
  setState(state: Tensor): void {
    this.handle.setState(state.handle);
  }
}

/** The global CPU generator's state, as `torch.get_rng_state()`. */
export function getRngState(): Tensor {
  return Generator.default('cpu').getState();
}

/** Restores the global CPU generator's state, as `torch.set_rng_state()`. */
export function setRngState(state: Tensor): void {
  Generator.default('cpu').setState(state);
}
