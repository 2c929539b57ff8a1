// Request validation for the studio's API: bodies read under a size limit, content types, masks
// (PNG or run-length encoded) checked and brought to the run's size, diagnosis and seed. Every
// failure is a RequestError carrying the HTTP status and a message that says what to send instead.
import type { IncomingMessage } from 'node:http';
import { checkMask, ImageError, pngChannels, resizeMaskTo, type Fit } from '../data/image_io.js';
import { MASK_THRESHOLD } from '../data/label_map.js';

export class RequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'RequestError';
  }
}

/** The largest mask side accepted (a PNG's header is read before it is decoded). */
export const MAX_MASK_SIDE = 4096;
/** Masks with more pixels than this fraction far from 0 and 255 (values 33..223) are refused. */
export const MAX_AMBIGUOUS = 0.01;
/** Seeds are 31-bit non-negative integers, as everywhere in dermosynth. */
export const MAX_SEED = 2 ** 31 - 1;

/**
 * Reads a request body up to `limit` bytes. A declared Content-Length over the limit is refused
 * before anything is read; a body that grows past it while streaming is refused as soon as it does.
 * Either way the rest of the body is discarded (not buffered) so that the client reads the answer.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () =>
    new RequestError(
      413,
      `request body too large: the limit is ${limit} bytes (start the server with a larger --max-body to accept more)`,
    );
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    req.resume();
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        reject(tooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks, size));
    });
    req.on('error', (e) => reject(new RequestError(400, `could not read the request body (${e.message})`)));
  });
}

/** The media type of a request without parameters, lower case ('' when absent). */
export function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

export function requireMediaType(req: IncomingMessage, allowed: readonly string[]): string {
  const t = mediaType(req);
  if (!allowed.includes(t)) {
    throw new RequestError(
      415,
      `unsupported Content-Type '${t || '(none)'}': send ${allowed.map((a) => `'${a}'`).join(' or ')}`,
    );
  }
  return t;
}

export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new RequestError(400, `the body is not valid JSON (${(e as Error).message})`);
  }
}

/** A diagnosis by name (as in GET /api/run's classes); returns its index. */
export function parseClass(value: unknown, classes: readonly string[]): number {
  if (typeof value !== 'string' || value === '')
    throw new RequestError(400, `missing 'class': one of ${classes.join(', ')}`);
  const i = classes.indexOf(value);
  if (i < 0) throw new RequestError(400, `unknown class '${value.slice(0, 64)}': this run knows ${classes.join(', ')}`);
  return i;
}

/** A seed: absent means 0; a string (query parameter) or a number, an integer from 0 to 2^31-1. */
export function parseSeed(value: unknown): number {
  if (value === undefined || value === null || value === '') return 0;
  const n = typeof value === 'string' && /^\d{1,10}$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > MAX_SEED) {
    throw new RequestError(
      400,
      `'seed' must be an integer from 0 to ${MAX_SEED}, got ${JSON.stringify(value).slice(0, 64)}`,
    );
  }
  return n;
}

/** A yes/no flag: absent, false, 'false', '0' -> false; true, 'true', '1' -> true. */
export function parseFlag(value: unknown, name: string): boolean {
  if (value === undefined || value === null || value === false || value === 'false' || value === '0' || value === '')
    return false;
  if (value === true || value === 'true' || value === '1') return true;
  throw new RequestError(400, `'${name}' must be true or false, got ${JSON.stringify(value).slice(0, 64)}`);
}

/** A mask brought to the run's size: one byte per pixel, 0 or 255. */
export interface RunMask {
  pixels: Uint8Array;
  width: number;
  height: number;
  /** Set when the mask had another size and was resized (nearest). */
  notice: string | null;
}

export interface MaskTarget {
  width: number;
  height: number;
  /** How another aspect ratio reaches the run's size: the run's own --fit. */
  fit: Fit;
}

/**
 * Checks a PNG mask: a PNG of at most MAX_MASK_SIDE per side, one channel (or identical colour
 * channels), values 0/255 (up to MAX_AMBIGUOUS in between, thresholded at 128), not empty; resizes
 * it to the run's size (nearest) when it has another.
 */
