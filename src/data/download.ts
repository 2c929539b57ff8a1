// Downloading the official ISIC-2017 challenge archives: resumable HTTP downloads with size checks,
// then all-or-nothing extraction into the official folder layout.
//
//   outDir/
//     ISIC-2017_Training_Data/ISIC_0000000.jpg ...
//     ISIC-2017_Training_Part1_GroundTruth/ISIC_0000000_segmentation.png ...
//     ISIC-2017_Training_Part3_GroundTruth.csv
//     (same for Validation and Test_v2)
//     .downloads/            archives while they download (`<name>.part`) and `<name>.done` markers
import fsp from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic_file.js';
import { extractZip } from './unzip.js';

export const ISIC2017_BASE_URL = 'https://isic-challenge-data.s3.amazonaws.com/2017/';

export type Isic2017Split = 'train' | 'val' | 'test';
/** `images`: dermoscopy JPEGs; `masks`: Part 1 lesion segmentation PNGs; `labels`: Part 3 diagnosis CSV. */
export type Isic2017Kind = 'images' | 'masks' | 'labels';

export interface Isic2017File {
  name: string;
  split: Isic2017Split;
  kind: Isic2017Kind;
}

const PARTS: [string, Isic2017Split][] = [
  ['Training', 'train'],
  ['Validation', 'val'],
  ['Test_v2', 'test'],
];

/** The 9 official ISIC-2017 files (images, Part 1 masks, Part 3 labels for each split). */
export const ISIC2017_FILES: readonly Isic2017File[] = Object.freeze(
  PARTS.flatMap(([part, split]): Isic2017File[] => [
    { name: `ISIC-2017_${part}_Data.zip`, split, kind: 'images' },
    { name: `ISIC-2017_${part}_Part1_GroundTruth.zip`, split, kind: 'masks' },
    { name: `ISIC-2017_${part}_Part3_GroundTruth.csv`, split, kind: 'labels' },
  ]),
);

// ---------------------------------------------------------------------------------------------
// downloadFile

export interface DownloadProgress {
  /** Bytes of the file on disk so far (a resumed download starts at the size of the `.part` file). */
  received: number;
  /** The file's size according to the server, or null when it did not say. */
  total: number | null;
  /** True when this transfer continues an earlier partial file (a Range request answered with 206). */
  resumed: boolean;
}

export interface DownloadFileOptions {
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
  /** How many times a transient failure (connection reset, 5xx, 429) is retried; default 5. */
  retries?: number;
  /** Delay before the first retry, doubled each time (capped at 30 s); default 1000 ms. */
  retryDelayMs?: number;
}

export interface DownloadFileResult {
  /** The size of the complete file. */
  bytes: number;
  /** True when the download continued an earlier `.part` file (after a kill or a dropped connection). */
  resumed: boolean;
  /** True when `dest` already existed with the server's size and nothing was downloaded. */
  skipped: boolean;
}

/** An HTTP error answer (or a failed transfer) for a URL. */
export class DownloadError extends Error {
  constructor(
    message: string,
    readonly url: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'DownloadError';
  }
}

/** A failure worth retrying; `reached` is the size of the partial file the failed attempt left. */
class TransientError extends Error {
  constructor(
    message: string,
    readonly reached = 0,
    readonly status?: number,
  ) {
    super(message);
  }
}

const TRANSIENT_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);

