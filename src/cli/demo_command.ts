// dermosynth demo: the whole method in one command, in a time budget (the pipeline in
// src/pipeline/): data, label maps, a GAN trained for a bounded time, a class-balanced synthetic
// set, evaluation and a small augmentation experiment, then OUT/report.html. Run it again after a
// stop and it continues. This file holds the flags, the UI (lines and bars on stderr) and the
// command lines the report prints, spelled from the commands' own option definitions.
import { Command, InvalidArgumentError, Option } from 'commander';
import path from 'node:path';
import {
  DEFAULT_MAX_TRAIN,
  DEFAULT_SAMPLE_LESIONS,
  formatSeconds,
  runDemo as runDemoPipeline,
  type CommandLineWriter,
  type CommandName,
  type DemoHooks,
  type DemoRequest,
  type DemoResult,
} from '../pipeline/index.js';
import { commandLine } from './command_line.js';
import { dataCommand } from './data_command.js';
import { evaluateCommand } from './eval_command.js';
import { experimentCommand } from './experiment_command.js';
import { intIn, parseSize } from './parse.js';
import { progress } from './progress.js';
import { watchStopSignals } from './stop_signals.js';
import { synthCommand } from './synth_command.js';
import { trainCommand } from './train_command.js';

const COMMANDS: Record<CommandName, () => Command> = {
  data: dataCommand,
  train: trainCommand,
  synthesize: synthCommand,
  evaluate: evaluateCommand,
  experiment: experimentCommand,
};

/** The report's command lines, from the CLI's own commands: a stale flag fails where the line is built. */
function cliCommandLines(): CommandLineWriter {
  const built = new Map<CommandName, Command>();
  return (name, sub, values, operands) => {
    let cmd = built.get(name);
    if (!cmd) built.set(name, (cmd = COMMANDS[name]()));
    return commandLine(cmd, sub, values, operands);
  };
}

/** Runs the demo (or continues it) with this CLI's command lines in its report. */
export function runDemo(
  req: DemoRequest & { dataArg?: string | null },
  hooks: Omit<DemoHooks, 'commandLine'> = {},
): Promise<DemoResult> {
  return runDemoPipeline(req, { ...hooks, commandLine: cliCommandLines() });
}

function minutes(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 1 || n > 10080)
    throw new InvalidArgumentError(`expected minutes from 1 to 10080, got '${v}'`);
  return n;
}

export function demoCommand(): Command {
  return new Command('demo')
    .description(
      'the whole method end to end in a time budget: data, label maps, GAN training, synthesis, evaluation, augmentation -> OUT/report.html (run it again to resume)',
    )
    .option(
      '--data <dir>',
      'a real dataset folder, e.g. ../shared/data/isic2017-512 (default: the built-in sample data)',
    )
    .option(
      '--out <dir>',
      'the demo folder: demo.json, data/, run/, synthetic/, experiment/, report.html, report.md',
      'runs/demo',
    )
    .addOption(
      new Option('--minutes <m>', 'the time budget: 60% GAN training, 5% synthesis, 15% evaluation, 20% the experiment')
        .argParser(minutes)
        .default(10),
    )
    .addOption(
      new Option(
        '--lesions <n>',
        `sample data: lesions to make (default ${DEFAULT_SAMPLE_LESIONS}); real data: training lesions used at most, a stratified pick (default ${DEFAULT_MAX_TRAIN}; val and test are used whole)`,
      ).argParser(intIn(9, 1_000_000)),
    )
    .addOption(
      new Option('--size <WxH>', 'the size everything runs at (CPU-sized)')
        .argParser(parseSize)
        .default({ width: 64, height: 64 }, '64x64'),
    )
    .option(
      '--tiny',
      'for tests only: a tiny network at 32x32, a few steps, one epoch everywhere (seconds; the numbers mean nothing)',
      false,
    )
    .action(async (o: Record<string, unknown>) => {
      const size = o.size as { width: number; height: number };
      const signals = watchStopSignals(
        'stopping at the next checkpoint or batch; run the same command again to continue',
      );
      const t0 = Date.now();
      try {
        const r = await runDemo(
          {
            data: o.data === undefined ? null : path.resolve(String(o.data)),
            dataArg: o.data === undefined ? null : String(o.data),
            out: path.resolve(String(o.out)),
            minutes: o.minutes as number,
            lesions: (o.lesions as number | undefined) ?? null,
            width: size.width,
            height: size.height,
            tiny: Boolean(o.tiny),
          },
          {
            ui: { say: (m) => process.stderr.write(`${m}\n`), progress },
            shouldStop: () => signals.signal !== null,
          },
        );
        if (!r.finished) {
          process.exitCode = signals.signal ? signals.exitCode : 1;
          return;
        }
        console.log(
          `demo done in ${formatSeconds((Date.now() - t0) / 1000)} (this session). Open ${r.report!.html} (or ${path.basename(r.report!.markdown)})`,
        );
      } finally {
        signals.dispose();
      }
    });
}
