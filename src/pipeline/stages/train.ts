// Stage 2, train: the proposed GAN trained for a time budget.
//
// The steps are planned from the median time of the run's own first steps (a run that never ends
// while they are measured; they are kept: the planned run resumes from their checkpoint). On a
// shared machine the step time changes as other work comes and goes, so when 25%, 50% and 75% of
// the budget are spent it is measured again over the recent steps, and the run re-planned
// (checkpoint, new schedule, resume) when it differs by more than 20%. A run slower than planned
// still stops at 110% of the budget, and says so. The last steps' time is kept for the later
// stages' cost model.
import path from 'node:path';
import { readRunConfig, writeRunConfig } from '../../run/config.js';
import { runPaths } from '../../run/layout.js';
import { openTrainingData } from '../../train/training_data.js';
import { Trainer, type TrainResult as TrainerResult } from '../../train/trainer.js';
import { ganTrainOptions } from '../options.js';
import { planSteps, recentStepSeconds, replanPointReached, stepTimeChanged } from '../plan.js';
import type { StageContext, StageRunner } from '../stage.js';
import type { TrainPlan } from '../stage_results.js';
import { saveDemoState } from '../state.js';
import type { DemoUI } from '../ui.js';

/** Why a session stopped itself: its first steps measured, the step time changed, or the time is up. */
type StopWhy = 'measured' | 'replan' | 'time';
type SessionEnd = 'planned' | 'finished' | 'stopped';

/** The trainer's notices, each said once; checkpoint notices are not said. */
function onceNotices(ui: DemoUI): (m: string) => void {
  const said = new Set<string>();
  return (m) => {
    if (m.startsWith('checkpoint ') || said.has(m)) return;
    said.add(m);
    ui.say(m);
  };
}

/** A session's step times (one per step after the first) and the run's training seconds so far. */
class StepClock {
  readonly durations: number[] = [];
  seconds = 0;
  constructor(private readonly start: number) {}

  onStep(step: number, seconds: number): void {
    if (this.seconds > 0 || step > this.start + 1) this.durations.push(seconds - this.seconds);
    this.seconds = seconds;
  }
}

/** Puts the plan's schedule in the run's config.json (what synthesize and evaluate read) and resumes from the newest checkpoint. */
async function resumeSession(
  { ui, paths }: StageContext<'train'>,
  trainer: Trainer,
  plan: TrainPlan | null,
): Promise<number> {
  const run = runPaths(paths.run);
  if (plan && (await readRunConfig(run.config))?.options.steps !== plan.steps)
    await writeRunConfig(run.config, trainer.runConfig());
  const start = await trainer.resume();
  if (start > 0) ui.say(`resuming the training at step ${start}${plan ? ` of ${trainer.totalSteps}` : ''}`);
  return start;
}

/** Why the session should stop now, if it should (a re-plan point checked is counted in the record). */
function stopReason(
  { state: s, record: rec }: StageContext<'train'>,
  plan: TrainPlan | null,
  stepsThisSession: number,
  clock: StepClock,
): StopWhy | null {
  if (!plan) return stepsThisSession >= s.settings.calibrationSteps ? 'measured' : null;
  if (s.settings.fixedSteps !== null) return null;
  if (clock.seconds > s.budgets.train * 1.1) return 'time';
  const checks = rec.detail.checks ?? 0;
  if (!replanPointReached(s, checks, clock.seconds, clock.durations.length)) return null;
  rec.detail.checks = checks + 1;
  return stepTimeChanged(plan, recentStepSeconds(clock.durations)) ? 'replan' : null;
}

