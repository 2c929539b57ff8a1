// The demo's report, OUT/report.html and OUT/report.md: the plan and the wall time of each stage,
// label | real | generated grids per diagnosis, synthetic lesions per class, loss curves, the metric
// table, the augmentation experiment's AUCs and ROC curves, and the commands that reproduce each step
// at full size. Read from the state and the files the stages wrote; built from report_document.ts
// blocks and run_report.ts's metric table; every link is relative to OUT, so the folder can be moved.
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic_file.js';
import { classAbbreviation } from '../data/diagnosis.js';
import type { ExperimentResults } from '../eval/augment_experiment.js';
import type { Metrics } from '../eval/evaluate.js';
import { metricColumns, metricTableBlock, readMetrics } from '../eval/run_report.js';
import { toHtml, toMarkdown, type Block } from '../eval/report_document.js';
import { readRunConfig, type RunConfig } from '../run/config.js';
import { runPaths } from '../run/layout.js';
import { formatSeconds } from './format_seconds.js';
import { reproduceBlocks, targetArg, type CommandLineWriter } from './reproduce.js';
import { STAGES, type SplitCounts, type StageResults } from './stage_results.js';
import { demoPaths, stageResult, type DemoPaths, type DemoState } from './state.js';

/** What the report is made of: the state, the stages' results, and the files the stages wrote. */
interface ReportInputs {
  s: DemoState;
  p: DemoPaths;
  r: Omit<StageResults, 'report'>;
  config: RunConfig | null;
  metrics: Metrics;
  results: ExperimentResults;
  /** The demo tests on one set: --real's test split, or its val split as a dataset of its own. */
  scored: ExperimentResults['data']['testSets'][number];
}

async function reportInputs(s: DemoState): Promise<ReportInputs> {
  const p = demoPaths(s.request.out);
  const r = {
    data: stageResult(s, 'data'),
    train: stageResult(s, 'train'),
    synthesize: stageResult(s, 'synthesize'),
    evaluate: stageResult(s, 'evaluate'),
    experiment: stageResult(s, 'experiment'),
  };
  const config = await readRunConfig(runPaths(p.run).config);
  const metrics = await readMetrics(p.run);
  const results = JSON.parse(await readFile(path.join(p.experiment, 'results.json'), 'utf8')) as ExperimentResults;
  return { s, p, r, config, metrics, results, scored: results.data.testSets[0]! };
}

/** A path relative to OUT with '/' separators (a link in the report). */
function link(out: string, file: string): string {
  return path.relative(out, file).split(path.sep).join('/');
}

const f3 = (x: number) => x.toFixed(3);
const signed = (x: number) => `${x >= 0 ? '+' : ''}${f3(x)}`;
const classCounts = (c: Record<string, number>) =>
  Object.entries(c)
    .map(([k, n]) => `${classAbbreviation(k)} ${n}`)
    .join(', ');

function splitLine(counts: SplitCounts): string {
  return (['train', 'val', 'test'] as const)
    .map((sp) => {
      const c = counts[sp];
      const n = Object.values(c).reduce((a, b) => a + b, 0);
      return `${sp} ${n}${n > 0 ? ` (${classCounts(c)})` : ''}`;
    })
    .join(', ');
}

function totalSeconds(s: DemoState): number {
  return STAGES.reduce((a, n) => a + (s.stages[n]?.seconds ?? 0), 0);
}

function overview({ s, r, config }: ReportInputs): Block[] {
  const st = s.settings;
  const dataName =
    s.request.data === null
      ? `the built-in procedural sample data (${st.sampleLesions} lesions)`
      : `\`${s.request.dataArg}\``;
  return [
    { kind: 'heading', level: 1, text: 'dermosynth demo: label maps to dermoscopy images, end to end' },
    {
      kind: 'paragraph',
      text:
        `Data: ${dataName} at ${st.width}x${st.height}; lesions ${splitLine(r.data.counts)}. ` +
        `A conditional GAN (the proposed model: pix2pixHD's generator with encoder-decoder skip connections, ${config?.options.preset ?? 'cpu'} preset${Object.keys(st.modelOverrides).length > 0 ? ', tiny test network' : ''}, ` +
        `${config ? `${(config.model.parameters.generator / 1e6).toFixed(2)}M generator parameters` : ''}) was trained for a bounded time on the training split's label maps, ` +
        `then made a class-balanced synthetic set, was evaluated on the val split, and the synthetic set was tested as classifier training data. ` +
        `Started ${s.created}; ${s.request.minutes} minute(s) planned${s.request.tiny ? ' (tiny test configuration)' : ''}, ${formatSeconds(totalSeconds(s))} of wall time on ${s.machine.cores} cores ` +
        `(load average ${s.machine.loadAverage.join(' ')} at the start, ${(s.stages.report?.detail.loadAverage ?? []).join(' ')} at the end: the machine may have been shared).`,
    },
  ];
}

