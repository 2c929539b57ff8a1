// dermosynth synthesize: a synthetic dataset from a trained run, real or deformed masks, and a
// chosen diagnosis or class balancing.
import { Command, InvalidArgumentError, Option } from 'commander';
import path from 'node:path';
import { amp, isDevice, type Device, type Precision } from '../torch/index.js';
import { SPLITS } from '../data/dataset.js';
import { IMAGE_FORMATS } from '../data/flat_writer.js';
import { DEFAULT_BALANCE_TARGET, parseBalanceTarget } from '../synth/balance.js';
import { synthesize, type SynthesizeRequest } from '../synth/synthesize.js';
import { checkModelFits, findModel } from '../synth/pretrained.js';
import { intIn, precisionOption } from './parse.js';
import { progress, type Progress } from './progress.js';
import { watchStopSignals } from './stop_signals.js';

function device(v: string): Device {
  if (!isDevice(v)) throw new InvalidArgumentError(`expected cpu, cuda or cuda:N, got '${v}'`);
  return v;
}

function target(v: string) {
  try {
    return parseBalanceTarget(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message.replace(/^--target: /, ''));
  }
}

export function synthCommand(): Command {
  return new Command('synthesize')
    .description(
      'make a synthetic dataset (flat layout, SYN_ ids, provenance.csv) with a trained run: real or deformed lesion masks, a chosen diagnosis or class balancing',
    )
    .option('--run <dir>', "a 'dermosynth train' run folder (its final generator, else its newest checkpoint)")
    .option(
      '--pretrained <name>',
      "a pretrained model that ships with dermosynth instead of --run ('dermosynth models' lists them)",
    )
    .option('--dataset <dir>', "lesion masks (and diagnoses) from a dataset's split")
    .option('--masks <dir>', 'lesion masks from a folder of PNG files (0 = skin, 255 = lesion)')
    .requiredOption('--out <dir>', 'the synthetic dataset folder to write')
    .option(
      '--class <diagnosis>',
      "the diagnosis of every synthetic lesion (nevus, melanoma, seborrheic_keratosis), or as-is: each keeps its source's",
    )
    .addOption(new Option('--count <n>', 'synthetic lesions to make (with --class)').argParser(intIn(1, 9_999_999)))
    .option('--balance', "fill each class of the dataset's split up to --target (the class-imbalance use)", false)
    .addOption(
      new Option(
        '--target <n|ratio>',
        'with --balance: a count per class (1000) or a ratio of the largest class (1.0, 0.5)',
      ).argParser(target),
    )
    .option(
      '--deform',
      'new masks: every source mask elastically deformed, rotated, scaled and moved (kept inside the frame), seeded',
      false,
    )
    .addOption(
      new Option('--mask-pool <pool>', "a class's masks come from lesions of that class (same) or of every class (all)")
        .choices(['same', 'all'])
        .default('same'),
    )
    .addOption(
      new Option('--split <split>', 'the dataset split the masks come from')
        .choices([...SPLITS, 'all'])
        .default('train'),
    )
    .addOption(
      new Option('--seed <n>', 'seed of mask choice and deformation').argParser(intIn(0, 2 ** 31 - 1)).default(0),
    )
    .addOption(
      new Option(
        '--first-id <n>',
        'number of the first id (SYN_0000001 for 1): keeps ids apart when merging several synthetic sets',
      )
        .argParser(intIn(0, 9_999_999))
        .default(1),
    )
    .addOption(
      new Option('--batch <n>', 'images per batch (default: about 1 Mpixel per batch)').argParser(intIn(1, 4096)),
    )
    .addOption(new Option('--device <d>', 'cpu, cuda or cuda:N').argParser(device).default('cpu'))
    .addOption(precisionOption())
    .addOption(new Option('--format <f>', 'image files').choices([...IMAGE_FORMATS]).default('jpg'))
    .option('--weights <file>', "a weights file instead of the run's own (a checkpoint or generator safetensors)")
    .option('--skip-bad', 'leave unusable dataset lesions out (listed) instead of stopping', false)
    .option('--overwrite', 'replace an existing synthetic dataset in --out', false)
    .option('--resume', 'continue an interrupted synthesis in --out (same options)', false)
    .action(async (o: Record<string, unknown>) => {
      const req = request(o);
      if (o.pretrained !== undefined) {
        const m = await findModel(String(o.pretrained));
        if (req.what.kind === 'class' && req.what.diagnosis !== 'as-is')
          checkModelFits(m, { diagnoses: [req.what.diagnosis] });
        req.run = m.dir;
        console.error(`using the pretrained model ${m.name} (${m.config.model}, ${m.config.size.join('x')}, ${m.dir})`);
      }
      const signals = watchStopSignals('stopping after this batch');
      let bar: Progress | null = null;
      const notice = (m: string) => process.stderr.write(`${m}\n`);
      try {
        const result = await synthesize(req, {
          onNotice: notice,
          onStart: (s) => {
            console.error(
              `${s.done > 0 ? `resuming at ${s.done} of ${s.total}` : `synthesizing ${s.total}`} lesions (${
                Object.entries(s.counts)
                  .filter(([, n]) => n > 0)
                  .map(([c, n]) => `${c} ${n}`)
                  .join(', ') || 'none'
              }), batch ${s.batch} -> ${req.out}`,
            );
            bar = progress('synthesis', s.total, 'images');
            bar.update(s.done);
          },
          onProgress: (done, total) => bar?.update(done, total),
          shouldStop: () => signals.signal !== null,
        });
        (bar as Progress | null)?.stop();
        if (!result.finished) {
          console.log(`stopped after ${result.written} images; continue with the same command and --resume`);
          process.exitCode = signals.exitCode;
          return;
        }
        console.log(
          `done: ${result.total} synthetic lesions in ${result.out} (${result.written} made now); labels.csv, provenance.csv, synthesis.json`,
        );
      } finally {
        (bar as Progress | null)?.stop();
        signals.dispose();
      }
    });
}

