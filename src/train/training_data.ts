// Where a run's data comes from: a prepared cache, a dataset folder (prepared into RUN/cache), or
// the built-in procedural sample (written into RUN/sample-data first).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { LesionCache, MANIFEST_FILE } from '../data/cache.js';
import { prepareCache, type PrepareProgress } from '../data/prepare.js';
import { readDataset } from '../data/readers/index.js';
import { writeSampleDataset } from '../data/sample_dataset.js';
import { DataError, noMasksMessage } from '../data/problems.js';
import type { TrainOptions } from '../run/options.js';

export const SAMPLE_LESIONS = 60;

export async function openTrainingData(
  runDir: string,
  o: TrainOptions,
  onProgress?: (p: PrepareProgress) => void,
): Promise<LesionCache> {
  if (o.data && existsSync(path.join(o.data, MANIFEST_FILE))) {
    const cache = await LesionCache.open(o.data);
    if (!cache.hasMasks) {
      cache.close();
      throw new DataError(noMasksMessage(o.data));
    }
    if (cache.width !== o.width || cache.height !== o.height) {
      cache.close();
      throw new DataError(
        `${o.data}: the cache holds ${cache.width}x${cache.height} lesions but --size is ${o.width}x${o.height}; pass --size ${cache.width}x${cache.height} or give the dataset folder instead`,
      );
    }
    const m = cache.manifest.options;
    if (m.labelMap.boundary !== o.boundary || m.labelMap.frame !== o.frame || m.fit !== o.fit) {
      cache.close();
      throw new DataError(
        `${o.data}: the cache was prepared with --fit ${m.fit} --boundary ${m.labelMap.boundary}${m.labelMap.frame ? ' --frame' : ''}; train with the same label-map options or give the dataset folder`,
      );
    }
    return cache;
  }
  let source = o.data;
  if (!source) {
    source = path.join(runDir, 'sample-data');
    if (!existsSync(path.join(source, 'labels.csv')))
      await writeSampleDataset(source, { n: SAMPLE_LESIONS, seed: o.seed, size: Math.max(o.width, o.height, 64) });
  }
  const index = await readDataset(source);
  if (index.masks === false) throw new DataError(noMasksMessage(source));
  const cacheDir = path.join(runDir, 'cache');
  await prepareCache(index, cacheDir, {
    width: o.width,
    height: o.height,
    fit: o.fit,
    labelMap: { boundary: o.boundary, frame: o.frame },
    skipBad: o.skipBad,
    onProgress,
  });
  return LesionCache.open(cacheDir);
}