/** The training's step times: measured, re-planned, at the end. */
function stepTimes({ s, r }: ReportInputs): string {
  const { plan, recentSecondsPerStep: recent } = r.train;
  const replans = r.train.replans ?? [];
  return (
    `${(replans[0] ?? plan).secondsPerStep.toFixed(3)} s per step measured on the first ${s.settings.calibrationSteps} steps` +
    (replans.length > 0
      ? `, re-planned ${replans.length} time(s) as the step time changed (${[...replans.slice(1), plan].map((x) => x.secondsPerStep.toFixed(3)).join(', ')} s)`
      : '') +
    (recent !== undefined ? `, ${recent.toFixed(3)} s at the end` : '')
  );
}

function planTable(x: ReportInputs): Block[] {
  const { s, r, metrics, scored } = x;
  const st = s.settings;
  const wall = (n: keyof StageResults) => formatSeconds(s.stages[n]?.seconds ?? 0);
  const plan = r.train.plan;
  const synCounts = r.synthesize.counts;
  return [
    { kind: 'heading', level: 2, text: 'Plan and wall time' },
    {
      kind: 'table',
      header: ['stage', 'what was done', 'budget', 'wall time'],
      rows: [
        [
          'data',
          `${s.request.data === null ? `sample dataset of ${st.sampleLesions} lesions` : `lesions of ${s.request.dataArg} linked${st.maxTrain === null ? '' : ` (at most ${st.maxTrain} training lesions)`}`}; label maps and the cache at ${st.width}x${st.height} (split: ${r.data.splitSource})`,
          '-',
          wall('data'),
        ],
        [
          'train',
          `${r.train.steps} steps of batch 1 (${plan.stepsPerEpoch} per epoch; ${plan.epochs} epochs at lr 2e-4, ${plan.decayEpochs} decaying); ${stepTimes(x)}` +
            `${r.train.stoppedOnTime ? `; stopped on the time budget before the planned ${plan.steps}` : ''}`,
          formatSeconds(s.budgets.train),
          wall('train'),
        ],
        [
          'synthesize',
          `${Object.values(synCounts).reduce((a, b) => a + b, 0)} synthetic lesions (${classCounts(synCounts)}): training classes filled to ${targetArg(r.synthesize.target)} x the largest, masks deformed`,
          formatSeconds(s.budgets.synthesize),
          wall('synthesize'),
        ],
        [
          'evaluate',
          `${metrics.data.lesions} val lesions; auxiliary classifier and segmenter ${r.evaluate.auxEpochs} epoch(s) on the real training split`,
          formatSeconds(s.budgets.evaluate),
          wall('evaluate'),
        ],
        [
          'experiment',
          `resnet18 from scratch, ${r.experiment.epochs} epoch(s) per arm, 1 seed, at ${st.width}x${st.height}; tested on ${scored.lesions} real ${r.data.testSet.split} lesions`,
          formatSeconds(s.budgets.experiment),
          wall('experiment'),
        ],
        [
          'total',
          '',
          formatSeconds(Object.values(s.budgets).reduce((a, b) => a + b, 0)),
          formatSeconds(totalSeconds(s)),
        ],
      ],
    },
    {
      kind: 'paragraph',
      text: "Wall time counts the sessions that finished or stopped a stage (a demo killed and run again loses the killed session's time, except for training, whose checkpoints count it).",
    },
  ];
}

function gridSection({ s, p, metrics }: ReportInputs): Block[] {
  return [
    { kind: 'heading', level: 2, text: 'Label | real | generated, per diagnosis' },
    {
      kind: 'paragraph',
      text: `Val lesions the GAN never saw: each row is the label map (skin, lesion coloured by diagnosis), the real image, and the image the generator made from that label map alone.`,
    },
    ...Object.entries(metrics.files.grids).map(([c, src]): Block => ({
      kind: 'image',
      src: link(p.out, path.join(p.run, src)),
      alt: `${c.replace('_', ' ')}: label | real | generated`,
      width: 3 * 3 * s.settings.width,
    })),
  ];
}

