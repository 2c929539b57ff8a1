// dermosynth train --nproc N [--nnodes K --node-rank I --master-addr A --master-port P]: starts
// N worker processes on this machine (ranks I*N .. I*N+N-1 of K*N), each running `dermosynth
// train` as one replica of a data-parallel run, and watches them: a worker that fails stops the
// others (no hang), SIGINT/SIGTERM is passed on once so that the workers agree on a step, rank 0
// checkpoints and all exit.
//
// Workers learn their place from the environment (the variables below), so any launcher (SLURM,
// a job scheduler) can start them directly: see README.md.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';

export const WORKER_ENV = {
  rank: 'DERMOSYNTH_RANK',
  localRank: 'DERMOSYNTH_LOCAL_RANK',
  worldSize: 'DERMOSYNTH_WORLD_SIZE',
  masterAddr: 'DERMOSYNTH_MASTER_ADDR',
  masterPort: 'DERMOSYNTH_MASTER_PORT',
  timeout: 'DERMOSYNTH_DIST_TIMEOUT',
  /** Rank 0 only: the resolved training options (JSON); the others get them from rank 0. */
  options: 'DERMOSYNTH_TRAIN_OPTIONS',
} as const;

export interface WorkerPlace {
  rank: number;
  localRank: number;
  worldSize: number;
  masterAddr: string;
  masterPort: number;
  timeoutSeconds: number;
}

/** This process's place when it was started as a worker, else null. */
export function workerPlace(env: NodeJS.ProcessEnv = process.env): WorkerPlace | null {
  if (env[WORKER_ENV.rank] === undefined) return null;
  const int = (name: string, dflt?: number) => {
    const raw = env[name];
    const v = raw === undefined || raw === '' ? dflt : Number(raw);
    if (v === undefined || !Number.isInteger(v) || v < 0)
      throw new RangeError(`${name}=${raw ?? ''}: expected a non-negative integer`);
    return v;
  };
  const place: WorkerPlace = {
    rank: int(WORKER_ENV.rank),
    localRank: int(WORKER_ENV.localRank, int(WORKER_ENV.rank)),
    worldSize: int(WORKER_ENV.worldSize),
    masterAddr: env[WORKER_ENV.masterAddr] || '127.0.0.1',
    masterPort: int(WORKER_ENV.masterPort, 29500),
    timeoutSeconds: int(WORKER_ENV.timeout, 1800),
  };
  if (place.worldSize < 1 || place.rank >= place.worldSize)
    throw new RangeError(`${WORKER_ENV.rank}=${place.rank} must be below ${WORKER_ENV.worldSize}=${place.worldSize}`);
  return place;
}

/** A free TCP port on this machine (for a one-machine run's rendezvous). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

export interface LaunchOptions {
  /** Workers on this machine. */
  nproc: number;
  nnodes: number;
  nodeRank: number;
  masterAddr: string;
  masterPort: number;
  timeoutSeconds: number;
  /** The command line each worker runs (after the node executable). */
  args: string[];
  /** Extra environment for rank 0 (the resolved options). */
  rankZeroEnv: Record<string, string>;
  /** Seconds a worker has to exit after being asked to, before it is killed. */
  graceSeconds?: number;
  onMessage?: (m: string) => void;
}

export interface LaunchResult {
  /** 0 when every worker finished; otherwise the exit code to use. */
  exitCode: number;
  /** What went wrong, naming the worker (null when all finished). */
  failure: string | null;
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `was killed by ${signal}` : `exited with code ${code}`;
}

/** Starts the workers of this machine and waits for them; see the top of this file. */
export async function launchWorkers(o: LaunchOptions): Promise<LaunchResult> {
  const worldSize = o.nproc * o.nnodes;
  const threads = Math.max(1, Math.floor(os.availableParallelism() / o.nproc));
  const say = o.onMessage ?? ((m: string) => process.stderr.write(`${m}\n`));
  const workers: { rank: number; child: ChildProcess; exited: boolean }[] = [];
  let failure: string | null = null;
  let exitCode = 0;
  let stopping = false;

  const stopAll = (signal: NodeJS.Signals) => {
    for (const w of workers) if (!w.exited) w.child.kill(signal);
  };
  let killTimer: NodeJS.Timeout | null = null;
  const stopThenKill = () => {
    if (stopping) return;
    stopping = true;
    stopAll('SIGTERM');
    killTimer = setTimeout(() => stopAll('SIGKILL'), (o.graceSeconds ?? 10) * 1000);
    killTimer.unref();
  };

  // Ctrl-C reaches only this process (workers have their own process group): pass it on once.
  let forwarded: NodeJS.Signals | null = null;
  const onSignal = (sig: NodeJS.Signals) => {
    if (forwarded) {
      say(`${sig} again: stopping the workers at once`);
      stopAll('SIGKILL');
      return;
    }
    forwarded = sig;
    stopAll(sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    const done: Promise<void>[] = [];
    for (let local = 0; local < o.nproc; local++) {
      const rank = o.nodeRank * o.nproc + local;
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        [WORKER_ENV.rank]: String(rank),
        [WORKER_ENV.localRank]: String(local),
        [WORKER_ENV.worldSize]: String(worldSize),
        [WORKER_ENV.masterAddr]: o.masterAddr,
        [WORKER_ENV.masterPort]: String(o.masterPort),
        [WORKER_ENV.timeout]: String(o.timeoutSeconds),
        ...(rank === 0 ? o.rankZeroEnv : {}),
      };
      // Cores are split between the workers unless the user chose.
      if (env.OMP_NUM_THREADS === undefined) env.OMP_NUM_THREADS = String(threads);
      if (env.NCCL_ASYNC_ERROR_HANDLING === undefined) env.NCCL_ASYNC_ERROR_HANDLING = '1';
      const child = spawn(process.execPath, [...process.execArgv, ...o.args], {
        env,
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        detached: true,
      });
      const w = { rank, child, exited: false };
      workers.push(w);
      done.push(
        new Promise<void>((resolve) => {
          child.on('error', (e) => {
            w.exited = true;
            if (!failure) {
              failure = `worker rank ${rank} could not start: ${e.message}`;
              exitCode = 1;
              stopThenKill();
            }
            resolve();
          });
          child.on('exit', (code, signal) => {
            w.exited = true;
            if ((code !== 0 || signal) && !failure && !forwarded) {
              failure = `worker rank ${rank} (pid ${child.pid}) ${describeExit(code, signal)}; stopped the other workers`;
              exitCode = code && code !== 0 ? code : 1;
              stopThenKill();
            } else if (forwarded && code !== 0 && exitCode === 0) {
              exitCode = code ?? 1;
            }
            resolve();
          });
        }),
      );
    }
    say(
      `started ${o.nproc} worker${o.nproc > 1 ? 's' : ''} (ranks ${o.nodeRank * o.nproc}..${o.nodeRank * o.nproc + o.nproc - 1} of ${worldSize}; pids ${workers.map((w) => w.child.pid).join(', ')}), ${process.env.OMP_NUM_THREADS ?? threads} threads each`,
    );
    await Promise.all(done);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (killTimer) clearTimeout(killTimer);
  }
  return { exitCode, failure };
}