function request(o: Record<string, unknown>): SynthesizeRequest {
  if ((o.run === undefined) === (o.pretrained === undefined))
    throw new RangeError(
      "give exactly one of --run DIR (a training run) or --pretrained NAME (a shipped model: 'dermosynth models' lists them)",
    );
  if (o.pretrained !== undefined && o.weights !== undefined)
    throw new RangeError('--weights goes with --run: a pretrained model has its own weights');
  const dataset = o.dataset as string | undefined;
  const masks = o.masks as string | undefined;
  if (!dataset === !masks)
    throw new RangeError("give exactly one of --dataset DIR (a dataset's masks) or --masks DIR (a folder of masks)");
  if (o.overwrite && o.resume) throw new RangeError('--overwrite and --resume exclude each other');
  const balance = Boolean(o.balance);
  if (balance) {
    if (o.class !== undefined || o.count !== undefined)
      throw new RangeError('--balance decides the classes and counts itself; drop --class and --count');
  } else {
    if (o.target !== undefined) throw new RangeError('--target goes with --balance');
    if (o.class === undefined || o.count === undefined)
      throw new RangeError('say what to make: --class DIAGNOSIS --count N, or --balance [--target N|ratio]');
  }
  const precision = amp.checkPrecision(o.precision as Precision, o.device as Device);
  return {
    // --pretrained: set to the model's folder by the caller.
    run: o.run === undefined ? '' : path.resolve(String(o.run)),
    weights: o.weights === undefined ? undefined : path.resolve(String(o.weights)),
    device: o.device as Device,
    precision,
    from: dataset
      ? { kind: 'dataset', dir: path.resolve(dataset), split: o.split as never, skipBad: Boolean(o.skipBad) }
      : { kind: 'masks', dir: path.resolve(masks!) },
    what: balance
      ? { kind: 'balance', target: (o.target as never) ?? DEFAULT_BALANCE_TARGET }
      : { kind: 'class', diagnosis: String(o.class), count: o.count as number },
    deform: Boolean(o.deform),
    maskPool: o.maskPool as 'same' | 'all',
    seed: o.seed as number,
    firstId: o.firstId as number,
    out: path.resolve(String(o.out)),
    mode: o.resume ? 'resume' : o.overwrite ? 'overwrite' : 'new',
    batch: (o.batch as number | undefined) ?? null,
    format: o.format as 'jpg' | 'png',
  };
}
