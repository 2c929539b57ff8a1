// dermosynth evaluate | compare: a run's metrics and report; the paper-style table of several runs.
import { Command, InvalidArgumentError, Option } from 'commander';
import path from 'node:path';
import { amp, isDevice, type Device, type Precision } from '../torch/index.js';
import { SPLITS, type Split } from '../data/dataset.js';
import { weightsEvalDir } from '../run/layout.js';
import { writeComparison } from '../eval/compare.js';
import { evaluate } from '../eval/evaluate.js';
import { writeRunReport } from '../eval/run_report.js';
import { findModel } from '../synth/pretrained.js';
import { PREPARE_PHASES } from './data_command.js';
import { intIn, precisionOption } from './parse.js';
import { phasedProgress, progress, type Progress } from './progress.js';

function device(v: string): Device {
  if (!isDevice(v)) throw new InvalidArgumentError(`expected cpu, cuda or cuda:N, got '${v}'`);
  return v;
}

function twoFiles(v: string): { backbone: string; linear: string } {
  const parts = v.split(',');
  if (parts.length !== 2 || parts.some((p) => p.trim() === ''))
    throw new InvalidArgumentError(
      `expected BACKBONE.safetensors,LINEAR.safetensors (two files, comma-separated), got '${v}'`,
    );
  return { backbone: path.resolve(parts[0]!.trim()), linear: path.resolve(parts[1]!.trim()) };
}

