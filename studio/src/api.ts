// The studio's calls to the dermosynth serve API; every failure becomes an ApiError carrying the
// server's JSON message (or what went wrong on the way).

export interface RunInfo {
  model: string;
  width: number;
  height: number;
  classes: string[];
  channels: string[];
  fit: string;
  weights: { name: string; sha256: string; step: number | null };
  device: string;
  deterministic: boolean;
  varyShape: boolean;
  dataset: { count: number; unavailable: string | null };
  limits: { maxBody: number; maxMaskSide: number; queue: number; maxBatch: number };
}

export interface DatasetLesion {
  index: number;
  id: string;
  diagnosis: string;
  split: string;
  coverage: number;
}

export interface LossSummary {
  first: number;
  last: number;
  min: number;
  recentMean: number;
  curve: [number, number][];
}

export interface LogSummary {
  entries: number;
  lastStep: number;
  skipped: number;
  seconds: number;
  stages: string[];
  losses: Record<string, LossSummary>;
}

export interface Rle {
  width: number;
  height: number;
  counts: number[];
}

export interface GenerateRequest {
  class: string;
  seed: number;
  vary: boolean;
  rle: Rle;
}

export interface Generated {
  png: Blob;
  seed: number;
  className: string;
  vary: boolean;
  notice: string | null;
  inferenceMs: number;
  queuedMs: number;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function call(path: string, init?: RequestInit): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(
      0,
      `the studio server cannot be reached (${(e as Error).message}); is dermosynth serve still running?`,
    );
  }
  if (res.ok) return res;
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as { error?: string };
    if (body.error) message = body.error;
  } catch {
    // not JSON: keep the status line
  }
  if (res.status === 503) message = `busy: ${message}`;
  throw new ApiError(res.status, message);
}

async function json<T>(path: string): Promise<T> {
  return (await (await call(path)).json()) as T;
}

export const api = {
  run: () => json<RunInfo>('/api/run'),
  dataset: () => json<{ lesions: DatasetLesion[]; unavailable: string | null }>('/api/dataset'),
  datasetMask: async (index: number) => (await call(`/api/dataset/${index}/mask.png`)).blob(),
  samples: () => json<{ samples: string[] }>('/api/run/samples'),
  sampleUrl: (name: string) => `/api/run/samples/${encodeURIComponent(name)}`,
  log: () => json<{ log: LogSummary | null }>('/api/run/log'),
  metrics: () => json<{ metrics: unknown }>('/api/run/metrics'),

  /** Checks an uploaded PNG mask and brings it to the run's size; the notice says when it was resized. */
  async normaliseMask(file: Blob): Promise<{ png: Blob; notice: string | null }> {
    const res = await call('/api/mask', { method: 'POST', headers: { 'Content-Type': 'image/png' }, body: file });
    return { png: await res.blob(), notice: res.headers.get('X-Dermosynth-Notice') };
  },

  async generate(r: GenerateRequest): Promise<Generated> {
    const res = await call('/api/generate', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(r),
    });
    const h = res.headers;
    return {
      png: await res.blob(),
      seed: Number(h.get('X-Dermosynth-Seed') ?? r.seed),
      className: h.get('X-Dermosynth-Class') ?? r.class,
      vary: h.get('X-Dermosynth-Vary') === 'true',
      notice: h.get('X-Dermosynth-Notice'),
      inferenceMs: Number(h.get('X-Dermosynth-Inference-Ms') ?? NaN),
      queuedMs: Number(h.get('X-Dermosynth-Queue-Ms') ?? NaN),
    };
  },
};
