// The safetensors format (https://github.com/huggingface/safetensors), read and written in
// TypeScript: an 8-byte little-endian header length, a JSON header naming each tensor's dtype,
// shape and byte range, then the raw little-endian data. Nothing is ever executed or unpickled.
import fs from 'node:fs/promises';
import { writeFileAtomic } from '../util/atomic_file.js';
import { ELEMENT_SIZE, type DType } from './dtype.js';
import { fromBytes } from './creation.js';
import { Tensor } from './tensor.js';

const TO_FILE: Record<DType, string> = {
  float64: 'F64',
  float32: 'F32',
  float16: 'F16',
  bfloat16: 'BF16',
  int64: 'I64',
  int32: 'I32',
  int16: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};
const FROM_FILE = new Map(Object.entries(TO_FILE).map(([k, v]) => [v, k as DType]));

/** Largest header accepted, as the reference implementation (100 MB). */
const MAX_HEADER = 100_000_000;

export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

class SafetensorsError extends Error {
  constructor(source: string, message: string) {
    super(`${source}: not a valid safetensors file: ${message}`);
    this.name = 'SafetensorsError';
  }
}

interface Entry {
  name: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

function parseHeader(
  bytes: Uint8Array,
  source: string,
): { entries: Entry[]; metadata: Record<string, string>; dataStart: number } {
  if (bytes.byteLength < 8)
    throw new SafetensorsError(source, `file is ${bytes.byteLength} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER) || Number(n) > bytes.byteLength - 8) {
    throw new SafetensorsError(
      source,
      `header length ${n} exceeds the file (${bytes.byteLength} bytes) or the 100 MB limit`,
    );
  }
  const headerLength = Number(n);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch (err) {
    throw new SafetensorsError(source, `header is not UTF-8 JSON (${(err as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header))
    throw new SafetensorsError(source, 'header is not a JSON object');
  const dataStart = 8 + headerLength;
  const dataLength = bytes.byteLength - dataStart;
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (value === null || typeof value !== 'object' || Array.isArray(value))
        throw new SafetensorsError(source, '__metadata__ is not an object');
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') throw new SafetensorsError(source, `__metadata__.${k} is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const info = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = typeof info?.dtype === 'string' ? FROM_FILE.get(info.dtype) : undefined;
    if (!dtype)
      throw new SafetensorsError(source, `tensor '${name}' has unsupported dtype ${JSON.stringify(info?.dtype)}`);
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((s) => Number.isSafeInteger(s) && s >= 0)) {
      throw new SafetensorsError(source, `tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
    }
    const offsets = info.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw new SafetensorsError(source, `tensor '${name}' has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    const expected = (shape as number[]).reduce((a, b) => a * b, 1) * ELEMENT_SIZE[dtype];
    if (end < begin || end - begin !== expected) {
      throw new SafetensorsError(
        source,
        `tensor '${name}' spans ${end - begin} bytes but shape [${shape.join(', ')}] of ${dtype} needs ${expected}`,
      );
    }
    if (end > dataLength)
      throw new SafetensorsError(
        source,
        `tensor '${name}' ends at byte ${end}, past the data (${dataLength} bytes); the file is truncated`,
      );
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }
  // The data must be covered exactly once, in order, as the reference implementation requires.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const e of sorted) {
    if (e.begin !== at)
      throw new SafetensorsError(
        source,
        `tensor '${e.name}' starts at byte ${e.begin}, expected ${at} (overlapping or gapped data)`,
      );
    at = e.end;
  }
  if (at !== dataLength) throw new SafetensorsError(source, `the tensors cover ${at} of ${dataLength} data bytes`);
  return { entries, metadata, dataStart };
}

/** Parses safetensors bytes into tensors (copies; the bytes can be dropped afterwards). */
export function readSafetensors(bytes: Uint8Array, source = 'safetensors data'): SafetensorsFile {
  const { entries, metadata, dataStart } = parseHeader(bytes, source);
  const tensors = new Map<string, Tensor>();
  try {
    for (const e of entries) {
      tensors.set(e.name, fromBytes(bytes.subarray(dataStart + e.begin, dataStart + e.end), e.dtype, e.shape));
    }
  } catch (err) {
    for (const t of tensors.values()) t.dispose();
    throw err;
  }
  return { tensors, metadata };
}

/** The reference implementation's dtype enum order: files list tensors by it, descending. */
const DTYPE_RANK = [
  'BOOL',
  'U8',
  'I8',
  'F8_E5M2',
  'F8_E4M3',
  'I16',
  'U16',
  'F16',
  'BF16',
  'I32',
  'U32',
  'F32',
  'F64',
  'I64',
  'U64',
];

/**
 * Serialises tensors as safetensors, byte for byte as the reference implementation (which
 * Python's `safetensors.torch.save_file` calls) lays them out: `__metadata__` first, tensors
 * ordered by dtype (its enum order, descending) then by name (UTF-8 bytes), compact JSON padded
 * with spaces to 8 bytes, data contiguous.
 */
export function writeSafetensors(
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const list = [...(tensors instanceof Map ? tensors.entries() : Object.entries(tensors))];
  for (const [name, t] of list) {
    if (name === '__metadata__')
      throw new TypeError("writeSafetensors: '__metadata__' is reserved and cannot name a tensor");
    if (!(t instanceof Tensor)) throw new TypeError(`writeSafetensors: '${name}' is not a Tensor`);
  }
  const rank = (t: Tensor): number => DTYPE_RANK.indexOf(TO_FILE[t.dtype]);
  list.sort(([an, a], [bn, b]) => rank(b) - rank(a) || Buffer.compare(Buffer.from(an), Buffer.from(bn)));
  // Built as text, not as a JS object, so that integer-like names keep their place.
  const fields: string[] = [];
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new TypeError(`writeSafetensors: metadata '${k}' must be a string`);
    }
    fields.push(`"__metadata__":${JSON.stringify(metadata)}`);
  }
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of list) {
    const blob = t.bytes();
    fields.push(
      `${JSON.stringify(name)}:${JSON.stringify({ dtype: TO_FILE[t.dtype], shape: t.shape, data_offsets: [offset, offset + blob.byteLength] })}`,
    );
    blobs.push(blob);
    offset += blob.byteLength;
  }
  const raw = new TextEncoder().encode(`{${fields.join(',')}}`);
  const headerLength = Math.ceil(raw.byteLength / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(raw, 8);
  out.fill(0x20, 8 + raw.byteLength, 8 + headerLength);
  let at = 8 + headerLength;
  for (const b of blobs) {
    out.set(b, at);
    at += b.byteLength;
  }
  return out;
}

/** Reads a .safetensors file; errors name the file. */
export async function loadSafetensors(file: string): Promise<SafetensorsFile> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (err) {
    throw new Error(
      `cannot read safetensors file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  return readSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), file);
}

/** Writes a .safetensors file atomically (temporary file, fsync, rename): never half a file. */
export async function saveSafetensors(
  file: string,
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(file, writeSafetensors(tensors, metadata));
}
