// The BMP decoder (src/data/bmp.ts): files written by Pillow (live, when /usr/bin/python3 has it)
// and by a small writer here for the variants Pillow does not write (top-down rows, 4- and 16-bit,
// the 12-byte core header, bit fields), each against the pixels it was made from; refusals.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BmpError, decodeBmp, readBmpHeader } from '../../src/data/bmp.js';
import { checkMask, decodeImageTo, probe } from '../../src/data/image_io.js';
import { PYTHON, pythonHas } from '../helpers/python.js';
import { writeBmp } from '../helpers/bmp_writer.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-bmp-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Deterministic RGB pixels, top row first. */
function pixels(w: number, h: number): Uint8Array {
  const p = new Uint8Array(w * h * 3);
  for (let i = 0; i < p.length; i++) p[i] = (i * 37 + (i >> 5) * 11) & 255;
  return p;
}

describe('decodeBmp', () => {
  const W = 13,
    H = 7; // an odd width: every row is padded
  const src = pixels(W, H);
  const at = (x: number, y: number, k: number) => src[(y * W + x) * 3 + k]!;

  it('24-bit, bottom-up and top-down rows', () => {
    for (const topDown of [false, true]) {
      const bmp = decodeBmp(
        writeBmp(W, H, { bpp: 24, topDown }, (x, y) => (at(x, y, 0) << 16) | (at(x, y, 1) << 8) | at(x, y, 2)),
      );
      expect([bmp.width, bmp.height, bmp.channels]).toEqual([W, H, 3]);
      expect(Array.from(bmp.data)).toEqual(Array.from(src));
    }
  });

  it('32-bit BI_RGB (the fourth byte ignored) and with bit fields in another order', () => {
    const plain = decodeBmp(
      writeBmp(
        W,
        H,
        { bpp: 32 },
        (x, y) => ((0xaa << 24) | (at(x, y, 0) << 16) | (at(x, y, 1) << 8) | at(x, y, 2)) >>> 0,
      ),
    );
    expect(Array.from(plain.data)).toEqual(Array.from(src));
    const fields = decodeBmp(
      writeBmp(
        W,
        H,
        { bpp: 32, masks: [0x000000ff, 0x0000ff00, 0x00ff0000] },
        (x, y) => (at(x, y, 2) << 16) | (at(x, y, 1) << 8) | at(x, y, 0),
      ),
    );
    expect(Array.from(fields.data)).toEqual(Array.from(src));
  });

  it('16-bit: 5-5-5 by default and 5-6-5 bit fields, scaled to 0..255', () => {
    const five = decodeBmp(writeBmp(2, 1, { bpp: 16 }, (x) => (x === 0 ? 0x7fff : (31 << 10) | (0 << 5) | 16)));
    expect(Array.from(five.data)).toEqual([255, 255, 255, 255, 0, Math.round((16 * 255) / 31)]);
    const sixFive = decodeBmp(
      writeBmp(1, 1, { bpp: 16, masks: [0xf800, 0x07e0, 0x001f] }, () => (31 << 11) | (32 << 5) | 0),
    );
    expect(Array.from(sixFive.data)).toEqual([255, Math.round((32 * 255) / 63), 0]);
  });

  it('1-, 4- and 8-bit palettes; a grey palette decodes to one channel', () => {
    const bw = decodeBmp(
      writeBmp(
        W,
        H,
        {
          bpp: 1,
          palette: [
            [0, 0, 0],
            [255, 255, 255],
          ],
        },
        (x, y) => (x + y) % 2,
      ),
    );
    expect(bw.channels).toBe(1);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) expect(bw.data[y * W + x]).toBe((x + y) % 2 ? 255 : 0);
    const pal = Array.from({ length: 16 }, (_, i) => [i * 16, 255 - i * 16, (i * 53) & 255]);
    const four = decodeBmp(writeBmp(W, H, { bpp: 4, palette: pal, topDown: true }, (x, y) => (x * 3 + y) % 16));
    expect(four.channels).toBe(3);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++)
        expect(Array.from(four.data.subarray((y * W + x) * 3, (y * W + x) * 3 + 3))).toEqual(pal[(x * 3 + y) % 16]);
    const pal8 = Array.from({ length: 256 }, (_, i) => [i, (i * 7) & 255, 255 - i]);
    const eight = decodeBmp(writeBmp(W, H, { bpp: 8, palette: pal8, core: true }, (x, y) => (x * 19 + y * 5) & 255));
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++)
        expect(Array.from(eight.data.subarray((y * W + x) * 3, (y * W + x) * 3 + 3))).toEqual(
          pal8[(x * 19 + y * 5) & 255],
        );
  });

  it('refuses run-length encoding, truncation, a palette index past the palette, and other formats, saying so', () => {
    const rle = writeBmp(4, 4, { bpp: 8, palette: [[0, 0, 0]], compression: 1 }, () => 0);
    expect(() => decodeBmp(rle)).toThrow(/run-length-encoded BMP \(BI_RLE8\) is not supported: save it uncompressed/);
    const ok = writeBmp(W, H, { bpp: 24 }, () => 0);
    expect(() => decodeBmp(ok.subarray(0, ok.length - 5))).toThrow(BmpError);
    expect(() => decodeBmp(ok.subarray(0, ok.length - 5))).toThrow(/truncated BMP: 7 rows of 40 bytes/);
    // The header reader (what a size probe uses, decoding no pixels) checks the same things.
    expect(readBmpHeader(ok)).toMatchObject({ width: W, height: H, bitsPerPixel: 24, topDown: false });
    expect(() => readBmpHeader(ok.subarray(0, ok.length - 5))).toThrow(/truncated BMP: 7 rows of 40 bytes/);
    expect(() => readBmpHeader(rle)).toThrow(/run-length-encoded BMP/);
    expect(() =>
      decodeBmp(
        writeBmp(
          2,
          2,
          {
            bpp: 8,
            palette: [
              [0, 0, 0],
              [9, 9, 9],
            ],
          },
          () => 5,
        ),
      ),
    ).toThrow(/uses colour 5 of a 2-colour palette/);
    expect(() => decodeBmp(new TextEncoder().encode('GIF89a....................'))).toThrow(/not a BMP file/);
  });

  it.skipIf(!pythonHas('PIL'))(
    'matches Pillow on the files Pillow writes (1-bit, 8-bit grey and palette, 24-bit, 32-bit)',
    () => {
      const script = `
import sys, json
from PIL import Image
out = sys.argv[1]
w, h = 29, 11
rgb = Image.frombytes('RGB', (w, h), bytes(((i * 37 + (i >> 5) * 11) & 255) for i in range(w * h * 3)))
files = {'1': rgb.convert('1'), 'L': rgb.convert('L'), 'P': rgb.convert('P', palette=Image.ADAPTIVE, colors=200), 'RGB': rgb, 'RGBA': rgb.convert('RGBA')}
for mode, im in files.items():
    im.save(f'{out}/{mode}.bmp')
    flat = im.convert('RGB')
    open(f'{out}/{mode}.raw', 'wb').write(flat.tobytes())
`;
      execFileSync(PYTHON, ['-c', script, work]);
      for (const mode of ['1', 'L', 'P', 'RGB', 'RGBA']) {
        const bmp = decodeBmp(readFileSync(path.join(work, `${mode}.bmp`)));
        const want = readFileSync(path.join(work, `${mode}.raw`));
        const got =
          bmp.channels === 3
            ? bmp.data
            : Uint8Array.from({ length: bmp.data.length * 3 }, (_, i) => bmp.data[Math.floor(i / 3)]!);
        expect([bmp.width, bmp.height], mode).toEqual([29, 11]);
        expect(Buffer.from(got).equals(want), `${mode}: decoded pixels differ from Pillow's`).toBe(true);
      }
    },
  );
});

