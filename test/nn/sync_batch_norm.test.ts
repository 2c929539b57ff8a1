// SyncBatchNorm2d: two gloo ranks with half a batch each train exactly as one process with
// BatchNorm2d on the whole batch (outputs, input and parameter gradients, running statistics);
// with no group or a group of one it is BatchNorm2d; eval mode does not communicate;
// convertSyncBatchNorm swaps the modules and keeps their tensors.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as torch from '../../src/torch/index.js';
import * as nn from '../../src/nn/index.js';
import { NamedSequential } from '../../src/models/classifiers/common.js';
import { ProcessGroup, distributedBackends } from '../../src/torch/distributed.js';
import type { Tensor } from '../../src/torch/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const WORKER = path.join(root, 'test/nn/fixtures/sync_batch_norm_worker.ts');
const HAS_GLOO = distributedBackends().includes('gloo');
if (!HAS_GLOO)
  console.warn(
    'sync_batch_norm.test.ts: the multi-process tests are skipped: this build of the addon has no gloo (install libgloo-dev and npm run build:native)',
  );

beforeAll(() => {
  torch.setNumThreads(1);
});

function maxAbsDiff(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  return torch.tidy(() => a.to('float64').sub(b.to('float64')).abs().max().item());
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** conv -> BatchNorm2d with a non-trivial affine part and a slightly off-centre input. */
function makeNet(): nn.Sequential {
  const model = new nn.Sequential(new nn.Conv2d(3, 4, 3, { padding: 1 }), new nn.BatchNorm2d(4)).to('float64');
  torch.noGrad(() => {
    model
      .child('1')
      .param('weight')
      .copy_(torch.rand([4], { dtype: 'float64' }).add(0.5));
    model
      .child('1')
      .param('bias')
      .copy_(torch.randn([4], { dtype: 'float64' }));
  });
  return model;
}

/** A stand-in process group (one process playing rank 0 of 2) that records what is asked of it. */
function fakeGroup(peer: 'same' | 'empty'): { pg: ProcessGroup; calls: string[] } {
  const calls: string[] = [];
  const fake = {
    rank: 0,
    worldSize: 2,
    allReduce(tensors: Tensor[]) {
      calls.push('allReduce');
      // The statistics table: 'same' makes the peer's row a copy of ours (the peer saw the same
      // batch), 'empty' leaves it zero (the peer's batch was empty).
      if (peer === 'same') torch.noGrad(() => tensors[0]!.select(0, 1).copy_(tensors[0]!.select(0, 0)));
    },
    sumGradientAcrossRanks() {
      calls.push('sumGradientAcrossRanks');
    },
  };
  return { pg: fake as unknown as ProcessGroup, calls };
}

describe('SyncBatchNorm2d over two gloo ranks', () => {
  const children: ChildProcess[] = [];
  let work = '';
  afterEach(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    children.length = 0;
    if (work) fs.rmSync(work, { recursive: true, force: true });
    work = '';
  });

  function runWorker(args: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', WORKER, ...args], {
        cwd: root,
        env: { ...process.env, OMP_NUM_THREADS: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let output = '';
      child.stdout!.on('data', (d) => (output += d));
      child.stderr!.on('data', (d) => (output += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else reject(new Error(`worker ${args.slice(0, 3).join(' ')} exited with ${code ?? signal}:\n${output}`));
      });
    });
  }

  it.skipIf(!HAS_GLOO)(
    'matches one process with BatchNorm2d on the whole batch: outputs, gradients, running stats',
    async () => {
      torch.manualSeed(7);
      const ref = makeNet();
      const x = torch.randn([4, 3, 5, 5], { dtype: 'float64' }).mul(2).add(1);
      const target = torch.randn([4, 4, 5, 5], { dtype: 'float64' });
      work = fs.mkdtempSync(path.join(os.tmpdir(), 'dermosynth-syncbn-'));
      const inputs: Record<string, Tensor> = { x, target };
      for (const [k, t] of ref.stateDict()) inputs[`net.${k}`] = t;
      await torch.saveSafetensors(path.join(work, 'inputs.safetensors'), inputs);

      const port = await freePort();
      const world = 2;
      await Promise.all(
        [0, 1].map((r) =>
          runWorker([String(port), String(r), String(world), path.join(work, 'inputs.safetensors'), work]),
        ),
      );
      const ranks = await Promise.all(
        [0, 1].map(async (r) => (await torch.loadSafetensors(path.join(work, `rank${r}.safetensors`))).tensors),
      );
      const fromRank = (r: number, name: string): Tensor => {
        const t = ranks[r]!.get(name);
        if (!t) throw new Error(`rank ${r} wrote no '${name}'`);
        return t;
      };
      const both = (name: string): Tensor => torch.cat([fromRank(0, name), fromRank(1, name)], 0);

      // The reference: one process, the whole batch, loss = the mean over it (= mean of the ranks' losses).
      const step = (): { xg: Tensor; y: Tensor } => {
        const xr = x.clone().requiresGrad_(true);
        const y = ref.call(xr);
        y.tanh().mul(target).mean().backward();
        return { xg: xr.grad!.clone(), y: y.detach() };
      };
      const s1 = step();
      const grads1 = new Map([...ref.namedParameters()].map(([n, p]) => [n, p.grad!.clone()]));
      const state1 = new Map([...ref.namedBuffers()].map(([n, b]) => [n, b.clone()]));
      ref.zeroGrad();
      step();
      ref.eval();
      const yEval = torch.noGrad(() => ref.call(x));

      const tol = 1e-10; // float64: the same maths in another order
      expect(maxAbsDiff(both('y'), s1.y)).toBeLessThan(tol);
      // Rank r's input gradient is d(sum of the ranks' losses)/dx_r: world times the mean loss's.
      expect(maxAbsDiff(both('x_grad').div(world), s1.xg)).toBeLessThan(tol);
      expect(s1.xg.abs().max().item()).toBeGreaterThan(1e-3); // a gradient worth comparing
      for (const [name, p] of ref.namedParameters()) {
        // Step 1 averaged by hand, step 2 by the bucketed reducer; both are the mean loss's gradient.
        expect(maxAbsDiff(fromRank(0, `grad1.${name}`), grads1.get(name)!), `grad1.${name}`).toBeLessThan(tol);
        expect(maxAbsDiff(fromRank(0, `grad2.${name}`), p.grad!), `grad2.${name}`).toBeLessThan(tol);
        expect(maxAbsDiff(fromRank(1, `grad2.${name}`), p.grad!), `grad2.${name}`).toBeLessThan(tol);
      }
      for (const [name, b] of ref.namedBuffers()) {
        expect(maxAbsDiff(fromRank(0, `state1.${name}`), state1.get(name)!), `state1.${name}`).toBeLessThan(tol);
        expect(maxAbsDiff(fromRank(0, `state2.${name}`), b), `state2.${name}`).toBeLessThan(tol);
        // Every rank holds bit for bit the same running statistics.
        expect(Buffer.from(fromRank(1, `state2.${name}`).bytes())).toEqual(
          Buffer.from(fromRank(0, `state2.${name}`).bytes()),
        );
      }
      expect(fromRank(0, 'state2.1.num_batches_tracked').item()).toBe(2);
      // The running variance is the unbiased one of the whole batch (not of either half).
      const convOut = torch.noGrad(() => ref.child('0').call(x));
      const unbiased = convOut.transpose(0, 1).reshape(4, -1).var(1, { correction: 1 });
      const expectedVar = torch
        .onesLike(unbiased)
        .mul(0.9 * 0.9)
        .add(unbiased.mul(0.1 * 0.9 + 0.1));
      expect(maxAbsDiff(fromRank(0, 'state2.1.running_var'), expectedVar)).toBeLessThan(tol);
      expect(maxAbsDiff(both('y_eval'), yEval)).toBeLessThan(tol);
    },
  );
});