/** Records a new plan: the first, from the measured steps, or a re-plan replacing `old`. */
async function adoptPlan(
  { state: s, record: rec, ui }: StageContext<'train'>,
  old: TrainPlan | null,
  next: TrainPlan,
  measured: number,
): Promise<void> {
  if (old) {
    rec.detail.replans = [...(rec.detail.replans ?? []), old];
    ui.say(
      `the step time changed: ${next.secondsPerStep.toFixed(3)} s now, ${old.secondsPerStep.toFixed(3)} s planned; re-planned from ${old.steps} to ${next.steps} steps`,
    );
  } else {
    ui.say(
      `${next.secondsPerStep.toFixed(3)} s per step (median of ${measured}): ${next.steps} steps (${next.epochs} epochs at lr 2e-4, then ${next.decayEpochs} decaying to 0; ${next.stepsPerEpoch} steps per epoch)`,
    );
  }
  rec.detail.plan = next;
  await saveDemoState(s);
}

/** Records what a session did and decides what comes next: train again with a new plan, or the stage finished or stopped. */
async function endSession(
  c: StageContext<'train'>,
  plan: TrainPlan | null,
  r: TrainerResult,
  clock: StepClock,
  why: StopWhy | null,
  stepsPerEpoch: number,
): Promise<SessionEnd> {
  const { state: s, record: rec, ui, paths } = c;
  rec.detail.trainSeconds = Number(clock.seconds.toFixed(1));
  rec.detail.steps = r.step;
  if (clock.durations.length > 0) rec.detail.recentSecondsPerStep = recentStepSeconds(clock.durations);
  if (why === 'measured' || why === 'replan') {
    await adoptPlan(
      c,
      why === 'replan' ? plan : null,
      planSteps(s, r.step, clock.seconds, recentStepSeconds(clock.durations), stepsPerEpoch),
      clock.durations.length,
    );
    return 'planned';
  }
  if (!plan || (!r.finished && why !== 'time')) return 'stopped';
  rec.detail.stoppedOnTime = why === 'time';
  if (why === 'time')
    ui.say(
      `stopped on the time budget at step ${r.step} of ${r.totalSteps} (the steps took longer than measured); the newest checkpoint is the generator`,
    );
  rec.detail.weights = path.relative(paths.out, r.finished ? r.generatorFile! : r.lastCheckpoint!);
  return 'finished';
}

/** One trainer session: measuring the first steps (no plan yet), or training to the plan. */
async function trainSession(c: StageContext<'train'>, notices: (m: string) => void): Promise<SessionEnd> {
  const { state: s, record: rec, ui, paths } = c;
  const plan = rec.detail.plan ?? null;
  const options = ganTrainOptions(s, plan);
  const cache = await openTrainingData(paths.run, options);
  const trainer = new Trainer(runPaths(paths.run), options, cache, null, { onNotice: notices });
  try {
    const start = await resumeSession(c, trainer, plan);
    const clock = new StepClock(start);
    const session: { why: StopWhy | null } = { why: null };
    const bar = plan
      ? ui.progress('training', trainer.totalSteps, 'steps')
      : ui.progress('measuring', s.settings.calibrationSteps, 'steps');
    bar.update(plan ? start : 0);
    const r = await trainer
      .run({
        onStep: (x) => {
          clock.onStep(x.step, x.seconds);
          if (plan)
            bar.update(
              x.step,
              x.totalSteps,
              Object.entries(x.losses)
                .map(([k, v]) => `${k} ${v.toFixed(3)}`)
                .join(' '),
            );
          else bar.update(x.step - start);
        },
        onNotice: notices,
        shouldStop: () => {
          if (c.stop()) return true;
          session.why = stopReason(c, plan, trainer.currentStep - start, clock) ?? session.why;
          return session.why !== null;
        },
      })
      .finally(() => bar.stop());
    return await endSession(c, plan, r, clock, session.why, trainer.stepsPerEpoch);
  } finally {
    trainer.dispose();
  }
}

export const trainStage: StageRunner<'train'> = async (c) => {
  const notices = onceNotices(c.ui);
  for (;;) {
    const end = await trainSession(c, notices);
    if (end !== 'planned') return end === 'finished';
  }
};
