// The studio's bounded inference queue: generate jobs wait here (at most `capacity` of them,
// counting those running) and go to the inference worker thread in batches; a job that finds
// the queue full is refused at once (the server answers 503), so that a burst never piles up
// memory or latency. A worker that dies fails its batch and is replaced.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Device, Precision } from '../torch/index.js';
import { defaultBatchSize, type RunWeights } from '../synth/run_generator.js';
import type { ModelName } from '../models/types.js';
import type { Fit } from '../data/image_io.js';

/** What the worker is started with (workerData). */
export interface WorkerInit {
  runDir: string;
  device: Device;
  /** The generator's forward: fp32 (default), or autocast to bf16 (fp16 needs CUDA). */
  precision?: Precision;
  weights?: string;
  /** libtorch threads in the worker; 0 keeps libtorch's default. */
  threads: number;
}

export interface GenerateJob {
  /** 0/255 mask at the run's size. */
  mask: Uint8Array;
  classIndex: number;
  /** With `vary`, the mask is first deformed (src/synth/deform.ts) with this seed. */
  seed: number;
  vary: boolean;
}

export interface RunInfo {
  model: ModelName;
  width: number;
  height: number;
  classes: string[];
  fit: Fit;
  channels: string[];
  weights: RunWeights;
  device: Device;
  precision: Precision;
  threads: number;
}

export type WorkerRequest = { batch: number; jobs: GenerateJob[] };
export type WorkerReply =
  | { type: 'ready'; info: RunInfo }
  | { type: 'load-failed'; error: string }
  | { type: 'done'; batch: number; images: Uint8Array[]; ms: number }
  | { type: 'failed'; batch: number; error: string };

export interface GenerateResult {
  /** Interleaved RGB bytes at the run's size. */
  rgb: Uint8Array;
  /** Milliseconds waiting in the queue, and of the batch's inference. */
  queuedMs: number;
  inferenceMs: number;
  /** Images in the batch this job ran in. */
  batchSize: number;
}

export class QueueFullError extends Error {
  constructor(capacity: number) {
    super(`the server is busy: ${capacity} generate requests are already queued or running; retry in a moment`);
    this.name = 'QueueFullError';
  }
}

export interface QueueOptions extends WorkerInit {
  /** Jobs queued or running at most. */
  capacity: number;
  /** Jobs per batch at most (default: defaultBatchSize at the run's size, about 1 Mpixel). */
  maxBatch?: number;
}

interface Pending {
  job: GenerateJob;
  enqueued: number;
  resolve: (r: GenerateResult) => void;
  reject: (e: Error) => void;
}

/** Starts the worker, registering tsx first when running from the TypeScript sources (tsx, vitest). */
function startWorker(init: WorkerInit): Worker {
  const ts = import.meta.url.endsWith('.ts');
  const url = new URL(`./inference_worker${ts ? '.ts' : '.js'}`, import.meta.url);
  if (!ts) return new Worker(url, { workerData: init });
  const api = pathToFileURL(
    createRequire(import.meta.url)
      .resolve('tsx/esm/api')
      .replace(/\.cjs$/, '.mjs'),
  ).href;
  const boot = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(boot, { eval: true, workerData: init });
}

export class InferenceQueue {
  private worker: Worker;
  private ready: boolean;
  private waiting: Pending[] = [];
  private running: { batch: number; jobs: Pending[]; started: number } | null = null;
  private batchSeq = 0;
  private closed = false;
  /** Set when a dead worker could not be replaced: every job fails with it. */
  private broken: Error | null = null;
  /** Jobs answered, refused (queue full) and failed since the start. */
  readonly counts = { done: 0, refused: 0, failed: 0, restarts: 0 };

  /** Jobs per batch at most. */
  readonly maxBatch: number;

  private constructor(
    readonly options: QueueOptions,
    readonly info: RunInfo,
    worker: Worker,
  ) {
    this.maxBatch = options.maxBatch ?? defaultBatchSize(info.width, info.height);
    this.worker = worker;
    this.ready = true;
    this.attach(worker);
  }

  /** Starts the worker and waits until it has loaded the run (its load errors are thrown here). */
  static async start(o: QueueOptions): Promise<InferenceQueue> {
    if (!Number.isInteger(o.capacity) || o.capacity < 1)
      throw new RangeError(`inference queue: capacity must be a positive integer, got ${o.capacity}`);
    if (o.maxBatch !== undefined && (!Number.isInteger(o.maxBatch) || o.maxBatch < 1))
      throw new RangeError(`inference queue: maxBatch must be a positive integer, got ${o.maxBatch}`);
    const { worker, info } = await InferenceQueue.spawn(o);
    return new InferenceQueue(o, info, worker);
  }

