// dermosynth studio build: the web studio as a static site that needs no dermosynth server. The
// same built page as `dermosynth serve` (studio/dist), told by a meta tag to use its in-browser
// backend (studio/src/static_backend.ts); the run's generator exported to ONNX (src/export) and run
// by onnxruntime-web (WebGPU or WebAssembly, one thread); a few of the run's dataset masks; its
// sample grids, loss summary and metrics. The folder is written next to --out and renamed into place
// when complete; --overwrite replaces only a folder that is itself a static studio.
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { exportRun } from '../export/export_run.js';
import type { ExportPrecision } from '../export/generator_graph.js';
import { readRunConfig } from '../run/config.js';
import { runPaths } from '../run/layout.js';
import { readModelConfig } from '../synth/model_folder.js';
import { DatasetMasks, type DatasetLesion } from './dataset_masks.js';
import { RunFiles } from './run_files.js';
import { StaticBundle } from './static_files.js';

export const SITE_FORMAT = 'dermosynth-static-studio/1';
export const DEFAULT_SITE_MASKS = 8;
export const DEFAULT_SITE_SAMPLES = 12;

/**
 * The page's policy (a meta tag: a static host sends no headers of ours). 'wasm-unsafe-eval' lets
 * onnxruntime-web compile its WebAssembly; everything else comes from the site itself. frame-ancestors
 * is left out: browsers ignore it in a meta tag (and say so on the console).
 */
export const SITE_CSP =
  "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'";

/** onnxruntime-web's files the site carries, renamed .mjs -> .js (a MIME type every server knows). */
const ORT_BUILDS = {
  wasm: { bundle: 'ort.wasm.min.mjs', mjs: 'ort-wasm-simd-threaded.mjs', wasm: 'ort-wasm-simd-threaded.wasm' },
  webgpu: {
    bundle: 'ort.webgpu.min.mjs',
    mjs: 'ort-wasm-simd-threaded.asyncify.mjs',
    wasm: 'ort-wasm-simd-threaded.asyncify.wasm',
  },
} as const;

export interface StaticSiteOptions {
  /** A run folder or a model folder. */
  runDir: string;
  out: string;
  /** Dataset masks to include at most (spread over the diagnoses). */
  masks?: number;
  /** The newest sample grids to include at most. */
  samples?: number;
  precision?: ExportPrecision;
  weights?: string;
  overwrite?: boolean;
  /** The built studio bundle (default: studio/dist). */
  bundleDir?: string;
}

export interface StaticSiteResult {
  out: string;
  model: string;
  width: number;
  height: number;
  modelBytes: number;
  masks: number;
  samples: number;
  licence: string;
  attribution: string;
  /** Bytes of every file written. */
  bytes: number;
}

/** Where onnxruntime-web's dist folder is (it is a dependency of dermosynth). */
export function ortDistDir(): { dir: string; version: string } {
  const require = createRequire(import.meta.url);
  let wasm: string;
  try {
    wasm = require.resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm');
  } catch {
    throw new RangeError('onnxruntime-web is not installed (npm ci installs it); the static studio needs its files');
  }
  const dir = path.dirname(wasm);
  const pkg = JSON.parse(readFileSync(path.join(dir, '..', 'package.json'), 'utf8')) as { version: string };
  return { dir, version: pkg.version };
}

const jsName = (f: string) => f.replace(/\.mjs$/, '.js');

/** Lesions spread over the diagnoses: the first of each diagnosis in turn, in the cache's order. */
export function pickLesions(lesions: readonly DatasetLesion[], n: number): DatasetLesion[] {
  const byClass = new Map<string, DatasetLesion[]>();
  for (const l of lesions) {
    let list = byClass.get(l.diagnosis);
    if (!list) byClass.set(l.diagnosis, (list = []));
    list.push(l);
  }
  const queues = [...byClass.values()];
  const out: DatasetLesion[] = [];
  for (let round = 0; out.length < n && queues.some((q) => q.length > round); round++)
    for (const q of queues) if (out.length < n && q[round]) out.push(q[round]!);
  return out;
}