describe('BMP through image_io (what prepare reads)', () => {
  it('probes and decodes a 24-bit image, and checks a 1-bit mask as a one-channel 0/255 mask', async () => {
    const W = 40,
      H = 30;
    const img = writeBmp(W, H, { bpp: 24 }, (x, y) => ((x * 6) << 16) | ((y * 8) << 8) | 128);
    const m = await probe(img, 'IMD001.bmp');
    expect([m.width, m.height]).toEqual([W, H]);
    const placed = await decodeImageTo(img, 'IMD001.bmp', m, { width: 20, height: 15 }, 'crop');
    expect(placed.pixels.length).toBe(20 * 15 * 3);
    const mask = writeBmp(
      W,
      H,
      {
        bpp: 1,
        palette: [
          [0, 0, 0],
          [255, 255, 255],
        ],
      },
      (x, y) => (x >= 10 && x < 30 && y >= 5 && y < 25 ? 1 : 0),
    );
    const { check, raw } = await checkMask(mask, 'IMD001_lesion.bmp');
    expect(check.channels).toBe('ok');
    expect(check.ambiguous).toBe(0);
    expect(check.coverage).toBeCloseTo((20 * 20) / (W * H), 10);
    expect(raw.channels).toBe(1);
  });

  it('a run-length-encoded BMP is one error naming the file', async () => {
    const rle = writeBmp(4, 4, { bpp: 8, palette: [[0, 0, 0]], compression: 1 }, () => 0);
    await expect(probe(rle, 'PH2/IMD002.bmp')).rejects.toThrow(
      /^PH2\/IMD002\.bmp: cannot read the image \(run-length-encoded BMP/,
    );
  });
});
