// The static site's backend (`dermosynth studio build`): no dermosynth server behind the page. The
// run's description, dataset masks, sample grids, log summary and metrics are files next to the page
// (data/), and the generator is the run's ONNX export (model/), run here with onnxruntime-web: on
// WebGPU when the browser has an adapter and the session starts on it, on WebAssembly otherwise
// (one thread: the site needs no cross-origin isolation). The label map is made by the same code as
// the server's (src/data/label_bytes.ts, and src/synth/deform.ts for "vary shape"), so the same mask,
// diagnosis and seed give the server's label bytes, and the image up to float32 rounding.
import type * as Ort from 'onnxruntime-web';
import { buildLabelBytes, MASK_THRESHOLD, type LabelMapSpec } from '../../src/data/label_bytes.js';
import { resizeMaskTo, type Fit } from '../../src/data/mask_geometry.js';
import { deformMask } from '../../src/synth/deform.js';
import {
  ApiError,
  type Backend,
  type DatasetLesion,
  type GenerateRequest,
  type Generated,
  type LogSummary,
  type Rle,
  type RunInfo,
} from './api.js';

/** data/site.json, written by src/serve/static_site.ts (StaticSite there is the same shape). */
export interface SiteJson {
  format: 'dermosynth-static-studio/1';
  run: Omit<RunInfo, 'device'>;
  labelMap: LabelMapSpec;
  model: { file: string; input: string; output: string; bytes: number; sha256: string; precision: string };
  /** onnxruntime-web's files, under `dir`: per build, the library, its Emscripten glue and its .wasm. */
  ort: { version: string; dir: string; wasm: OrtBuild; webgpu: OrtBuild };
}

export interface OrtBuild {
  bundle: string;
  mjs: string;
  wasm: string;
}

/** The last generation's label bytes and float32 image ([3, H, W] in [-1, 1]): for tests and the console. */
export interface LastGeneration {
  labels: Uint8Array;
  image: Float32Array;
  width: number;
  height: number;
  backend: 'webgpu' | 'wasm';
  /** Label map, onnxruntime-web's run and reading its output, in milliseconds. */
  inferenceMs: number;
}

declare global {
  interface Window {
    dermosynthStudio?: { last: LastGeneration | null };
  }
}

type OrtModule = typeof Ort;

interface GpuNavigator {
  gpu?: { requestAdapter(): Promise<unknown> };
}

const MAX_AMBIGUOUS = 0.01;

async function fetchOk(path: string): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(path);
  } catch (e) {
    throw new ApiError(0, `${path} cannot be fetched (${(e as Error).message})`);
  }
  if (!res.ok) throw new ApiError(res.status, `${path}: ${res.status} ${res.statusText}`);
  return res;
}

async function json<T>(path: string): Promise<T> {
  return (await (await fetchOk(path)).json()) as T;
}

async function loadOrt(site: SiteJson, build: OrtBuild): Promise<OrtModule> {
  const base = new URL(site.ort.dir, document.baseURI);
  const ort = (await import(/* @vite-ignore */ new URL(build.bundle, base).href)) as OrtModule;
  // Named files (all .js and .wasm: MIME types every static server knows), not a folder prefix.
  ort.env.wasm.wasmPaths = { mjs: new URL(build.mjs, base).href, wasm: new URL(build.wasm, base).href };
  // One thread: threads need SharedArrayBuffer, which needs COOP/COEP headers a static host may not send.
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.logLevel = 'error';
  return ort;
}