function httpError(url: string, res: Response): Error {
  const msg = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''} for ${url}`;
  return TRANSIENT_STATUS.has(res.status)
    ? new TransientError(msg, 0, res.status)
    : new DownloadError(msg, url, res.status);
}

function describe(err: unknown): string {
  const e = err as Error & { cause?: unknown };
  const cause = e.cause instanceof Error ? ` (${e.cause.message})` : '';
  return `${e.message ?? String(err)}${cause}`;
}

async function fileSize(file: string): Promise<number | null> {
  try {
    const st = await fsp.stat(file);
    return st.isFile() ? st.size : null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** The total size announced by a response, from Content-Range (`bytes a-b/N`, `bytes * /N`) or Content-Length. */
function contentRangeTotal(header: string | null): number | null {
  const m = header === null ? null : /\/(\d+)\s*$/.exec(header);
  return m ? Number(m[1]) : null;
}

function contentLength(res: Response): number | null {
  const enc = res.headers.get('content-encoding');
  if (enc !== null && enc.toLowerCase() !== 'identity') return null; // length of the encoded body
  const cl = res.headers.get('content-length');
  return cl !== null && /^\d+$/.test(cl.trim()) ? Number(cl) : null;
}

async function doFetch(url: string, init: RequestInit, signal: AbortSignal | undefined): Promise<Response> {
  try {
    return await fetch(url, { ...init, ...(signal ? { signal } : {}), redirect: 'follow' });
  } catch (err) {
    signal?.throwIfAborted();
    throw new TransientError(`could not reach ${url}: ${describe(err)}`);
  }
}

/** The size of the file at `url` by a HEAD request, or null when the server does not say. */
async function remoteSize(url: string, signal: AbortSignal | undefined): Promise<number | null> {
  const res = await doFetch(url, { method: 'HEAD', headers: { 'accept-encoding': 'identity' } }, signal);
  if (res.ok) return contentLength(res);
  if (res.status === 405 || res.status === 501) return null; // HEAD not supported
  throw httpError(url, res);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function sizeMismatch(url: string, expected: number, got: number, how: string): DownloadError {
  return new DownloadError(
    `size mismatch downloading ${url}: the server announced ${expected} bytes but ${how} ${got} bytes`,
    url,
  );
}

type Attempt = { kind: 'complete'; bytes: number; resumed: boolean } | { kind: 'restart' };

/**
 * Downloads `url` to `dest` through `dest + '.part'`, resuming an existing `.part` with a Range
 * request. The file appears at `dest` (fsynced, renamed) only once its size matches what the server
 * announced. Transient failures (connection errors, a body cut short, 5xx/429) are retried with
 * exponential backoff, each retry resuming where the last one stopped; HTTP errors such as 404 or
 * 403 and size mismatches throw a {@link DownloadError} naming the URL.
 */
export async function downloadFile(
  url: string,
  dest: string,
  o: DownloadFileOptions = {},
): Promise<DownloadFileResult> {
  const { signal } = o;
  const retries = o.retries ?? 5;
  const baseDelay = o.retryDelayMs ?? 1000;
  const part = `${dest}.part`;
  await fsp.mkdir(path.dirname(dest), { recursive: true });

  let failures = 0;
  let highWater = 0; // the largest partial file so far
  async function retrying<T>(fn: () => Promise<T>): Promise<T> {
    for (;;) {
      signal?.throwIfAborted();
      try {
        return await fn();
      } catch (err) {
        if (!(err instanceof TransientError)) throw err;
        if (err.reached > highWater) {
          highWater = err.reached;
          failures = 0; // a flaky connection that keeps making progress is fine
        }
        failures++;
        if (failures > retries) {
          throw new DownloadError(
            `download of ${url} failed after ${failures} attempts: ${err.message}`,
            url,
            err.status,
          );
        }
        await sleep(Math.min(baseDelay * 2 ** (failures - 1), 30_000), signal);
      }
    }
  }

  const existing = await fileSize(dest);
  if (existing !== null) {
    const remote = await retrying(() => remoteSize(url, signal));
    if (remote === null || remote === existing) {
      o.onProgress?.({ received: existing, total: remote ?? existing, resumed: false });
      return { bytes: existing, resumed: false, skipped: true };
    }
    // A different size: download it again (the old file is replaced only when the new one is complete).
  }

  // The size the server announced first; every later answer must agree with it.
  let expected: number | null = null;
  const agree = (total: number | null, have: number): void => {
    if (total === null) return;
    if (expected === null) expected = total;
    else if (total !== expected) {
      throw new DownloadError(
        `size mismatch downloading ${url}: the server announced ${expected} bytes, then ${total} bytes ` +
          `(with ${have} bytes already downloaded); delete ${part} and try again`,
        url,
      );
    }
  };

  const attempt = async (): Promise<Attempt> => {
    const have = (await fileSize(part)) ?? 0;
    const headers: Record<string, string> = { 'accept-encoding': 'identity' };
    if (have > 0) headers.range = `bytes=${have}-`;
    const res = await doFetch(url, { headers }, signal);

    if (res.status === 416 && have > 0) {
      // Nothing left to send: the part may be complete already. Check against the server's size.
      await res.body?.cancel().catch(() => undefined);
      const total = contentRangeTotal(res.headers.get('content-range')) ?? (await remoteSize(url, signal));
      agree(total, have);
      if (total === have) return { kind: 'complete', bytes: have, resumed: true };
      if (total !== null && have < total) throw sizeMismatch(url, total, have, `refuses to send more than`);
      await fsp.rm(part, { force: true }); // larger than the file, or unknown: start again
      return { kind: 'restart' };
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      throw httpError(url, res);
    }

    let start = 0;
    let total: number | null;
    if (res.status === 206) {
      const cr = res.headers.get('content-range');
      const m = cr === null ? null : /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(cr);
      if (m === null || Number(m[1]) !== have) {
        // Not the range we asked for: start again from zero.
        await res.body?.cancel().catch(() => undefined);
        await fsp.rm(part, { force: true });
        return { kind: 'restart' };
      }
      start = have;
      total = m[3] === '*' ? null : Number(m[3]);
    } else {
      total = contentLength(res); // 200: the whole file (a server that ignores Range restarts us at zero)
    }
    try {
      agree(total, start);
    } catch (err) {
      await res.body?.cancel().catch(() => undefined);
      throw err;
    }
    if (res.body === null) throw new TransientError(`empty response body from ${url}`);

    const fh = await fsp.open(part, start > 0 ? 'a' : 'w');
    let received = start;
    let closed = false;
    const close = async (): Promise<void> => {
      if (closed) return;
      closed = true;
      await fh.sync().catch(() => undefined);
      await fh.close();
    };
    try {
      o.onProgress?.({ received, total, resumed: start > 0 });
      const reader = res.body.getReader();
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (err) {
          signal?.throwIfAborted();
          throw new TransientError(
            `connection lost after ${received} of ${total ?? 'unknown'} bytes of ${url}: ${describe(err)}`,
            received,
          );
        }
        if (chunk.done) break;
        const bytes = chunk.value;
        let off = 0;
        while (off < bytes.length) {
          const { bytesWritten } = await fh.write(bytes, off, bytes.length - off);
          off += bytesWritten;
        }
        received += bytes.length;
        o.onProgress?.({ received, total, resumed: start > 0 });
      }
      if (total !== null && received > total) {
        throw sizeMismatch(url, total, received, 'sent');
      }
      if (total !== null && received < total) {
        throw new TransientError(
          `the server announced ${total} bytes for ${url} but the transfer ended after ${received} bytes`,
          received,
        );
      }
    } finally {
      await close();
    }
    return { kind: 'complete', bytes: received, resumed: start > 0 };
  };

  let resumed = false;
  let restarts = 0;
  for (;;) {
    const r = await retrying(attempt);
    if (r.kind === 'restart') {
      if (++restarts > 3)
        throw new DownloadError(`the server for ${url} keeps answering range requests inconsistently`, url);
      continue;
    }
    resumed ||= r.resumed;
    // Final check, then publish the file: fsync was done when closing; the rename is atomic.
    const onDisk = (await fileSize(part)) ?? 0;
    if (expected !== null && onDisk !== expected) throw sizeMismatch(url, expected, onDisk, 'the downloaded file has');
    await fsp.rename(part, dest);
    await syncDir(path.dirname(dest));
    return { bytes: onDisk, resumed, skipped: false };
  }
}

async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await fsp.open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Not supported everywhere (e.g. Windows); the rename itself is still atomic.
  }
}

// ---------------------------------------------------------------------------------------------
// downloadIsic2017

export type DownloadPhase = 'download' | 'extract' | 'done' | 'skip';

/**
 * One progress report, enough to draw a bar per file:
 * - `download`: `done`/`total` are bytes (`total` null when the server does not say); `resumed`
 *   says the download continued an earlier partial file.
 * - `extract`: `done`/`total` are archive entries, `entry` the one being written.
 * - `done`: the file is downloaded and unpacked; `done` = `total` = its size in bytes.
 * - `skip`: the file was complete from an earlier run; `done` = `total` = its size in bytes.
 * `download` and `extract` events come per received chunk / per entry: a CLI should throttle drawing.
 */
export interface DownloadEvent {
  phase: DownloadPhase;
  /** The official file name, e.g. `ISIC-2017_Training_Data.zip`. */
  file: string;
  split: Isic2017Split;
  kind: Isic2017Kind;
  /** 0-based position of this file among the `fileCount` files of this run. */
  fileIndex: number;
  fileCount: number;
  done: number;
  total: number | null;
  unit: 'bytes' | 'entries';
  resumed: boolean;
  /** extract: the entry being written. */
  entry?: string;
}

export interface DownloadReportFile {
  name: string;
  split: Isic2017Split;
  kind: Isic2017Kind;
  url: string;
  /** Size of the downloaded file (archive or CSV). */
  bytes: number;
  /** Complete from an earlier run (its `.done` marker was found): nothing was downloaded or unpacked. */
  skipped: boolean;
  /** The download continued a `.part` file left by an earlier run or a dropped connection. */
  resumed: boolean;
  /** The archive was already fully downloaded in `.downloads/` (only unpacked this time). */
  reusedArchive: boolean;
  /** For zips: what was unpacked. */
  extracted: { files: number; bytes: number } | null;
}

export interface DownloadReport {
  outDir: string;
  files: DownloadReportFile[];
}

export interface DownloadIsic2017Options {
  baseUrl?: string;
  splits?: Isic2017Split[];
  onProgress?: (e: DownloadEvent) => void;
  /** Keep the downloaded archives in `outDir/.downloads/` after unpacking (default false: deleted). */
  keepArchives?: boolean;
  signal?: AbortSignal;
  /** Passed to {@link downloadFile}. */
  retries?: number;
  retryDelayMs?: number;
}

interface DoneMarker {
  name: string;
  url: string;
  bytes: number;
  extracted: { files: number; bytes: number } | null;
  /** What the file put into outDir (top-level folders of a zip, or the CSV's name). */
  roots: string[];
  completedAt: string;
}

async function readMarker(file: string, outDir: string): Promise<DoneMarker | null> {
  let marker: DoneMarker;
  try {
    marker = JSON.parse(await fsp.readFile(file, 'utf8')) as DoneMarker;
  } catch {
    return null; // missing or unreadable: do the work again
  }
  if (!Array.isArray(marker.roots) || typeof marker.bytes !== 'number') return null;
  // Someone deleted the unpacked data: do it again rather than trust the marker.
  for (const root of marker.roots)
    if ((await fsp.stat(path.join(outDir, root)).catch(() => null)) === null) return null;
  return marker;
}

/**
 * Downloads the official ISIC-2017 files of `splits` (default all three) into
 * `outDir/.downloads/`, unpacks the zips into `outDir` (their top-level folders give the official
 * layout) and copies the CSVs to `outDir`. Each completed file gets a marker
 * `outDir/.downloads/<name>.done`, so a re-run skips it; an interrupted run resumes downloads
 * where they stopped and re-extracts archives whose extraction did not finish.
 */
export async function downloadIsic2017(outDir: string, o: DownloadIsic2017Options = {}): Promise<DownloadReport> {
  const { signal } = o;
  const base = (o.baseUrl ?? ISIC2017_BASE_URL).replace(/\/*$/, '/');
  const splits = new Set<Isic2017Split>(o.splits ?? ['train', 'val', 'test']);
  for (const s of splits) {
    if (s !== 'train' && s !== 'val' && s !== 'test')
      throw new Error(`unknown ISIC-2017 split "${String(s)}" (use train, val or test)`);
  }
  const files = ISIC2017_FILES.filter((f) => splits.has(f.split));
  const downloads = path.join(outDir, '.downloads');
  await fsp.mkdir(downloads, { recursive: true });

  const report: DownloadReport = { outDir, files: [] };
  for (const [fileIndex, f] of files.entries()) {
    signal?.throwIfAborted();
    const url = new URL(f.name, base).href;
    const markerFile = path.join(downloads, `${f.name}.done`);
    const emit = (e: Omit<DownloadEvent, 'file' | 'split' | 'kind' | 'fileIndex' | 'fileCount'>): void =>
      o.onProgress?.({ file: f.name, split: f.split, kind: f.kind, fileIndex, fileCount: files.length, ...e });

    const marker = await readMarker(markerFile, outDir);
    if (marker !== null) {
      emit({ phase: 'skip', done: marker.bytes, total: marker.bytes, unit: 'bytes', resumed: false });
      report.files.push({
        name: f.name,
        split: f.split,
        kind: f.kind,
        url,
        bytes: marker.bytes,
        skipped: true,
        resumed: false,
        reusedArchive: false,
        extracted: marker.extracted,
      });
      continue;
    }

    const archive = path.join(downloads, f.name);
    const dl = await downloadFile(url, archive, {
      signal,
      ...(o.retries !== undefined ? { retries: o.retries } : {}),
      ...(o.retryDelayMs !== undefined ? { retryDelayMs: o.retryDelayMs } : {}),
      onProgress: (p) =>
        emit({ phase: 'download', done: p.received, total: p.total, unit: 'bytes', resumed: p.resumed }),
    });

    let extracted: DoneMarker['extracted'] = null;
    let roots: string[];
    if (f.name.endsWith('.zip')) {
      let entries = 0;
      const r = await extractZip(archive, outDir, {
        ...(signal ? { signal } : {}),
        onEntry: (entry, index, total) => {
          entries = total;
          emit({ phase: 'extract', done: index, total, unit: 'entries', resumed: dl.resumed, entry });
        },
      });
      emit({ phase: 'extract', done: entries, total: entries, unit: 'entries', resumed: dl.resumed });
      extracted = { files: r.files, bytes: r.bytes };
      roots = r.roots;
    } else {
      await writeFileAtomic(path.join(outDir, f.name), await fsp.readFile(archive));
      roots = [f.name];
    }
    const done: DoneMarker = {
      name: f.name,
      url,
      bytes: dl.bytes,
      extracted,
      roots,
      completedAt: new Date().toISOString(),
    };
    await writeJsonAtomic(markerFile, done);
    if (!o.keepArchives) await fsp.rm(archive, { force: true });
    emit({ phase: 'done', done: dl.bytes, total: dl.bytes, unit: 'bytes', resumed: dl.resumed });
    report.files.push({
      name: f.name,
      split: f.split,
      kind: f.kind,
      url,
      bytes: dl.bytes,
      skipped: false,
      resumed: dl.resumed,
      reusedArchive: dl.skipped,
      extracted,
    });
  }
  return report;
}
