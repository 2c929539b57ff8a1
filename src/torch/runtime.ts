// Process-wide settings: threads, devices, live-tensor count, build information.
import { native } from './native.js';
import type { Device } from './tensor.js';

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

export function cudaDeviceCount(): number {
  return native.cudaDeviceCount();
}

export function cudaIsAvailable(): boolean {
  return native.cudaDeviceCount() > 0;
}

/** Checks a device name against what this libtorch has, with a clear error. */
export function checkDevice(device: string): Device {
  if (device === 'cpu') return device;
  const m = /^cuda(?::(\d+))?$/.exec(device);
  if (!m) throw new TypeError(`unknown device '${device}' (expected 'cpu', 'cuda' or 'cuda:N')`);
  const count = cudaDeviceCount();
  if (count === 0) {
    throw new Error(
      `device '${device}' asked for, but this libtorch has no CUDA (or sees no GPU). Rebuild the addon against a CUDA ` +
        'libtorch with LIBTORCH=/path/to/libtorch npm run build:native (see README.md).',
    );
  }
  const index = m[1] === undefined ? 0 : Number(m[1]);
  if (index >= count) throw new RangeError(`device '${device}': only ${count} CUDA device(s) are visible`);
  return device as Device;
}

export function buildInfo(): { version: string; parallel: string; config: string; mkldnn: boolean } {
  return native.buildInfo();
}
