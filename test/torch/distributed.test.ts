// c10d from TypeScript (gloo over loopback, 2 processes): all-reduce sum/max/min, broadcast, the
// rendezvous store, and the gradient reducer (buckets sent from backward hooks, laid out again in
// the first backward's order) against gradients averaged by hand; argument errors.
import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ProcessGroup, distributedBackends } from '../../src/torch/distributed.js';
import { freePort } from '../../src/cli/train_launcher.js';

const root = path.resolve(import.meta.dirname, '../..');
const WORKER = path.join(root, 'test/torch/fixtures/process_group_worker.ts');
const haveGloo = distributedBackends().includes('gloo');

function runRank(
  rank: number,
  worldSize: number,
  port: number,
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, String(rank), String(worldSize), String(port)], {
      cwd: root,
      env: { ...process.env, OMP_NUM_THREADS: '1' },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

/** The gradients of the worker's loss on one rank, by hand. */
function grads(rank: number, step: number): number[][] {
  const c = rank + 1 + step;
  const x = [1, -1, 2, 0.5].map((v) => v * c);
  const sumX = x.reduce((a, b) => a + b, 0);
  const w2 = [0.5, -1, 2, 0.25];
  return [x, w2.map((w) => 2 * w * (rank + 1)), [sumX + 3 * 3 ** 2]];
}

describe.skipIf(!haveGloo)('ProcessGroup (gloo, 2 processes)', () => {
  it('all-reduce, broadcast, store and the bucketed gradient reducer', async () => {
    const port = await freePort();
    const [r0, r1] = await Promise.all([runRank(0, 2, port), runRank(1, 2, port)]);
    expect(r0.code, r0.err).toBe(0);
    expect(r1.code, r1.err).toBe(0);
    const results = [JSON.parse(r0.out), JSON.parse(r1.out)];
    expect(results[0].bucketsAfter).toEqual(results[1].bucketsAfter);
    for (const r of results) {
      expect(r.sum).toEqual([3, -3, 10]);
      expect(r.max).toEqual([2, -1, 10]);
      expect(r.min).toEqual([1, -2, 0]);
      expect(r.broadcast).toEqual([7, 8, 9]);
      expect(r.store).toBe('from rank 0');
      // Reverse order, 8 bytes a bucket: unused (8 B), w3 (4 B, then w2 would overflow), w2 (16 B), w1 (16 B).
      expect(r.buckets).toEqual([8, 4, 16, 16]);
      // After the first backward, laid out again in the order gradients came (rank 0's, on every
      // rank): the unused parameter, never ready, last. The second step's gradients go through it.
      expect(r.bucketsAfter.slice(0, 3).sort((x: number, y: number) => x - y)).toEqual([4, 16, 16]);
      expect(r.bucketsAfter[3]).toBe(8);
      for (let step = 0; step < 2; step++) {
        const [a, b] = [grads(0, step), grads(1, step)];
        const mean = a.map((g, i) => g.map((v, j) => (v + b[i]![j]!) / 2));
        const got = r.steps[step];
        mean.forEach((m, i) => got[i].forEach((v: number, j: number) => expect(v).toBeCloseTo(m[j]!, 5)));
        // Backward never reached it on any rank: it keeps no gradient.
        expect(got[3]).toBeNull();
      }
    }
  }, 90_000);

  it('bad arguments are clear errors', () => {
    expect(() => ProcessGroup.init({ host: '127.0.0.1', port: 1, rank: 2, worldSize: 2 })).toThrow(
      /rank must be an integer in \[0, 2\)/,
    );
    expect(() => ProcessGroup.init({ host: '127.0.0.1', port: 70000, rank: 0, worldSize: 1 })).toThrow(
      /port must be an integer in 1\.\.65535/,
    );
    if (!distributedBackends().includes('nccl')) {
      expect(() =>
        ProcessGroup.init({ backend: 'nccl', host: '127.0.0.1', port: 29999, rank: 0, worldSize: 1 }),
      ).toThrow(/'nccl' is not in this build.*NCCL needs a CUDA libtorch/);
    }
  });

  it('a group of one needs no peer', () => {
    return freePort().then((port) => {
      const pg = ProcessGroup.init({ host: '127.0.0.1', port, rank: 0, worldSize: 1, timeoutMs: 5000 });
      pg.barrier();
      pg.close();
      expect(() => pg.barrier()).toThrow(/closed/);
    });
  });
});