/** WebGPU when the browser offers an adapter and the model starts on it; else WebAssembly (and why). */
async function startSession(
  site: SiteJson,
  model: Uint8Array,
): Promise<{ ort: OrtModule; session: Ort.InferenceSession; kind: 'webgpu' | 'wasm'; why: string }> {
  const gpu = (navigator as Navigator & GpuNavigator).gpu;
  let why = 'this browser has no WebGPU';
  if (gpu) {
    let adapter: unknown = null;
    try {
      adapter = await gpu.requestAdapter();
    } catch {
      adapter = null;
    }
    if (adapter) {
      try {
        const ort = await loadOrt(site, site.ort.webgpu);
        const session = await ort.InferenceSession.create(model, { executionProviders: ['webgpu'] });
        return { ort, session, kind: 'webgpu', why: 'WebGPU' };
      } catch (e) {
        why = `WebGPU failed to start the model (${(e as Error).message})`;
      }
    } else why = 'WebGPU has no adapter here';
  }
  const ort = await loadOrt(site, site.ort.wasm);
  const session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'] });
  return { ort, session, kind: 'wasm', why };
}

/** A 0/255 mask from the page's run-length encoding (row-major runs, skin first). */
function maskFromRle(rle: Rle): Uint8Array {
  const mask = new Uint8Array(rle.width * rle.height);
  let at = 0;
  rle.counts.forEach((c, i) => {
    if (i % 2 === 1) mask.fill(255, at, at + c);
    at += c;
  });
  if (at !== mask.length) throw new ApiError(400, `the mask's runs add up to ${at} pixels, not ${mask.length}`);
  return mask;
}

/** float32 [3, H, W] in [-1, 1] to interleaved RGBA bytes as dermosynth writes them (round half to even, as torch). */
function toRgba(image: Float32Array, width: number, height: number): Uint8ClampedArray<ArrayBuffer> {
  const n = width * height;
  const out = new Uint8ClampedArray(n * 4);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < n; i++) {
      // (x + 1) * 127.5 in float32, as the server's tensor arithmetic.
      const v = Math.fround(Math.fround(image[c * n + i]! + 1) * 127.5);
      let r = Math.round(v);
      if (r - v === 0.5 && r % 2 !== 0) r -= 1;
      out[i * 4 + c] = r;
    }
  }
  for (let i = 0; i < n; i++) out[i * 4 + 3] = 255;
  return out;
}

async function pngOf(rgba: Uint8ClampedArray<ArrayBuffer>, width: number, height: number): Promise<Blob> {
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  canvas.getContext('2d')!.putImageData(new ImageData(rgba, width, height), 0, 0);
  return new Promise((resolve, reject) =>
    canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('the browser could not encode a PNG'))), 'image/png'),
  );
}

