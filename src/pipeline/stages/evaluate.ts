// Stage 4, evaluate: the generator on the val split (paired, distribution, semantic and class
// metrics, as 'dermosynth evaluate' does), its auxiliary networks trained for the epochs the
// budget allows; then the run's own report, which also draws the loss curves the demo's links.
import path from 'node:path';
import { evaluate, type EvaluateHooks } from '../../eval/evaluate.js';
import { writeRunReport } from '../../eval/run_report.js';
import { formatSeconds } from '../format_seconds.js';
import { removeFinishedCheckpoints } from '../finished_checkpoints.js';
import { auxEpochs, trainLesions } from '../plan.js';
import { writeReferenceFigures } from '../reference_figures.js';
import type { StageRunner } from '../stage.js';
import { stageResult } from '../state.js';
import { prepareBars, type DemoUI, type ProgressBar } from '../ui.js';

/** The evaluation's bars: the cache's phases, each auxiliary network's training, then the images. */
function evaluationBars(ui: DemoUI): { hooks: EvaluateHooks; stop(): void } {
  const prep = prepareBars(ui);
  let aux: { what: string; bar: ProgressBar } | null = null;
  let bar: ProgressBar | null = null;
  const hooks: EvaluateHooks = {
    onNotice: (x) => ui.say(x),
    onPrepare: (x) => prep.update(x),
    onAux: (x) => {
      if (aux?.what !== x.what) {
        aux?.bar.stop();
        aux = { what: x.what, bar: ui.progress(x.what, x.totalSteps, 'steps') };
      }
      aux.bar.update(x.step, x.totalSteps);
    },
    onProgress: (done, total) => {
      aux?.bar.stop();
      bar ??= ui.progress('evaluating', total, 'images');
      bar.update(done, total);
    },
  };
  return {
    hooks,
    stop() {
      prep.stop();
      aux?.bar.stop();
      bar?.stop();
    },
  };
}

export const evaluateStage: StageRunner<'evaluate'> = async ({ state: s, record: rec, ui, paths }) => {
  const { epochs, secondsPerEpoch } = auxEpochs(s);
  rec.detail.auxEpochs = epochs;
  ui.say(
    `auxiliary classifier and segmenter: ${epochs} epoch(s) on the ${trainLesions(s)} real training lesions (about ${formatSeconds(epochs * secondsPerEpoch)}), then the val split`,
  );
  const bars = evaluationBars(ui);
  const m = await evaluate(
    {
      run: paths.run,
      data: null,
      split: 'val',
      inceptionWeights: null,
      lpips: null,
      device: 'cpu',
      batch: 16,
      maxImages: null,
      auxEpochs: epochs,
      auxDir: null,
      seed: 0,
      gridExamples: s.settings.gridExamples,
    },
    bars.hooks,
  ).finally(() => bars.stop());
  const r = await writeRunReport(paths.run, m);
  rec.detail.runReport = path.relative(paths.out, r.html);
  await removeFinishedCheckpoints(path.join(paths.run, 'eval', 'networks'));
  rec.detail.reference = await writeReferenceFigures({
    cacheDir: path.join(paths.out, stageResult(s, 'data').cache),
    runDir: paths.run,
    figuresDir: paths.figures,
    out: paths.out,
    examples: s.settings.gridExamples,
  });
  const ref = rec.detail.reference;
  ui.say(
    ref.model === null
      ? `reference model: none beside the demo's generator (${ref.reason})`
      : `reference model ${ref.model} beside the demo's generator on the same val label maps: ${Object.values(ref.figures).join(', ')}`,
  );
  return true;
};
