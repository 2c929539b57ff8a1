// npm run bench:engine [-- --size 256 --iters 15 --warmup 2 --threads N --channels-last --no-subpixel]
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
import { arg } from './args.js';

const size = Number(arg('size', '256'));
const iters = Number(arg('iters', '15'));
const warmup = Number(arg('warmup', '2'));
const threads = Number(arg('threads', String(os.availableParallelism())));
const channelsLast = process.argv.includes('--channels-last');
const subpixel = !process.argv.includes('--no-subpixel');
const python = arg('python', '/usr/bin/python3');

torch.setNumThreads(threads);

const labelNc = 4,
  nLayers = 3,
  numD = 2,
  lambdaFeat = 10;
const fmt = channelsLast ? 'channelsLast' : 'contiguous';

/** The label map (a square lesion of class 2) and a random "real" image, as the Python script makes them. */
function makeInputs(): [Tensor, Tensor] {
  return torch.tidy(() => {
    const s = size,
      q = s / 4;
    const l = torch.zeros([1, labelNc, s, s]);
    const inside = torch.zeros([s, s]);
    inside
      .slice(0, q, 3 * q)
      .slice(1, q, 3 * q)
      .fill_(1);
    l.select(1, 0).copy_(inside.rsub(1));
    l.select(1, 2).copy_(inside);
    return [torch.keep(l.contiguous(fmt)), torch.keep(torch.rand([1, 3, s, s]).mul(2).sub(1).contiguous(fmt))] as [
      Tensor,
      Tensor,
    ];
  });
}

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

type Iteration = () => { lossG: number; lossD: number };

/**
 * The training iteration. `likeForLike` runs exactly the operations of bench/engine_pytorch.py
 * (pix2pixHD's order: three discriminator passes, backward into every parameter, aten transposed
 * convolutions). Otherwise dermosynth's iteration: the same updates computed with what eager
 * Python leaves on the table: transposed convolutions in their exact sub-pixel form on oneDNN,
 * one discriminator pass on the fake serving both losses, and each backward restricted to the
 * parameters it updates (the G step computes no discriminator weight gradients).
 */
