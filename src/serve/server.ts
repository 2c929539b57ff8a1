// The studio's HTTP server (node:http): the JSON API, the inference queue behind it and the built
// single-page app. Errors are JSON `{ "error": "..." }` with a 4xx status for what the client can
// fix; nothing a request sends becomes a file system path.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import sharp from 'sharp';
import type { Device, Precision } from '../torch/index.js';
import { DatasetMasks } from './dataset_masks.js';
import { InferenceQueue, QueueFullError, type RunInfo } from './inference_queue.js';
import { RunFiles } from './run_files.js';
import { StaticBundle } from './static_files.js';
import {
  MAX_MASK_SIDE,
  RequestError,
  maskFromPng,
  maskFromRle,
  parseClass,
  parseFlag,
  parseJson,
  parseSeed,
  readBody,
  requireMediaType,
  type MaskTarget,
  type RunMask,
} from './validate.js';

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8080;
/** 4 MiB: a 4096x4096 mask PNG is far smaller; a run-length encoded one too. */
export const DEFAULT_MAX_BODY = 4 * 1024 * 1024;
export const DEFAULT_QUEUE = 16;

export interface ServeOptions {
  runDir: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  device?: Device;
  /** The generator's forward: fp32 (default), or autocast to bf16 (fp16 needs CUDA). */
  precision?: Precision;
  /** A weights file instead of the run's own. */
  weights?: string;
  /** libtorch threads of the inference worker (0: libtorch's default). */
  threads?: number;
  /** Generate requests queued or running at most; more are answered 503 at once. */
  queue?: number;
  /** Images per inference batch at most (default: as many as are queued, up to about 1 Mpixel). */
  maxBatch?: number;
  maxBody?: number;
  /** The built studio bundle (default: studio/dist). */
  bundleDir?: string;
  /** Called with one line for each server-side failure (5xx). */
  onError?: (message: string) => void;
}

export interface StudioServer {
  url: string;
  host: string;
  port: number;
  info: RunInfo;
  queue: InferenceQueue;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

const SECURITY_HEADERS: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Content-Security-Policy':
    "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
};

