// Decoding in parallel: worker threads that each hash, check and decode whole lesions, so that the
// JavaScript parts (mask checks, frame detection, label maps) run on every core, not only libvips.
import { createRequire } from 'node:module';
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { LesionRecord } from './dataset.js';
import type { LabelMapSpec } from './label_map.js';
import { hashSources, prepareLesion, readSources, type PreparedLesion, type PreprocessOptions } from './preprocess.js';
import type { Problem } from './problems.js';

export interface DecodeRequest {
  seq: number;
  kind: 'hash' | 'prepare';
  record: LesionRecord;
  spec?: LabelMapSpec;
  options?: PreprocessOptions;
}

export type DecodeResponse =
  | { seq: number; ok: true; hash: string | null; lesion: PreparedLesion | null; problems: Problem[] }
  | { seq: number; ok: false; error: string };

export interface DecodeResult {
  /** sha256 of the sources for 'hash' requests (null when a file could not be read: see problems). */
  hash: string | null;
  lesion: PreparedLesion | null;
  problems: Problem[];
}

/** One request's work, in whichever thread runs it. */
export async function decode(req: DecodeRequest): Promise<DecodeResult> {
  if (req.kind === 'hash') {
    const h = await hashSources(req.record);
    return typeof h === 'string'
      ? { hash: h, lesion: null, problems: [] }
      : { hash: null, lesion: null, problems: [h] };
  }
  const src = await readSources(req.record);
  if (!('image' in src)) return { hash: null, lesion: null, problems: [src] };
  return { hash: null, ...(await prepareLesion(req.record, src, req.spec!, req.options!)) };
}

/** Starts decode_worker; from TypeScript sources (tsx, vitest) the worker registers tsx first. */
function startWorker(): Worker {
  const ts = import.meta.url.endsWith('.ts');
  const url = new URL(`./decode_worker${ts ? '.ts' : '.js'}`, import.meta.url);
  if (!ts) return new Worker(url);
  // require.resolve finds the CommonJS build (index.cjs); the ES module build lies beside it.
  const api = pathToFileURL(
    createRequire(import.meta.url)
      .resolve('tsx/esm/api')
      .replace(/\.cjs$/, '.mjs'),
  ).href;
  const boot = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(boot, { eval: true });
}

/** Hashes and decodes lesions on `threads` workers, or in this thread when `threads` is 0. */
export class DecodePool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: { req: DecodeRequest; resolve: (r: DecodeResult) => void; reject: (e: Error) => void }[] = [];
  private readonly pending = new Map<
    number,
    { worker: Worker; resolve: (r: DecodeResult) => void; reject: (e: Error) => void }
  >();
  private seq = 0;

  constructor(readonly threads: number) {
    if (threads === 0) return;
    for (let i = 0; i < threads; i++) {
      const w = startWorker();
      w.on('message', (res: DecodeResponse) => this.settle(w, res));
      w.on('error', (e) => this.fail(w, e));
      w.unref();
      this.workers.push(w);
      this.idle.push(w);
    }
  }

  hash(record: LesionRecord): Promise<DecodeResult> {
    return this.run({ seq: this.seq++, kind: 'hash', record });
  }

  prepare(record: LesionRecord, spec: LabelMapSpec, options: PreprocessOptions): Promise<DecodeResult> {
    return this.run({ seq: this.seq++, kind: 'prepare', record, spec, options });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private async run(req: DecodeRequest): Promise<DecodeResult> {
    if (this.threads === 0) return decode(req);
    return new Promise((resolve, reject) => {
      this.queue.push({ req, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const w = this.idle.pop()!;
      const job = this.queue.shift()!;
      this.pending.set(job.req.seq, { worker: w, resolve: job.resolve, reject: job.reject });
      w.ref();
      w.postMessage(job.req);
    }
  }

  private settle(w: Worker, res: DecodeResponse): void {
    const p = this.pending.get(res.seq);
    if (!p) return;
    this.pending.delete(res.seq);
    w.unref();
    this.idle.push(w);
    if (res.ok) p.resolve({ hash: res.hash, lesion: res.lesion, problems: res.problems });
    else p.reject(new Error(`decoding worker: ${res.error}`));
    this.dispatch();
  }

  private fail(w: Worker, e: Error): void {
    for (const [seq, p] of this.pending) {
      if (p.worker === w) {
        this.pending.delete(seq);
        p.reject(e);
      }
    }
  }
}

/** Decoding threads when the caller does not choose (see PrepareOptions.workers: on 2 cores decoding in-thread was faster). */
export function defaultWorkers(): number {
  const cores = os.availableParallelism();
  return cores >= 4 ? cores : 0;
}

/**
 * Lesions to keep in flight for `threads` decoding workers (0: this thread): several per core so
 * that libvips always has work while JavaScript runs (2 cores, 400 lesions: 2 in flight 10.9
 * ms/lesion, 4: 9.3, 8: 8.9).
 */
export function lesionsInFlight(threads: number): number {
  return 4 * Math.max(1, threads || os.availableParallelism());
}