export async function maskFromPng(bytes: Uint8Array, target: MaskTarget): Promise<RunMask> {
  if (pngChannels(bytes) === null) {
    throw new RequestError(
      400,
      'the mask is not a PNG (no PNG signature and IHDR header); send a single-channel 0/255 PNG',
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const w = view.getUint32(16);
  const h = view.getUint32(20);
  if (w === 0 || h === 0 || w > MAX_MASK_SIDE || h > MAX_MASK_SIDE) {
    throw new RequestError(
      422,
      `the mask is ${w}x${h}; masks must be from 1x1 to ${MAX_MASK_SIDE}x${MAX_MASK_SIDE} pixels (the run's size is ${target.width}x${target.height})`,
    );
  }
  let raw;
  let check;
  try {
    ({ raw, check } = await checkMask(bytes, 'mask'));
  } catch (e) {
    if (e instanceof ImageError)
      throw new RequestError(
        400,
        `the mask PNG is malformed: ${e.message.replace(/^mask: /, '').replace(/; replace or remove the file$/, '')}; send a valid single-channel PNG`,
      );
    throw e;
  }
  if (raw.width !== w || raw.height !== h)
    throw new RequestError(
      400,
      `the mask PNG is malformed: its header says ${w}x${h}, it decodes to ${raw.width}x${raw.height}`,
    );
  if (check.channels === 'colour') {
    throw new RequestError(
      422,
      `the mask has ${check.channelCount} channels that differ (a colour image); send a single-channel mask, 255 for lesion and 0 for skin`,
    );
  }
  if (check.ambiguous > MAX_AMBIGUOUS) {
    throw new RequestError(
      422,
      `${(check.ambiguous * 100).toFixed(1)}% of the mask's pixels are neither near 0 nor near 255; send a binary mask (255 lesion, 0 skin)`,
    );
  }
  return toRunMask(raw, target);
}

/**
 * A run-length encoded mask: `{ width, height, counts }`, row-major, counts alternating skin and
 * lesion runs starting with skin (a leading 0 when the first pixel is lesion), summing to
 * width * height.
 */
export function maskFromRle(value: unknown, target: MaskTarget): RunMask {
  const bad = (why: string) =>
    new RequestError(
      400,
      `'rle' ${why}; expected { width, height, counts: [skin, lesion, skin, ...] } (row-major runs summing to width*height)`,
    );
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('is missing or not an object');
  const { width, height, counts } = value as Record<string, unknown>;
  for (const [name, v] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw bad(`has no valid ${name}`);
    if (v > MAX_MASK_SIDE)
      throw new RequestError(
        422,
        `the mask is ${width}x${height}; masks must be from 1x1 to ${MAX_MASK_SIDE}x${MAX_MASK_SIDE} pixels`,
      );
  }
  const w = width as number;
  const h = height as number;
  if (!Array.isArray(counts)) throw bad('has no counts array');
  const n = w * h;
  if (counts.length > n + 1) throw bad(`has ${counts.length} runs for ${n} pixels`);
  const data = new Uint8Array(n);
  let at = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i];
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 0) throw bad(`count ${i} is not a non-negative integer`);
    if (at + c > n) throw bad(`runs add up to more than ${w}x${h} = ${n} pixels`);
    if (i % 2 === 1) data.fill(255, at, at + c);
    at += c;
  }
  if (at !== n) throw bad(`runs add up to ${at} pixels, not ${w}x${h} = ${n}`);
  return toRunMask({ data, width: w, height: h, channels: 1 }, target);
}

function toRunMask(
  raw: { data: Uint8Array; width: number; height: number; channels: number },
  target: MaskTarget,
): RunMask {
  const { width: W, height: H } = target;
  const same = raw.width === W && raw.height === H;
  const placed = same && raw.channels === 1 ? raw.data : resizeMaskTo(raw, { width: W, height: H }, target.fit).pixels;
  const pixels = new Uint8Array(W * H);
  let lesion = 0;
  for (let i = 0; i < pixels.length; i++) {
    if (placed[i]! >= MASK_THRESHOLD) {
      pixels[i] = 255;
      lesion++;
    }
  }
  if (lesion === 0) {
    throw new RequestError(
      422,
      same
        ? 'the mask is empty (no lesion pixel, none >= 128); draw or upload a lesion'
        : `the mask is empty at the run's size ${W}x${H} after resizing from ${raw.width}x${raw.height}; draw a larger lesion`,
    );
  }
  const notice = same
    ? null
    : `the mask was ${raw.width}x${raw.height}; resized (nearest, ${target.fit}) to the run's ${W}x${H}`;
  return { pixels, width: W, height: H, notice };
}

/** Run-length encodes a 0/255 mask as maskFromRle reads it. */
export function encodeRle(
  pixels: Uint8Array,
  width: number,
  height: number,
): { width: number; height: number; counts: number[] } {
  const counts: number[] = [];
  let current = 0;
  let run = 0;
  for (const v of pixels) {
    const bit = v >= MASK_THRESHOLD ? 1 : 0;
    if (bit !== current) {
      counts.push(run);
      current = bit;
      run = 0;
    }
    run++;
  }
  counts.push(run);
  return { width, height, counts };
}
