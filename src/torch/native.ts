// Loads the native addon (native/build/Release/dermosynth_torch.node) and types its surface.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import os from 'node:os';
import { guardOnednn, type OnednnChoice } from './onednn_guard.js';

/**
 * A number naming one libtorch tensor reference held by the addon (until `dispose(handle)`).
 * Released or never-issued numbers are recognised: using one is an error, never another tensor.
 */
export type TensorHandle = number;

export interface GeneratorHandle {
  seed(): number;
  manualSeed(seed: number): void;
  getState(): TensorHandle;
  setState(state: TensorHandle): void;
}

/** What a boxed operator call accepts and returns. */
export type NativeArg = GeneratorHandle | number | boolean | string | null | undefined | readonly NativeArg[];
/** Tensors in results are handles (numbers); `opReturns` says which positions are tensors. */
export type NativeResult = number | boolean | string | null | undefined | NativeResult[];

export interface NativeAddon {
  opHandle(name: string, overload: string): number;
  callOp(id: number, args: readonly NativeArg[], discard?: boolean): NativeResult;
  opSchema(id: number): string;
  opReturns(id: number): string[];
  listOps(): string[];
  dispose(h: TensorHandle): boolean;
  /** Releases `h` once `owner` is garbage-collected (unless disposed before). */
  track(owner: object, h: TensorHandle): void;
  isLive(h: TensorHandle): boolean;
  sizes(h: TensorHandle): number[];
  strides(h: TensorHandle): number[];
  dtype(h: TensorHandle): number;
  device(h: TensorHandle): string;
  requiresGrad(h: TensorHandle): boolean;
  setRequiresGrad(h: TensorHandle, flag: boolean): void;
  grad(h: TensorHandle): TensorHandle | null;
  setGrad(h: TensorHandle, grad: TensorHandle | null): void;
  isLeaf(h: TensorHandle): boolean;
  isContiguous(h: TensorHandle): boolean;
  isChannelsLast(h: TensorHandle): boolean;
  item(h: TensorHandle): number | boolean;
  toBuffer(h: TensorHandle): ArrayBuffer;
  storageId(h: TensorHandle): string;
  fromBuffer(
    data: ArrayBufferView | ArrayBuffer,
    dtype: number,
    shape: readonly number[],
    device?: string,
  ): TensorHandle;
  backward(
    roots: TensorHandle[],
    grads: (TensorHandle | null)[],
    retainGraph: boolean,
    createGraph: boolean,
    inputs?: TensorHandle[],
  ): void;
  setGradEnabled(enabled: boolean): boolean;
  isGradEnabled(): boolean;
  enterInferenceMode(): void;
  exitInferenceMode(): void;
  manualSeed(seed: number): void;
  newGenerator(seed: number, device: string): GeneratorHandle;
  defaultGenerator(device: string): GeneratorHandle;
  getNumThreads(): number;
  setNumThreads(n: number): void;
  liveTensors(): number;
  cudaDeviceCount(): number;
  buildInfo(): { version: string; parallel: string; config: string; mkldnn: boolean };
  /** glibc's mallopt; false elsewhere or when refused. */
  mallopt(param: number, value: number): boolean;
  /** The oneDNN self-check (onednn_guard.ts): float32 and bf16 convolutions against float64 and float32. */
  onednnCheck(): { name: string; error: number; bound: number }[];
  /** Whether libtorch may use oneDNN. */
  setMkldnnEnabled(enabled: boolean): void;
  /** Turns libtorch's autocast on or off for a device type; returns [wasEnabled, previousDtypeCode]. */
  setAutocast(deviceType: 'cpu' | 'cuda', enabled: boolean, dtype: number): [boolean, number];
  /** Autocast region nesting; the outermost exit clears autocast's cast cache. */
  autocastEnter(): number;
  autocastExit(): number;
  /** c10d backends this build has ('gloo', and 'nccl' in CUDA builds with NCCL headers). */
  distributedBackends: string[];
  initProcessGroup(o: {
    backend: string;
    host: string;
    port: number;
    rank: number;
    worldSize: number;
    timeoutMs: number;
    ifname?: string;
    device?: string;
  }): NativeProcessGroup;
}

export interface NativeProcessGroup {
  allreduce(tensors: TensorHandle[], op: 'sum' | 'max' | 'min'): void;
  broadcast(tensors: TensorHandle[], root: number): void;
  barrier(): void;
  reducer(params: TensorHandle[], bucketBytes: number): NativeReducer;
  sumGradientAcrossRanks(t: TensorHandle): void;
  storeSet(key: string, value: string): void;
  storeGet(key: string): string;
  close(): void;
}