  private static spawn(o: WorkerInit): Promise<{ worker: Worker; info: RunInfo }> {
    const worker = startWorker({
      runDir: o.runDir,
      device: o.device,
      precision: o.precision,
      weights: o.weights,
      threads: o.threads,
    });
    return new Promise((resolve, reject) => {
      const onMessage = (m: WorkerReply) => {
        if (m.type === 'ready') {
          cleanup();
          resolve({ worker, info: m.info });
        } else if (m.type === 'load-failed') {
          cleanup();
          void worker.terminate();
          reject(new RangeError(m.error));
        }
      };
      const onError = (e: Error) => {
        cleanup();
        reject(e);
      };
      const onExit = (code: number) => {
        cleanup();
        reject(new Error(`the inference worker exited (code ${code}) before loading the run`));
      };
      const cleanup = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
  }

  /** Jobs queued or running now. */
  get depth(): number {
    return this.waiting.length + (this.running?.jobs.length ?? 0);
  }

  get capacity(): number {
    return this.options.capacity;
  }

  /** Throws QueueFullError (and counts a refusal) when `capacity` jobs are queued or running. */
  checkRoom(): void {
    if (this.depth >= this.options.capacity) {
      this.counts.refused++;
      throw new QueueFullError(this.options.capacity);
    }
  }

  /** Queues a job; throws QueueFullError at once when `capacity` jobs are queued or running. */
  submit(job: GenerateJob): Promise<GenerateResult> {
    if (this.closed) return Promise.reject(new Error('the inference queue is closed'));
    if (this.broken) return Promise.reject(this.broken);
    this.checkRoom();
    return new Promise((resolve, reject) => {
      this.waiting.push({ job, enqueued: performance.now(), resolve, reject });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const error = new Error('the server is shutting down');
    for (const p of this.waiting.splice(0)) p.reject(error);
    for (const p of this.running?.jobs ?? []) p.reject(error);
    this.running = null;
    await this.worker.terminate();
  }

  private dispatch(): void {
    if (this.running || !this.ready || this.closed || this.waiting.length === 0) return;
    const jobs = this.waiting.splice(0, this.maxBatch);
    const batch = ++this.batchSeq;
    this.running = { batch, jobs, started: performance.now() };
    const req: WorkerRequest = { batch, jobs: jobs.map((p) => p.job) };
    this.worker.postMessage(req);
  }

  private attach(worker: Worker): void {
    worker.on('message', (m: WorkerReply) => this.onReply(m));
    worker.on('error', (e) => this.onCrash(worker, e));
    worker.on('exit', (code) => this.onCrash(worker, new Error(`the inference worker exited (code ${code})`)));
  }

  private onReply(m: WorkerReply): void {
    const r = this.running;
    if ((m.type !== 'done' && m.type !== 'failed') || !r || r.batch !== m.batch) return;
    this.running = null;
    if (m.type === 'done') {
      r.jobs.forEach((p, i) => {
        this.counts.done++;
        p.resolve({ rgb: m.images[i]!, queuedMs: r.started - p.enqueued, inferenceMs: m.ms, batchSize: r.jobs.length });
      });
    } else {
      this.counts.failed += r.jobs.length;
      for (const p of r.jobs) p.reject(new Error(`inference failed: ${m.error}`));
    }
    this.dispatch();
  }

  /** A dead worker fails its batch; a new one is started and takes the queue. */
  private onCrash(worker: Worker, e: Error): void {
    if (worker !== this.worker || this.closed) return;
    this.ready = false;
    const r = this.running;
    this.running = null;
    if (r) {
      this.counts.failed += r.jobs.length;
      for (const p of r.jobs) p.reject(new Error(`inference failed: ${e.message}`));
    }
    worker.removeAllListeners();
    void worker.terminate();
    this.counts.restarts++;
    InferenceQueue.spawn(this.options).then(
      ({ worker: w }) => {
        if (this.closed) {
          void w.terminate();
          return;
        }
        this.worker = w;
        this.ready = true;
        this.attach(w);
        this.dispatch();
      },
      (err: Error) => {
        this.broken = new Error(`the inference worker could not be restarted: ${err.message}; restart the server`);
        for (const p of this.waiting.splice(0))
          p.reject(new Error(`the inference worker could not be restarted: ${err.message}`));
      },
    );
  }
}
