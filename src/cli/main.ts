// The dermosynth command line.
import { Command, CommanderError } from 'commander';
import { CsvError } from '../data/csv.js';
import { ImageError } from '../data/image_io.js';
import { DataError } from '../data/problems.js';
import { dataCommand } from './data_command.js';
import { demoCommand } from './demo_command.js';
import { experimentCommand } from './experiment_command.js';
import { serveCommand } from './serve_command.js';
import { trainCommand } from './train_command.js';
import { synthCommand } from './synth_command.js';
import { compareCommand, evaluateCommand } from './eval_command.js';

const program = new Command('dermosynth')
  .description('high-resolution dermoscopy image synthesis with conditional GANs (pix2pixHD-style), on libtorch')
  .showHelpAfterError('(add --help for usage)')
  .exitOverride();
program.addCommand(dataCommand());
program.addCommand(trainCommand());
program.addCommand(synthCommand());
program.addCommand(evaluateCommand());
program.addCommand(compareCommand());
program.addCommand(serveCommand());
program.addCommand(experimentCommand());
program.addCommand(demoCommand());

/** Errors about the user's input, files or network. */
function expected(e: Error): boolean {
  return e instanceof DataError || e instanceof CsvError || e instanceof ImageError || e instanceof RangeError || ['DownloadError', 'ArchiveError', 'SafetensorsError', 'RunError', 'DeviceError', 'DistributedError', 'WorkerFailure'].includes(e.name);
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
    console.error(`dermosynth: ${e.message}${expected(e) ? '' : `\n(${e.name}; run with DERMOSYNTH_DEBUG=1 for the stack trace, and report it if it looks like a bug)`}`);
    process.exitCode = 1;
  }
}
