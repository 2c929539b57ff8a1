// Checkpoints: one safetensors file per step holding both networks, both optimizers and the RNG,
// with the rest of the training state as JSON metadata. Written atomically; the last K are kept.
// File names and finding a folder's checkpoints: src/run/checkpoints.ts.
//
// Tensors: <module>.<param> for each module (G and D, PyTorch names: load them in Python with
// load_state_dict; Gglobal for a coarse-to-fine generator's stand-alone global generator),
// <optimizer>.state.<i>.<slot> (optG, optD: Adam moments), rng.cpu (the CPU generator state).
// Metadata 'dermosynth.state': TrainState as JSON.
import { rm } from 'node:fs/promises';
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import type { Module } from '../nn/index.js';
import type { OptimizerState } from '../nn/optim/optimizer.js';
import type { LoaderState } from '../data/loader.js';
import { checkpointFile, listCheckpoints } from '../run/checkpoints.js';

export const CHECKPOINT_VERSION = 1;

export interface TrainState {
  version: number;
  step: number;
  loader: LoaderState;
  /** Each optimizer's configuration (hyper-parameters, step counts) by name. */
  optimizers: Record<string, OptimizerState['config']>;
  /** Consecutive skipped (non-finite) steps at the time of the checkpoint. */
  nanStreak: number;
  /** Seconds of training so far (for the ETA and the report). */
  seconds: number;
  /** Processes that trained up to this checkpoint (data parallel; absent: 1). */
  processes?: number;
  /** The fp16 loss scaler's state (absent: no loss scaling). */
  scaler?: { scale: number; growthTracker: number };
}

export interface Checkpointable {
  /** Modules by tensor-name prefix (e.g. G, D). */
  modules: Record<string, Module<any, any>>;
  /** Optimizers by tensor-name prefix (e.g. optG, optD). */
  optimizers: Record<string, { stateDict(): OptimizerState; loadStateDict(s: OptimizerState): void }>;
  /** Module prefixes a checkpoint may lack (Gema: --g-ema turned on for a run); restoring leaves them as they are. */
  optional?: string[];
}

/** Every module's state dict under its prefix: `G.front.1.weight`, `D.scale0...`. */
export function moduleTensors(nets: Pick<Checkpointable, 'modules'>): Map<string, Tensor> {
  const tensors = new Map<string, Tensor>();
  for (const [prefix, m] of Object.entries(nets.modules))
    for (const [k, t] of m.stateDict()) tensors.set(`${prefix}.${k}`, t);
  return tensors;
}

/**
 * Loads each module from the tensors under its prefix (the inverse of moduleTensors); returns the
 * optional modules that `tensors` has nothing for (left as they are).
 */
export function loadModuleTensors(
  nets: Pick<Checkpointable, 'modules' | 'optional'>,
  tensors: Map<string, Tensor>,
  source: string,
): string[] {
  const absent: string[] = [];
  for (const [prefix, m] of Object.entries(nets.modules)) {
    const own = withoutPrefix(tensors, prefix);
    if (own.size === 0 && nets.optional?.includes(prefix)) absent.push(prefix);
    else m.loadStateDict(own, { source });
  }
  return absent;
}

function withoutPrefix(tensors: Map<string, Tensor>, prefix: string): Map<string, Tensor> {
  return new Map(
    [...tensors].filter(([k]) => k.startsWith(`${prefix}.`)).map(([k, t]) => [k.slice(prefix.length + 1), t]),
  );
}

export async function saveCheckpoint(
  dir: string,
  nets: Checkpointable,
  state: Omit<TrainState, 'version' | 'optimizers'>,
  keepLast: number,
): Promise<string> {
  const tensors = moduleTensors(nets);
  const optimizers: TrainState['optimizers'] = {};
  for (const [prefix, o] of Object.entries(nets.optimizers)) {
    const sd = o.stateDict();
    for (const [k, t] of sd.tensors) tensors.set(`${prefix}.${k}`, t);
    optimizers[prefix] = sd.config;
  }
  const rng = torch.getRngState();
  tensors.set('rng.cpu', rng);
  const full: TrainState = { version: CHECKPOINT_VERSION, ...state, optimizers };
  const file = checkpointFile(dir, state.step);
  try {
    await torch.saveSafetensors(file, tensors, { 'dermosynth.state': JSON.stringify(full) });
  } finally {
    rng.dispose();
  }
  for (const old of (await listCheckpoints(dir)).slice(Math.max(1, keepLast))) await rm(old.file, { force: true });
  return file;
}

/** A restored checkpoint's state, and the optional modules it had no tensors for. */
export type RestoredState = TrainState & { absentModules: string[] };

/** Restores networks, optimizers and the RNG from a checkpoint; returns the rest of the state. */
export async function loadCheckpoint(file: string, nets: Checkpointable): Promise<RestoredState> {
  const { tensors, metadata } = await torch.loadSafetensors(file);
  try {
    return restoreCheckpoint(file, tensors, metadata, nets);
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}

/** Restores from a checkpoint's tensors and metadata already read (from `file`, named in errors). */
export function restoreCheckpoint(
  file: string,
  tensors: Map<string, Tensor>,
  metadata: Record<string, string>,
  nets: Checkpointable,
): RestoredState {
  {
    const raw = metadata['dermosynth.state'];
    if (!raw) throw new Error(`${file}: not a dermosynth checkpoint (no 'dermosynth.state' metadata)`);
    const state = JSON.parse(raw) as TrainState;
    if (state.version !== CHECKPOINT_VERSION)
      throw new Error(`${file}: checkpoint version ${state.version}, this dermosynth reads ${CHECKPOINT_VERSION}`);
    const absentModules = loadModuleTensors(nets, tensors, file);
    for (const [prefix, o] of Object.entries(nets.optimizers)) {
      const config = state.optimizers[prefix];
      if (!config) throw new Error(`${file}: the checkpoint has no state for optimizer ${prefix}`);
      o.loadStateDict({ tensors: withoutPrefix(tensors, prefix), config });
    }
    const rng = tensors.get('rng.cpu');
    if (!rng) throw new Error(`${file}: the checkpoint has no RNG state`);
    torch.setRngState(rng);
    return { ...state, absentModules };
  }
}