/** Loads data/site.json, the model and onnxruntime-web; the page shows "loading the run…" meanwhile. */
export async function createStaticBackend(): Promise<Backend> {
  const site = await json<SiteJson>('data/site.json');
  if (site.format !== 'dermosynth-static-studio/1')
    throw new ApiError(0, `data/site.json is ${String(site.format)}, not a dermosynth static studio`);
  const model = new Uint8Array(await (await fetchOk(site.model.file)).arrayBuffer());
  const { ort, session, kind, why } = await startSession(site, model);
  const { width, height, classes } = site.run;
  const fit = site.run.fit as Fit;
  const runtime = `in this browser: onnxruntime-web ${site.ort.version} on ${kind === 'webgpu' ? 'WebGPU' : `WebAssembly (${why})`}`;
  window.dermosynthStudio = { last: null };

  const backend: Backend = {
    kind,
    run: async () => ({ ...site.run, device: runtime }),
    dataset: () => json<{ lesions: DatasetLesion[]; unavailable: string | null }>('data/dataset.json'),
    datasetMask: async (index: number) => (await fetchOk(`data/dataset/${index}.png`)).blob(),
    samples: () => json<{ samples: string[] }>('data/samples.json'),
    sampleUrl: (name: string) => `data/samples/${encodeURIComponent(name)}`,
    log: () => json<{ log: LogSummary | null }>('data/log.json'),
    metrics: () => json<{ metrics: unknown }>('data/metrics.json'),

    /** The server's checks, done here: one channel (or equal colour channels), binary, not empty; resized (nearest, the run's fit). */
    async normaliseMask(file: Blob): Promise<{ png: Blob; notice: string | null }> {
      let bitmap: ImageBitmap;
      try {
        bitmap = await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
      } catch {
        throw new ApiError(400, 'the file is not an image the browser can decode; send a single-channel 0/255 PNG');
      }
      const w = bitmap.width;
      const h = bitmap.height;
      const c = document.createElement('canvas');
      c.width = w;
      c.height = h;
      const ctx = c.getContext('2d', { willReadFrequently: true })!;
      ctx.drawImage(bitmap, 0, 0);
      bitmap.close();
      const px = ctx.getImageData(0, 0, w, h).data;
      const grey = new Uint8Array(w * h);
      let ambiguous = 0;
      for (let i = 0; i < grey.length; i++) {
        const v = px[i * 4]!;
        if (px[i * 4 + 1] !== v || px[i * 4 + 2] !== v)
          throw new ApiError(
            422,
            'the mask has colour channels that differ (a colour image); send a single-channel mask, 255 for lesion and 0 for skin',
          );
        if (v > 32 && v < 224) ambiguous++;
        grey[i] = v;
      }
      if (ambiguous / grey.length > MAX_AMBIGUOUS)
        throw new ApiError(
          422,
          `${((100 * ambiguous) / grey.length).toFixed(1)}% of the mask's pixels are neither near 0 nor near 255; send a binary mask (255 lesion, 0 skin)`,
        );
      const same = w === width && h === height;
      const placed = same
        ? grey
        : resizeMaskTo({ data: grey, width: w, height: h, channels: 1 }, { width, height }, fit).pixels;
      const rgba = new Uint8ClampedArray(width * height * 4);
      let lesion = 0;
      for (let i = 0; i < width * height; i++) {
        const v = placed[i]! >= MASK_THRESHOLD ? 255 : 0;
        lesion += v ? 1 : 0;
        rgba.fill(v, i * 4, i * 4 + 3);
        rgba[i * 4 + 3] = 255;
      }
      if (lesion === 0)
        throw new ApiError(
          422,
          same
            ? 'the mask is empty (no lesion pixel, none >= 128); draw or upload a lesion'
            : `the mask is empty at the run's size ${width}x${height} after resizing from ${w}x${h}; draw a larger lesion`,
        );
      const notice = same ? null : `the mask was ${w}x${h}; resized (nearest, ${fit}) to the run's ${width}x${height}`;
      return { png: await pngOf(rgba, width, height), notice };
    },

    async generate(r: GenerateRequest): Promise<Generated> {
      const classIndex = classes.indexOf(r.class);
      if (classIndex < 0) throw new ApiError(400, `unknown class '${r.class}': one of ${classes.join(', ')}`);
      if (r.rle.width !== width || r.rle.height !== height)
        throw new ApiError(422, `the mask is ${r.rle.width}x${r.rle.height}, the run is ${width}x${height}`);
      const started = performance.now();
      const mask = maskFromRle(r.rle);
      const shaped = r.vary ? deformMask(mask, width, height, r.seed) : mask;
      const labels = buildLabelBytes(shaped, classIndex, site.labelMap, width, height);
      const input = new ort.Tensor('uint8', labels, [1, 1, height, width]);
      let image: Float32Array;
      try {
        const out = await session.run({ [site.model.input]: input });
        const tensor = out[site.model.output]!;
        image = new Float32Array(tensor.data as Float32Array);
        tensor.dispose();
      } finally {
        input.dispose();
      }
      const inferenceMs = performance.now() - started;
      window.dermosynthStudio = { last: { labels, image, width, height, backend: kind, inferenceMs } };
      return {
        png: await pngOf(toRgba(image, width, height), width, height),
        seed: r.seed,
        className: r.class,
        vary: r.vary,
        notice: null,
        inferenceMs,
        queuedMs: 0,
      };
    },
  };
  return backend;
}
