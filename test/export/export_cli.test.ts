// dermosynth export on real runs: a tiny trained run of every model (proposed with and without a
// local enhancer, pix2pixhd, pix2pix, spade), exported and run in onnxruntime-node against the
// run's generator as synthesis loads it; the provenance and licence in the metadata; bad input.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as torch from '../../src/torch/index.js';
import { RunGenerator } from '../../src/synth/run_generator.js';
import { exportRun, type ExportRequest } from '../../src/export/export_run.js';
import { dataLicence } from '../../src/export/provenance.js';
import { decodeModel } from '../../src/export/onnx_proto.js';
import { TINY, cliRunner } from '../helpers/cli.js';
import {
  FP16_BOUND,
  FP16_MEAN_BOUND,
  FP32_BOUND,
  difference,
  labelFeed,
  lesionLabels,
  oneHotFeed,
  reference,
  runOnnx,
  session,
} from './helpers.js';

const cli = cliRunner({ timeoutMs: 180_000 });
let work = '';

/** The tiny runs: model flags on top of the sample data (32x32 for the pix2pixHD family, 64x64 where the model needs it). */
const RUNS: Record<string, string[]> = {
  proposed: [...TINY],
  'proposed-local': [...TINY, '--local-enhancers', '1', '--upsample', 'resize', '--skip', 'add'],
  pix2pixhd: [...TINY, '--model', 'pix2pixhd', '--local-enhancers', '1', '--boundary', '2', '--frame'],
  pix2pix: ['--model', 'pix2pix', '--size', '64x64', '--ngf', '4', '--ndf', '8', '--n-layers-d', '2'],
  spade: ['--model', 'spade', '--size', '64x64', '--ngf', '4', '--ndf', '8', '--n-layers-d', '2'],
};
const runDir = (name: string): string => path.join(work, 'runs', name);
const request = (name: string, out: string, o: Partial<ExportRequest> = {}): ExportRequest => ({
  run: runDir(name),
  out: path.join(work, out),
  format: 'onnx',
  overwrite: true,
  ...o,
});

beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-export-'));
  const data = path.join(work, 'data');
  let r = cli('data', 'sample', '--out', data, '--n', '12', '--size', '64');
  expect(r.status, r.stderr).toBe(0);
  for (const [name, flags] of Object.entries(RUNS)) {
    r = cli('train', '--out', runDir(name), '--data', data, ...flags, '--steps', '2');
    expect(r.status, `${name}: ${r.stderr}`).toBe(0);
  }
}, 600_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.each(Object.keys(RUNS))('%s run', (name) => {
  it("dermosynth export writes a model whose images are the run generator's within 1e-4", async () => {
    const out = path.join(work, `${name}.onnx`);
    const r = cli('export', '--run', runDir(name), '--format', 'onnx', '--out', out, '--opset', '17');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^wrote .*\.onnx \([\d.]+ MiB, sha256 [0-9a-f]{64}\)\n$/);
    expect(r.stderr).toMatch(/generator: \d+ nodes \(/);
    const rg = await RunGenerator.load(runDir(name));
    try {
      const [w, h] = [rg.width, rg.height];
      const labels = lesionLabels(rg.spec, 3, h, w, 5);
      const s = await session(readFileSync(out));
      const got = await runOnnx(s, labelFeed(labels, 3, h, w));
      // The reference is synthesis's own path: label bytes -> generateImages.
      const want = torch.tidy(() =>
        rg
          .generateImages(torch.fromBytes(labels, 'uint8', [3, 1, h, w]))
          .contiguous()
          .toFloat32Array(),
      );
      const d = difference(want, got.data);
      expect(d.max).toBeLessThanOrEqual(FP32_BOUND);
      // A 2-step run's image can be small (pix2pix, spade): relative to its scale too.
      expect(d.max).toBeLessThanOrEqual(1e-4 * d.scale);
    } finally {
      rg.dispose();
    }
  });

  it('with --dynamic-size, fp32 and fp16 hold at the training size and at another size; --input onehot too', async () => {
    const rg = await RunGenerator.load(runDir(name));
    try {
      const dynamic = await session(
        readFileSync((await exportRun(request(name, `${name}-dyn.onnx`, { dynamicSize: true }))).file),
      );
      const half = await session(
        readFileSync(
          (await exportRun(request(name, `${name}-fp16.onnx`, { dynamicSize: true, precision: 'fp16' }))).file,
        ),
      );
      const onehot = await session(
        readFileSync((await exportRun(request(name, `${name}-onehot.onnx`, { input: 'onehot' }))).file),
      );
      for (const [w, h] of [
        [rg.width, rg.height],
        [2 * rg.width, rg.height],
      ]) {
        const labels = lesionLabels(rg.spec, 2, h!, w!, 6);
        const want = reference(rg.generator, rg.spec, labels, 2, h!, w!);
        const d32 = difference(want, (await runOnnx(dynamic, labelFeed(labels, 2, h!, w!))).data);
        expect(d32.max, `${w}x${h}`).toBeLessThanOrEqual(FP32_BOUND);
        const d16 = difference(want, (await runOnnx(half, labelFeed(labels, 2, h!, w!))).data);
        expect(d16.max, `${w}x${h}`).toBeLessThanOrEqual(FP16_BOUND);
        expect(d16.mean, `${w}x${h}`).toBeLessThanOrEqual(FP16_MEAN_BOUND);
        if (w === rg.width && h === rg.height) {
          const d = difference(want, (await runOnnx(onehot, oneHotFeed(labels, 2, h!, w!, rg.spec))).data);
          expect(d.max).toBeLessThanOrEqual(FP32_BOUND);
        }
      }
    } finally {
      rg.dispose();
    }
  });
});

