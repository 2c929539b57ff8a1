// Checkpoints nobody reads: a finished classifier's, once its weights are written (a resnet18
// checkpoint with its Adam state is over 100 MB).
import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';

/**
 * Removes the checkpoints of finished classifiers under `dir` (a folder holding model.safetensors
 * and checkpoints/). Returns the folders removed.
 */
export async function removeFinishedCheckpoints(dir: string): Promise<number> {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const sub = path.join(dir, e.name);
    if (e.name === 'checkpoints' && existsSync(path.join(dir, 'model.safetensors'))) {
      await rm(sub, { recursive: true, force: true });
      n++;
    } else {
      n += await removeFinishedCheckpoints(sub);
    }
  }
  return n;
}
