// The report's "Reproduce" section: the commands that reproduce each step at full size on a GPU,
// and the demo's own steps as separate commands at its size. The pipeline says what each command
// holds; the CLI spells it (CommandLineWriter), from its own option definitions.
import path from 'node:path';
import type { Block } from '../eval/report_document.js';
import type { BalanceTarget } from '../synth/balance.js';
import { experimentOptions } from './options.js';
import { demoPaths, stageResult, type DemoState } from './state.js';

export type CommandName = 'data' | 'train' | 'synthesize' | 'evaluate' | 'experiment';
export type CommandValues = Record<string, string | number | boolean | null | undefined>;

/**
 * `npx dermosynth COMMAND [SUB ...] [OPERANDS ...] --flag value ...` with `values` keyed by option
 * attribute names (camelCase); true gives a bare flag, false, null and undefined are left out. The
 * CLI implements it and fails on an option its command does not have.
 */
export type CommandLineWriter = (
  command: CommandName,
  sub: readonly string[],
  values: CommandValues,
  operands?: readonly string[],
) => string;

/** A path for a command typed in the current folder. */
export function arg(file: string): string {
  const r = path.relative(process.cwd(), file);
  return r === '' ? '.' : r;
}

export const targetArg = (t: BalanceTarget) => (t.kind === 'count' ? String(t.count) : t.ratio.toFixed(1));

/** The real data's folder in the commands (the ISIC-2017 download for the sample data). */
function realData(s: DemoState): string {
  return s.request.data === null ? 'data/isic2017' : arg(s.request.data);
}

/** Whether the demo's data has no test split (its val split is then the held-out set). */
function noTestSplit(s: DemoState): boolean {
  return stageResult(s, 'data').testSet.split !== 'test';
}

/** The full-size method: the paper's network sizes at 512x512 (or 1024x768) on a GPU, four classifiers, three seeds. */
function fullSizeLines(s: DemoState, line: CommandLineWriter): string[] {
  const real = realData(s);
  const noTest = noTestSplit(s);
  const fullTrain = (size: string, batch: number, more: Record<string, string | number>) =>
    line('train', [], {
      data: real,
      size,
      model: 'proposed',
      preset: 'published',
      batch,
      epochs: 100,
      decayEpochs: 100,
      ...more,
      vggWeights: 'vgg19.safetensors',
      device: 'cuda',
      precision: 'bf16',
    });
  return [
    ...(s.request.data === null
      ? [
          '# the ISIC-2017 challenge data (images, masks, diagnoses; CC-BY-NC)',
          line('data', ['download'], { out: real, splits: 'train,val,test' }, ['isic2017']),
        ]
      : []),
    "# 1. the proposed model at 512x512 with the papers' network sizes and the VGG19 perceptual loss (bf16 autocast; add --nproc N for N GPUs)",
    fullTrain('512x512', 2, { out: 'runs/full-512' }),
    '#    or at 1024x768 (two scales, coarse to fine):',
    `#    ${fullTrain('1024x768', 1, { globalEpochs: 50, fixGlobalEpochs: 10, out: 'runs/full-1024' })}`,
    '# 2. a class-balanced synthetic set from deformed training masks',
    line('synthesize', [], {
      run: 'runs/full-512',
      dataset: real,
      balance: true,
      target: '1.0',
      deform: true,
      device: 'cuda',
      out: 'runs/full-512-synthetic',
    }),
    '# 3. FID/KID/IS with the FID Inception weights, LPIPS, and the semantic and class metrics',
    line('evaluate', [], {
      run: 'runs/full-512',
      data: real,
      split: noTest ? 'val' : 'test',
      inceptionWeights: 'pt_inception.safetensors',
      lpipsWeights: 'alexnet.safetensors,lpips_alex.safetensors',
      device: 'cuda',
    }),
    '# 4. the augmentation experiment: four classifiers from ImageNet weights, three seeds (on the CPU)',
    line('experiment', ['augment'], {
      real,
      synthetic: 'runs/full-512-synthetic',
      test: noTest ? arg(demoPaths(s.request.out).testData) : real,
      out: 'runs/full-512-augment',
      models: 'resnet18,resnet50,densenet121,efficientnet_b0',
      seeds: 3,
      epochs: 20,
      size: '224x224',
      weightsDir: 'weights/',
    }),
  ];
}

/** The demo's own steps, with the steps and epochs its budget chose. */
function demoLines(s: DemoState, line: CommandLineWriter): string[] {
  const p = demoPaths(s.request.out);
  const st = s.settings;
  const plan = stageResult(s, 'train').plan;
  const o = experimentOptions(s, stageResult(s, 'experiment').epochs);
  return [
    ...(s.request.data === null
      ? [
          line('data', ['sample'], {
            out: arg(p.data),
            n: st.sampleLesions,
            size: Math.max(st.width, st.height, 32),
            seed: 0,
          }),
        ]
      : []),
    line('train', [], {
      data: arg(p.data),
      size: `${st.width}x${st.height}`,
      steps: plan.steps,
      epochs: plan.epochs,
      decayEpochs: plan.decayEpochs,
      checkpointEvery: st.checkpointEvery,
      keepCheckpoints: 2,
      sampleEvery: st.sampleEvery,
      ...st.modelOverrides,
      out: arg(p.run),
    }),
    line('synthesize', [], {
      run: arg(p.run),
      dataset: arg(p.data),
      balance: true,
      target: targetArg(stageResult(s, 'synthesize').target),
      deform: true,
      out: arg(p.synthetic),
    }),
    line('evaluate', [], {
      run: arg(p.run),
      auxEpochs: stageResult(s, 'evaluate').auxEpochs,
      gridExamples: st.gridExamples,
    }),
    line('experiment', ['augment'], {
      real: arg(o.real),
      synthetic: arg(o.synthetic),
      test: o.test === null ? undefined : arg(o.test),
      out: arg(o.out),
      models: 'resnet18',
      seeds: 1,
      epochs: o.epochs,
      size: `${o.width}x${o.height}`,
      batch: o.batch,
      lr: o.lr,
      bootstrap: o.bootstrap,
    }),
  ];
}

/** The commands that reproduce each step: at full size on a GPU, and as the demo ran them. */
export function reproduceBlocks(s: DemoState, line: CommandLineWriter): Block[] {
  const noTest = noTestSplit(s);
  return [
    { kind: 'heading', level: 2, text: 'Reproduce at full size on a GPU' },
    {
      kind: 'paragraph',
      text:
        'Build the addon against a CUDA libtorch first (README: "Building against another libtorch"). `train`, `synthesize` and `evaluate` take `--device cuda` (and `train --nproc N` trains on N GPUs); `experiment augment` has no `--device` option in this version and trains its classifiers on the CPU. ' +
        'The weight files are converted once with `scripts/to_safetensors.py` (README). Every command resumes after a stop.' +
        (noTest
          ? ` The dataset has no test split: as in the demo, the val split is the held-out set, and the experiment's test set is a folder of the val lesions (\`${arg(demoPaths(s.request.out).testData)}\`).`
          : ''),
    },
    { kind: 'code', text: fullSizeLines(s, line).join('\n') },
    { kind: 'heading', level: 3, text: "The demo's steps as separate commands (at its size)" },
    {
      kind: 'paragraph',
      text: 'The demo calls the same library functions as these commands, with the steps and epochs its budget chose.',
    },
    { kind: 'code', text: demoLines(s, line).join('\n') },
  ];
}