describe('--size', () => {
  it("fixes another size than the run's", async () => {
    const r = await exportRun(request('proposed-local', 'other-size.onnx', { size: { width: 64, height: 48 } }));
    expect(r.input.shape).toEqual(['N', 1, 48, 64]);
    expect(r.metadata['dermosynth.export_size']).toBe('64x48');
    const rg = await RunGenerator.load(runDir('proposed-local'));
    try {
      const labels = lesionLabels(rg.spec, 1, 48, 64, 9);
      const got = await runOnnx(await session(readFileSync(r.file)), labelFeed(labels, 1, 48, 64));
      expect(difference(reference(rg.generator, rg.spec, labels, 1, 48, 64), got.data).max).toBeLessThanOrEqual(
        FP32_BOUND,
      );
    } finally {
      rg.dispose();
    }
  });
});

describe('the metadata', () => {
  it('records the run, the weights sha256, the diagnoses, the size and the label map', async () => {
    const r = await exportRun(request('pix2pixhd', 'meta.onnx'));
    const m = decodeModel(readFileSync(r.file));
    const meta = Object.fromEntries(m.metadataProps.map((p) => [p.key, p.value]));
    expect(meta['dermosynth.run']).toBe('pix2pixhd');
    expect(meta['dermosynth.model']).toBe('pix2pixhd');
    expect(meta['dermosynth.weights_sha256']).toBe(
      createHash('sha256')
        .update(readFileSync(path.join(runDir('pix2pixhd'), 'generator.safetensors')))
        .digest('hex'),
    );
    expect(meta['dermosynth.weights_step']).toBe('final');
    expect(JSON.parse(meta['dermosynth.classes']!)).toEqual(['nevus', 'melanoma', 'seborrheic_keratosis']);
    expect(meta['dermosynth.size']).toBe('32x32');
    expect(meta['dermosynth.export_size']).toBe('32x32');
    expect(meta['dermosynth.size_rule']).toBe('width and height multiples of 8, at least 16');
    expect(JSON.parse(meta['dermosynth.label_map']!)).toMatchObject({
      version: 1,
      frame: true,
      boundary: 2,
      channels: ['skin', 'lesion:nevus', 'lesion:melanoma', 'lesion:seborrheic_keratosis', 'frame', 'boundary'],
    });
    expect(meta['dermosynth.input']).toMatch(/^labels: uint8 \[N, 1, H, W\]/);
    expect(meta['dermosynth.licence']).toMatch(/^none: procedural data/);
    expect(m.producerName).toBe('dermosynth');
    expect(m.graph.input.map((i) => i.name)).toEqual(['labels']);
    expect(m.graph.output.map((o) => o.name)).toEqual(['image']);
    expect(r.sha256).toBe(createHash('sha256').update(readFileSync(r.file)).digest('hex'));
  });

  it('carries the ISIC attribution and CC-BY-NC licence when the run was trained on ISIC data', async () => {
    // The proposed run as if its data had been read from the official ISIC 2017 layout.
    const copy = path.join(work, 'runs', 'isic');
    cpSync(runDir('proposed'), copy, { recursive: true });
    const config = JSON.parse(readFileSync(path.join(copy, 'config.json'), 'utf8'));
    config.data.cache = path.join(copy, 'cache');
    writeFileSync(path.join(copy, 'config.json'), JSON.stringify(config));
    const manifest = JSON.parse(readFileSync(path.join(copy, 'cache', 'cache.json'), 'utf8'));
    manifest.source.format = 'isic2017';
    writeFileSync(path.join(copy, 'cache', 'cache.json'), JSON.stringify(manifest));
    const r = await exportRun({ run: copy, out: path.join(work, 'isic.onnx'), format: 'onnx' });
    const m = decodeModel(readFileSync(r.file));
    const meta = Object.fromEntries(m.metadataProps.map((p) => [p.key, p.value]));
    expect(meta['dermosynth.licence']).toBe('CC-BY-NC-4.0');
    expect(meta['dermosynth.attribution']).toMatch(
      /^ISIC 2017 data, CC-BY-NC 4\.0; Codella et al\. arXiv:1710\.05006\. Non-commercial use only/,
    );
    expect(m.docString).toContain('Codella et al. arXiv:1710.05006');
  });

  it('recognises ISIC ids in any layout, and says so when the data is gone', async () => {
    expect(dataLicence('flat', ['SYN_0000001', 'ISIC_0000123']).licence).toBe('CC-BY-NC-4.0');
    expect(dataLicence('flat', ['ISIC_0000123']).attribution).toMatch(/ISIC Archive images/);
    expect(dataLicence('isic2018', []).attribution).toMatch(/^ISIC 2018 \/ HAM10000 data, CC-BY-NC 4\.0/);
    expect(dataLicence('ph2', ['IMD002']).isic).toBe(false);
    const copy = path.join(work, 'runs', 'no-data');
    cpSync(runDir('proposed'), copy, { recursive: true });
    rmSync(path.join(copy, 'cache'), { recursive: true });
    const config = JSON.parse(readFileSync(path.join(copy, 'config.json'), 'utf8'));
    config.data.cache = path.join(work, 'gone');
    writeFileSync(path.join(copy, 'config.json'), JSON.stringify(config));
    const r = await exportRun({ run: copy, out: path.join(work, 'no-data.onnx'), format: 'onnx' });
    expect(r.metadata['dermosynth.licence']).toMatch(
      /^unknown: .*if the model was trained on ISIC data, CC-BY-NC 4\.0 applies/,
    );
  });

  it('exports a run that has only checkpoints, naming the step', async () => {
    const copy = path.join(work, 'runs', 'checkpoint-only');
    cpSync(runDir('spade'), copy, { recursive: true });
    rmSync(path.join(copy, 'generator.safetensors'));
    const r = await exportRun({ run: copy, out: path.join(work, 'ckpt.onnx'), format: 'onnx' });
    expect(r.metadata['dermosynth.weights_step']).toBe('2');
    expect(r.metadata['dermosynth.weights_file']).toBe('step-00000002.safetensors');
  });
});