function makeIteration(likeForLike: boolean): Iteration {
  torch.manualSeed(0);
  const G = globalGenerator(labelNc, 3, 32, 3, 6, subpixel && !likeForLike);
  const D = new MultiscaleDiscriminator(labelNc + 3, 32, nLayers, numD);
  const gParams = G.parameters(),
    dParams = D.parameters();
  const optG = new nn.optim.Adam(gParams, { lr: 2e-4, betas: [0.5, 0.999] });
  const optD = new nn.optim.Adam(dParams, { lr: 2e-4, betas: [0.5, 0.999] });
  const [label, real] = makeInputs();
  const featW = 4 / (nLayers + 1),
    dW = 1 / numD;
  const featureMatching = (predFake: Tensor[][], predReal: Tensor[][]): Tensor => {
    let loss = torch.zeros([]);
    for (let i = 0; i < numD; i++) {
      for (let j = 0; j < predFake[i]!.length - 1; j++) {
        loss = loss.add(F.l1Loss(predFake[i]![j]!, predReal[i]![j]!.detach()).mul(dW * featW * lambdaFeat));
      }
    }
    return loss;
  };
  if (likeForLike) {
    return () =>
      torch.tidy(() => {
        const fake = G.call(label);
        const lossDFake = lsgan(D.call(F.cat([label, fake.detach()], 1)), false);
        const predReal = D.call(F.cat([label, real], 1));
        const lossDReal = lsgan(predReal, true);
        const predFake = D.call(F.cat([label, fake], 1));
        const lossG = lsgan(predFake, true).add(featureMatching(predFake, predReal));
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
  return () =>
    torch.tidy(() => {
      const fake = G.call(label);
      const predFake = D.call(F.cat([label, fake], 1));
      const predReal = D.call(F.cat([label, real], 1));
      const lossG = lsgan(predFake, true).add(featureMatching(predFake, predReal));
      const lossD = lsgan(predFake, false).add(lsgan(predReal, true)).mul(0.5);
      optG.zeroGrad();
      lossG.backward(null, { retainGraph: true, inputs: gParams });
      optG.step();
      optD.zeroGrad();
      lossD.backward(null, { inputs: dParams });
      optD.step();
      return { lossG: lossG.item(), lossD: lossD.item() };
    });
}

// A peer process answering one line per command: "step" runs an iteration and answers
// {"ms", "lossG", "lossD"}; "rss" answers {"maxRssKb"}; "quit" ends it.
interface Peer {
  ask(cmd: string): Promise<Record<string, number>>;
  quit(): void;
}

async function startPeer(name: string, command: string, args: string[]): Promise<Peer> {
  const child = spawn(command, args, {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, OMP_NUM_THREADS: String(threads) },
  });
  child.on('error', (err) => {
    console.error(
      `cannot start ${name} (${command}: ${err.message}); for Python: sudo apt-get install -y python3-torch`,
    );
    process.exit(1);
  });
  let quitting = false;
  child.on('exit', (code, signal) => {
    if (quitting) return;
    console.error(`${name} ended unexpectedly (exit code ${code}, signal ${signal}); the benchmark stops`);
    process.exit(1);
  });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const ask = async (cmd: string): Promise<Record<string, number>> => {
    if (cmd) child.stdin!.write(`${cmd}\n`);
    const next = await lines.next();
    if (next.done) throw new Error(`${name} exited early`);
    return JSON.parse(next.value) as Record<string, number>;
  };
  await ask('');
  return {
    ask,
    quit: () => {
      quitting = true;
      child.stdin!.write('quit\n');
    },
  };
}

/** `--serve like-for-like`: this script as a peer process running the like-for-like iteration. */
async function serve(): Promise<void> {
  const iteration = makeIteration(true);
  console.log(JSON.stringify({ ready: true }));
  for await (const line of createInterface({ input: process.stdin })) {
    const cmd = line.trim();
    if (cmd === 'step') {
      const t0 = performance.now();
      const l = iteration();
      console.log(JSON.stringify({ ms: performance.now() - t0, ...l }));
    } else if (cmd === 'rss') {
      console.log(JSON.stringify({ maxRssKb: process.resourceUsage().maxRSS }));
    } else if (cmd === 'quit') {
      break;
    }
  }
  process.exit(0);
}

async function main(): Promise<void> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const common = ['--size', String(size), '--threads', String(threads), ...(channelsLast ? ['--channels-last'] : [])];
  const py = await startPeer('bench/engine_pytorch.py', python, [path.join(here, 'engine_pytorch.py'), ...common]);
  const same = await startPeer('the like-for-like TypeScript peer', process.execPath, [
    ...process.execArgv,
    fileURLToPath(import.meta.url),
    '--serve',
    'like-for-like',
    ...common,
  ]);
  console.log(
    `pix2pixHD-style GAN iteration at ${size}x${size}, batch 1, ${threads} threads${channelsLast ? ', channels-last' : ''}` +
      `${subpixel ? '' : ', aten transposed convolutions'}; libtorch ${torch.buildInfo().version}`,
  );
  const optimized = makeIteration(false);
  const results = { ts: [] as number[], same: [] as number[], python: [] as number[] };
  console.log(
    'each iteration runs in turn in: dermosynth | like-for-like (same operations as Python) | python; all start from the same weights',
  );
  for (let i = 0; i < warmup + iters; i++) {
    const t0 = performance.now();
    const l = optimized();
    const tsMs = performance.now() - t0;
    const s = await same.ask('step');
    const p = await py.ask('step');
    const tag = i < warmup ? 'warm-up' : `iter ${i - warmup + 1}`;
    console.log(
      `${tag.padEnd(8)} ts ${tsMs.toFixed(0).padStart(5)} ms  like-for-like ${s.ms!.toFixed(0).padStart(5)} ms  python ${p.ms!.toFixed(0).padStart(5)} ms` +
        `  (lossG ${l.lossG.toFixed(3)} / ${s.lossG!.toFixed(3)} / ${p.lossG!.toFixed(3)})`,
    );
    if (i >= warmup) {
      results.ts.push(tsMs);
      results.same.push(s.ms!);
      results.python.push(p.ms!);
    }
  }
  const pyRss = (await py.ask('rss')).maxRssKb!;
  const sameRss = (await same.ask('rss')).maxRssKb!;
  py.quit();
  same.quit();
  const median = (a: number[]): number => {
    const s = [...a].sort((x, y) => x - y);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const tsMed = median(results.ts),
    sameMed = median(results.same),
    pyMed = median(results.python);
  const mib = (kb: number): string => `${(kb / 1024).toFixed(0)} MiB`;
  console.log(
    `median ts ${tsMed.toFixed(1)} ms, like-for-like ${sameMed.toFixed(1)} ms, python ${pyMed.toFixed(1)} ms`,
  );
  console.log(
    `peak RSS ts ${mib(process.resourceUsage().maxRSS)}, like-for-like ${mib(sameRss)}, python ${mib(pyRss)}`,
  );
  console.log(
    `ratio like-for-like/python = ${(sameMed / pyMed).toFixed(3)}  (the binding's own cost: the same operations as the Python script)`,
  );
  console.log(
    `ratio ts/python = ${(tsMed / pyMed).toFixed(3)}  (dermosynth's iteration: the same updates; see makeIteration)`,
  );
}

const run = process.argv.includes('--serve') ? serve : main;
run().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
