// MODEL_CARD.md of a packaged model: everything the run knows, written out, and clearly marked
// sections (TO WRITE) for what only a person can say (the failure cases, with pictures).
import path from 'node:path';
import { ISIC2017_CLASSES } from '../data/diagnosis.js';
import { perStepDecay } from '../run/config.js';
import { runPaths } from '../run/layout.js';
import type { Metrics } from '../eval/evaluate.js';
import { toMarkdown, type Block } from '../eval/report_document.js';
import { metricTableBlock } from '../eval/run_report.js';
import { MODEL_WEIGHTS_FILE, sizeText, type ModelConfig } from './model_folder.js';

export interface CardFacts {
  config: ModelConfig;
  /** From the run's log.jsonl up to the packed step; null without a log. */
  log: { steps: number; seconds: number; skipped: number; stages: string[] } | null;
  /** The run's metrics.json, when measured on the packed weights. */
  metrics: Metrics | null;
  /** Grid PNG per diagnosis, relative to the model folder. */
  grids: Record<string, string>;
  /** Where the grids' label maps came from. */
  maskSource: string;
  /** What the run recorded of where it trained (cpu null: not recorded). */
  machine: {
    cpu: string | null;
    cores: number | null;
    threads: number | null;
    device: string;
    precision: string;
    processes: number;
  };
  /** The training data's source folder and layout (from the cache), when the cache is there. */
  dataSource: { root: string; format: string; sample: boolean } | null;
  /** os.cpus()[0].model of the machine that packed the model. */
  packedOn: string;
}

export const TO_WRITE = '**TO WRITE (a person):**';
export const ISIC_CITATION =
  'Codella N., Gutman D., Celebi M.E., Helba B., Marchetti M.A., Dusza S., Kalloo A., Liopyris K., Mishra N., Kittler H., Halpern A.: ' +
  '"Skin Lesion Analysis Toward Melanoma Detection: A Challenge at the 2017 International Symposium on Biomedical Imaging (ISBI), ' +
  'Hosted by the International Skin Imaging Collaboration (ISIC)". arXiv:1710.05006, 2017.';

function duration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.round((seconds - h * 3600) / 60);
  return h > 0 ? `${h} h ${m} min` : seconds >= 60 ? `${m} min` : `${seconds.toFixed(1)} s`;
}

/** The command that evaluates the packed weights of the source run (a checkpoint with --weights). */
export function evaluateCommandFor(source: ModelConfig['source']): string {
  const own = path.resolve(source.weights) === path.resolve(runPaths(source.run).generator);
  return `dermosynth evaluate --run ${source.run}${own ? '' : ` --weights ${source.weights}`}`;
}

/** The learning-rate schedule in words (src/run/config.ts's LrSchedule). */
function lrScheduleText(run: ModelConfig['run']): string {
  const o = run.options;
  if (run.schedule.lr === 'per-step') {
    const constant = Math.round(perStepDecay(o, run.schedule.totalSteps)[0]);
    return `constant for the first ${constant.toLocaleString('en')} steps, then linear decay to zero at step ${run.schedule.totalSteps.toLocaleString('en')} (--steps ${o.steps})`;
  }
  return `constant for ${o.epochs} epochs then linear decay over ${o.decayEpochs}${o.steps ? ` (--steps ${o.steps}: the run ends at epoch ${Math.ceil(o.steps / run.schedule.stepsPerEpoch)})` : ''}`;
}

