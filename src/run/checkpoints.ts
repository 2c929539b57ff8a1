// Checkpoint discovery: a folder's checkpoints are step-NNNNNNNN.safetensors (the step, 8 digits),
// newest = highest step. What a checkpoint holds, and saving and restoring one, is the trainer's
// (src/train/checkpoint.ts); finding them is here, for everything that reads a run.
import { readdir } from 'node:fs/promises';
import path from 'node:path';

const NAME = /^step-(\d{8})\.safetensors$/;

export function checkpointFile(dir: string, step: number): string {
  return path.join(dir, `step-${String(step).padStart(8, '0')}.safetensors`);
}

/** Checkpoint files of a folder, newest (highest step) first; none when the folder is missing. */
export async function listCheckpoints(dir: string): Promise<{ step: number; file: string }[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  return names
    .map((n) => NAME.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ step: Number(m[1]), file: path.join(dir, m[0]) }))
    .sort((a, b) => b.step - a.step);
}

/** The newest checkpoint of a folder, or null when it has none. */
export async function latestCheckpoint(dir: string): Promise<{ step: number; file: string } | null> {
  return (await listCheckpoints(dir))[0] ?? null;
}

/** The step in a checkpoint file's name (…step-NNNNNNNN.safetensors), or null for another name. */
export function checkpointStep(file: string): number | null {
  const m = /step-(\d{8})\.safetensors$/.exec(path.basename(file));
  return m ? Number(m[1]) : null;
}
