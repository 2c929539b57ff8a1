// The demo's report, OUT/report.html and OUT/report.md: the plan and the wall time of each stage,
// label | real | generated grids per diagnosis, synthetic lesions per class, loss curves, the metric
// table, the augmentation experiment's AUCs and ROC curves, and the commands that reproduce each step
// at full size. Built from report_document.ts blocks and run_report.ts's metric table; every link is
// relative to OUT, so the folder can be moved.
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../torch/atomic_file.js';
import type { Split } from '../data/dataset.js';
import { classAbbreviation } from '../data/diagnosis.js';
import type { ExperimentResults } from '../eval/augment_experiment.js';
import { metricColumns, metricTableBlock, readMetrics } from '../eval/run_report.js';
import { toHtml, toMarkdown, type Block } from '../eval/report_document.js';
import type { BalanceTarget } from '../synth/balance.js';
import { readRunConfig } from '../train/run_config.js';
import { runPaths } from '../train/trainer.js';
import { commandLine } from './command_line.js';
import { dataCommand } from './data_command.js';
import { evaluateCommand } from './eval_command.js';
import { experimentCommand } from './experiment_command.js';
import { synthCommand } from './synth_command.js';
import { trainCommand } from './train_command.js';
import { STAGES, demoPaths, experimentOptions, formatSeconds, type DemoState, type StageName, type TrainPlan } from './demo.js';

/** A path relative to OUT with '/' separators (a link in the report). */
function link(out: string, file: string): string {
  return path.relative(out, file).split(path.sep).join('/');
}

/** A path for a command typed in the current folder. */
function arg(file: string): string {
  const r = path.relative(process.cwd(), file);
  return r === '' ? '.' : r;
}

const f3 = (x: number) => x.toFixed(3);
const signed = (x: number) => `${x >= 0 ? '+' : ''}${f3(x)}`;
const targetArg = (t: BalanceTarget) => (t.kind === 'count' ? String(t.count) : t.ratio.toFixed(1));

function splitLine(counts: Record<Split, Record<string, number>>): string {
  return (['train', 'val', 'test'] as const)
    .map((sp) => {
      const c = counts[sp];
      const n = Object.values(c).reduce((a, b) => a + b, 0);
      return `${sp} ${n}${n > 0 ? ` (${Object.entries(c).map(([k, v]) => `${classAbbreviation(k)} ${v}`).join(', ')})` : ''}`;
    })
    .join(', ');
}

