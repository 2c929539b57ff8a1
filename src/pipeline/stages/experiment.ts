// Stage 5, experiment: 'dermosynth experiment augment' with resnet18 from scratch, one seed, at
// the demo's size: real only, then real + synthetic, for the epochs the budget allows (decided
// once: a resumed experiment skips its finished model/seed pairs).
import path from 'node:path';
import { runAugmentExperiment, type ExperimentHooks } from '../../eval/augment_experiment.js';
import { removeFinishedCheckpoints } from '../finished_checkpoints.js';
import { experimentOptions } from '../options.js';
import { experimentEpochs } from '../plan.js';
import type { StageContext, StageRunner } from '../stage.js';
import { saveDemoState } from '../state.js';
import { prepareBars, type DemoUI, type ProgressBar } from '../ui.js';

/** The experiment's epochs: planned once and recorded, so that a resumed experiment keeps them. */
async function plannedEpochs({ state: s, record: rec }: StageContext<'experiment'>): Promise<number> {
  if (rec.detail.epochs !== undefined) return rec.detail.epochs;
  const epochs = experimentEpochs(s);
  rec.detail.epochs = epochs;
  await saveDemoState(s);
  return epochs;
}

/** The experiment's bars: the caches' phases, then one per classifier trained. */
function experimentBars(ui: DemoUI, stop: () => boolean): { hooks: ExperimentHooks; stop(): void } {
  const prep = prepareBars(ui);
  let bar: ProgressBar | null = null;
  const hooks: ExperimentHooks = {
    onNotice: (m) => ui.say(m),
    onPrepare: (_which, x) => prep.update(x),
    onTrainStart: (x) => {
      prep.stop();
      bar = ui.progress(`${x.model} ${x.arm}`, x.totalSteps, 'steps');
      bar.update(x.startStep);
    },
    onStep: (x) => bar?.update(x.step, x.totalSteps, `e${x.epoch} loss ${x.loss.toFixed(3)}`),
    onTrainEnd: () => bar?.stop(),
    shouldStop: stop,
  };
  return {
    hooks,
    stop() {
      prep.stop();
      bar?.stop();
    },
  };
}

export const experimentStage: StageRunner<'experiment'> = async (c) => {
  const { record: rec, ui, stop, paths } = c;
  const o = experimentOptions(c.state, await plannedEpochs(c));
  ui.say(
    `resnet18 from scratch, ${o.epochs} epoch(s) per arm at ${o.width}x${o.height}, batch ${o.batch}: real only, then real + synthetic`,
  );
  const bars = experimentBars(ui, stop);
  const results = await runAugmentExperiment(o, bars.hooks).finally(() => bars.stop());
  if (!results) return false;
  await removeFinishedCheckpoints(path.join(paths.experiment, 'runs'));
  const t = Object.values(results.models[0]!.tests)[0]!;
  rec.detail.meanAuc = {
    real: t.arms.real.pooled.mean.auc,
    'real+synthetic': t.arms['real+synthetic'].pooled.mean.auc,
  };
  return true;
};
