// dermosynth train from the command line: bad options get clear errors; SIGINT saves a checkpoint
// and a --resume finishes the run.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as torch from '../../src/torch/index.js';
import { TINY, bin, cliEnv, cliRunner, root } from '../helpers/cli.js';

const env = cliEnv;
const cli = cliRunner({ env, timeoutMs: 120_000 });

let work = '';
let data = '';

// Small and fast: a tiny network at 32x32.

beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-train-cli-'));
  data = path.join(work, 'data');
  const r = cli('data', 'sample', '--out', data, '--n', '9', '--size', '64');
  expect(r.status, r.stderr).toBe(0);
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('dermosynth train: errors', () => {
  it('an unknown model lists the four', () => {
    const r = cli('train', '--out', path.join(work, 'x1'), '--model', 'cyclegan');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--model/);
    expect(r.stderr).toMatch(/proposed.*pix2pixhd.*pix2pix.*spade/);
  });

  it('a size the generator cannot take names the multiple needed', () => {
    const r = cli('train', '--out', path.join(work, 'x2'), '--data', data, '--size', '36x36', '--n-down', '3');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/36x36/);
    expect(r.stderr).toMatch(/multiple/);
    expect(existsSync(path.join(work, 'x2', 'cache')), 'no data is prepared for a run that cannot start').toBe(false);
  });

  it('missing data names the folder', () => {
    const r = cli('train', '--out', path.join(work, 'x3'), '--data', path.join(work, 'nowhere'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/nowhere: no such folder/);
  });

  it('a bad number names the flag', () => {
    const r = cli('train', '--out', path.join(work, 'x4'), '--batch', 'two');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--batch/);
  });

  it.skipIf(torch.cudaIsAvailable())(
    '--device cuda without CUDA, and --precision fp16 on the CPU, are one clear line each',
    () => {
      let r = cli('train', '--out', path.join(work, 'x5'), '--device', 'cuda');
      expect(r.status).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/--device cuda: .*no CUDA.*LIBTORCH=/);
      r = cli('train', '--out', path.join(work, 'x6'), '--precision', 'fp16');
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/--precision fp16 needs a CUDA device; use bf16/);
      expect(existsSync(path.join(work, 'x5'))).toBe(false);
      expect(existsSync(path.join(work, 'x6'))).toBe(false);
    },
  );

  it('--resume needs a run, and refuses other options; a second run in the same folder needs --resume', () => {
    const out = path.join(work, 'run-a');
    let r = cli('train', '--out', out, '--resume');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/holds no run/);
    r = cli('train', '--out', out, '--data', data, ...TINY, '--steps', '2', '--sample-every', '1');
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(path.join(out, 'samples'))).toEqual(['step-00000001.png', 'step-00000002.png']);
    const config = JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8'));
    expect(config.options.width).toBe(32);
    expect(config.model.options.ngf).toBe(8);
    r = cli('train', '--out', out, '--data', data, ...TINY, '--steps', '2');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/already holds a run.*--resume/);
    r = cli('train', '--out', out, '--resume', '--lr', '0.001');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/other options \(lr: run 0.0002, given 0.001\)/);
    r = cli('train', '--out', out, '--resume', '--ngf', '16');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/modelOverrides/);
    // The same options, or none, are fine: the run is already complete.
    r = cli('train', '--out', out, '--resume', '--lr', '0.0002');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/done: 2 steps/);
  });
});

describe('dermosynth train: data', () => {
  it('--data a prepared cache starts a run in a folder that does not exist yet', () => {
    const cache = path.join(work, 'cache32');
    let r = cli('data', 'prepare', data, '--size', '32x32', '--out', cache);
    expect(r.status, r.stderr).toBe(0);
    const out = path.join(work, 'not', 'yet', 'run-from-cache');
    r = cli('train', '--out', out, '--data', cache, ...TINY, '--steps', '1');
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8')).options.data).toBe(cache);
    expect(existsSync(path.join(out, 'generator.safetensors'))).toBe(true);
  });
});

