// Atomic file replacement for checkpoints and outputs: a killed process never leaves half a file.
// The bottom of the stack (node:* only), so that every layer can use it: the tensor engine's
// safetensors writer, the data layer's caches and datasets, the run folder, reports.
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

/** Writes bytes to `file` so that readers see the old content or the new one, never a mix. */
export async function writeFileAtomic(file: string, bytes: Uint8Array): Promise<void> {
  const tmp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
  const handle = await fs.open(tmp, 'w');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await handle.close();
  try {
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

/** `value` as JSON indented by 2, with a final newline (config.json, state files), written atomically. */
export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await writeFileAtomic(file, new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`));
}