/** Starts the server: loads the bundle and the run (in the worker) first; rejects with their errors. */
export async function startStudioServer(o: ServeOptions): Promise<StudioServer> {
  const host = o.host ?? DEFAULT_HOST;
  const maxBody = o.maxBody ?? DEFAULT_MAX_BODY;
  const bundle = await StaticBundle.load(o.bundleDir);
  const queue = await InferenceQueue.start({
    runDir: o.runDir,
    device: o.device ?? 'cpu',
    precision: o.precision,
    weights: o.weights,
    threads: o.threads ?? 0,
    capacity: o.queue ?? DEFAULT_QUEUE,
    maxBatch: o.maxBatch,
  });
  const info = queue.info;
  const files = new RunFiles(o.runDir);
  const dataset = await DatasetMasks.open(o.runDir);
  const target: MaskTarget = { width: info.width, height: info.height, fit: info.fit };
  const loopbackOnly = LOOPBACK.has(host);

  const runJson = () => ({
    model: info.model,
    width: info.width,
    height: info.height,
    classes: info.classes,
    channels: info.channels,
    fit: info.fit,
    weights: { name: path.basename(info.weights.file), sha256: info.weights.sha256, step: info.weights.step },
    device: info.device,
    precision: info.precision,
    // The generators take no noise: the same mask and class always give the same image; the seed
    // only matters with vary (a random deformation of the mask, src/synth/deform.ts).
    deterministic: true,
    varyShape: true,
    dataset: { count: dataset.list().length, unavailable: dataset.unavailable },
    limits: { maxBody, maxMaskSide: MAX_MASK_SIDE, queue: queue.capacity, maxBatch: queue.maxBatch },
  });

  async function generate(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const type = requireMediaType(req, ['image/png', 'application/json']);
    // Refuse at once when full, before reading the body; the queue checks again on submit.
    queue.checkRoom();
    const body = await readBody(req, maxBody);
    let mask: RunMask;
    let classIndex: number;
    let seed: number;
    let vary: boolean;
    if (type === 'image/png') {
      classIndex = parseClass(url.searchParams.get('class') ?? undefined, info.classes);
      seed = parseSeed(url.searchParams.get('seed') ?? undefined);
      vary = parseFlag(url.searchParams.get('vary') ?? undefined, 'vary');
      mask = await maskFromPng(body, target);
    } else {
      const json = parseJson(body);
      if (typeof json !== 'object' || json === null || Array.isArray(json))
        throw new RequestError(400, 'expected a JSON object { "class", "seed", "vary", "rle" }');
      const j = json as Record<string, unknown>;
      classIndex = parseClass(j.class, info.classes);
      seed = parseSeed(j.seed);
      vary = parseFlag(j.vary, 'vary');
      mask = maskFromRle(j.rle, target);
    }
    const result = await queue.submit({ mask: mask.pixels, classIndex, seed, vary });
    const png = await sharp(result.rgb, { raw: { width: info.width, height: info.height, channels: 3 } })
      .png()
      .toBuffer();
    const headers: Record<string, string> = {
      'X-Dermosynth-Class': info.classes[classIndex]!,
      'X-Dermosynth-Seed': String(seed),
      'X-Dermosynth-Vary': String(vary),
      'X-Dermosynth-Weights-Sha256': info.weights.sha256,
      'X-Dermosynth-Queue-Ms': result.queuedMs.toFixed(1),
      'X-Dermosynth-Inference-Ms': result.inferenceMs.toFixed(1),
      'X-Dermosynth-Batch': String(result.batchSize),
    };
    if (mask.notice) headers['X-Dermosynth-Notice'] = mask.notice;
    send(res, 200, png, 'image/png', headers);
  }

  async function normaliseMask(req: IncomingMessage, res: ServerResponse): Promise<void> {
    requireMediaType(req, ['image/png']);
    const mask = await maskFromPng(await readBody(req, maxBody), target);
    const png = await sharp(Buffer.from(mask.pixels), { raw: { width: mask.width, height: mask.height, channels: 1 } })
      .toColourspace('b-w')
      .png()
      .toBuffer();
    send(res, 200, png, 'image/png', mask.notice ? { 'X-Dermosynth-Notice': mask.notice } : {});
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (loopbackOnly && !hostAllowed(req.headers.host)) {
      // A page elsewhere that points its own name at 127.0.0.1 (DNS rebinding) gets nothing.
      throw new RequestError(
        421,
        `unexpected Host header '${(req.headers.host ?? '').slice(0, 100)}': this server answers to localhost and 127.0.0.1 only`,
      );
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const p = url.pathname;
    const method = req.method ?? 'GET';
    const only = (m: string) => {
      if (method !== m && !(m === 'GET' && method === 'HEAD'))
        throw new RequestError(405, `${p} takes ${m} requests, not ${method}`);
    };
    if (p === '/api/generate') {
      only('POST');
      return generate(req, res, url);
    }
    if (p === '/api/mask') {
      only('POST');
      return normaliseMask(req, res);
    }
    if (p === '/healthz') {
      only('GET');
      return sendJson(res, 200, { ok: true, queue: { depth: queue.depth, capacity: queue.capacity, ...queue.counts } });
    }
    if (p === '/api/run') {
      only('GET');
      return sendJson(res, 200, runJson());
    }
    if (p === '/api/dataset') {
      only('GET');
      return sendJson(res, 200, { lesions: dataset.list(), unavailable: dataset.unavailable });
    }
    const lesion = /^\/api\/dataset\/(\d{1,9})\/mask\.png$/.exec(p);
    if (lesion) {
      only('GET');
      const png = await dataset.maskPng(Number(lesion[1]));
      if (!png)
        throw new RequestError(404, `no lesion ${lesion[1]} in the run's dataset (GET /api/dataset lists them)`);
      return send(res, 200, png, 'image/png');
    }
    if (p === '/api/run/samples') {
      only('GET');
      return sendJson(res, 200, { samples: await files.samples() });
    }
    if (p.startsWith('/api/run/samples/')) {
      only('GET');
      let name = '';
      try {
        name = decodeURIComponent(p.slice('/api/run/samples/'.length));
      } catch {
        // not a name of the listing either
      }
      const png = await files.sample(name);
      if (!png) throw new RequestError(404, 'no such sample grid (GET /api/run/samples lists them)');
      return send(res, 200, png, 'image/png', { 'Cache-Control': 'no-cache' });
    }
    if (p === '/api/run/log') {
      only('GET');
      return sendJson(res, 200, { log: await files.logSummary() });
    }
    if (p === '/api/run/metrics') {
      only('GET');
      return sendJson(res, 200, { metrics: await files.metrics() });
    }
    if (p.startsWith('/api/')) throw new RequestError(404, `no API route ${p}`);
    only('GET');
    const file = bundle.get(p);
    if (!file) throw new RequestError(404, `not found: ${p}`);
    send(
      res,
      200,
      file.bytes,
      file.type,
      { 'Cache-Control': file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache' },
      method === 'HEAD',
    );
  }

  const server = http.createServer((req, res) => {
    route(req, res).catch((e: Error) => {
      let status = 500;
      const headers: Record<string, string> = {};
      if (e instanceof RequestError) status = e.status;
      else if (e instanceof QueueFullError) {
        status = 503;
        headers['Retry-After'] = '1';
      } else o.onError?.(`${req.method} ${req.url}: ${e.stack ?? e.message}`);
      if (status === 413 || status === 421) headers.Connection = 'close';
      if (res.headersSent) {
        res.destroy();
        return;
      }
      sendJson(res, status, { error: e.message }, headers);
    });
  });
  server.requestTimeout = 60_000;
  server.headersTimeout = 20_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? DEFAULT_PORT, host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch(async (e: NodeJS.ErrnoException) => {
    await queue.close();
    dataset.close();
    if (e.code === 'EADDRINUSE')
      throw new RangeError(`--port ${o.port}: the port is in use on ${host}; choose another (or 0 for any free port)`);
    if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND')
      throw new RangeError(`--host ${host}: not an address of this machine`);
    throw e;
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}`,
    host,
    port,
    info,
    queue,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await queue.close();
      dataset.close();
    },
  };
}

function hostAllowed(header: string | undefined): boolean {
  if (!header) return false;
  const m = /^(\[[^\]]+\]|[^:]+)(?::\d+)?$/.exec(header.trim().toLowerCase());
  if (!m) return false;
  const name = m[1]!.replace(/^\[|\]$/g, '');
  return LOOPBACK.has(name);
}

function send(
  res: ServerResponse,
  status: number,
  body: Buffer,
  type: string,
  headers: Record<string, string> = {},
  headOnly = false,
): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'Content-Type': type,
    'Content-Length': String(body.length),
    ...headers,
  });
  res.end(headOnly ? undefined : body);
}

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  send(res, status, Buffer.from(JSON.stringify(value)), 'application/json; charset=utf-8', {
    'Cache-Control': 'no-store',
    ...headers,
  });
}
