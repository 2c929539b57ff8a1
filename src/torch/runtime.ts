// Process-wide settings: threads, live-tensor count, build information (devices: device.ts).
import { native } from './native.js';

export { cudaDeviceCount, cudaIsAvailable, checkDevice } from './device.js';
export { MALLOC_POLICY } from './native.js';

/** Intra-op threads libtorch uses (defaults to the machine's cores). */
export function getNumThreads(): number {
  return native.getNumThreads();
}

export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`setNumThreads: expected an integer >= 1, got ${n}`);
  native.setNumThreads(n);
}

/** Tensors whose native memory is still held (disposed and collected ones are not counted). */
export function liveTensors(): number {
  return native.liveTensors();
}

export function buildInfo(): { version: string; parallel: string; config: string; mkldnn: boolean } {
  return native.buildInfo();
}
