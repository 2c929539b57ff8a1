// Batches from a prepared cache: shuffled per epoch with a seed, augmented identically for image
// and label, one-hot labels. The whole position is (epoch, position), so a resumed run continues
// with exactly the batches and augmentations an uninterrupted run would have seen.
//
// Data parallel: with `shard`, the batch size is the global batch and each of `count` processes
// loads its own contiguous part of it. Each lesion's augmentation is drawn from its own stream
// (seed, epoch, position in the epoch), so N processes see exactly the lesions and augmentations
// that one process with the whole batch would, and the run can resume with another count.
import * as torch from '../torch/index.js';
import type { Device, Tensor } from '../torch/index.js';
import { augmentBatch, isIdentity, parseAugmentOptions, sampleAugmentParams, type AugmentOptions } from './augment.js';
import type { LesionCache } from './cache.js';
import type { Split } from './dataset.js';
import { oneHotLabels } from './label_map.js';
import { Rng, permutation } from './random.js';

export interface LoaderOptions {
  batchSize: number;
  /** Which split(s) to draw from (default: every lesion). */
  split?: Split | readonly Split[];
  shuffle?: boolean;
  seed?: number;
  /** Drop the last incomplete batch of an epoch (default: true when shuffling). */
  dropLast?: boolean;
  /** A preset ('none', 'default', 'strong') or options; default 'none'. */
  augment?: AugmentOptions | string | null;
  device?: Device;
  /** This process's part of every batch: `rank` of `count` equal parts (batchSize must divide). */
  shard?: { rank: number; count: number };
}

export interface LoaderState {
  epoch: number;
  /** How many samples of this epoch's order have been served. */
  position: number;
}

export interface Batch {
  /** float32 [B, 3, H, W] in [-1, 1]. */
  image: Tensor;
  /** float32 [B, C, H, W] one-hot, channels as the cache's labelMap.channels (channels-last strides). */
  label: Tensor;
  /** uint8 [B, 1, H, W] label bytes (class in bits 0-6, boundary in bit 7). */
  labelBytes: Tensor;
  /** int64 [B] diagnosis indices. */
  diagnosis: Tensor;
  ids: string[];
  /** Cache record indices. */
  indices: number[];
  epoch: number;
}

export function disposeBatch(b: Batch): void {
  torch.dispose([b.image, b.label, b.labelBytes, b.diagnosis]);
}

export class DataLoader {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
  readonly augment: Required<AugmentOptions>;
  readonly device: Device;
  readonly shard: { rank: number; count: number };
  /** Lesions this process loads per batch (batchSize / shard.count). */
  readonly localBatchSize: number;
  /** The cache indices this loader draws from. */
  readonly pool: readonly number[];
  private epochNo = 0;
  private position = 0;
  private order: number[] | null = null;
  private readonly imageBuf: Uint8Array;
  private readonly labelBuf: Uint8Array;

  constructor(
    readonly cache: LesionCache,
    o: LoaderOptions,
  ) {
    if (!Number.isInteger(o.batchSize) || o.batchSize < 1)
      throw new RangeError(`DataLoader: batchSize must be a positive integer, got ${o.batchSize}`);
    this.pool = cache.indices(o.split);
    const where = o.split === undefined ? '' : ` in split ${typeof o.split === 'string' ? o.split : o.split.join('+')}`;
    if (this.pool.length === 0) throw new RangeError(`DataLoader: ${cache.dir} has no lesion${where}`);
    this.batchSize = o.batchSize;
    this.shuffle = o.shuffle ?? true;
    this.seed = o.seed ?? 0;
    this.dropLast = o.dropLast ?? this.shuffle;
    if (this.dropLast && this.pool.length < this.batchSize) {
      throw new RangeError(
        `DataLoader: batch size ${this.batchSize} is larger than the ${this.pool.length} lesions${where}; use a smaller batch`,
      );
    }
    this.augment = parseAugmentOptions(o.augment ?? 'none');
    this.device = o.device ?? 'cpu';
    this.shard = o.shard ?? { rank: 0, count: 1 };
    const { rank, count } = this.shard;
    if (!Number.isInteger(count) || count < 1 || !Number.isInteger(rank) || rank < 0 || rank >= count) {
      throw new RangeError(`DataLoader: invalid shard ${JSON.stringify(o.shard)} (need 0 <= rank < count)`);
    }
    if (count > 1 && (this.batchSize % count !== 0 || !this.dropLast)) {
      throw new RangeError(
        `DataLoader: batch size ${this.batchSize} cannot be split evenly over ${count} processes; use a batch size divisible by ${count}`,
      );
    }
    this.localBatchSize = this.batchSize / count;
    const px = cache.width * cache.height;
    this.imageBuf = new Uint8Array(this.localBatchSize * px * 3);
    this.labelBuf = new Uint8Array(this.localBatchSize * px);
  }