describe('bad input: one line naming the flag', () => {
  const fails = (...args: string[]): string => {
    const r = cli('export', ...args);
    expect(r.status, r.stdout).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    return lines[0]!;
  };

  it('a run folder without weights', () => {
    const empty = path.join(work, 'runs', 'empty');
    mkdirSync(empty, { recursive: true });
    cpSync(path.join(runDir('proposed'), 'config.json'), path.join(empty, 'config.json'));
    expect(fails('--run', empty, '--out', path.join(work, 'x.onnx'))).toMatch(
      /^dermosynth: --run .*empty: the run has no weights yet/,
    );
  });

  it('an unknown format', () => {
    expect(fails('--run', runDir('proposed'), '--format', 'tflite', '--out', path.join(work, 'x.onnx'))).toBe(
      'dermosynth: --format tflite: unknown format; the formats are onnx',
    );
  });

  it('a size that is not a multiple of what the model needs', () => {
    expect(fails('--run', runDir('proposed-local'), '--size', '36x36', '--out', path.join(work, 'x.onnx'))).toMatch(
      /^dermosynth: --size 36x36: width and height must be multiples of 8 for this generator \(2\^\(nDown \+ local enhancers\) = 2\^\(2 \+ 1\)\); the nearest larger size is 40x40$/,
    );
  });

  it('--size with --dynamic-size', () => {
    expect(
      fails('--run', runDir('proposed'), '--size', '64x64', '--dynamic-size', '--out', path.join(work, 'x.onnx')),
    ).toMatch(/^dermosynth: --size and --dynamic-size exclude each other/);
  });

  it('an opset outside those written, and an existing file', () => {
    expect(fails('--run', runDir('proposed'), '--opset', '12', '--out', path.join(work, 'x.onnx'))).toBe(
      'dermosynth: --opset 12: ONNX opsets 13 to 21 are written (default 17)',
    );
    const out = path.join(work, 'exists.onnx');
    writeFileSync(out, 'x');
    expect(fails('--run', runDir('proposed'), '--out', out)).toMatch(
      /^dermosynth: --out .*exists\.onnx: the file exists; add --overwrite to replace it$/,
    );
  });
});
