// The demo's request (what was asked for on the command line) and its settings (what the request
// resolves to: sizes, the network, and the fixed counts of the tiny test configuration).

export interface DemoRequest {
  /** A dataset folder; null: the built-in sample data. */
  data: string | null;
  out: string;
  minutes: number;
  /** Sample data: lesions to make; real data: training lesions to use at most (null: the default). */
  lesions: number | null;
  width: number;
  height: number;
  /** For tests: a tiny network at 32x32, a few steps, one epoch everywhere; runs in seconds. */
  tiny: boolean;
}

/** What the request resolves to (sizes, network, fixed counts in the tiny configuration). */
export interface DemoSettings {
  width: number;
  height: number;
  sampleLesions: number;
  /** Real data: training lesions used at most; null: all. */
  maxTrain: number | null;
  modelOverrides: Record<string, number>;
  calibrationSteps: number;
  /** Training steps regardless of the budget (tiny); null: from the budget. */
  fixedSteps: number | null;
  checkpointEvery: number;
  sampleEvery: number;
  fixedAuxEpochs: number | null;
  fixedExperimentEpochs: number | null;
  experimentBatch: number;
  bootstrap: number;
  gridExamples: number;
}

export const DEFAULT_SAMPLE_LESIONS = 200;
export const DEFAULT_MAX_TRAIN = 600;

export function demoSettings(r: DemoRequest): DemoSettings {
  if (r.tiny) {
    return {
      width: 32,
      height: 32,
      sampleLesions: r.lesions ?? 30,
      maxTrain: r.lesions,
      modelOverrides: { ngf: 8, nDown: 2, nBlocks: 1, ndf: 8, nLayersD: 2 },
      calibrationSteps: 3,
      fixedSteps: 8,
      checkpointEvery: 4,
      sampleEvery: 4,
      fixedAuxEpochs: 1,
      fixedExperimentEpochs: 1,
      experimentBatch: 4,
      bootstrap: 200,
      gridExamples: 2,
    };
  }
  return {
    width: r.width,
    height: r.height,
    sampleLesions: r.lesions ?? DEFAULT_SAMPLE_LESIONS,
    maxTrain: r.lesions ?? DEFAULT_MAX_TRAIN,
    modelOverrides: {},
    calibrationSteps: 20,
    fixedSteps: null,
    checkpointEvery: 100,
    sampleEvery: 200,
    fixedAuxEpochs: null,
    fixedExperimentEpochs: null,
    experimentBatch: 16,
    bootstrap: 1000,
    gridExamples: 4,
  };
}
