// Masks to start from in the studio: the lesions of the run's own prepared cache (the one it was
// trained on, or RUN/cache when the run was moved), each mask rebuilt from its label bytes at the
// run's size. Lesions are addressed by their index in the cache's listing, never by a path.
import { existsSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { LesionCache, MANIFEST_FILE, recordLayout } from '../data/cache.js';
import { CLASS_BITS } from '../data/label_map.js';
import { readRunConfig } from '../run/config.js';
import { readModelConfig } from '../synth/model_folder.js';
import { runPaths } from '../run/layout.js';

export interface DatasetLesion {
  index: number;
  id: string;
  diagnosis: string;
  split: string;
  /** Fraction of the image that is lesion. */
  coverage: number;
}

export class DatasetMasks {
  private constructor(
    private readonly cache: LesionCache | null,
    /** Why there are no lesions, when there are none. */
    readonly unavailable: string | null,
  ) {}

  static async open(runDir: string): Promise<DatasetMasks> {
    // A packaged model folder holds its source run's config.
    const config =
      (await readModelConfig(runDir).catch(() => null))?.run ??
      (await readRunConfig(runPaths(runDir).config).catch(() => null));
    const candidates = [config?.data.cache, path.join(runDir, 'cache')].filter((d): d is string => !!d);
    const dir = candidates.find((d) => existsSync(path.join(d, MANIFEST_FILE)));
    if (!dir)
      return new DatasetMasks(
        null,
        `the run's prepared cache is not here (${candidates.join(', ')}); draw or upload a mask instead`,
      );
    try {
      const cache = await LesionCache.open(dir);
      if (!cache.hasMasks) {
        cache.close();
        return new DatasetMasks(null, `${dir} was made from a dataset without masks; draw or upload a mask instead`);
      }
      if (config && (cache.width !== config.options.width || cache.height !== config.options.height)) {
        cache.close();
        return new DatasetMasks(
          null,
          `${dir} holds ${cache.width}x${cache.height} lesions, the run is ${config.options.width}x${config.options.height}`,
        );
      }
      return new DatasetMasks(cache, null);
    } catch (e) {
      return new DatasetMasks(null, (e as Error).message);
    }
  }

  list(): DatasetLesion[] {
    const c = this.cache;
    if (!c) return [];
    return c.records.map((r, index) => ({
      index,
      id: r.id,
      diagnosis: c.spec.classes[r.label] ?? String(r.label),
      split: r.split,
      coverage: r.coverage ?? 0,
    })); // never null: open() refuses caches without masks
  }

  /** Lesion `index`'s mask as a 0/255 greyscale PNG at the run's size; null when there is no such lesion. */
  async maskPng(index: number): Promise<Buffer | null> {
    const c = this.cache;
    if (!c || !Number.isInteger(index) || index < 0 || index >= c.size) return null;
    const layout = recordLayout(c.width, c.height);
    const image = new Uint8Array(layout.image);
    const label = new Uint8Array(layout.label);
    c.readInto(index, image, 0, label, 0);
    const lesionClasses = c.spec.classes.length;
    const mask = Buffer.alloc(label.length);
    for (let i = 0; i < label.length; i++) {
      const cls = label[i]! & CLASS_BITS;
      if (cls >= 1 && cls <= lesionClasses) mask[i] = 255;
    }
    return sharp(mask, { raw: { width: c.width, height: c.height, channels: 1 } })
      .toColourspace('b-w')
      .png()
      .toBuffer();
  }

  close(): void {
    this.cache?.close();
  }
}
