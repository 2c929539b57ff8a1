// Data-parallel training's agreements between processes: which worker is which, the state rank 0
// shares with the others (weights at the start, a whole checkpoint on resume), and the per-step
// decisions every rank must take alike (skip a non-finite step, stop on a signal).
import * as torch from '../torch/index.js';
import type { DType, Tensor } from '../torch/index.js';
import type { ProcessGroup } from '../torch/distributed.js';

/** A worker's place in a data-parallel run. */
export interface DataParallel {
  pg: ProcessGroup;
  /** This process's rank among all workers (0 writes checkpoints, logs and samples). */
  rank: number;
  worldSize: number;
  /** Rank on this machine (picks the GPU). */
  localRank: number;
}

/** Named tensors and string metadata, as a safetensors file holds them. */
export interface SharedState {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

interface Manifest {
  present: boolean;
  metadata: Record<string, string>;
  tensors: { name: string; dtype: DType; shape: number[] }[];
}

let shareCount = 0;

/**
 * Rank 0's `state` on every rank: the names, shapes and metadata go through the rendezvous store,
 * the tensors by broadcast. Rank 0 passes its state (or null: nothing to share, every rank gets
 * null); the others pass null and receive new tensors (theirs to dispose). Collective: every rank
 * calls it at the same point.
 */
export function shareFromRankZero(
  dp: DataParallel,
  state: SharedState | null,
  device: torch.Device = 'cpu',
): SharedState | null {
  const key = `dermosynth/share/${shareCount++}`;
  const { pg } = dp;
  let manifest: Manifest;
  if (dp.rank === 0) {
    manifest = {
      present: state !== null,
      metadata: state?.metadata ?? {},
      tensors: state ? [...state.tensors].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape })) : [],
    };
    pg.storeSet(key, JSON.stringify(manifest));
  } else {
    manifest = JSON.parse(pg.storeGet(key)) as Manifest;
  }
  if (!manifest.present) return null;
  // NCCL moves device memory, gloo host memory.
  const commDevice: torch.Device = pg.backend === 'nccl' ? device : 'cpu';
  const received = new Map<string, Tensor>();
  for (const { name, dtype, shape } of manifest.tensors) {
    const t =
      dp.rank === 0
        ? state!.tensors.get(name)!.to({ device: commDevice, copy: true }).contiguous()
        : torch.empty(shape, { dtype, device: commDevice });
    pg.broadcast([t], 0);
    received.set(name, t);
  }
  return { tensors: received, metadata: manifest.metadata };
}

/** True on every rank when `flag` is true on any (one tiny all-reduce). */
export function anyRank(dp: DataParallel, flag: boolean): boolean {
  const t = torch.tensor([flag ? 1 : 0], { dtype: 'float32' });
  try {
    dp.pg.allReduce([t], 'max');
    return t.item() > 0;
  } finally {
    t.dispose();
  }
}

/** The mean over ranks of each number (non-finite values stay non-finite). */
export function meanOverRanks(dp: DataParallel, values: number[]): number[] {
  if (values.length === 0) return [];
  const t = torch.tensor(values, { dtype: 'float64' });
  try {
    dp.pg.allReduce([t], 'sum');
    return t.toArray().map((v) => v / dp.worldSize);
  } finally {
    t.dispose();
  }
}