export function modelCard(f: CardFacts): string {
  const c = f.config;
  const o = c.run.options;
  const isic = c.diagnoses.length === ISIC2017_CLASSES.length && c.diagnoses.every((d, i) => d === ISIC2017_CLASSES[i]);
  const net = Object.entries(c.run.model.options)
    .filter(([k]) => !['model', 'labelChannels', 'preset', 'numD', 'nLayersD', 'ndf', 'normD'].includes(k))
    .map(([k, v]) => `${k} ${String(v)}`)
    .join(', ');
  const blocks: Block[] = [
    {
      kind: 'heading',
      level: 1,
      text: `${c.name}: ${c.model} generator, ${sizeText(c.size)}, ${c.diagnoses.join(' / ')}`,
    },
    {
      kind: 'paragraph',
      text:
        `Written by \`dermosynth models pack\` on ${c.created.slice(0, 10)} from the run \`${c.source.run}\` (step ${c.source.step ?? 'unknown'}). ` +
        "Parts that begin with TO WRITE, in bold, are for a person to write (and the marker to remove) before the model ships; everything else comes from the run's files.",
    },
    { kind: 'heading', level: 2, text: 'The model' },
    {
      kind: 'table',
      header: ['', ''],
      rows: [
        ['name', `\`${c.name}\` (\`--pretrained ${c.name}\`, \`train --init ${c.name}\`)`],
        ['generator', `${c.model}, preset ${o.preset}: ${net}`],
        ['size', `${sizeText(c.size)} pixels (fit: ${o.fit})`],
        ['diagnoses', c.diagnoses.join(', ')],
        ['label map', `version ${c.labelMap.version}: one-hot channels ${c.labelMap.channels.join(', ')}`],
        [
          'weights',
          `\`${MODEL_WEIGHTS_FILE}\`: float16, ${(c.weights.bytes / 1e6).toFixed(2)} MB, ${c.weights.parameters.toLocaleString('en')} parameters, sha256 \`${c.weights.sha256}\``,
        ],
        [
          'source weights',
          `\`${c.source.weights}\` (float32, sha256 \`${c.source.weightsSha256}\`), step ${c.source.step ?? 'unknown'}`,
        ],
        [
          'data content key',
          c.data.contentKey
            ? `\`${c.data.contentKey}\``
            : 'unknown (the training cache was gone when the model was packed)',
        ],
      ],
    },
    { kind: 'heading', level: 2, text: 'Data and licence' },
    {
      kind: 'paragraph',
      text:
        `Trained${c.run.init ? ` (fine-tuned from the pretrained ${c.run.init.name}, sha256 ${c.run.init.weightsSha256.slice(0, 16)})` : ''} on the train split of ${f.dataSource ? `\`${f.dataSource.root}\` (layout ${f.dataSource.format})` : 'a dataset whose prepared cache was not found when packing'}: ` +
        `${c.data.train} training lesions (${c.data.val} val, ${c.data.test} test, not trained on), prepared at ${sizeText(c.size)}.`,
    },
  ];
  if (f.dataSource?.sample) {
    blocks.push({
      kind: 'paragraph',
      text: "The data is dermosynth's own procedural sample data (`dermosynth data sample`: drawn lesions, no patient images): no dataset licence applies. A model trained on it shows the machinery working, nothing about real lesions.",
    });
  } else if (isic) {
    blocks.push({
      kind: 'paragraph',
      text:
        'The data is the ISIC 2017 challenge data (International Skin Imaging Collaboration), licensed **CC-BY-NC 4.0** ' +
        '(https://creativecommons.org/licenses/by-nc/4.0/). These weights are derived from it and are for **non-commercial research only**; ' +
        `attribute ISIC and cite: ${ISIC_CITATION}` +
        (f.dataSource && !/isic/i.test(`${f.dataSource.root} ${f.dataSource.format}`)
          ? ` ${TO_WRITE} check that \`${f.dataSource.root}\` is ISIC 2017: its path does not say so.`
          : ''),
    });
  } else {
    blocks.push({
      kind: 'paragraph',
      text: `${TO_WRITE} the training data's source, licence and citation, and what they allow for these weights.`,
    });
  }

  blocks.push({ kind: 'heading', level: 2, text: 'Training' });
  const m = f.machine;
  const cores = [m.cores ? `${m.cores} cores` : '', m.threads ? `${m.threads} libtorch threads` : '']
    .filter(Boolean)
    .join(', ');
  const where =
    m.device === 'cpu'
      ? m.cpu
        ? `on the CPU ${m.cpu}${cores ? ` (${cores})` : ''}`
        : `on the CPU (the run did not record which; the model was packed on ${f.packedOn}: ${TO_WRITE} confirm the training CPU)`
      : `on ${m.device}${m.cpu ? ` (host CPU ${m.cpu})` : ''}`;
  blocks.push({
    kind: 'list',
    items: [
      `${f.log ? `${f.log.steps.toLocaleString('en')} steps` : `${c.source.step ?? 'unknown'} steps`} of ${c.run.schedule.totalSteps.toLocaleString('en')} planned (${c.run.schedule.stepsPerEpoch} per epoch), batch ${o.batch}, Adam lr ${o.lr} (betas ${o.beta1}, ${o.beta2}), ${lrScheduleText(c.run)}` +
        `${f.log && f.log.skipped > 0 ? `; ${f.log.skipped} steps skipped for a non-finite loss` : ''}${f.log && f.log.stages.length > 1 ? `; stages ${f.log.stages.join(' -> ')}` : ''}.`,
      f.log
        ? `Training time: ${duration(f.log.seconds)} (the sum of the steps' times in log.jsonl: sample grids, checkpoints and pauses are not counted), ${where}, ${m.precision}${m.processes > 1 ? `, ${m.processes} processes` : ''}.`
        : `Training time: unknown (no log.jsonl) ${where}.`,
      `Augmentation ${o.augment}; loss weights ${Object.entries(c.run.model.losses)
        .map(([k, v]) => `${k} ${String(v)}`)
        .join(', ')}${o.vggWeights ? '' : ' (the VGG term is off without --vgg-weights)'}; seed ${o.seed}.`,
      ...((o.gEma ?? 0) > 0
        ? [
            `The weights are the moving average of the generator's weights (--g-ema ${o.gEma}: each step moves it ${+(1 - o.gEma).toPrecision(3)} of the way to the trained weights), not the trained weights of the last step.`,
          ]
        : []),
    ],
  });

  blocks.push({ kind: 'heading', level: 2, text: 'Validation metrics' });
  if (f.metrics) {
    const x = f.metrics;
    blocks.push(
      {
        kind: 'paragraph',
        text:
          `\`dermosynth evaluate\` of the source (float32) weights on the ${x.data.lesions} lesions of the ${x.data.split} split (${Object.entries(
            x.data.perClass,
          )
            .map(([k, n]) => `${k} ${n}`)
            .join(', ')}), ` +
          `${x.created.slice(0, 10)}. In brackets, the same measure on the real images: the ceiling the generated ones are measured against. The full record is \`metrics.json\`.`,
      },
      metricTableBlock([{ label: c.name, metrics: x.metrics }], c.diagnoses, false),
    );
    if (x.notes.length > 0) blocks.push({ kind: 'list', items: x.notes });
  } else {
    blocks.push({
      kind: 'paragraph',
      text: `${TO_WRITE} no metrics: the run had no metrics.json for these weights. Run \`${evaluateCommandFor(c.source)}\` and pack again.`,
    });
  }

  blocks.push(
    { kind: 'heading', level: 2, text: 'Samples' },
    {
      kind: 'paragraph',
      text: `Label map | generated image, from the float16 weights as shipped, on ${f.maskSource}.`,
    },
    ...Object.entries(f.grids).map(([d, src]): Block => ({ kind: 'image', src, alt: `${d}: label map | generated` })),
    { kind: 'heading', level: 2, text: 'Failure cases' },
    {
      kind: 'paragraph',
      text:
        `${TO_WRITE} where the model fails, with pictures (put them in \`failures/\` and show them here): e.g. masks it renders badly (very large or tiny lesions, ` +
        'lesions touching the border), diagnoses it confuses, artifacts (checkerboard, colour fringes), what real images have that it never draws (hair, rulers, ' +
        "dermoscope frames, ink marks). Say how they were found (the val grids, the lowest-SSIM val lesions in `dermosynth evaluate`'s report).",
    },
    { kind: 'heading', level: 2, text: 'Intended use' },
    {
      kind: 'list',
      items: [
        'Research on data augmentation: synthetic dermoscopy images, from a lesion mask and a diagnosis, to train and study lesion classifiers and segmenters.',
        '**Never diagnosis.** The images are not of real patients and carry no clinical information; a generated lesion says nothing about any person. Do not use the model, or classifiers trained on its images alone, to make or support clinical decisions.',
        ...(isic && !f.dataSource?.sample
          ? ["Non-commercial research only (the ISIC data's CC-BY-NC 4.0 licence)."]
          : []),
        "Synthetic images are marked as such by dermosynth (`SYN_` ids, provenance.csv naming this model's weights): keep them out of validation and test sets.",
      ],
    },
    { kind: 'heading', level: 2, text: 'Use' },
    {
      kind: 'code',
      text: [
        `dermosynth synthesize --pretrained ${c.name} --masks MASKS/ --class ${c.diagnoses[1] ?? c.diagnoses[0]} --count 100 --deform --out syn/`,
        `dermosynth serve --pretrained ${c.name}`,
        `dermosynth evaluate --pretrained ${c.name} --data DATA/ --split test`,
        `dermosynth train --init ${c.name} --data DATA/ --out runs/finetuned`,
      ].join('\n'),
    },
  );
  return toMarkdown(blocks);
}