/** The shipped reference model's images beside the demo's, on the same val label maps. */
function referenceSection({ r }: ReportInputs): Block[] {
  const ref = r.evaluate.reference;
  if (ref === undefined) return [];
  const head: Block = { kind: 'heading', level: 2, text: 'The reference model on the same label maps' };
  if (ref.model === null) return [head, { kind: 'paragraph', text: `Not shown: ${ref.reason}.` }];
  const trained = ref.steps === null ? '' : ` (${ref.steps.toLocaleString('en-US')} training steps)`;
  return [
    head,
    {
      kind: 'paragraph',
      text:
        `What hours of training give: \`${ref.model}\`${trained}, the model that ships with dermosynth (\`dermosynth models\`; its MODEL_CARD.md says how it was trained and where it fails), ` +
        `given the val label maps of the grids above, enlarged to its ${ref.size.join('x')}. Each row: the label map, the real image, the demo's generator (${ref.demoSize.join('x')}, minutes of training) and the reference model. ` +
        `Use it without training: \`dermosynth synthesize --pretrained ${ref.model} ...\`, or fine-tune it on your data with \`dermosynth train --init ${ref.model}\`.`,
    },
    ...Object.entries(ref.figures).map(([c, src]): Block => ({
      kind: 'image',
      src,
      alt: `${c.replace('_', ' ')}: label | real | demo | ${ref.model}`,
      width: Math.min(1000, 4 * ref.size[0] + 6),
    })),
  ];
}

function syntheticSection({ r }: ReportInputs): Block[] {
  return [
    { kind: 'heading', level: 2, text: 'Synthetic lesions (the class-balanced set)' },
    {
      kind: 'paragraph',
      text: `From \`synthetic/\` (labels.csv, provenance.csv): new masks deformed from the training split's masks of each class (top), and the generated images (bottom).`,
    },
    ...Object.entries(r.synthesize.figures).map(([c, fig]): Block => ({
      kind: 'image',
      src: fig.file.split(path.sep).join('/'),
      alt: `${c.replace('_', ' ')}: ${fig.count} synthetic lesions (the first ${Math.min(8, fig.count)})`,
      width: Math.min(1000, 2 * fig.width),
    })),
  ];
}

/** The loss curves (drawn by the run's own report) and the training's last sample grid. */
async function trainingSection({ s, p }: ReportInputs): Promise<Block[]> {
  const samplesDir = runPaths(p.run).samples;
  const losses = ['G', 'D'].map((k) => path.join(p.run, 'eval', `losses-${k}.png`)).filter((f) => existsSync(f));
  const samples = existsSync(samplesDir) ? (await readdir(samplesDir)).filter((f) => f.endsWith('.png')).sort() : [];
  const blocks: Block[] = [{ kind: 'heading', level: 2, text: 'Training' }];
  blocks.push(
    ...losses.map((f): Block => ({
      kind: 'image',
      src: link(p.out, f),
      alt:
        path.basename(f, '.png').replace('losses-', '') === 'G'
          ? 'generator losses (moving average)'
          : 'discriminator losses (moving average)',
      width: 520,
    })),
  );
  if (samples.length > 0) {
    const last = samples[samples.length - 1]!;
    blocks.push({
      kind: 'image',
      src: link(p.out, path.join(samplesDir, last)),
      alt: `the training's last sample grid (${last}): label | real | generated`,
      width: 3 * 3 * s.settings.width,
    });
  }
  return blocks;
}

function metricsSection({ s, p, r, metrics }: ReportInputs): Block[] {
  const st = s.settings;
  const classes =
    Object.keys(metrics.files.grids).length > 0 ? Object.keys(metrics.files.grids) : Object.keys(metrics.data.perClass);
  const cols = metricColumns(classes).filter((c) => c.value(metrics.metrics) !== null);
  const blocks: Block[] = [
    { kind: 'heading', level: 2, text: 'Metrics' },
    {
      kind: 'paragraph',
      text: `The generator on the ${metrics.data.lesions} lesions of the val split, each generated from its own label map (\`run/metrics.json\`; the run's own report: \`run/report.html\`).`,
    },
    metricTableBlock(
      [{ label: `${metrics.model} (${st.width}x${st.height}, ${r.train.steps} steps)`, metrics: metrics.metrics }],
      classes,
      false,
    ),
    { kind: 'list', items: cols.map((c) => `**${c.name}** (${c.better} is better): ${c.about}`) },
  ];
  if (metrics.notes.length > 0) blocks.push({ kind: 'list', items: metrics.notes.map((n) => `Note: ${n}`) });
  if (Object.keys(metrics.files.roc).length > 0) {
    blocks.push(
      { kind: 'heading', level: 3, text: 'Class consistency' },
      {
        kind: 'paragraph',
        text: 'ROC curves of the classifier trained on real images, on the generated images (labelled with the diagnosis they were conditioned on) and on the real ones.',
      },
      ...Object.entries(metrics.files.roc).map(([c, src]): Block => ({
        kind: 'image',
        src: link(p.out, path.join(p.run, src)),
        alt: `${classAbbreviation(c)} vs rest`,
        width: 420,
      })),
    );
  }
  return blocks;
}

