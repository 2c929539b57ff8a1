// Devices: names, and a check against what this libtorch build has, with a clear error.
import { native } from './native.js';

export type Device = 'cpu' | 'cuda' | `cuda:${number}`;

export function isDevice(s: string): s is Device {
  return s === 'cpu' || s === 'cuda' || /^cuda:\d+$/.test(s);
}

export function cudaDeviceCount(): number {
  return native.cudaDeviceCount();
}

export function cudaIsAvailable(): boolean {
  return native.cudaDeviceCount() > 0;
}

/** A device this libtorch cannot use (no CUDA, no such GPU): the user's to fix. */
export class DeviceError extends Error {
  override name = 'DeviceError';
}

/** Checks a device name against what this libtorch has; the error says how to get CUDA. */
export function checkDevice(device: string): Device {
  if (device === 'cpu') return device;
  const m = /^cuda(?::(\d+))?$/.exec(device);
  if (!m) throw new TypeError(`unknown device '${device}' (expected 'cpu', 'cuda' or 'cuda:N')`);
  const count = cudaDeviceCount();
  if (count === 0) {
    throw new DeviceError(
      `device '${device}' asked for, but this libtorch has no CUDA (or sees no GPU). Rebuild the addon against a CUDA ` +
        'libtorch with LIBTORCH=/path/to/libtorch npm run build:native (see README.md).',
    );
  }
  const index = m[1] === undefined ? 0 : Number(m[1]);
  if (index >= count) throw new RangeError(`device '${device}': only ${count} CUDA device(s) are visible`);
  return device as Device;
}
