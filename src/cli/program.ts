// The dermosynth command tree (every command and option), for main.ts to run and for tests to
// parse command lines with.
import { Command } from 'commander';
import { dataCommand } from './data_command.js';
import { demoCommand } from './demo_command.js';
import { experimentCommand } from './experiment_command.js';
import { serveCommand } from './serve_command.js';
import { trainCommand } from './train_command.js';
import { synthCommand } from './synth_command.js';
import { compareCommand, evaluateCommand } from './eval_command.js';
import { exportCommand } from './export_command.js';
import { modelsCommand } from './models_command.js';
import { studioCommand } from './studio_command.js';

export function buildProgram(): Command {
  const program = new Command('dermosynth')
    .description('high-resolution dermoscopy image synthesis with conditional GANs (pix2pixHD-style), on libtorch')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();
  for (const c of [
    dataCommand(),
    trainCommand(),
    synthCommand(),
    evaluateCommand(),
    compareCommand(),
    serveCommand(),
    experimentCommand(),
    demoCommand(),
    exportCommand(),
    modelsCommand(),
    studioCommand(),
  ])
    program.addCommand(c);
  return program;
}
