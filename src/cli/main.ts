// The dermosynth command line.
import { CommanderError } from 'commander';
import { CsvError } from '../data/csv.js';
import { ImageError } from '../data/image_io.js';
import { DataError } from '../data/problems.js';
import { buildProgram } from './program.js';

const program = buildProgram();

/** Errors about the user's input, files or network. */
function expected(e: Error): boolean {
  return (
    e instanceof DataError ||
    e instanceof CsvError ||
    e instanceof ImageError ||
    e instanceof RangeError ||
    [
      'DownloadError',
      'ArchiveError',
      'SafetensorsError',
      'RunError',
      'DeviceError',
      'DistributedError',
      'WorkerFailure',
    ].includes(e.name)
  );
}

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode;
  } else if (process.env.DERMOSYNTH_DEBUG || !(e instanceof Error)) {
    throw e;
  } else {
    // Errors a user can fix are one line; anything else may be a bug: say how to get the stack.
    console.error(
      `dermosynth: ${e.message}${expected(e) ? '' : `\n(${e.name}; run with DERMOSYNTH_DEBUG=1 for the stack trace, and report it if it looks like a bug)`}`,
    );
    process.exitCode = 1;
  }
}
