// torch.distributed for dermosynth: a c10d process group (gloo on CPU, NCCL on CUDA) joined
// through a TCPStore at host:port, its collectives, and the gradient reducer that all-reduces
// parameter gradients in buckets while backward runs. Every collective has a timeout: a worker
// whose peer died gets a DistributedError instead of hanging.
import { native, type NativeProcessGroup, type NativeReducer } from './native.js';
import type { Device, Tensor } from './tensor.js';

export type Backend = 'gloo' | 'nccl';
export type ReduceOp = 'sum' | 'max' | 'min';

/** A collective failed: a peer is gone, timed out, or could not be reached. */
export class DistributedError extends Error {
  override name = 'DistributedError';
}

export interface ProcessGroupOptions {
  /** 'gloo' (CPU tensors; the default) or 'nccl' (CUDA tensors; CUDA builds with NCCL). */
  backend?: Backend;
  /** Where rank 0 serves the rendezvous store (and, for gloo, which address peers use). */
  host: string;
  port: number;
  rank: number;
  worldSize: number;
  /** Timeout of the rendezvous and of every collective, in milliseconds (default 30 minutes). */
  timeoutMs?: number;
  /** gloo: the network interface to use (e.g. eth0) when the host name does not resolve to it. */
  ifname?: string;
  /** nccl: this rank's GPU. */
  device?: Device;
}

/** The backends this build of the addon has. */
export function distributedBackends(): Backend[] {
  return [...native.distributedBackends] as Backend[];
}

function rethrow(e: unknown, what: string): never {
  const message = e instanceof Error ? e.message : String(e);
  const why = /timed out|did not complete/i.test(message)
    ? ' (another worker did not take part within the timeout: it is stuck, gone, or far slower)'
    : /closed by peer|connection reset|broken pipe/i.test(message)
      ? ' (another worker is gone)'
      : '';
  throw new DistributedError(`${what}: ${message}${why}`);
}

export class ProcessGroup {
  readonly backend: Backend;
  readonly rank: number;
  readonly worldSize: number;
  readonly timeoutMs: number;
  private group: NativeProcessGroup | null;

  private constructor(
    group: NativeProcessGroup,
    o: Required<Pick<ProcessGroupOptions, 'backend' | 'rank' | 'worldSize' | 'timeoutMs'>>,
  ) {
    this.group = group;
    this.backend = o.backend;
    this.rank = o.rank;
    this.worldSize = o.worldSize;
    this.timeoutMs = o.timeoutMs;
  }

  /** Joins the group: returns once all worldSize ranks are in (or throws after the timeout). */
  static init(o: ProcessGroupOptions): ProcessGroup {
    const backend = o.backend ?? 'gloo';
    const have = distributedBackends();
    if (!have.includes(backend)) {
      throw new DistributedError(
        have.length === 0
          ? "distributed training needs the addon built with gloo: install gloo's headers (Debian: apt-get install libgloo-dev) and run npm run build:native"
          : `backend '${backend}' is not in this build (it has ${have.join(', ')}); ${backend === 'nccl' ? 'NCCL needs a CUDA libtorch and nccl.h at build time (see README.md)' : ''}`,
      );
    }
    if (!Number.isInteger(o.worldSize) || o.worldSize < 1)
      throw new RangeError(`worldSize must be an integer >= 1, got ${o.worldSize}`);
    if (!Number.isInteger(o.rank) || o.rank < 0 || o.rank >= o.worldSize)
      throw new RangeError(`rank must be an integer in [0, ${o.worldSize}), got ${o.rank}`);
    if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535)
      throw new RangeError(`port must be an integer in 1..65535, got ${o.port}`);
    const timeoutMs = o.timeoutMs ?? 30 * 60 * 1000;
    let group: NativeProcessGroup;
    try {
      group = native.initProcessGroup({
        backend,
        host: o.host,
        port: o.port,
        rank: o.rank,
        worldSize: o.worldSize,
        timeoutMs,
        ifname: o.ifname,
        device: o.device,
      });
    } catch (e) {
      rethrow(e, `joining the process group at ${o.host}:${o.port} as rank ${o.rank} of ${o.worldSize}`);
    }
    return new ProcessGroup(group, { backend, rank: o.rank, worldSize: o.worldSize, timeoutMs });
  }

  private native(): NativeProcessGroup {
    if (!this.group) throw new DistributedError('the process group is closed');
    return this.group;
  }

  /** Reduces each tensor over all ranks, in place (sum, max or min). */
  allReduce(tensors: Tensor[], op: ReduceOp = 'sum'): void {
    try {
      this.native().allreduce(
        tensors.map((t) => t.handle),
        op,
      );
    } catch (e) {
      rethrow(e, `rank ${this.rank}: all-reduce`);
    }
  }

  /** Copies rank `root`'s tensors into every rank's (same shapes and dtypes), in place. */
  broadcast(tensors: Tensor[], root = 0): void {
    try {
      this.native().broadcast(
        tensors.map((t) => t.handle),
        root,
      );
    } catch (e) {
      rethrow(e, `rank ${this.rank}: broadcast`);
    }
  }

  barrier(): void {
    try {
      this.native().barrier();
    } catch (e) {
      rethrow(e, `rank ${this.rank}: barrier`);
    }
  }

  /**
   * A reducer for these parameters: between prepare() and finish(), gradients backward produces
   * are all-reduced in buckets of about bucketBytes (25 MiB, the first at most 1 MiB, laid out again
   * in the order gradients came during the first backward, as PyTorch's DDP) as soon as a
   * bucket is full; finish() waits and leaves the mean over ranks in each parameter's .grad.
   */
  reducer(params: Tensor[], o: { bucketBytes?: number } = {}): GradientReducer {
    try {
      return new GradientReducer(
        this.native().reducer(
          params.map((p) => p.handle),
          o.bucketBytes ?? 25 * 2 ** 20,
        ),
        this.rank,
      );
    } catch (e) {
      rethrow(e, `rank ${this.rank}: reducer`);
    }
  }

  /** When backward reaches `t`, its gradient is summed over ranks before flowing on (SyncBatchNorm). */
  sumGradientAcrossRanks(t: Tensor): void {
    this.native().sumGradientAcrossRanks(t.handle);
  }

  /** Small messages through the rendezvous store (get waits for the key, up to the timeout). */
  storeSet(key: string, value: string): void {
    this.native().storeSet(key, value);
  }
  storeGet(key: string): string {
    try {
      return this.native().storeGet(key);
    } catch (e) {
      rethrow(e, `rank ${this.rank}: waiting for '${key}'`);
    }
  }

  close(): void {
    this.group?.close();
    this.group = null;
  }
}

export class GradientReducer {
  constructor(
    private readonly reducer: NativeReducer,
    private readonly rank: number,
  ) {}

  /** Arms the reducer for the next backward. */
  prepare(): void {
    this.reducer.prepare();
  }

  /** Sends what is left, waits, averages; returns the seconds waited after backward returned. */
  finish(): number {
    try {
      return this.reducer.finish();
    } catch (e) {
      rethrow(e, `rank ${this.rank}: gradient all-reduce`);
    }
  }

  /** Bucket sizes in bytes, in the order they are sent. */
  buckets(): number[] {
    return this.reducer.buckets();
  }

  dispose(): void {
    this.reducer.dispose();
  }
}
