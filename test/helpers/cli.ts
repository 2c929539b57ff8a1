// Shared by the tests that run the dermosynth command: where it is, a quiet environment, a tiny
// network's flags, a synchronous runner, and a small dataset with a tiny trained run on it.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import path from 'node:path';

export const root = path.resolve(import.meta.dirname, '../..');
export const bin = path.join(root, 'bin/dermosynth.mjs');
/** Plain progress lines on stderr instead of bars. */
export const cliEnv: NodeJS.ProcessEnv = { ...process.env, DERMOSYNTH_NO_BAR: '1' };
/** The proposed networks small enough that a step at 32x32 takes milliseconds. */
export const TINY = [
  '--size',
  '32x32',
  '--ngf',
  '8',
  '--n-down',
  '2',
  '--n-blocks',
  '1',
  '--ndf',
  '8',
  '--n-layers-d',
  '2',
];

export type Cli = (...args: string[]) => SpawnSyncReturns<string>;

/** `dermosynth ...args` run to the end, stdout and stderr as text. */
export function cliRunner(o: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Cli {
  return (...args) =>
    spawnSync(process.execPath, [bin, ...args], {
      cwd: root,
      encoding: 'utf8',
      env: o.env ?? cliEnv,
      timeout: o.timeoutMs ?? 120_000,
    });
}

/** The built-in sample data (`lesions` of `size` px) in WORK/data, and a 2-step TINY run on it in WORK/run. */
export function sampleAndTinyRun(
  work: string,
  cli: Cli,
  o: { lesions: number; size: number },
): { data: string; run: string } {
  const data = path.join(work, 'data');
  const run = path.join(work, 'run');
  let r = cli('data', 'sample', '--out', data, '--n', String(o.lesions), '--size', String(o.size));
  if (r.status !== 0) throw new Error(`dermosynth data sample failed:\n${r.stderr}`);
  r = cli('train', '--out', run, '--data', data, ...TINY, '--steps', '2');
  if (r.status !== 0) throw new Error(`dermosynth train (the tiny test run) failed:\n${r.stderr}`);
  return { data, run };
}

/** `synthesize` of 4 melanomas from the dataset's deformed masks (seed 3, PNG) into `out`: the precision and device tests' run. */
export function synthFourMelanomas(
  cli: Cli,
  r: { run: string; data: string },
  out: string,
  ...extra: string[]
): SpawnSyncReturns<string> {
  return cli(
    'synthesize',
    '--run',
    r.run,
    '--dataset',
    r.data,
    '--class',
    'melanoma',
    '--count',
    '4',
    '--deform',
    '--seed',
    '3',
    '--format',
    'png',
    '--out',
    out,
    ...extra,
  );
}
