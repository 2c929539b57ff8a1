// The options the demo calls the library with where more than one module needs them: the GAN's
// training options (the data stage opens the cache with them, the train stage trains with them)
// and the experiment's (the experiment stage runs it, the report prints the command).
import path from 'node:path';
import type { AugmentExperimentOptions } from '../eval/augment_experiment.js';
import { DEFAULT_TRAIN_OPTIONS, parseTrainOptions, type TrainOptions } from '../run/options.js';
import type { TrainPlan } from './stage_results.js';
import { demoPaths, stageResult, type DemoState } from './state.js';

/** The training options of the demo's GAN (steps and schedule from the plan, or provisional ones while measuring). */
export function ganTrainOptions(s: DemoState, plan: TrainPlan | null): TrainOptions {
  const st = s.settings;
  return parseTrainOptions({
    ...DEFAULT_TRAIN_OPTIONS,
    data: demoPaths(s.request.out).data,
    model: 'proposed',
    preset: 'cpu',
    width: st.width,
    height: st.height,
    // Measuring the step time: a run long enough never to end (or decay) in the measured steps.
    steps: plan ? plan.steps : 1_000_000_000,
    epochs: plan ? plan.epochs : 1_000_000,
    decayEpochs: plan ? plan.decayEpochs : 0,
    checkpointEvery: st.checkpointEvery,
    keepCheckpoints: 2,
    sampleEvery: st.sampleEvery,
    modelOverrides: st.modelOverrides,
  });
}

/** The augmentation experiment's options: resnet18, one seed, at the demo's size, on the data stage's test set. */
export function experimentOptions(s: DemoState, epochs: number): AugmentExperimentOptions {
  const p = demoPaths(s.request.out);
  const test = stageResult(s, 'data').testSet;
  return {
    real: p.data,
    synthetic: p.synthetic,
    test: path.join(p.out, test.dir),
    out: p.experiment,
    classes: null,
    tasks: null,
    models: ['resnet18'],
    seeds: 1,
    epochs,
    width: s.settings.width,
    height: s.settings.height,
    weightsDir: null,
    batch: s.settings.experimentBatch,
    lr: 1e-3,
    optimizer: 'adam',
    balanced: false,
    augment: 'default',
    bootstrap: s.settings.bootstrap,
  };
}