describe('dermosynth train: model and loss options', () => {
  it('--upsample resize and --fm-std-weight reach the model, the losses, the config and the log; --resume refuses another weight', () => {
    const out = path.join(work, 'run-resize');
    let r = cli(
      'train',
      '--out',
      out,
      '--data',
      data,
      ...TINY,
      '--steps',
      '2',
      '--upsample',
      'resize',
      '--fm-weight',
      '5',
      '--fm-std-weight',
      '3',
    );
    expect(r.status, r.stderr).toBe(0);
    const config = JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8'));
    expect(config.model.options.upsample).toBe('resize');
    expect(config.model.losses).toMatchObject({ featureMatching: 5, featureStd: 3 });
    expect(config.options.lossOverrides).toEqual({ featureMatching: 5, featureStd: 3 });
    const log = readFileSync(path.join(out, 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(log.every((e) => e.losses.G_GAN_FeatStd > 0)).toBe(true);
    r = cli('train', '--out', out, '--resume', '--fm-std-weight', '1');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/lossOverrides/);
    r = cli('train', '--out', out, '--data', data, ...TINY, '--steps', '1', '--fm-std-weight', '-1');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--fm-std-weight.*expected a number >= 0, got '-1'/);
  });

  it('--g-ema reaches the config and the checkpoints (Gema.*, beside G.*); a decay of 1 is refused naming the flag', async () => {
    const out = path.join(work, 'run-ema');
    let r = cli(
      'train',
      '--out',
      out,
      '--data',
      data,
      ...TINY,
      '--steps',
      '2',
      '--checkpoint-every',
      '2',
      '--g-ema',
      '0.9',
    );
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8')).options.gEma).toBe(0.9);
    const { tensors } = await torch.loadSafetensors(path.join(out, 'checkpoints', 'step-00000002.safetensors'));
    try {
      const names = [...tensors.keys()];
      const g = names.filter((k) => k.startsWith('G.')).map((k) => k.slice(2));
      expect(g.length).toBeGreaterThan(0);
      expect(names.filter((k) => k.startsWith('Gema.')).map((k) => k.slice(5))).toEqual(g);
    } finally {
      torch.dispose(tensors);
    }
    r = cli('train', '--out', path.join(work, 'x-ema'), '--data', data, ...TINY, '--g-ema', '1');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--g-ema.*expected a fraction in \[0, 1\), got '1'/);
  });
});

describe('dermosynth train: signals', () => {
  it('SIGINT saves a checkpoint and exits; --resume finishes the run', async () => {
    const out = path.join(work, 'run-sig');
    const child = spawn(
      process.execPath,
      [bin, 'train', '--out', out, '--data', data, ...TINY, '--steps', '40', '--checkpoint-every', '1000'],
      { cwd: root, env },
    );
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    const sent = new Promise<void>((resolve) => {
      child.stderr.on('data', (d) => {
        stderr += d;
        if (/^training: \d+\/\d+ steps/m.test(stderr) && !child.killed) {
          child.kill('SIGINT');
          resolve();
        }
      });
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    await sent;
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/SIGINT: saving a checkpoint/);
    expect(stdout).toMatch(
      /stopped at step (\d+) of 40; checkpoint .*step-\d{8}\.safetensors\. Continue with: dermosynth train --out .* --resume/,
    );
    const ckpts = readdirSync(path.join(out, 'checkpoints'));
    expect(ckpts).toHaveLength(1);
    const step = Number(/stopped at step (\d+)/.exec(stdout)![1]);
    expect(ckpts[0]).toBe(`step-${String(step).padStart(8, '0')}.safetensors`);
    expect(existsSync(path.join(out, 'generator.safetensors'))).toBe(false);
    const r = cli('train', '--out', out, '--resume');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`resuming at step ${step}`));
    expect(r.stdout).toMatch(/done: 40 steps/);
    expect(existsSync(path.join(out, 'generator.safetensors'))).toBe(true);
    const steps = readFileSync(path.join(out, 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).step);
    expect(steps).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  });
});
