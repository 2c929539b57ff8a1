// npm run bench:inception [-- --n 64 --size 256 --batch 16 --iters 3 --warmup 1 --rounds 2 --threads N --resize bicubic-antialias]
//
// FID feature extraction speed: images per second through the FID Inception-v3 (resize to 299x299,
// the network, pool3 as a float64 matrix), dermosynth's `extractFeatures(loadInceptionV3(...))`
// against the same network in Python PyTorch (bench/inception_pytorch.py: plain torch.nn, the same
// libtorch, the same thread count), on the same random weights: PyTorch writes them (torch.save),
// scripts/to_safetensors.py converts them, both sides load the safetensors file. Before timing it
// checks parity: both sides' pool3 and logits for the same 2 images (max difference relative to
// the largest value; expected ~1e-6, float32 summation order). Then --rounds rounds, each one
// dermosynth run then one Python process, each timing --iters passes over --n random images of
// --size x --size in batches of --batch after --warmup passes, in inference mode. It prints each
// side's median images/s, peak RSS, and `ratio dermosynth/pytorch images/s` (>= 1: dermosynth as
// fast or faster). One pass of 64 images at 256x256 takes about 10-20 s on 2 cores.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import path from 'node:path';
import * as torch from '../src/torch/index.js';
import { loadInceptionV3, INCEPTION_RESIZE_MODES, type InceptionResize } from '../src/models/inception_v3.js';
import { extractFeatures } from '../src/eval/features.js';
import { arg, intArg } from './args.js';

const n = intArg('n', 64, 1);
const size = intArg('size', 256, 16);
const batch = intArg('batch', 16, 1);
const iters = intArg('iters', 3, 1);
const warmup = intArg('warmup', 1, 0);
const rounds = intArg('rounds', 2, 1);
const threads = intArg('threads', os.availableParallelism(), 1);
const resize = arg('resize', 'bicubic-antialias') as InceptionResize;
if (!INCEPTION_RESIZE_MODES.includes(resize))
  throw new RangeError(`--resize must be one of ${INCEPTION_RESIZE_MODES.join(', ')}`);
const python = arg('python', '/usr/bin/python3');
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PEER = path.join(ROOT, 'bench/inception_pytorch.py');
const env = { ...process.env, OMP_NUM_THREADS: String(threads) };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  torch.setNumThreads(threads);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-bench-inception-'));
  try {
    if (spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status !== 0) {
      throw new Error(
        `${python} cannot import torch: the benchmark needs Python PyTorch as its peer (sudo apt-get install -y python3-torch)`,
      );
    }
    const pth = path.join(dir, 'weights.pth');
    const weights = path.join(dir, 'weights.safetensors');
    execFileSync(python, [PEER, '--init', pth, '--seed', '0'], { env });
    execFileSync(python, [path.join(ROOT, 'scripts/to_safetensors.py'), pth, weights], { env, stdio: 'ignore' });
    const net = await loadInceptionV3(weights, { resize });
    console.log(
      `FID Inception-v3 feature extraction: ${n} images of ${size}x${size}, batch ${batch}, resize ${resize}, ${threads} threads; libtorch ${torch.buildInfo().version}`,
    );

    // Parity on 2 images.
    torch.manualSeed(1);
    const probe = torch.rand([2, 3, size, size]);
    const probeFile = path.join(dir, 'probe.safetensors');
    const outFile = path.join(dir, 'probe-out.safetensors');
    await torch.saveSafetensors(probeFile, { images: probe });
    execFileSync(python, [PEER, '--weights', weights, '--images', probeFile, '--out', outFile, '--resize', resize], {
      env,
    });
    const ref = (await torch.loadSafetensors(outFile)).tensors;
    const ours = torch.inferenceMode(() => net.call(probe));
    for (const k of ['pool3', 'logits'] as const) {
      const d = torch.tidy(() => ours[k].sub(ref.get(k)!).abs().max().item() / ref.get(k)!.abs().max().item());
      console.log(`parity ${k}: max |dermosynth - pytorch| / max |pytorch| = ${d.toExponential(2)}`);
    }
    torch.dispose([probe, ours.pool3, ours.logits, ...ref.values()]);

    const images = torch.tidy(() =>
      torch
        .rand([n, 3, size, size], { generator: new torch.Generator(0) })
        .mul(2)
        .sub(1),
    );
    const ts: number[] = [];
    const py: number[] = [];
    let pyRss = 0;
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < warmup + iters; i++) {
        const t0 = performance.now();
        const f = await extractFeatures(net, images, { batchSize: batch });
        const s = (performance.now() - t0) / 1000;
        f.dispose();
        if (i >= warmup) ts.push(n / s);
      }
      const out = execFileSync(
        python,
        [
          PEER,
          '--weights',
          weights,
          '--bench',
          '--n',
          String(n),
          '--size',
          String(size),
          '--batch',
          String(batch),
          '--iters',
          String(iters),
          '--warmup',
          String(warmup),
          '--threads',
          String(threads),
          '--resize',
          resize,
        ],
        { env, encoding: 'utf8' },
      );
      const res = JSON.parse(out.trim().split('\n').pop()!) as { secondsPerRound: number[]; maxRssKb: number };
      for (const s of res.secondsPerRound) py.push(n / s);
      pyRss = Math.max(pyRss, res.maxRssKb);
      console.log(
        `round ${r + 1}: dermosynth ${ts
          .slice(-iters)
          .map((v) => v.toFixed(2))
          .join(', ')} img/s; pytorch ${res.secondsPerRound.map((s) => (n / s).toFixed(2)).join(', ')} img/s`,
      );
    }
    images.dispose();
    const a = median(ts);
    const b = median(py);
    console.log(
      `dermosynth: ${a.toFixed(2)} img/s (median of ${ts.length}), peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`,
    );
    console.log(
      `pytorch:    ${b.toFixed(2)} img/s (median of ${py.length}), peak RSS ${(pyRss / 1024).toFixed(0)} MiB`,
    );
    console.log(`ratio dermosynth/pytorch images/s = ${(a / b).toFixed(3)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