  /** Batches in one epoch. */
  get batchesPerEpoch(): number {
    return this.dropLast ? Math.floor(this.pool.length / this.batchSize) : Math.ceil(this.pool.length / this.batchSize);
  }

  state(): LoaderState {
    return { epoch: this.epochNo, position: this.position };
  }

  restore(s: LoaderState): void {
    if (
      !Number.isInteger(s.epoch) ||
      s.epoch < 0 ||
      !Number.isInteger(s.position) ||
      s.position < 0 ||
      s.position > this.pool.length
    ) {
      throw new RangeError(`DataLoader: invalid state ${JSON.stringify(s)} for ${this.pool.length} lesions`);
    }
    this.epochNo = s.epoch;
    this.position = s.position;
    this.order = null;
  }

  /** The next batch; crosses into the next epoch when this one is used up. */
  next(): Batch {
    if (this.remainingInEpoch() === 0) {
      this.epochNo++;
      this.position = 0;
      this.order = null;
    }
    const order = this.epochOrder();
    const n = Math.min(this.batchSize, this.pool.length - this.position);
    // This process's part of the batch (all of it without sharding).
    const part = n / this.shard.count;
    const first = this.position + this.shard.rank * part;
    const batch = this.load(order.slice(first, first + part), first);
    this.position += n;
    return batch;
  }

  /** The remaining batches of the current epoch (all of them at the start of an epoch). */
  *epoch(): Generator<Batch> {
    if (this.remainingInEpoch() === 0) {
      this.epochNo++;
      this.position = 0;
      this.order = null;
    }
    const e = this.epochNo;
    while (this.epochNo === e && this.remainingInEpoch() > 0) yield this.next();
  }

  private remainingInEpoch(): number {
    const left = this.pool.length - this.position;
    return this.dropLast ? Math.floor(left / this.batchSize) : Math.ceil(left / this.batchSize);
  }

  private epochOrder(): number[] {
    if (!this.order) {
      this.order = this.shuffle
        ? permutation(this.pool.length, new Rng(this.seed, 0x0de7, this.epochNo)).map((i) => this.pool[i]!)
        : [...this.pool];
    }
    return this.order;
  }

  private load(indices: number[], position: number): Batch {
    const { width: W, height: H } = this.cache;
    const px = W * H;
    const b = indices.length;
    indices.forEach((i, k) => this.cache.readInto(i, this.imageBuf, k * px * 3, this.labelBuf, k * px));
    const params = indices.map((_, k) =>
      sampleAugmentParams(new Rng(this.seed, 0xa06, this.epochNo, position + k), this.augment, W === H),
    );
    const spec = this.cache.spec;
    const out = torch.tidy(() => {
      // On a GPU, the bytes go over (a quarter of the floats' size) from pinned host memory
      // without waiting for the device, and are converted and augmented there.
      const onHost = this.device === 'cpu';
      const send = (t: Tensor) => (onHost ? t : t.pinMemory().to({ device: this.device, nonBlocking: true }));
      const imageBytes = send(torch.fromBytes(this.imageBuf.subarray(0, b * px * 3), 'uint8', [b, 3, H, W]));
      let labelBytes = send(torch.fromBytes(this.labelBuf.subarray(0, b * px), 'uint8', [b, 1, H, W]));
      // uint8 * a float scalar is float32: the conversion and the scaling in one pass.
      let image = imageBytes.mul(1 / 127.5).sub_(1);
      if (!params.every(isIdentity)) ({ image, label: labelBytes } = augmentBatch(image, labelBytes, params));
      const diagnosis = send(
        torch.tensor(
          indices.map((i) => this.cache.records[i]!.label),
          { dtype: 'int64' },
        ),
      );
      return [image, oneHotLabels(labelBytes, spec), labelBytes, diagnosis] as const;
    });
    return {
      image: out[0],
      label: out[1],
      labelBytes: out[2],
      diagnosis: out[3],
      ids: indices.map((i) => this.cache.records[i]!.id),
      indices,
      epoch: this.epochNo,
    };
  }
}
