// Feature extraction for the distribution metrics: runs a feature network over images in batches,
// in inference mode, and returns the features as one float64 matrix on the CPU (what fid.ts,
// kid.ts and inception_score.ts take).
//
// The network is anything with `features(x)`: the FID Inception-v3 (src/models/inception_v3.ts,
// pool3 [B, 2048]; use `inceptionWithLogits(net)` for pool3 and the 1008 logits from one pass), a
// lesion classifier's penultimate layer for a "domain" FID, ... . Its `inputRange` says what
// images it expects: 'unit' ([0, 1], Inception) or 'signed' ([-1, 1], dermosynth's generators and
// loaders; the default when the network does not say).
//
// Images: one tensor [N, 3, H, W] (split into batches here) or any (async) iterable of batches
// [B, 3, H, W], e.g. a generator producing images. Each is uint8 (0..255, as decoded files) or
// floating point in [-1, 1] (the loader's and the generators' range); they are converted to the
// network's range here (uint8 / 255, or / 127.5 - 1; [-1, 1] -> (x + 1) / 2 clamped to [0, 1]).
//
//   extractFeatures(net: FeatureNetwork, images, { batchSize?: 32, device?: 'cpu', onProgress? })
//     -> Promise<Tensor>   float64 [N, D] on the CPU (or, when net.features returns a record of
//                          tensors, a record of such matrices with the same keys)
//   inceptionWithLogits(net: InceptionV3) -> FeatureNetwork<{ pool3, logits }>
import * as torch from '../torch/index.js';
import { isFloating, type Device, type Tensor } from '../torch/index.js';
import * as nn from '../nn/index.js';
import type { InceptionV3 } from '../models/inception_v3.js';

/** 'unit': images in [0, 1]; 'signed': images in [-1, 1]. */
export type InputRange = 'unit' | 'signed';

export type FeatureOutput = Tensor | Record<string, Tensor>;

export interface FeatureNetwork<O extends FeatureOutput = Tensor> {
  /** Features of a batch [B, 3, H, W] in `inputRange`: [B, D] (or a record of [B, D_k]). */
  features(x: Tensor): O;
  /** Default 'signed'. */
  readonly inputRange?: InputRange;
}

export type ImageBatches = Tensor | Iterable<Tensor> | AsyncIterable<Tensor>;

export interface ExtractOptions {
  /** Images per forward pass when `images` is one tensor; default 32. */
  batchSize?: number;
  /** Where the network runs (its parameters must be there); images are moved there. Default 'cpu'. */
  device?: Device;
  /** Called after each batch with the number of images done. */
  onProgress?: (done: number) => void;
}

/** pool3 and the 1008 logits of the FID Inception from one pass (for FID/KID and IS together). */
export function inceptionWithLogits(net: InceptionV3): FeatureNetwork<{ pool3: Tensor; logits: Tensor }> {
  return { inputRange: net.inputRange, features: (x) => net.call(x) };
}

/** A batch (uint8 0..255 or float in [-1, 1]) as float32 in `range`, on `device`. */
export function toNetworkRange(batch: Tensor, range: InputRange, device: Device = 'cpu'): Tensor {
  return torch.tidy(() => {
    const x = batch.device === device ? batch : batch.to(device);
    if (x.dtype === 'uint8') {
      const f = x.to('float32');
      return range === 'unit' ? f.div(255) : f.div(127.5).sub(1);
    }
    if (!isFloating(x.dtype))
      throw new TypeError(
        `extractFeatures: images must be uint8 (0..255) or floating point in [-1, 1], got ${x.dtype}`,
      );
    const f = x.dtype === 'float32' ? x : x.to('float32');
    return range === 'unit' ? f.add(1).mul(0.5).clamp(0, 1) : f.clone();
  });
}

function isAsyncIterable(x: unknown): x is AsyncIterable<Tensor> {
  return typeof (x as AsyncIterable<Tensor>)[Symbol.asyncIterator] === 'function';
}

async function* batchesOf(images: ImageBatches, batchSize: number): AsyncGenerator<Tensor> {
  if (images instanceof torch.Tensor) {
    const n = images.shape[0] ?? 0;
    for (let i = 0; i < n; i += batchSize) {
      const b = images.narrow(0, i, Math.min(batchSize, n - i));
      yield b;
      b.dispose();
    }
    return;
  }
  if (isAsyncIterable(images)) {
    for await (const b of images) yield b;
    return;
  }
  for (const b of images) yield b;
}

export async function extractFeatures<O extends FeatureOutput>(
  net: FeatureNetwork<O>,
  images: ImageBatches,
  o: ExtractOptions = {},
): Promise<O> {
  const batchSize = o.batchSize ?? 32;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new RangeError(`extractFeatures: batchSize must be a positive integer, got ${batchSize}`);
  if (images instanceof torch.Tensor && (images.ndim !== 4 || images.shape[1] !== 3)) {
    throw new TypeError(`extractFeatures: expected images [N, 3, H, W], got shape [${images.shape.join(', ')}]`);
  }
  const device = o.device ?? 'cpu';
  const range = net.inputRange ?? 'signed';
  const module = net instanceof nn.Module ? net : null;
  const wasTraining = module?.training ?? false;
  module?.eval();
  const parts: (Tensor | Record<string, Tensor>)[] = [];
  let done = 0;
  try {
    for await (const batch of batchesOf(images, batchSize)) {
      if (batch.ndim !== 4 || batch.shape[1] !== 3) {
        throw new TypeError(`extractFeatures: expected batches [B, 3, H, W], got shape [${batch.shape.join(', ')}]`);
      }
      const out = torch.tidy(() =>
        torch.inferenceMode(() => {
          const f = net.features(toNetworkRange(batch, range, device));
          const toMatrix = (t: Tensor): Tensor => t.flatten(1).to({ dtype: 'float64', device: 'cpu', copy: true });
          if (f instanceof torch.Tensor) return toMatrix(f);
          return Object.fromEntries(Object.entries(f).map(([k, t]) => [k, toMatrix(t)]));
        }),
      );
      parts.push(out);
      done += batch.shape[0]!;
      o.onProgress?.(done);
    }
    if (parts.length === 0) throw new RangeError('extractFeatures: no images');
    if (parts[0] instanceof torch.Tensor) return torch.cat(parts as Tensor[], 0) as O;
    const keys = Object.keys(parts[0]!);
    return Object.fromEntries(
      keys.map((k) => [
        k,
        torch.cat(
          parts.map((p) => (p as Record<string, Tensor>)[k]!),
          0,
        ),
      ]),
    ) as O;
  } finally {
    torch.dispose(parts);
    if (module && wasTraining) module.train(true);
  }
}
