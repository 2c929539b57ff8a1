// bench:data's BMP input: the same lesions with their images re-encoded as 24-bit BMP (PH2's
// format), to measure what `prepare` pays for BMP against JPEG.
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import type { DatasetIndex } from '../src/data/dataset.js';

/** Interleaved RGB as an uncompressed 24-bit BMP (BITMAPINFOHEADER, bottom-up rows, BGR, rows padded to 4 bytes). */
export function encodeBmp24(rgb: Uint8Array, width: number, height: number): Uint8Array {
  const stride = Math.ceil((width * 3) / 4) * 4;
  const offset = 14 + 40;
  const out = new Uint8Array(offset + stride * height);
  const v = new DataView(out.buffer);
  out.set([0x42, 0x4d]);
  v.setUint32(2, out.length, true);
  v.setUint32(10, offset, true);
  v.setUint32(14, 40, true);
  v.setInt32(18, width, true);
  v.setInt32(22, height, true);
  v.setUint16(26, 1, true);
  v.setUint16(28, 24, true);
  v.setUint32(34, stride * height, true);
  for (let y = 0; y < height; y++) {
    const row = offset + (height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const s = (y * width + x) * 3;
      out[row + x * 3] = rgb[s + 2]!;
      out[row + x * 3 + 1] = rgb[s + 1]!;
      out[row + x * 3 + 2] = rgb[s]!;
    }
  }
  return out;
}

/**
 * The dataset with every image decoded and written as BMP into `dir`/images; the masks (PNG),
 * labels and splits stay the same records' (only the image files differ). Returns the new index
 * and the bytes of the images before and after.
 */
export async function bmpCopy(
  index: DatasetIndex,
  dir: string,
): Promise<{ index: DatasetIndex; jpegBytes: number; bmpBytes: number }> {
  mkdirSync(path.join(dir, 'images'), { recursive: true });
  let jpegBytes = 0;
  let bmpBytes = 0;
  const records = [];
  for (const r of index.records) {
    const { data, info } = await sharp(r.image!).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const bmp = encodeBmp24(data, info.width, info.height);
    const image = path.join(dir, 'images', `${r.id}.bmp`);
    writeFileSync(image, bmp);
    jpegBytes += statSync(r.image!).size;
    bmpBytes += bmp.length;
    records.push({ ...r, image });
  }
  return { index: { ...index, root: dir, records }, jpegBytes, bmpBytes };
}