export async function writeDemoReport(s: DemoState): Promise<{ html: string; markdown: string }> {
  const p = demoPaths(s.request.out);
  const out = p.out;
  const st = s.settings;
  const detail = (n: StageName) => s.stages[n]?.detail ?? {};
  const counts = detail('data').counts as Record<Split, Record<string, number>>;
  const plan = detail('train').plan as TrainPlan;
  const config = await readRunConfig(runPaths(p.run).config);
  const metrics = await readMetrics(p.run);
  const results = JSON.parse(await readFile(path.join(p.experiment, 'results.json'), 'utf8')) as ExperimentResults;
  const synCounts = detail('synthesize').counts as Record<string, number>;
  const target = detail('synthesize').target as BalanceTarget;
  const testSet = detail('data').testSet as { dir: string; split: Split };
  // The demo tests on one set: --real's test split, or its val split as a dataset of its own.
  const scored = results.data.testSets[0]!;
  const expEpochs = detail('experiment').epochs as number;
  const trainSteps = detail('train').steps as number;
  const replans = (detail('train').replans as TrainPlan[] | undefined) ?? [];
  const recent = detail('train').recentSecondsPerStep as number | undefined;
  const stepTimes =
    `${(replans[0] ?? plan).secondsPerStep.toFixed(3)} s per step measured on the first ${st.calibrationSteps} steps` +
    (replans.length > 0 ? `, re-planned ${replans.length} time(s) as the step time changed (${[...replans.slice(1), plan].map((x) => x.secondsPerStep.toFixed(3)).join(', ')} s)` : '') +
    (recent !== undefined ? `, ${recent.toFixed(3)} s at the end` : '');
  const totalSeconds = STAGES.reduce((a, n) => a + (s.stages[n]?.seconds ?? 0), 0);
  const dataName = s.request.data === null ? `the built-in procedural sample data (${st.sampleLesions} lesions)` : `\`${s.request.dataArg}\``;

  const blocks: Block[] = [
    { kind: 'heading', level: 1, text: 'dermosynth demo: label maps to dermoscopy images, end to end' },
    {
      kind: 'paragraph',
      text:
        `Data: ${dataName} at ${st.width}x${st.height}; lesions ${splitLine(counts)}. ` +
        `A conditional GAN (the proposed model: pix2pixHD's generator with encoder-decoder skip connections, ${config?.options.preset ?? 'cpu'} preset${Object.keys(st.modelOverrides).length > 0 ? ', tiny test network' : ''}, ` +
        `${config ? `${(config.model.parameters.generator / 1e6).toFixed(2)}M generator parameters` : ''}) was trained for a bounded time on the training split's label maps, ` +
        `then made a class-balanced synthetic set, was evaluated on the val split, and the synthetic set was tested as classifier training data. ` +
        `Started ${s.created}; ${s.request.minutes} minute(s) planned${s.request.tiny ? ' (tiny test configuration)' : ''}, ${formatSeconds(totalSeconds)} of wall time on ${s.machine.cores} cores ` +
        `(load average ${s.machine.loadAverage.join(' ')} at the start, ${((detail('report').loadAverage as number[] | undefined) ?? []).join(' ')} at the end: the machine may have been shared).`,
    },
    { kind: 'heading', level: 2, text: 'Plan and wall time' },
    {
      kind: 'table',
      header: ['stage', 'what was done', 'budget', 'wall time'],
      rows: [
        ['data', `${s.request.data === null ? `sample dataset of ${st.sampleLesions} lesions` : `lesions of ${s.request.dataArg} linked${st.maxTrain === null ? '' : ` (at most ${st.maxTrain} training lesions)`}`}; label maps and the cache at ${st.width}x${st.height} (split: ${detail('data').splitSource})`, '-', formatSeconds(s.stages.data?.seconds ?? 0)],
        [
          'train',
          `${trainSteps} steps of batch 1 (${plan.stepsPerEpoch} per epoch; ${plan.epochs} epochs at lr 2e-4, ${plan.decayEpochs} decaying); ${stepTimes}` +
            `${detail('train').stoppedOnTime ? `; stopped on the time budget before the planned ${plan.steps}` : ''}`,
          formatSeconds(s.budgets.train),
          formatSeconds(s.stages.train?.seconds ?? 0),
        ],
        ['synthesize', `${Object.values(synCounts).reduce((a, b) => a + b, 0)} synthetic lesions (${Object.entries(synCounts).map(([c, n]) => `${classAbbreviation(c)} ${n}`).join(', ')}): training classes filled to ${targetArg(target)} x the largest, masks deformed`, formatSeconds(s.budgets.synthesize), formatSeconds(s.stages.synthesize?.seconds ?? 0)],
        ['evaluate', `${metrics.data.lesions} val lesions; auxiliary classifier and segmenter ${detail('evaluate').auxEpochs} epoch(s) on the real training split`, formatSeconds(s.budgets.evaluate), formatSeconds(s.stages.evaluate?.seconds ?? 0)],
        ['experiment', `resnet18 from scratch, ${expEpochs} epoch(s) per arm, 1 seed, at ${st.width}x${st.height}; tested on ${scored.lesions} real ${testSet.split} lesions`, formatSeconds(s.budgets.experiment), formatSeconds(s.stages.experiment?.seconds ?? 0)],
        ['total', '', formatSeconds(Object.values(s.budgets).reduce((a, b) => a + b, 0)), formatSeconds(totalSeconds)],
      ],
    },
    {
      kind: 'paragraph',
      text: 'Wall time counts the sessions that finished or stopped a stage (a demo killed and run again loses the killed session\'s time, except for training, whose checkpoints count it).',
    },
    { kind: 'heading', level: 2, text: 'Label | real | generated, per diagnosis' },
    {
      kind: 'paragraph',
      text: `Val lesions the GAN never saw: each row is the label map (skin, lesion coloured by diagnosis), the real image, and the image the generator made from that label map alone.`,
    },
    ...Object.entries(metrics.files.grids).map(([c, src]): Block => ({ kind: 'image', src: link(out, path.join(p.run, src)), alt: `${c.replace('_', ' ')}: label | real | generated`, width: 3 * 3 * st.width })),
  ];

  const figures = (detail('synthesize').figures ?? {}) as Record<string, { file: string; count: number; width: number }>;
  blocks.push(
    { kind: 'heading', level: 2, text: 'Synthetic lesions (the class-balanced set)' },
    { kind: 'paragraph', text: `From \`synthetic/\` (labels.csv, provenance.csv): new masks deformed from the training split's masks of each class (top), and the generated images (bottom).` },
    ...Object.entries(figures).map(([c, fig]): Block => ({ kind: 'image', src: fig.file.split(path.sep).join('/'), alt: `${c.replace('_', ' ')}: ${fig.count} synthetic lesions (the first ${Math.min(8, fig.count)})`, width: Math.min(1000, 2 * fig.width) })),
  );

  const losses = ['G', 'D'].map((k) => path.join(p.run, 'eval', `losses-${k}.png`)).filter((f) => existsSync(f));
  const samples = existsSync(runPaths(p.run).samples) ? (await readdir(runPaths(p.run).samples)).filter((f) => f.endsWith('.png')).sort() : [];
  blocks.push({ kind: 'heading', level: 2, text: 'Training' });
  blocks.push(...losses.map((f): Block => ({ kind: 'image', src: link(out, f), alt: path.basename(f, '.png').replace('losses-', '') === 'G' ? 'generator losses (moving average)' : 'discriminator losses (moving average)', width: 520 })));
  if (samples.length > 0) {
    const last = samples[samples.length - 1]!;
    blocks.push({ kind: 'image', src: link(out, path.join(runPaths(p.run).samples, last)), alt: `the training's last sample grid (${last}): label | real | generated`, width: 3 * 3 * st.width });
  }

  const classes = Object.keys(metrics.files.grids).length > 0 ? Object.keys(metrics.files.grids) : Object.keys(metrics.data.perClass);
  const cols = metricColumns(classes).filter((c) => c.value(metrics.metrics) !== null);
  blocks.push(
    { kind: 'heading', level: 2, text: 'Metrics' },
    { kind: 'paragraph', text: `The generator on the ${metrics.data.lesions} lesions of the val split, each generated from its own label map (\`run/metrics.json\`; the run's own report: \`run/report.html\`).` },
    metricTableBlock([{ label: `${metrics.model} (${st.width}x${st.height}, ${trainSteps} steps)`, metrics: metrics.metrics }], classes, false),
    { kind: 'list', items: cols.map((c) => `**${c.name}** (${c.better} is better): ${c.about}`) },
  );
  if (metrics.notes.length > 0) blocks.push({ kind: 'list', items: metrics.notes.map((n) => `Note: ${n}`) });
  if (Object.keys(metrics.files.roc).length > 0) {
    blocks.push(
      { kind: 'heading', level: 3, text: 'Class consistency' },
      { kind: 'paragraph', text: 'ROC curves of the classifier trained on real images, on the generated images (labelled with the diagnosis they were conditioned on) and on the real ones.' },
      ...Object.entries(metrics.files.roc).map(([c, src]): Block => ({ kind: 'image', src: link(out, path.join(p.run, src)), alt: `${classAbbreviation(c)} vs rest`, width: 420 })),
    );
  }

  blocks.push(
    { kind: 'heading', level: 2, text: 'Augmentation: real only vs real + synthetic' },
    {
      kind: 'paragraph',
      text:
        `resnet18 trained from scratch for ${expEpochs} epoch(s) (1 seed, batch ${results.options.batch}, Adam lr ${results.options.lr}) on (a) the real training lesions and (b) the same plus the synthetic set, ` +
        `scored on ${scored.lesions} real ${testSet.split} lesions (${Object.entries(scored.counts).map(([c, n]) => `${classAbbreviation(c)} ${n}`).join(', ')}) that neither the GAN nor the classifiers trained on. ` +
        `95% CIs: stratified bootstrap (${results.options.bootstrap} replicates). Details: \`experiment/results.md\`.`,
    },
  );
  for (const m of results.models) {
    const t = m.tests[scored.key]!;
    const ci = (a: { auc: number; ci95: [number, number] }) => `${f3(a.auc)} [${f3(a.ci95[0])}, ${f3(a.ci95[1])}]`;
    const best = Math.max(t.arms.real.pooled.mean.auc, t.arms['real+synthetic'].pooled.mean.auc);
    blocks.push({
      kind: 'table',
      header: ['training data', 'lesions', ...scored.tasks.map((k) => `${classAbbreviation(k)} AUC [95% CI]`), 'mean AUC [95% CI]'],
      rows: (['real', 'real+synthetic'] as const).map((arm) => {
        const a = t.arms[arm];
        return [arm === 'real' ? 'real only' : 'real + synthetic', String(m.trainLesions[arm]), ...scored.tasks.map((k) => ci(a.pooled.tasks[k]!)), { text: ci(a.pooled.mean), bold: a.pooled.mean.auc === best }];
      }),
    });
    const c = t.comparison;
    const deltas = scored.tasks.map((k, i) => `${classAbbreviation(k)} ${signed(c.tasks[k]!.difference)} (${i === 0 ? 'DeLong ' : ''}p ${c.tasks[k]!.p.toPrecision(2)})`).join(', ');
    blocks.push(
      {
        kind: 'paragraph',
        text: `Real + synthetic minus real only: ${deltas}, mean ${signed(c.mean.difference)} [${signed(c.mean.ci95[0])}, ${signed(c.mean.ci95[1])}]. A demo this small decides nothing: see the full-size experiment below.`,
      },
      ...scored.tasks.map((k): Block => ({ kind: 'image', src: link(out, path.join(p.experiment, t.roc[k]!.png)), alt: `${m.model}: ${classAbbreviation(k)} vs rest, real only vs real + synthetic`, width: 420 })),
    );
  }

  blocks.push(...reproduceBlocks(s, plan, target, testSet, expEpochs));
  blocks.push(
    { kind: 'heading', level: 2, text: 'Files' },
    {
      kind: 'list',
      items: [
        '`demo.json`: the plan, budgets and each stage\'s outputs (what a resumed demo continues from)',
        '`data/`: the dataset used; `run/`: the GAN run (config.json, log.jsonl, checkpoints/, samples/, metrics.json, report.html)',
        '`synthetic/`: the synthetic set (images/, masks/, labels.csv, provenance.csv, synthesis.json)',
        '`experiment/`: results.json, results.md, roc/, and each classifier\'s run',
      ],
    },
  );

  const enc = (t: string) => new TextEncoder().encode(t);
  await writeFileAtomic(p.markdown, enc(toMarkdown(blocks)));
  await writeFileAtomic(p.html, enc(toHtml('dermosynth demo', blocks)));
  return { html: p.html, markdown: p.markdown };
}

