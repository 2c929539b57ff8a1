// npm run bench:engine [-- --size 256 --iters 10 --warmup 2 --threads N --channels-last]
//
// One pix2pixHD-style GAN training iteration (generator and discriminator forward and backward,
// both Adam steps) in dermosynth and in Python PyTorch on the same libtorch, interleaved one
// iteration each, median of --iters after --warmup. Prints `ratio ts/python = X` and both peak RSS.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import os from 'node:os';
import * as torch from '../src/torch/index.js';
import { F, type Tensor } from '../src/torch/index.js';
import * as nn from '../src/nn/index.js';
import { MultiscaleDiscriminator, globalGenerator } from './pix2pixhd_nets.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const size = Number(arg('size', '256'));
const iters = Number(arg('iters', '10'));
const warmup = Number(arg('warmup', '2'));
const threads = Number(arg('threads', String(os.availableParallelism())));
const channelsLast = process.argv.includes('--channels-last');
const python = arg('python', '/usr/bin/python3');

torch.setNumThreads(threads);
torch.manualSeed(0);

const labelNc = 4, nLayers = 3, numD = 2, lambdaFeat = 10;
const G = globalGenerator(labelNc, 3, 32, 3, 6);
const D = new MultiscaleDiscriminator(labelNc + 3, 32, nLayers, numD);
const optG = new nn.optim.Adam(G.parameters(), { lr: 2e-4, betas: [0.5, 0.999] });
const optD = new nn.optim.Adam(D.parameters(), { lr: 2e-4, betas: [0.5, 0.999] });

const fmt = channelsLast ? 'channelsLast' : 'contiguous';
const [label, real] = torch.tidy(() => {
  const s = size, q = s / 4;
  const l = torch.zeros([1, labelNc, s, s]);
  const inside = torch.zeros([s, s]);
  inside.slice(0, q, 3 * q).slice(1, q, 3 * q).fill_(1);
  l.select(1, 0).copy_(inside.rsub(1));
  l.select(1, 2).copy_(inside);
  return [l.contiguous(fmt), torch.rand([1, 3, s, s]).mul(2).sub(1).contiguous(fmt)];
});
torch.keep(label!);
torch.keep(real!);

function lsgan(preds: Tensor[][], isReal: boolean): Tensor {
  let total: Tensor | null = null;
  for (const p of preds) {
    const last = p[p.length - 1]!;
    const target = isReal ? torch.onesLike(last) : torch.zerosLike(last);
    const l = F.mseLoss(last, target);
    total = total ? total.add(l) : l;
  }
  return total!;
}

function iteration(): { lossG: number; lossD: number } {
  return torch.tidy(() => {
    const fake = G.call(label!);
    const lossDFake = lsgan(D.call(F.cat([label!, fake.detach()], 1)), false);
    const predReal = D.call(F.cat([label!, real!], 1));
    const lossDReal = lsgan(predReal, true);
    const predFake = D.call(F.cat([label!, fake], 1));
    let lossG = lsgan(predFake, true);
    const featW = 4 / (nLayers + 1), dW = 1 / numD;
    for (let i = 0; i < numD; i++) {
      for (let j = 0; j < predFake[i]!.length - 1; j++) {
        lossG = lossG.add(F.l1Loss(predFake[i]![j]!, predReal[i]![j]!.detach()).mul(dW * featW * lambdaFeat));
      }
    }
    optG.zeroGrad();
    lossG.backward();
    optG.step();
    const lossD = lossDFake.add(lossDReal).mul(0.5);
    optD.zeroGrad();
    lossD.backward();
    optD.step();
    return { lossG: lossG.item(), lossD: lossD.item() };
  });
}

async function main(): Promise<void> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const args = [path.join(here, 'engine_pytorch.py'), '--size', String(size), '--threads', String(threads)];
  if (channelsLast) args.push('--channels-last');
  const py = spawn(python, args, { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, OMP_NUM_THREADS: String(threads) } });
  py.on('error', (err) => {
    console.error(`cannot start ${python} (${err.message}); install Python PyTorch: sudo apt-get install -y python3-torch`);
    process.exit(1);
  });
  const lines = createInterface({ input: py.stdout! })[Symbol.asyncIterator]();
  const ask = async (cmd: string): Promise<Record<string, number>> => {
    if (cmd) py.stdin!.write(`${cmd}\n`);
    const next = await lines.next();
    if (next.done) throw new Error(`${python} bench/engine_pytorch.py exited early`);
    return JSON.parse(next.value) as Record<string, number>;
  };
  await ask('');
  console.log(`pix2pixHD-style GAN iteration at ${size}x${size}, batch 1, ${threads} threads${channelsLast ? ', channels-last' : ''}; libtorch ${torch.buildInfo().version}`);
  console.log(`generator ${G.numParameters()} parameters, discriminator ${D.numParameters()} parameters`);
  const ts: number[] = [], pyt: number[] = [];
  for (let i = 0; i < warmup + iters; i++) {
    const t0 = performance.now();
    const l = iteration();
    const tsMs = performance.now() - t0;
    const p = await ask('step');
    const tag = i < warmup ? 'warm-up' : `iter ${i - warmup + 1}`;
    console.log(`${tag.padEnd(8)} ts ${tsMs.toFixed(0).padStart(6)} ms  python ${p.ms!.toFixed(0).padStart(6)} ms  (lossG ${l.lossG.toFixed(3)} / ${p.lossG!.toFixed(3)})`);
    if (i >= warmup) {
      ts.push(tsMs);
      pyt.push(p.ms!);
    }
  }
  const pyRss = (await ask('rss')).maxRssKb!;
  py.stdin!.write('quit\n');
  const median = (a: number[]): number => {
    const s = [...a].sort((x, y) => x - y);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const tsMed = median(ts), pyMed = median(pyt);
  console.log(`median ts ${tsMed.toFixed(1)} ms, python ${pyMed.toFixed(1)} ms`);
  console.log(`peak RSS ts ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB, python ${(pyRss / 1024).toFixed(0)} MiB`);
  console.log(`live tensors after the run: ${torch.liveTensors()}`);
  console.log(`ratio ts/python = ${(tsMed / pyMed).toFixed(3)}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