/** One classifier's AUC table, its differences and its ROC curves. */
function modelBlocks({ p, scored }: ReportInputs, m: ExperimentResults['models'][number]): Block[] {
  const t = m.tests[scored.key]!;
  const ci = (a: { auc: number; ci95: [number, number] }) => `${f3(a.auc)} [${f3(a.ci95[0])}, ${f3(a.ci95[1])}]`;
  const best = Math.max(t.arms.real.pooled.mean.auc, t.arms['real+synthetic'].pooled.mean.auc);
  const c = t.comparison;
  const deltas = scored.tasks
    .map(
      (k, i) =>
        `${classAbbreviation(k)} ${signed(c.tasks[k]!.difference)} (${i === 0 ? 'DeLong ' : ''}p ${c.tasks[k]!.p.toPrecision(2)})`,
    )
    .join(', ');
  return [
    {
      kind: 'table',
      header: [
        'training data',
        'lesions',
        ...scored.tasks.map((k) => `${classAbbreviation(k)} AUC [95% CI]`),
        'mean AUC [95% CI]',
      ],
      rows: (['real', 'real+synthetic'] as const).map((arm) => {
        const a = t.arms[arm];
        return [
          arm === 'real' ? 'real only' : 'real + synthetic',
          String(m.trainLesions[arm]),
          ...scored.tasks.map((k) => ci(a.pooled.tasks[k]!)),
          { text: ci(a.pooled.mean), bold: a.pooled.mean.auc === best },
        ];
      }),
    },
    {
      kind: 'paragraph',
      text: `Real + synthetic minus real only: ${deltas}, mean ${signed(c.mean.difference)} [${signed(c.mean.ci95[0])}, ${signed(c.mean.ci95[1])}]. A demo this small decides nothing: see the full-size experiment below.`,
    },
    ...scored.tasks.map((k): Block => ({
      kind: 'image',
      src: link(p.out, path.join(p.experiment, t.roc[k]!.png)),
      alt: `${m.model}: ${classAbbreviation(k)} vs rest, real only vs real + synthetic`,
      width: 420,
    })),
  ];
}

function augmentationSection(x: ReportInputs): Block[] {
  const { r, results, scored } = x;
  return [
    { kind: 'heading', level: 2, text: 'Augmentation: real only vs real + synthetic' },
    {
      kind: 'paragraph',
      text:
        `resnet18 trained from scratch for ${r.experiment.epochs} epoch(s) (1 seed, batch ${results.options.batch}, Adam lr ${results.options.lr}) on (a) the real training lesions and (b) the same plus the synthetic set, ` +
        `scored on ${scored.lesions} real ${r.data.testSet.split} lesions (${classCounts(scored.counts)}) that neither the GAN nor the classifiers trained on. ` +
        `95% CIs: stratified bootstrap (${results.options.bootstrap} replicates). Details: \`experiment/results.md\`.`,
    },
    ...results.models.flatMap((m) => modelBlocks(x, m)),
  ];
}

const FILES_SECTION: Block[] = [
  { kind: 'heading', level: 2, text: 'Files' },
  {
    kind: 'list',
    items: [
      "`demo.json`: the plan, budgets and each stage's outputs (what a resumed demo continues from)",
      '`data/`: the dataset used; `run/`: the GAN run (config.json, log.jsonl, checkpoints/, samples/, metrics.json, report.html)',
      '`synthetic/`: the synthetic set (images/, masks/, labels.csv, provenance.csv, synthesis.json)',
      "`experiment/`: results.json, results.md, roc/, and each classifier's run",
    ],
  },
];

/** Writes OUT/report.md and OUT/report.html from the state of a demo whose stages before the report are done. */
export async function writeDemoReport(
  s: DemoState,
  commandLine: CommandLineWriter,
): Promise<{ html: string; markdown: string }> {
  const x = await reportInputs(s);
  const blocks: Block[] = [
    ...overview(x),
    ...planTable(x),
    ...gridSection(x),
    ...referenceSection(x),
    ...syntheticSection(x),
    ...(await trainingSection(x)),
    ...metricsSection(x),
    ...augmentationSection(x),
    ...reproduceBlocks(s, commandLine),
    ...FILES_SECTION,
  ];
  const enc = (t: string) => new TextEncoder().encode(t);
  await writeFileAtomic(x.p.markdown, enc(toMarkdown(blocks)));
  await writeFileAtomic(x.p.html, enc(toHtml('dermosynth demo', blocks)));
  return { html: x.p.html, markdown: x.p.markdown };
}
