// Lesions drawn from one or more prepared caches of the same size (real + synthetic, several
// datasets on one class vocabulary): what the classifiers and the segmenter train and are scored on.
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import type { LesionCache } from './cache.js';
import type { Split } from './dataset.js';

/** Lesions drawn from one or more prepared caches of the same size (e.g. real + synthetic). */
export class LesionSet {
  /** [source, record index] per lesion. */
  readonly refs: [number, number][] = [];
  readonly labels: number[] = [];
  readonly ids: string[] = [];
  readonly width: number;
  readonly height: number;

  /**
   * `remap[k]`, when given, is the label (in the set's vocabulary) of a source's class k: datasets
   * of other vocabularies train and test on one scale (a class map, `--classes`).
   */
  constructor(
    readonly sources: readonly { cache: LesionCache; split?: Split | readonly Split[]; remap?: readonly number[] }[],
  ) {
    if (sources.length === 0) throw new RangeError('LesionSet: no caches given');
    const first = sources[0]!.cache;
    this.width = first.width;
    this.height = first.height;
    sources.forEach(({ cache, split, remap }, s) => {
      if (cache.width !== this.width || cache.height !== this.height) {
        throw new RangeError(
          `${cache.dir}: its lesions are ${cache.width}x${cache.height} but ${first.dir}'s are ${this.width}x${this.height}; prepare both at the same --size`,
        );
      }
      for (const i of cache.indices(split)) {
        const r = cache.records[i]!;
        this.refs.push([s, i]);
        this.labels.push(remap ? remap[r.label]! : r.label);
        this.ids.push(r.id);
      }
    });
  }

  get size(): number {
    return this.refs.length;
  }

  /** Lesions per class index. */
  classCounts(numClasses: number): number[] {
    const c = new Array<number>(numClasses).fill(0);
    for (const l of this.labels) c[l] = (c[l] ?? 0) + 1;
    return c;
  }

  /** Images [b, 3, H, W] uint8 and label bytes [b, 1, H, W] of the given lesions. */
  read(members: readonly number[]): { image: Uint8Array; label: Uint8Array } {
    const px = this.width * this.height;
    const image = new Uint8Array(members.length * px * 3);
    const label = new Uint8Array(members.length * px);
    members.forEach((m, k) => {
      const [s, i] = this.refs[m]!;
      this.sources[s]!.cache.readInto(i, image, k * px * 3, label, k * px);
    });
    return { image, label };
  }

  /** Float images in [-1, 1], [b, 3, H, W]. */
  images(members: readonly number[]): Tensor {
    const { image } = this.read(members);
    return torch.tidy(() =>
      torch
        .fromBytes(image, 'uint8', [members.length, 3, this.height, this.width])
        .mul(1 / 127.5)
        .sub_(1),
    );
  }
}