describe('SyncBatchNorm2d in one process', () => {
  function compareWithBatchNorm(group: ProcessGroup | null): void {
    torch.manualSeed(3);
    const bn = makeNet().child<nn.BatchNorm2d>('1');
    const sync = new nn.SyncBatchNorm2d(4, { processGroup: group }).to('float64');
    sync.loadStateDict(bn.stateDict());
    const x = torch.randn([3, 4, 6, 5], { dtype: 'float64' });
    const g = torch.randn([3, 4, 6, 5], { dtype: 'float64' });
    const run = (m: nn.Module): Tensor[] => {
      const xi = x.clone().requiresGrad_(true);
      const y = m.call(xi);
      y.mul(g).sum().backward();
      return [y.detach(), xi.grad!, m.param('weight').grad!, m.param('bias').grad!];
    };
    const a = run(bn);
    const b = run(sync);
    a.forEach((t, i) => expect(Buffer.from(b[i]!.bytes()), `output ${i}`).toEqual(Buffer.from(t.bytes())));
    for (const [name, t] of bn.stateDict())
      expect(Buffer.from(sync.stateDict().get(name)!.bytes()), name).toEqual(Buffer.from(t.bytes()));
  }

  it('with no process group it is BatchNorm2d, bit for bit', () => {
    compareWithBatchNorm(null);
  });

  it.skipIf(!HAS_GLOO)('with a group of one it is BatchNorm2d, bit for bit', async () => {
    const pg = ProcessGroup.init({
      host: '127.0.0.1',
      port: await freePort(),
      rank: 0,
      worldSize: 1,
      timeoutMs: 20_000,
    });
    try {
      compareWithBatchNorm(pg);
    } finally {
      pg.close();
    }
  });

  it('has the state-dict names of BatchNorm2d', () => {
    expect([...new nn.SyncBatchNorm2d(4).stateDict().keys()]).toEqual([...new nn.BatchNorm2d(4).stateDict().keys()]);
    expect([...new nn.SyncBatchNorm2d(4).stateDict().keys()]).toEqual([
      'weight',
      'bias',
      'running_mean',
      'running_var',
      'num_batches_tracked',
    ]);
  });

  it("combines the ranks' statistics: a peer with the same batch is BatchNorm2d on both copies, an empty peer adds nothing", () => {
    torch.manualSeed(5);
    const x = torch.randn([2, 4, 3, 3], { dtype: 'float64' }).mul(3).add(5);
    for (const peer of ['same', 'empty'] as const) {
      const { pg, calls } = fakeGroup(peer);
      const bn = makeNet().child<nn.BatchNorm2d>('1');
      const sync = nn.convertSyncBatchNorm(bn, pg);
      const before = new Map([...bn.stateDict()].map(([k, t]) => [k, t.clone()]));
      const y = sync.call(x);
      expect(calls).toEqual(['allReduce', 'sumGradientAcrossRanks']);
      // The reference: BatchNorm2d on what the two ranks saw together.
      const refBn = new nn.BatchNorm2d(4).to('float64');
      refBn.loadStateDict(before);
      const all = peer === 'same' ? torch.cat([x, x], 0) : x;
      const yRef = refBn.call(all).narrow(0, 0, 2);
      expect(maxAbsDiff(y, yRef), peer).toBeLessThan(1e-12);
      for (const [name, t] of refBn.stateDict())
        expect(maxAbsDiff(sync.stateDict().get(name)!, t), `${peer}: ${name}`).toBeLessThan(1e-12);
    }
  });

  it('needs more than one value per channel over all ranks', () => {
    const { pg } = fakeGroup('empty');
    const sync = new nn.SyncBatchNorm2d(2, { processGroup: pg });
    expect(() => sync.call(torch.randn([1, 2, 1, 1]))).toThrow(/more than 1 value per channel over all 2 ranks/);
  });

  it('in eval mode uses the running statistics and does not communicate', () => {
    torch.manualSeed(11);
    const bn = makeNet().child<nn.BatchNorm2d>('1');
    torch.noGrad(() => {
      bn.buffer('running_mean')!.copy_(torch.randn([4]));
      bn.buffer('running_var')!.copy_(torch.rand([4]).add(0.5));
    });
    const { pg, calls } = fakeGroup('same');
    const sync = nn.convertSyncBatchNorm(bn, pg).eval();
    bn.eval();
    const x = torch.randn([2, 4, 3, 3], { dtype: 'float64' });
    expect(Buffer.from(sync.call(x).bytes())).toEqual(Buffer.from(bn.call(x).bytes()));
    expect(calls).toEqual([]);
    sync.train();
    sync.call(x);
    expect(calls).toEqual(['allReduce', 'sumGradientAcrossRanks']);
  });
});

