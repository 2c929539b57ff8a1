// A prepared cache of the procedural sample data, small enough for trainer tests (milliseconds a step).
import path from 'node:path';
import { prepareCache } from '../../src/data/prepare.js';
import { readDataset } from '../../src/data/readers/index.js';
import { writeSampleDataset } from '../../src/data/sample_dataset.js';

/**
 * Writes `n` sample lesions (`seed`, `size` px) into DIR/data and prepares them into DIR/cache-WxH
 * at each size given (crop, no frame, `boundary` px); returns the cache folders in that order.
 */
export async function tinyCaches(
  dir: string,
  o: { n: number; seed: number; size: number; boundary: number; sizes: number[] },
): Promise<string[]> {
  const data = path.join(dir, 'data');
  await writeSampleDataset(data, { n: o.n, seed: o.seed, size: o.size });
  const index = await readDataset(data);
  const caches: string[] = [];
  for (const s of o.sizes) {
    const cache = path.join(dir, `cache-${s}x${s}`);
    await prepareCache(index, cache, {
      width: s,
      height: s,
      fit: 'crop',
      labelMap: { boundary: o.boundary, frame: false },
      workers: 0,
    });
    caches.push(cache);
  }
  return caches;
}
