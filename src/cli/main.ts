// The dermosynth command line.
import { Command, CommanderError } from 'commander';
import { CsvError } from '../data/csv.js';
import { ImageError } from '../data/image_io.js';
import { DataError } from '../data/problems.js';
import { dataCommand } from './data_command.js';
import { trainCommand } from './train_command.js';

const program = new Command('dermosynth')
  .description('high-resolution dermoscopy image synthesis with conditional GANs (pix2pixHD-style), on libtorch')
  .showHelpAfterError('(add --help for usage)')
  .exitOverride();
program.addCommand(dataCommand());
program.addCommand(trainCommand());

/** Errors a user can fix get one clear message; anything else is a bug and keeps its stack. */
function expected(e: unknown): e is Error {
  return e instanceof DataError || e instanceof CsvError || e instanceof ImageError || e instanceof RangeError || (e instanceof Error && (e.name === 'DownloadError' || e.name === 'ArchiveError'));
}

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode;
  } else if (expected(e) && !process.env.DERMOSYNTH_DEBUG) {
    console.error(`dermosynth: ${e.message}`);
    process.exitCode = 1;
  } else {
    throw e;
  }
}
