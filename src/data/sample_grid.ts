// Sample grids: one row per example, label | real | generated, written as PNG for people to look at.
import sharp from 'sharp';
import { writeFileAtomic } from '../util/atomic_file.js';
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { colouriseLabels } from './label_preview.js';
import type { LabelMapSpec } from './label_map.js';

/** Images in [-1, 1], [B, 3, H, W], to interleaved RGB bytes per example. */
export function imagesToRgb(images: Tensor): Uint8Array[] {
  const [b, c, h, w] = images.shape as [number, number, number, number];
  if (c !== 3) throw new TypeError(`imagesToRgb: expected 3 channels, got ${c}`);
  const bytes = torch.tidy(() =>
    images
      .detach()
      .to('cpu')
      .add(1)
      .mul(127.5)
      .round()
      .clamp(0, 255)
      .to('uint8')
      .permute(0, 2, 3, 1)
      .contiguous()
      .bytes(),
  );
  return Array.from({ length: b }, (_, i) => bytes.subarray(i * h * w * 3, (i + 1) * h * w * 3));
}

export interface GridColumns {
  labelBytes: Tensor; // uint8 [B, 1, H, W]
  real: Tensor; // [B, 3, H, W] in [-1, 1]
  fake: Tensor; // [B, 3, H', W'] in [-1, 1]; resized to H, W if smaller (coarse stages)
}

/** Writes label | real | generated rows as one PNG (atomically). */
export async function writeSampleGrid(file: string, cols: GridColumns, spec: LabelMapSpec, gap = 2): Promise<void> {
  const [b, , h, w] = cols.real.shape as [number, number, number, number];
  const labelBytes = cols.labelBytes.to('cpu').contiguous().bytes();
  const real = imagesToRgb(cols.real);
  const fake = torch.tidy(() => {
    const f =
      cols.fake.shape[2] === h && cols.fake.shape[3] === w
        ? cols.fake
        : torch.F.interpolate(cols.fake.detach(), { size: [h, w], mode: 'nearest' });
    return imagesToRgb(f);
  });
  const width = 3 * w + 2 * gap;
  const height = b * h + (b - 1) * gap;
  const canvas = new Uint8Array(width * height * 3).fill(255);
  const put = (rgb: Uint8Array, row: number, col: number) => {
    for (let y = 0; y < h; y++) {
      const dst = ((row * (h + gap) + y) * width + col * (w + gap)) * 3;
      canvas.set(rgb.subarray(y * w * 3, (y + 1) * w * 3), dst);
    }
  };
  for (let i = 0; i < b; i++) {
    put(colouriseLabels(labelBytes.subarray(i * h * w, (i + 1) * h * w), spec), i, 0);
    put(real[i]!, i, 1);
    put(fake[i]!, i, 2);
  }
  const png = await sharp(canvas, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
  await writeFileAtomic(file, png);
}