export function evaluateCommand(): Command {
  return new Command('evaluate')
    .description(
      "a run's generator against the real images of a split: paired, distribution, semantic and class-consistency metrics -> RUN/metrics.json, RUN/report.html, RUN/report.md",
    )
    .option('--run <dir>', "a 'dermosynth train' run folder")
    .option(
      '--pretrained <name>',
      "a pretrained model that ships with dermosynth instead of --run ('dermosynth models'); needs --data",
    )
    .option(
      '--weights <file>',
      "with --run: one of the run's checkpoints (RUN/checkpoints/step-N.safetensors) instead of its final generator, e.g. to follow the val metrics along a training run",
    )
    .option(
      '--out <dir>',
      'with --pretrained or --weights: where metrics.json, report.html, report.md and eval/ go (default eval-NAME, or RUN/eval-step-N)',
    )
    .option(
      '--data <dir>',
      "a dataset folder (prepared into RUN/eval/cache at the run's size) or a prepared cache (default: the run's own training cache)",
    )
    .addOption(new Option('--split <split>', 'the real lesions to compare with').choices([...SPLITS]).default('val'))
    .option(
      '--inception-weights <file>',
      "pytorch-fid's Inception weights as safetensors: FID, KID and IS (without: domain-FID and domain-KID)",
    )
    .addOption(
      new Option(
        '--lpips-weights <backbone,linear>',
        'LPIPS: the backbone and the linear layers as safetensors, comma-separated',
      ).argParser(twoFiles),
    )
    .addOption(
      new Option('--lpips-backbone <net>', 'the LPIPS backbone of --lpips-weights')
        .choices(['alex', 'vgg'])
        .default('alex'),
    )
    .addOption(new Option('--device <d>', 'cpu, cuda or cuda:N').argParser(device).default('cpu'))
    .addOption(precisionOption('; the metric networks stay float32'))
    .addOption(new Option('--batch <n>', 'images per batch').argParser(intIn(1, 4096)).default(16))
    .addOption(
      new Option('--max-images <n>', 'evaluate at most the first N lesions of the split').argParser(intIn(1, 1e9)),
    )
    .addOption(
      new Option(
        '--aux-epochs <n>',
        'the most epochs of the classifier and segmenter trained on the real training split (each stops when its score on the real val images has not improved for 3 epochs; once per dataset and settings)',
      )
        .argParser(intIn(1, 1000))
        .default(30),
    )
    .option(
      '--aux-dir <dir>',
      'where those networks are kept (default RUN/eval/networks; share one folder to reuse them across runs)',
    )
    .addOption(
      new Option('--seed <n>', 'seed of the auxiliary networks and of KID subsets')
        .argParser(intIn(0, 2 ** 31 - 1))
        .default(0),
    )
    .addOption(
      new Option('--grid-examples <n>', 'label | real | generated rows per diagnosis in the report')
        .argParser(intIn(1, 64))
        .default(4),
    )
    .action(async (o: Record<string, unknown>) => {
      if ((o.run === undefined) === (o.pretrained === undefined))
        throw new RangeError(
          "give exactly one of --run DIR (a training run) or --pretrained NAME (a shipped model: 'dermosynth models' lists them)",
        );
      if (o.weights !== undefined && o.pretrained !== undefined)
        throw new RangeError(
          '--weights goes with --run (a checkpoint of a training run); a shipped model has its own weights',
        );
      let run: string;
      let out: string;
      let model: Awaited<ReturnType<typeof findModel>> | null = null;
      if (o.pretrained !== undefined) {
        model = await findModel(String(o.pretrained));
        if (o.data === undefined) {
          throw new RangeError(
            `--pretrained ${model.name}: pass --data DIR (a dataset folder, prepared at the model's ${model.config.size.join('x')} into OUT/eval/cache, or a prepared cache): a shipped model brings no data`,
          );
        }
        run = model.dir;
        out = path.resolve(o.out === undefined ? `eval-${model.name}` : String(o.out));
        console.error(`evaluating the pretrained model ${model.name} (${model.dir}) -> ${out}`);
      } else {
        run = path.resolve(String(o.run));
        if (o.weights !== undefined) {
          out = path.resolve(o.out === undefined ? weightsEvalDir(run, String(o.weights)) : String(o.out));
        } else {
          if (o.out !== undefined)
            throw new RangeError(
              "--out goes with --pretrained or --weights: a run's evaluation of its final generator is written into the run folder",
            );
          out = run;
        }
      }
      const precision = amp.checkPrecision(o.precision as Precision, o.device as Device);
      const notice = (m: string) => process.stderr.write(`${m}\n`);
      const prepare = phasedProgress(PREPARE_PHASES, 'lesions');
      let aux: { what: string; bar: Progress } | null = null;
      let bar: Progress | null = null;
      try {
        const m = await evaluate(
          {
            run,
            out,
            weights: o.weights === undefined ? null : path.resolve(String(o.weights)),
            data: o.data === undefined ? null : path.resolve(String(o.data)),
            split: o.split as Split,
            inceptionWeights: o.inceptionWeights === undefined ? null : path.resolve(String(o.inceptionWeights)),
            lpips: o.lpipsWeights
              ? {
                  backbone: o.lpipsBackbone as 'alex' | 'vgg',
                  files: o.lpipsWeights as { backbone: string; linear: string },
                }
              : null,
            device: o.device as Device,
            precision,
            batch: o.batch as number,
            maxImages: (o.maxImages as number | undefined) ?? null,
            auxEpochs: o.auxEpochs as number,
            auxDir: o.auxDir === undefined ? null : path.resolve(String(o.auxDir)),
            seed: o.seed as number,
            gridExamples: o.gridExamples as number,
          },
          {
            onNotice: notice,
            onPrepare: (p) => prepare.update(p),
            onAux: (p) => {
              if (aux?.what !== p.what) {
                aux?.bar.stop();
                aux = { what: p.what, bar: progress(p.what, p.totalSteps, 'steps') };
              }
              aux.bar.update(p.step, p.totalSteps);
            },
            onProgress: (done, total) => {
              (aux as { bar: Progress } | null)?.bar.stop();
              bar ??= progress('evaluating', total, 'images');
              bar.update(done, total);
            },
          },
        );
        (bar as Progress | null)?.stop();
        const r = await writeRunReport(out, m);
        const x = m.metrics;
        const parts = [
          x.fid !== null ? `FID ${x.fid.toFixed(2)}` : null,
          x.domainFid !== null ? `domain-FID ${x.domainFid.toFixed(2)}` : null,
          `SSIM ${x.ssim.mean.toFixed(3)}`,
          `MS-SSIM ${x.msSsim.mean.toFixed(3)}`,
          `PSNR ${x.psnr.identical > 0 ? 'inf' : x.psnr.mean.toFixed(2)}`,
          x.dice ? `Dice ${x.dice.generated.toFixed(3)} (real ${x.dice.real.toFixed(3)})` : null,
        ].filter(Boolean);
        if (model && model.config.data.contentKey === m.data.contentKey) {
          notice(
            `the data is the one ${model.name} was trained on (same content key)${m.data.split === 'train' ? ': its train split is what the model learnt from' : `; its ${m.data.split} split was not trained on`}`,
          );
        }
        console.log(
          `${m.model} on ${m.data.lesions} ${m.data.split} lesions: ${parts.join(', ')}\nmetrics: ${path.join(out, 'metrics.json')}\nreport: ${r.html} (and ${path.basename(r.markdown)})`,
        );
      } finally {
        prepare.stop();
        (aux as { bar: Progress } | null)?.bar.stop();
        (bar as Progress | null)?.stop();
      }
    });
}

export function compareCommand(): Command {
  return new Command('compare')
    .description(
      'the paper-style table of evaluated runs (one row per model, one column per metric, the best in bold) as Markdown and HTML',
    )
    .argument('<runs...>', "run folders evaluated with 'dermosynth evaluate'")
    .option('--out <dir>', 'where comparison.md and comparison.html go', 'comparison')
    .action(async (runs: string[], o: { out: string }) => {
      const c = await writeComparison(
        runs.map((r) => path.resolve(r)),
        path.resolve(o.out),
      );
      console.log(c.markdown);
      for (const w of c.warnings) process.stderr.write(`warning: ${w}\n`);
      console.log(`written: ${c.files.markdown}, ${c.files.html}`);
    });
}
