// Stage 3, synthesize: a class-balanced synthetic set from deformed training masks (as
// 'dermosynth synthesize --balance --deform'), continued as --resume does, and its figures.
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { BalanceTarget } from '../../synth/balance.js';
import { SYNTHESIS_FILE } from '../../synth/output.js';
import { synthesize, type SynthesizeRequest } from '../../synth/synthesize.js';
import { writeSyntheticFigures } from '../figures.js';
import { balanceTarget } from '../plan.js';
import type { StageRunner } from '../stage.js';
import { stageResult, type DemoPaths } from '../state.js';
import type { ProgressBar } from '../ui.js';

/** Synthetic lesions per class in the figures. */
const FIGURE_LESIONS = 8;

/** Continues a synthetic set that has its manifest; anything else there is an interrupted start and is removed. */
async function synthesisMode(paths: DemoPaths): Promise<'new' | 'resume'> {
  if (existsSync(path.join(paths.synthetic, SYNTHESIS_FILE))) return 'resume';
  await rm(paths.synthetic, { recursive: true, force: true });
  return 'new';
}

function synthesisRequest(paths: DemoPaths, target: BalanceTarget, mode: 'new' | 'resume'): SynthesizeRequest {
  return {
    run: paths.run,
    device: 'cpu',
    from: { kind: 'dataset', dir: paths.data, split: 'train', skipBad: false },
    what: { kind: 'balance', target },
    deform: true,
    maskPool: 'same',
    seed: 0,
    firstId: 1,
    out: paths.synthetic,
    mode,
    batch: null,
    format: 'jpg',
  };
}

export const synthesizeStage: StageRunner<'synthesize'> = async ({ state: s, record: rec, ui, stop, paths }) => {
  const target = balanceTarget(stageResult(s, 'data').counts.train);
  rec.detail.target = target;
  const mode = await synthesisMode(paths);
  let bar: ProgressBar | null = null;
  const r = await synthesize(synthesisRequest(paths, target, mode), {
    onNotice: (m) => ui.say(m),
    onStart: (x) => {
      bar = ui.progress('synthesis', x.total, 'images');
      bar.update(x.done);
    },
    onProgress: (done, total) => bar?.update(done, total),
    shouldStop: stop,
  }).finally(() => (bar as ProgressBar | null)?.stop());
  if (!r.finished) return false;
  rec.detail.counts = r.counts;
  rec.detail.total = r.total;
  rec.detail.figures = await writeSyntheticFigures(paths.synthetic, paths.figures, FIGURE_LESIONS);
  return true;
};