describe('convertSyncBatchNorm', () => {
  class Block extends nn.Module {
    readonly conv: nn.Conv2d;
    readonly bn: nn.BatchNorm2d;
    readonly branches: nn.Module[] = [];
    constructor() {
      super();
      this.conv = this.registerModule('conv', new nn.Conv2d(3, 4, 3, { padding: 1 }));
      this.bn = this.registerModule('bn', new nn.BatchNorm2d(4));
      this.branches.push(this.registerModule('norm', new nn.BatchNorm2d(4)));
      this.registerModule(
        'tail',
        new NamedSequential([
          ['act', new nn.ReLU()],
          ['norm', new nn.BatchNorm2d(4)],
          ['inorm', new nn.InstanceNorm2d(4)],
        ]),
      );
    }
    forward(x: Tensor): Tensor {
      return this.child('tail').call(this.branches[0]!.call(this.bn.call(this.conv.call(x))));
    }
  }

  it('swaps every BatchNorm2d, in the registry and in the fields forward uses, keeping the tensors', () => {
    torch.manualSeed(2);
    const model = new nn.Sequential(new Block(), new nn.BatchNorm2d(4));
    const bnNames = ['0.bn', '0.norm', '0.tail.norm', '1'];
    const state = model.stateDict();
    const tensorsBefore = [...state.values()];
    const x = torch.randn([2, 3, 5, 5]);
    model.eval();
    const yBefore = model.call(x);

    expect(nn.convertSyncBatchNorm(model, null)).toBe(model);
    const modules = new Map(model.namedModules());
    for (const name of bnNames) expect(modules.get(name), name).toBeInstanceOf(nn.SyncBatchNorm2d);
    expect(modules.get('0.tail.inorm')).toBeInstanceOf(nn.InstanceNorm2d);
    expect([...modules.keys()]).toEqual([
      '',
      '0',
      '0.conv',
      '0.bn',
      '0.norm',
      '0.tail',
      '0.tail.act',
      '0.tail.norm',
      '0.tail.inorm',
      '1',
    ]);
    // The same tensors under the same names, in the same order.
    expect([...model.stateDict().keys()]).toEqual([...state.keys()]);
    [...model.stateDict().values()].forEach((t, i) => expect(t).toBe(tensorsBefore[i]));
    // The fields forward reads point at the new modules.
    const block = model.child<Block>('0');
    expect(block.bn).toBe(modules.get('0.bn'));
    expect(block.branches[0]).toBe(modules.get('0.norm'));
    expect(block.child<NamedSequential>('tail').order[1]![1]).toBe(modules.get('0.tail.norm'));
    expect(model.layers[1]).toBe(modules.get('1'));
    // Eval mode and settings carried over; same outputs.
    expect(modules.get('0.bn')!.training).toBe(false);
    expect(Buffer.from(model.call(x).bytes())).toEqual(Buffer.from(yBefore.bytes()));

    // Forward goes through the new modules: with a two-rank group, training talks to it once per norm.
    const { pg, calls } = fakeGroup('same');
    nn.convertSyncBatchNorm(model, pg);
    model.train();
    model.call(x);
    expect(calls.filter((c) => c === 'allReduce')).toHaveLength(bnNames.length);
  });

  it('returns a SyncBatchNorm2d for a BatchNorm2d, with its settings and tensors', () => {
    const bn = new nn.BatchNorm2d(3, { eps: 1e-3, momentum: 0.3 });
    const sync = nn.convertSyncBatchNorm(bn, null);
    expect(sync).toBeInstanceOf(nn.SyncBatchNorm2d);
    expect([sync.eps, sync.momentum, sync.trackRunningStats]).toEqual([1e-3, 0.3, true]);
    expect(sync.param('weight')).toBe(bn.param('weight'));
    expect(sync.buffer('num_batches_tracked')).toBe(bn.buffer('num_batches_tracked'));
    const plain = nn.convertSyncBatchNorm(new nn.BatchNorm2d(3, { affine: false, trackRunningStats: false }), null);
    expect([...plain.stateDict().keys()]).toEqual([]);
  });
});
