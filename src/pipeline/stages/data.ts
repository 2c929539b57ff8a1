// Stage 1, data: the dataset (the sample data made, or a real dataset's lesions linked), its label
// maps and the cache, the lesions per split, and the experiment's test set.
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { LesionCache } from '../../data/cache.js';
import type { Split } from '../../data/dataset.js';
import { writeLinkedSubset } from '../../data/linked_subset.js';
import { writeSampleDataset } from '../../data/sample_dataset.js';
import { openTrainingData } from '../../train/training_data.js';
import { ganTrainOptions } from '../options.js';
import type { StageContext, StageRunner } from '../stage.js';
import type { SplitCounts, TestSet } from '../stage_results.js';
import { prepareBars } from '../ui.js';

/** Writes data/ unless it is complete (a folder without labels.csv is an interrupted write of ours: it starts again). */
async function writeDataset({ state: s, ui, paths }: StageContext<'data'>): Promise<void> {
  if (existsSync(path.join(paths.data, 'labels.csv'))) return;
  const st = s.settings;
  await rm(paths.data, { recursive: true, force: true });
  if (s.request.data === null) {
    ui.say(
      `writing the sample dataset: ${st.sampleLesions} lesions at ${Math.max(st.width, st.height)}x${Math.max(st.width, st.height)} -> ${paths.data}`,
    );
    await writeSampleDataset(paths.data, { n: st.sampleLesions, seed: 0, size: Math.max(st.width, st.height, 32) });
  } else {
    ui.say(
      `linking ${s.request.data}'s lesions${st.maxTrain === null ? '' : ` (at most ${st.maxTrain} training lesions)`} -> ${paths.data}`,
    );
    const w = await writeLinkedSubset(s.request.data, paths.data, st.maxTrain);
    if (w.leftOut > 0)
      ui.say(
        `${w.leftOut} lesion(s) of ${s.request.data} have no image, mask or label: left out (see 'dermosynth data inspect')`,
      );
  }
}

/** Lesions per split and diagnosis (diagnoses in the cache's order). */
function cacheCounts(cache: LesionCache): SplitCounts {
  const out: SplitCounts = { train: {}, val: {}, test: {} };
  for (const sp of ['train', 'val', 'test'] as const) {
    for (const [k, name] of cache.spec.classes.entries()) {
      const n = cache.indices(sp).filter((i) => cache.records[i]!.label === k).length;
      if (n > 0) out[sp][name] = n;
    }
  }
  return out;
}

/** The experiment's test set: the test split, or (a dataset with train and val only, as isic2017-512) the val split's lesions as their own dataset. */
async function testSet({ paths }: StageContext<'data'>, cache: LesionCache): Promise<TestSet> {
  if (cache.indices('test').length > 0) return { dir: 'data', split: 'test' };
  if (!existsSync(path.join(paths.testData, 'labels.csv'))) {
    await rm(paths.testData, { recursive: true, force: true });
    await writeLinkedSubset(paths.data, paths.testData, null, 'val');
  }
  return { dir: 'test-data', split: 'val' };
}

function countsLine(counts: SplitCounts): string {
  const line = (sp: Split) =>
    `${sp} ${Object.values(counts[sp]).reduce((a, b) => a + b, 0)} (${
      Object.entries(counts[sp])
        .map(([c, n]) => `${c} ${n}`)
        .join(', ') || 'none'
    })`;
  return `lesions: ${(['train', 'val', 'test'] as const).map(line).join('; ')}`;
}

export const dataStage: StageRunner<'data'> = async (c) => {
  const { state: s, record: rec, ui, paths } = c;
  await writeDataset(c);
  const bars = prepareBars(ui);
  const cache = await openTrainingData(paths.run, ganTrainOptions(s, null), (p) => bars.update(p)).finally(() =>
    bars.stop(),
  );
  try {
    const counts = cacheCounts(cache);
    rec.detail.counts = counts;
    rec.detail.cache = path.relative(paths.out, cache.dir);
    rec.detail.splitSource = cache.manifest.split.source;
    rec.detail.testSet = await testSet(c, cache);
    ui.say(countsLine(counts));
  } finally {
    cache.close();
  }
  return true;
};