/** The commands that reproduce each step: at full size on a GPU, and as the demo ran them. */
function reproduceBlocks(s: DemoState, plan: TrainPlan, target: BalanceTarget, testSet: { dir: string; split: Split }, expEpochs: number): Block[] {
  const p = demoPaths(s.request.out);
  const st = s.settings;
  const real = s.request.data === null ? 'data/isic2017' : arg(s.request.data);
  const noTest = testSet.split !== 'test';
  const train = trainCommand();
  const synth = synthCommand();
  const evaluate = evaluateCommand();
  const experiment = experimentCommand();
  const data = dataCommand();
  const fullTrain = (size: string, batch: number, more: Record<string, string | number>) =>
    commandLine(train, [], { data: real, size, model: 'proposed', preset: 'published', batch, epochs: 100, decayEpochs: 100, ...more, vggWeights: 'vgg19.safetensors', device: 'cuda', precision: 'bf16' });
  const full = [
    ...(s.request.data === null ? ['# the ISIC-2017 challenge data (images, masks, diagnoses; CC-BY-NC)', commandLine(data, ['download'], { out: real, splits: 'train,val,test' }, ['isic2017'])] : []),
    '# 1. the proposed model at 512x512 with the papers\' network sizes and the VGG19 perceptual loss (bf16 autocast; add --nproc N for N GPUs)',
    fullTrain('512x512', 2, { out: 'runs/full-512' }),
    '#    or at 1024x768 (two scales, coarse to fine):',
    `#    ${fullTrain('1024x768', 1, { globalEpochs: 50, fixGlobalEpochs: 10, out: 'runs/full-1024' })}`,
    '# 2. a class-balanced synthetic set from deformed training masks',
    commandLine(synth, [], { run: 'runs/full-512', dataset: real, balance: true, target: '1.0', deform: true, device: 'cuda', out: 'runs/full-512-synthetic' }),
    '# 3. FID/KID/IS with the FID Inception weights, LPIPS, and the semantic and class metrics',
    commandLine(evaluate, [], { run: 'runs/full-512', data: real, split: noTest ? 'val' : 'test', inceptionWeights: 'pt_inception.safetensors', lpipsWeights: 'alexnet.safetensors,lpips_alex.safetensors', device: 'cuda' }),
    '# 4. the augmentation experiment: four classifiers from ImageNet weights, three seeds (on the CPU)',
    commandLine(experiment, ['augment'], {
      real, synthetic: 'runs/full-512-synthetic', test: noTest ? arg(p.testData) : real, out: 'runs/full-512-augment',
      models: 'resnet18,resnet50,densenet121,efficientnet_b0', seeds: 3, epochs: 20, size: '224x224', weightsDir: 'weights/',
    }),
  ];
  const o = experimentOptions(s, expEpochs);
  const tiny = st.modelOverrides;
  const demo = [
    ...(s.request.data === null ? [commandLine(data, ['sample'], { out: arg(p.data), n: st.sampleLesions, size: Math.max(st.width, st.height, 32), seed: 0 })] : []),
    commandLine(train, [], {
      data: arg(p.data), size: `${st.width}x${st.height}`, steps: plan.steps, epochs: plan.epochs, decayEpochs: plan.decayEpochs,
      checkpointEvery: st.checkpointEvery, keepCheckpoints: 2, sampleEvery: st.sampleEvery, ...tiny, out: arg(p.run),
    }),
    commandLine(synth, [], { run: arg(p.run), dataset: arg(p.data), balance: true, target: targetArg(target), deform: true, out: arg(p.synthetic) }),
    commandLine(evaluate, [], { run: arg(p.run), auxEpochs: s.stages.evaluate?.detail.auxEpochs as number | undefined, gridExamples: st.gridExamples }),
    commandLine(experiment, ['augment'], {
      real: arg(o.real), synthetic: arg(o.synthetic), test: o.test === null ? undefined : arg(o.test), out: arg(o.out), models: 'resnet18', seeds: 1, epochs: o.epochs,
      size: `${o.width}x${o.height}`, batch: o.batch, lr: o.lr, bootstrap: o.bootstrap,
    }),
  ];
  return [
    { kind: 'heading', level: 2, text: 'Reproduce at full size on a GPU' },
    {
      kind: 'paragraph',
      text:
        'Build the addon against a CUDA libtorch first (README: "Building against another libtorch"). `train`, `synthesize` and `evaluate` take `--device cuda` (and `train --nproc N` trains on N GPUs); `experiment augment` has no `--device` option in this version and trains its classifiers on the CPU. ' +
        'The weight files are converted once with `scripts/to_safetensors.py` (README). Every command resumes after a stop.' +
        (noTest ? ` The dataset has no test split: as in the demo, the val split is the held-out set, and the experiment's test set is a folder of the val lesions (\`${arg(p.testData)}\`).` : ''),
    },
    { kind: 'code', text: full.join('\n') },
    { kind: 'heading', level: 3, text: 'The demo\'s steps as separate commands (at its size)' },
    { kind: 'paragraph', text: 'The demo calls the same library functions as these commands, with the steps and epochs its budget chose.' },
    { kind: 'code', text: demo.join('\n') },
  ];
}
