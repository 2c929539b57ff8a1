// npm run bench:memory [-- --steps 2000 --size 256]
//
// The leak check at real size: 2,000 synchronous training steps (no awaits, no forced garbage
// collection) of a small conv net on 256x256 images with Adam, the tensors of each step freed by
// tidy. Prints the RSS after warm-up and at the end, its growth (target < 5%), and live tensors.
import os from 'node:os';
import * as torch from '../src/torch/index.js';
import { F } from '../src/torch/index.js';
import * as nn from '../src/nn/index.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const steps = arg('steps', 2000);
const size = arg('size', 256);
const warmup = Math.min(200, Math.floor(steps / 10));
torch.setNumThreads(arg('threads', os.availableParallelism()));
torch.manualSeed(0);

const net = new nn.Sequential(
  new nn.ReflectionPad2d(1),
  new nn.Conv2d(3, 16, 3),
  new nn.InstanceNorm2d(16, { affine: true }),
  new nn.LeakyReLU(0.2),
  new nn.Conv2d(16, 16, 3, { padding: 1 }),
  new nn.InstanceNorm2d(16, { affine: true }),
  new nn.ReLU(),
  new nn.Conv2d(16, 3, 3, { padding: 1 }),
  new nn.Tanh(),
);
const opt = new nn.optim.Adam(net.parameters(), { lr: 2e-4, betas: [0.5, 0.999] });
const input = torch.keep(torch.randn([1, 3, size, size]));
const target = torch.keep(torch.tidy(() => torch.rand([1, 3, size, size]).mul(2).sub(1)));
const mib = (): number => process.memoryUsage().rss / 2 ** 20;

console.log(
  `${steps} steps, ${net.numParameters()}-parameter conv net, ${size}x${size}, ${torch.getNumThreads()} threads`,
);
const baseline = torch.liveTensors();
let rssWarm = 0;
let first = 0,
  last = 0;
const t0 = performance.now();
for (let i = 0; i < steps; i++) {
  last = torch.tidy(() => {
    const loss = F.l1Loss(net.call(input), target);
    opt.zeroGrad();
    loss.backward();
    opt.step();
    return loss.item();
  });
  if (i === 0) first = last;
  if (i + 1 === warmup) rssWarm = mib();
  if ((i + 1) % Math.max(1, Math.floor(steps / 5)) === 0) {
    const ms = (performance.now() - t0) / (i + 1);
    process.stderr.write(
      `step ${i + 1}: RSS ${mib().toFixed(1)} MiB, live tensors ${torch.liveTensors() - baseline}, ${ms.toFixed(1)} ms/step, loss ${last.toFixed(4)}\n`,
    );
  }
}
const rssEnd = mib();
console.log(`loss ${first.toFixed(4)} -> ${last.toFixed(4)}`);
console.log(
  `RSS after ${warmup} warm-up steps ${rssWarm.toFixed(1)} MiB, after ${steps} steps ${rssEnd.toFixed(1)} MiB`,
);
console.log(
  `live tensors made by the loop and still held: ${torch.liveTensors() - baseline} (Adam's two moments per parameter tensor: ${2 * net.parameters().length})`,
);
console.log(`RSS growth after warm-up = ${(((rssEnd - rssWarm) / rssWarm) * 100).toFixed(2)}% (target < 5%)`);
