// Loads the native addon (native/build/Release/dermosynth_torch.node) and types its surface.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import os from 'node:os';

/** An owned reference to one libtorch tensor. */
export interface TensorHandle {
  dispose(): void;
  isDisposed(): boolean;
  sizes(): number[];
  strides(): number[];
  dtype(): number;
  device(): string;
  requiresGrad(): boolean;
  setRequiresGrad(flag: boolean): void;
  grad(): TensorHandle | null;
  setGrad(grad: TensorHandle | null): void;
  isLeaf(): boolean;
  isContiguous(): boolean;
  isChannelsLast(): boolean;
  item(): number | boolean;
  toBuffer(): ArrayBuffer;
  storageId(): string | number;
}

export interface GeneratorHandle {
  seed(): number;
  manualSeed(seed: number): void;
  getState(): TensorHandle;
  setState(state: TensorHandle): void;
}

/** What a boxed operator call accepts and returns. */
export type NativeArg =
  | TensorHandle
  | GeneratorHandle
  | number
  | boolean
  | string
  | null
  | undefined
  | readonly NativeArg[];
export type NativeResult = TensorHandle | number | boolean | string | null | undefined | NativeResult[];

export interface NativeAddon {
  opHandle(name: string, overload: string): number;
  callOp(id: number, args: readonly NativeArg[], discard?: boolean): NativeResult;
  opSchema(id: number): string;
  listOps(): string[];
  fromBuffer(data: ArrayBufferView | ArrayBuffer, dtype: number, shape: readonly number[], device?: string): TensorHandle;
  backward(roots: TensorHandle[], grads: (TensorHandle | null)[], retainGraph: boolean, createGraph: boolean): void;
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
}

function load(): NativeAddon {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const root = path.resolve(here, '..', '..');
  const file = path.join(root, 'native', 'build', 'Release', 'dermosynth_torch.node');
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

// Intra-op threads default to the machine's cores unless the user chose with OMP_NUM_THREADS.
if (!process.env.OMP_NUM_THREADS) native.setNumThreads(os.availableParallelism());