export async function buildStaticSite(o: StaticSiteOptions): Promise<StaticSiteResult> {
  const out = path.resolve(o.out);
  if (!existsSync(o.runDir)) throw new RangeError(`--run ${o.runDir}: no such run folder`);
  if (existsSync(out)) {
    if (!o.overwrite) throw new RangeError(`--out ${o.out}: the folder exists; add --overwrite to replace it`);
    if (!existsSync(path.join(out, 'data', 'site.json')))
      throw new RangeError(`--out ${o.out}: the folder is not a static studio (no data/site.json); not replacing it`);
  }
  if (!existsSync(path.dirname(out)))
    throw new RangeError(`--out ${o.out}: the folder ${path.dirname(out)} does not exist`);
  const bundle = await StaticBundle.load(o.bundleDir);
  const indexHtml = bundle.get('/index.html')!.bytes.toString('utf8');
  if (![...bundle.entries()].some(([p]) => /^\/assets\/static_backend-[^/]*\.js$/.test(p)))
    throw new RangeError(
      `${bundle.dir}: the studio bundle is older than the static studio (it has no in-browser backend); run npm run build:studio`,
    );
  const ort = ortDistDir();
  const config =
    (await readModelConfig(o.runDir).catch(() => null))?.run ??
    (await readRunConfig(runPaths(o.runDir).config).catch(() => null));
  if (!config) throw new RangeError(`--run ${o.runDir}: no run config (config.json); is it a 'dermosynth train' run?`);

  const work = `${out}.partial-${process.pid}`;
  await rm(work, { recursive: true, force: true });
  let bytes = 0;
  const put = async (rel: string, data: Uint8Array | string) => {
    const file = path.join(work, rel);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, data);
    bytes += typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  };
  try {
    // The page: the served bundle, its index.html told to run the generator here.
    for (const [urlPath, file] of bundle.entries()) {
      if (urlPath === '/index.html') continue;
      await put(urlPath.slice(1), file.bytes);
    }
    await put('index.html', staticIndexHtml(indexHtml));

    // The generator.
    await mkdir(path.join(work, 'model'), { recursive: true });
    const exported = await exportRun({
      run: o.runDir,
      out: path.join(work, 'model', 'generator.onnx'),
      format: 'onnx',
      precision: o.precision ?? 'fp32',
      weights: o.weights,
    });
    bytes += exported.bytes;
    const m = exported.metadata;
    const [width, height] = m['dermosynth.size']!.split('x').map(Number) as [number, number];
    const labelMap = JSON.parse(m['dermosynth.label_map']!) as Record<string, unknown>;
    delete labelMap.bytes;

    // onnxruntime-web.
    for (const build of Object.values(ORT_BUILDS))
      for (const f of Object.values(build)) {
        await mkdir(path.join(work, 'ort'), { recursive: true });
        await copyFile(path.join(ort.dir, f), path.join(work, 'ort', jsName(f)));
        bytes += (await stat(path.join(work, 'ort', jsName(f)))).size;
      }
    await put(
      'ort/NOTICE.txt',
      `onnxruntime-web ${ort.version} (https://github.com/microsoft/onnxruntime), MIT licence, Copyright (c) Microsoft Corporation.\n` +
        'Files renamed from .mjs to .js; otherwise as published on npm.\n',
    );

    // Dataset masks to start from.
    const dataset = await DatasetMasks.open(o.runDir);
    let picked: DatasetLesion[] = [];
    try {
      picked = pickLesions(dataset.list(), o.masks ?? DEFAULT_SITE_MASKS);
      for (const [k, l] of picked.entries()) await put(`data/dataset/${k}.png`, (await dataset.maskPng(l.index))!);
      await put(
        'data/dataset.json',
        JSON.stringify({
          lesions: picked.map((l, k) => ({ ...l, index: k })),
          unavailable: picked.length ? null : (dataset.unavailable ?? 'the run has no dataset masks'),
        }),
      );
    } finally {
      dataset.close();
    }

    // The run tab.
    const files = new RunFiles(o.runDir);
    const samples = (await files.samples()).slice(0, o.samples ?? DEFAULT_SITE_SAMPLES);
    for (const name of samples) await put(`data/samples/${name}`, (await files.sample(name))!);
    await put('data/samples.json', JSON.stringify({ samples }));
    await put('data/log.json', JSON.stringify({ log: await files.logSummary() }));
    await put('data/metrics.json', JSON.stringify({ metrics: await files.metrics() }));

    const site = {
      format: SITE_FORMAT,
      run: {
        model: exported.model,
        width,
        height,
        classes: JSON.parse(m['dermosynth.classes']!) as string[],
        channels: JSON.parse(m['dermosynth.label_channels']!) as string[],
        fit: config.options.fit,
        weights: {
          name: m['dermosynth.weights_file']!,
          sha256: m['dermosynth.weights_sha256']!,
          step: m['dermosynth.weights_step'] === 'final' ? null : Number(m['dermosynth.weights_step']),
        },
        precision: o.precision ?? 'fp32',
        deterministic: true,
        varyShape: true,
        dataset: { count: picked.length, unavailable: picked.length ? null : dataset.unavailable },
        limits: { maxBody: 0, maxMaskSide: 4096, queue: 1, maxBatch: 1 },
        licence: { licence: m['dermosynth.licence']!, attribution: m['dermosynth.attribution']! },
      },
      labelMap,
      model: {
        file: 'model/generator.onnx',
        input: exported.input.name,
        output: exported.output.name,
        bytes: exported.bytes,
        sha256: exported.sha256,
        precision: o.precision ?? 'fp32',
      },
      ort: {
        version: ort.version,
        dir: 'ort/',
        wasm: mapValues(ORT_BUILDS.wasm, jsName),
        webgpu: mapValues(ORT_BUILDS.webgpu, jsName),
      },
    };
    await put('data/site.json', JSON.stringify(site, null, 2));

    if (existsSync(out)) await rm(out, { recursive: true, force: true });
    await rename(work, out);
    return {
      out,
      model: exported.model,
      width,
      height,
      modelBytes: exported.bytes,
      masks: picked.length,
      samples: samples.length,
      licence: m['dermosynth.licence']!,
      attribution: m['dermosynth.attribution']!,
      bytes,
    };
  } catch (e) {
    await rm(work, { recursive: true, force: true });
    throw e;
  }
}

function mapValues<T extends Record<string, string>>(o: T, f: (v: string) => string): Record<keyof T, string> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v)])) as Record<keyof T, string>;
}

/**
 * The served index.html with the static site's policy and the backend switch in its head, and its
 * asset URLs made relative (the bundle is built for the server's root; chunks import each other
 * relatively already), so that the site works under any path.
 */
export function staticIndexHtml(html: string): string {
  const charset = /<meta charset="utf-8"\s*\/?>/i.exec(html);
  if (!charset)
    throw new Error("the studio bundle's index.html has no <meta charset>: rebuild it (npm run build:studio)");
  const at = charset.index + charset[0].length;
  const head =
    `\n    <meta http-equiv="Content-Security-Policy" content="${SITE_CSP}" />` +
    '\n    <meta name="dermosynth-backend" content="static" />';
  const out = (html.slice(0, at) + head + html.slice(at)).replace(/(src|href)="\/assets\//g, '$1="./assets/');
  const absolute = /(?:src|href)="\/[^"]*"/.exec(out);
  if (absolute)
    throw new Error(
      `the studio bundle's index.html has a root-relative URL (${absolute[0]}) a static site cannot keep`,
    );
  return out;
}