export interface NativeReducer {
  prepare(): void;
  /** Seconds spent waiting for the all-reduces after backward returned. */
  finish(): number;
  buckets(): number[];
  dispose(): void;
}

const ADDON_FILE = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'native',
  'build',
  'Release',
  'dermosynth_torch.node',
);

/**
 * Debian 13's libtorch links Open MPI, which brings UCX, whose memory hooks patch mmap and malloc
 * while the process is starting: loading the addon there segfaulted in 4 of 250 processes (inside
 * V8's allocator; 2 of the libtorch 2.6 suite's ~900 tests died so), and every load took twice as
 * long. dermosynth never uses MPI: the hooks are turned off before libtorch is loaded (measured
 * then: 0 crashes in 200 loads). A user's own UCX_MEM_* settings are kept.
 */
const UCX_DEFAULTS: Record<string, string> = {
  UCX_MEM_MMAP_HOOK_MODE: 'none',
  UCX_MEM_MALLOC_HOOKS: 'no',
  UCX_MEM_EVENTS: 'no',
};

function load(): NativeAddon {
  const file = path.resolve(ADDON_FILE);
  for (const [k, v] of Object.entries(UCX_DEFAULTS)) process.env[k] ??= v;
  const require = createRequire(import.meta.url);
  try {
    return require(file) as NativeAddon;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(
      `dermosynth: cannot load the native libtorch addon at ${file} (${reason}).\n` +
        'Build it with `npm ci` or `npm run build:native` (it needs libtorch: on Debian/Ubuntu ' +
        '`sudo apt-get install -y libtorch-dev libopenblas0-pthread`; see README.md).',
    );
  }
}

export const native: NativeAddon = load();

/** How oneDNN runs here: checked once per build and CPU before the first convolution (onednn_guard.ts). */
export const ONEDNN: OnednnChoice = guardOnednn(native, path.resolve(ADDON_FILE));

// Intra-op threads default to the machine's cores unless the user chose with OMP_NUM_THREADS.
if (!process.env.OMP_NUM_THREADS) native.setNumThreads(os.availableParallelism());

/**
 * The allocation policy for tensor memory (libtorch's CPU allocator is the C library's malloc).
 * glibc serves blocks above an adaptive threshold (128 KiB to 32 MiB) with fresh mmap'd pages and
 * unmaps them on free, so each large activation of a network page-faults its memory in again at
 * every step. dermosynth raises that threshold to 1 GiB: large blocks come from the heap and are
 * reused while they are free, and the heap's free top is still returned to the system (glibc's
 * trim), so RSS follows the work's peak rather than growing. Measured on the 2-core machine with
 * Python PyTorch on the same libtorch (a 256x256 generator forward, batch 4): 4.3 s with glibc's
 * default, 3.85 s with this policy; `dermosynth serve`'s RSS stays flat over bench:serve's rounds
 * (keeping the freed top as well made it 3-7% faster still, but RSS grew 27% there). The trim
 * threshold is raised too, to 128 MiB (glibc's stays at 128 KiB once the mmap threshold is set):
 * with oneDNN's GEMM-based convolutions (libtorch 2.6 capped at SSE4.1, onednn_guard.ts) each
 * convolution's scratch buffers were otherwise returned and page-faulted in again, and a 256x256
 * generator's forward and backward took 2.3 s against Python's 1.1; with 128 MiB, 1.01 s at the
 * same peak RSS (32 MiB: 1.73 s; 512 MiB: 1.03 s). Set DERMOSYNTH_MALLOC=system, or any of glibc's MALLOC_* / GLIBC_TUNABLES settings, to keep the C
 * library's policy.
 */
export const MALLOC_POLICY: 'large-blocks-in-heap' | 'system' = (() => {
  const own = Object.keys(process.env).some((k) => k.startsWith('MALLOC_') || k === 'GLIBC_TUNABLES');
  if (own || process.env.DERMOSYNTH_MALLOC === 'system') return 'system';
  const M_TRIM_THRESHOLD = -1,
    M_MMAP_THRESHOLD = -3;
  if (!native.mallopt(M_MMAP_THRESHOLD, 2 ** 30)) return 'system';
  native.mallopt(M_TRIM_THRESHOLD, 128 * 2 ** 20);
  return 'large-blocks-in-heap';
})();
