// dermosynth experiment augment: do synthetic lesions raise classifiers' AUC? Trains each model
// and seed on real lesions and on real + synthetic ones, and scores both on real test lesions.
import { Command, InvalidArgumentError, Option } from 'commander';
import path from 'node:path';
import { CLASSIFIER_NAMES, type ClassifierName } from '../models/classifiers/index.js';
import { DEFAULT_EXPERIMENT, runAugmentExperiment, type AugmentExperimentOptions } from '../eval/augment_experiment.js';
import { intIn, listOf, parseSize } from './parse.js';
import { progress, type Progress } from './progress.js';
import { watchStopSignals } from './stop_signals.js';
import { PREPARE_PHASES } from './data_command.js';
import { classAbbreviation } from '../data/diagnosis.js';

const D = DEFAULT_EXPERIMENT;

function positiveNumber(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError(`expected a positive number, got '${v}'`);
  return n;
}

export function experimentCommand(): Command {
  const experiment = new Command('experiment').description("experiments that test the paper's claims");
  experiment
    .command('augment')
    .description(
      'train classifiers on real vs real + synthetic lesions (same seeds and epochs) and compare their AUCs on real test lesions',
    )
    .requiredOption('--real <dir>', 'the real dataset (or a prepared cache); its train split is the real training set')
    .requiredOption(
      '--synthetic <dir>',
      "synthetic lesions made by 'dermosynth synthesize' (or a prepared cache of them)",
    )
    .option(
      '--test <dir>',
      "another dataset to test on, out of distribution (e.g. PH2 after training on ISIC-2017): its test split when it has an official split, else all of it; --real's own test split is always scored (in distribution)",
    )
    .option(
      '--classes <file>',
      "class map putting --real, --synthetic and --test on one vocabulary (lines 'atypical_nevus -> nevus', 'classes: nevus, melanoma, seborrheic_keratosis')",
    )
    .option(
      '--tasks <list>',
      "comma-separated diagnoses scored one vs the rest (default: melanoma,seborrheic_keratosis for ISIC-2017's vocabulary, else every diagnosis; the second of two)",
    )
    .requiredOption('--out <dir>', 'results.json, results.md, roc/*.png|svg, runs/ (checkpoints; run again to resume)')
    .addOption(
      new Option('--models <list>', `comma-separated: ${CLASSIFIER_NAMES.join(', ')}`)
        .argParser(listOf(CLASSIFIER_NAMES))
        .default(D.models, D.models.join(',')),
    )
    .addOption(new Option('--seeds <n>', 'seeds per model and arm (0..n-1)').argParser(intIn(1, 100)).default(D.seeds))
    .addOption(new Option('--epochs <n>', 'training epochs (both arms)').argParser(intIn(1, 10000)).default(D.epochs))
    .addOption(
      new Option('--size <WxH>', 'image size the classifiers see')
        .argParser(parseSize)
        .default({ width: D.width, height: D.height }, `${D.width}x${D.height}`),
    )
    .option(
      '--weights-dir <dir>',
      'folder of torchvision ImageNet weights, <model>.safetensors (scripts/to_safetensors.py); a model without one trains from scratch',
    )
    .addOption(new Option('--batch <n>', 'batch size').argParser(intIn(2, 4096)).default(D.batch))
    .addOption(new Option('--lr <x>', 'learning rate (cosine decay to 0)').argParser(positiveNumber).default(D.lr))
    .addOption(
      new Option('--optimizer <name>', 'adam or sgd (Nesterov momentum 0.9)')
        .choices(['adam', 'sgd'])
        .default(D.optimizer),
    )
    .option('--balanced', 'class-balanced sampling of the training lesions', D.balanced)
    .addOption(
      new Option('--augment <preset>', 'none, default (flips, quarter turns) or strong')
        .choices(['none', 'default', 'strong'])
        .default(D.augment),
    )
    .addOption(
      new Option('--bootstrap <n>', 'bootstrap replicates for the 95% CIs')
        .argParser(intIn(100, 1_000_000))
        .default(D.bootstrap),
    )
    .action(async (flags: Record<string, unknown>) => {
      const size = flags.size as { width: number; height: number };
      const o: AugmentExperimentOptions = {
        real: path.resolve(String(flags.real)),
        synthetic: path.resolve(String(flags.synthetic)),
        test: flags.test === undefined ? null : path.resolve(String(flags.test)),
        classes: flags.classes === undefined ? null : path.resolve(String(flags.classes)),
        tasks:
          flags.tasks === undefined
            ? null
            : String(flags.tasks)
                .split(',')
                .map((t) => t.trim())
                .filter((t) => t !== ''),
        out: path.resolve(String(flags.out)),
        models: [...new Set(flags.models as ClassifierName[])],
        seeds: flags.seeds as number,
        epochs: flags.epochs as number,
        width: size.width,
        height: size.height,
        weightsDir: flags.weightsDir === undefined ? null : path.resolve(String(flags.weightsDir)),
        batch: flags.batch as number,
        lr: flags.lr as number,
        optimizer: flags.optimizer as 'adam' | 'sgd',
        balanced: Boolean(flags.balanced),
        augment: flags.augment as AugmentExperimentOptions['augment'],
        bootstrap: flags.bootstrap as number,
      };
      const stop = watchStopSignals('checkpointing the current training run after this step');
      let bar: Progress | null = null;
      let prep: { which: string; phase: string; bar: Progress } | null = null;
      try {
        const results = await runAugmentExperiment(o, {
          onNotice: (m) => process.stderr.write(`${m}\n`),
          onPrepare: (which, p) => {
            if (!prep || prep.which !== which || prep.phase !== p.phase) {
              prep?.bar.stop();
              prep = {
                which,
                phase: p.phase,
                bar: progress(`${which} ${PREPARE_PHASES[p.phase]}`, p.total, 'lesions'),
              };
            }
            prep.bar.update(p.done, p.total);
            if (p.done === p.total) prep.bar.stop();
          },
          onTrainStart: (r) => {
            prep?.bar.stop();
            bar = progress(`[${r.index}/${r.count}] ${r.model} s${r.seed} ${r.arm}`, r.totalSteps, 'steps');
            bar.update(r.startStep);
          },
          onStep: (s) => bar?.update(s.step, s.totalSteps, `e${s.epoch} loss ${s.loss.toFixed(3)}`),
          onTrainEnd: () => bar?.stop(),
          shouldStop: () => stop.signal !== null,
        });
        if (!results) {
          process.exitCode = stop.exitCode;
          return;
        }
        const md = path.join(o.out, 'results.md');
        for (const m of results.models) {
          for (const [key, t] of Object.entries(m.tests)) {
            const p = Object.entries(t.comparison.tasks)
              .map(([task, c]) => `${classAbbreviation(task)} p ${c.p.toPrecision(2)}`)
              .join(', ');
            console.log(
              `${m.model}, ${key.replaceAll('-', ' ')}: mean AUC real ${t.arms.real.pooled.mean.auc.toFixed(3)} -> real+synthetic ${t.arms['real+synthetic'].pooled.mean.auc.toFixed(3)} (${p})`,
            );
          }
        }
        console.log(`results: ${md}, ${path.join(o.out, 'results.json')}; ROC curves in ${path.join(o.out, 'roc')}`);
      } finally {
        (bar as Progress | null)?.stop();
        stop.dispose();
      }
    });
  return experiment;
}
