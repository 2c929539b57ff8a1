// A run folder's layout: where `train --out DIR` puts each file. Every command that reads or
// writes a run (train, synthesize, evaluate, models pack, serve, the demo) takes the names from here.
//
//   DIR/config.json             the run's options, networks, data and schedule (config.ts)
//   DIR/log.jsonl               one line per step (log.ts)
//   DIR/checkpoints/            step-NNNNNNNN.safetensors, the last K (checkpoints.ts)
//   DIR/samples/                step-NNNNNNNN.png, label | real | generated grids
//   DIR/generator.safetensors   the final generator
import path from 'node:path';

export interface RunPaths {
  dir: string;
  config: string;
  log: string;
  checkpoints: string;
  samples: string;
  generator: string;
}

export function runPaths(dir: string): RunPaths {
  return {
    dir,
    config: path.join(dir, 'config.json'),
    log: path.join(dir, 'log.jsonl'),
    checkpoints: path.join(dir, 'checkpoints'),
    samples: path.join(dir, 'samples'),
    generator: path.join(dir, 'generator.safetensors'),
  };
}

/** The sample grid of a step: samples/step-NNNNNNNN.png. */
export function sampleGridFile(paths: RunPaths, step: number): string {
  return path.join(paths.samples, `step-${String(step).padStart(8, '0')}.png`);
}

/**
 * Where `dermosynth evaluate --run DIR --weights FILE` writes by default: DIR/eval-STEM, e.g.
 * DIR/eval-step-00006000 for a checkpoint (`models pack --weights` finds its metrics there).
 */
export function weightsEvalDir(runDir: string, weightsFile: string): string {
  return path.join(runDir, `eval-${path.basename(weightsFile).replace(/\.safetensors$/, '')}`);
}

/** Names of sample grids (what samples/ may list; steps beyond 8 digits included). */
export const SAMPLE_GRID_NAME = /^step-\d{1,12}\.png$/;
