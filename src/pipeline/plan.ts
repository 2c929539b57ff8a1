// The demo's plan: the time budget's shares, the GAN's steps from the measured step time (and the
// re-plans when it changes), and the cost model that turns the later stages' budgets into epochs.
import { ISIC2017_CLASSES } from '../data/diagnosis.js';
import type { BalanceTarget } from '../synth/balance.js';
import type { TrainPlan } from './stage_results.js';
import { stageResult, type BudgetedStage, type DemoState } from './state.js';

/** Shares of the time budget (the data stage and the report take seconds and are not budgeted). */
export const BUDGET_SHARES: Record<BudgetedStage, number> = {
  train: 0.6,
  synthesize: 0.05,
  evaluate: 0.15,
  experiment: 0.2,
};

/**
 * The cost of one training image through a network, forward and backward, in units of one measured
 * GAN step of the demo (the proposed model, cpu preset, batch 1, at the same size): the cost model
 * that turns the evaluation's and the experiment's budgets into epochs. Measured on the 2-core
 * development machine at 64x64 with the real trainers (ClassifierTrainer, trainSegmenter),
 * interleaved with GAN steps (about 0.11 s each): resnet18 (batch 16) 0.10 steps per image, the
 * U-Net lesion segmenter (batch 8) 0.2 to 0.3; rounded up.
 */
export const COST_PER_IMAGE = { classifier: 0.12, segmenter: 0.3 };

/** A re-plan is made when the step time measured later differs from the plan's by more than this... */
export const REPLAN_TOLERANCE = 0.2;
/** ... measured over the most recent steps (at most this many)... */
export const REPLAN_WINDOW = 50;
/** ... when these shares of the training budget are spent. */
export const REPLAN_AT = [0.25, 0.5, 0.75];

/** Seconds per budgeted stage for a budget of `minutes`. */
export function planBudgets(minutes: number): Record<BudgetedStage, number> {
  const total = minutes * 60;
  return {
    train: total * BUDGET_SHARES.train,
    synthesize: total * BUDGET_SHARES.synthesize,
    evaluate: total * BUDGET_SHARES.evaluate,
    experiment: total * BUDGET_SHARES.experiment,
  };
}

/** The budget of a stage; 0 for the unbudgeted ones. */
export function budgetOf(s: DemoState, name: string): number {
  return name in s.budgets ? s.budgets[name as BudgetedStage] : 0;
}

/** The training's steps and schedule: the steps the rest of the budget allows at `secondsPerStep`, half at full rate and half decaying. */
export function planSteps(
  s: DemoState,
  doneSteps: number,
  spentSeconds: number,
  secondsPerStep: number,
  stepsPerEpoch: number,
): TrainPlan {
  const st = s.settings;
  // Sample grids and checkpoints cost a little on top of the steps.
  const steps =
    st.fixedSteps ?? doneSteps + Math.max(1, Math.floor((s.budgets.train - spentSeconds) / (secondsPerStep * 1.05)));
  const epochsTotal = Math.max(1, Math.ceil(steps / stepsPerEpoch));
  const epochs = Math.ceil(epochsTotal / 2);
  return { secondsPerStep, steps, epochs, decayEpochs: epochsTotal - epochs, stepsPerEpoch };
}

export function median(v: readonly number[]): number {
  const a = [...v].sort((x, y) => x - y);
  const m = a.length >> 1;
  return a.length % 2 === 1 ? a[m]! : (a[m - 1]! + a[m]!) / 2;
}

/** The median of the most recent step times (the re-plan's measure). */
export function recentStepSeconds(durations: readonly number[]): number {
  return median(durations.slice(-REPLAN_WINDOW));
}

/** Whether the next re-plan point is reached: its share of the budget spent, and enough steps measured. */
export function replanPointReached(s: DemoState, checks: number, seconds: number, measuredSteps: number): boolean {
  return (
    checks < REPLAN_AT.length &&
    seconds >= REPLAN_AT[checks]! * s.budgets.train &&
    measuredSteps >= s.settings.calibrationSteps
  );
}

/** Whether the step time measured now differs from the plan's enough to re-plan. */
export function stepTimeChanged(plan: TrainPlan, secondsPerStep: number): boolean {
  return Math.abs(secondsPerStep - plan.secondsPerStep) > REPLAN_TOLERANCE * plan.secondsPerStep;
}

/**
 * Imbalanced classes (ISIC-2017: mostly nevi) are filled up to the largest; (nearly) balanced ones,
 * as the sample data's, are each doubled, so that there is something to add.
 */
export function balanceTarget(trainCounts: Record<string, number>): BalanceTarget {
  const n = ISIC2017_CLASSES.map((c) => trainCounts[c] ?? 0);
  return Math.min(...n) >= 0.8 * Math.max(...n) ? { kind: 'ratio', ratio: 2 } : { kind: 'ratio', ratio: 1 };
}

/** Real training lesions (the data stage's count). */
export function trainLesions(s: DemoState): number {
  return Object.values(stageResult(s, 'data').counts.train).reduce((a, b) => a + b, 0);
}

/** Seconds of a GAN step at the end of the training (the unit of the cost model). */
export function stepSeconds(s: DemoState): number {
  const t = stageResult(s, 'train');
  return t.recentSecondsPerStep ?? t.plan.secondsPerStep;
}

/**
 * Epochs of the evaluation's auxiliary classifier and segmenter, and the seconds of one. Everything
 * but their training (one pass over the val split, charts) is small: a fifth of the budget is kept for it.
 */
export function auxEpochs(s: DemoState): { epochs: number; secondsPerEpoch: number } {
  const secondsPerEpoch = trainLesions(s) * (COST_PER_IMAGE.classifier + COST_PER_IMAGE.segmenter) * stepSeconds(s);
  const epochs =
    s.settings.fixedAuxEpochs ?? Math.min(10, Math.max(1, Math.floor((0.8 * s.budgets.evaluate) / secondsPerEpoch)));
  return { epochs, secondsPerEpoch };
}

/** Epochs per arm of the experiment: real, then real + synthetic images per epoch, in its budget. */
export function experimentEpochs(s: DemoState): number {
  const real = trainLesions(s);
  const imagesPerEpoch = real + real + stageResult(s, 'synthesize').total;
  return (
    s.settings.fixedExperimentEpochs ??
    Math.min(
      20,
      Math.max(
        1,
        Math.floor((0.85 * s.budgets.experiment) / (imagesPerEpoch * COST_PER_IMAGE.classifier * stepSeconds(s))),
      ),
    )
  );
}
