// A strict decoder for Windows BMP files (libvips, and so sharp, cannot read them; PH2 ships its
// images and masks as BMP). Uncompressed 1-, 4-, 8-, 16-, 24- and 32-bit files with
// BITMAPCOREHEADER (12 bytes) or BITMAPINFOHEADER and its V2-V5 extensions, bottom-up or top-down
// rows, palettes and bit-field masks. Run-length-encoded, JPEG- or PNG-compressed files are
// refused with a message saying so, as is anything truncated or inconsistent: nothing is guessed.

/** Decoded pixels, top row first, interleaved: 1 channel when every colour is a grey, else 3 (RGB). */
export interface DecodedBmp {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Uint8Array;
  bitsPerPixel: number;
}

export class BmpError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BmpError';
  }
}

/** Whether the bytes start like a BMP file ("BM"). */
export function isBmp(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d;
}

const COMPRESSION: Record<number, string> = {
  0: 'BI_RGB',
  1: 'BI_RLE8',
  2: 'BI_RLE4',
  3: 'BI_BITFIELDS',
  4: 'BI_JPEG',
  5: 'BI_PNG',
  6: 'BI_ALPHABITFIELDS',
};

/** What a BMP file's headers say, checked: size, layout and where the rows are. */
export interface BmpHeader {
  width: number;
  height: number;
  topDown: boolean;
  bitsPerPixel: number;
  compression: number;
  colorsUsed: number;
  headerSize: number;
  pixelOffset: number;
  /** Bytes per row (rows are padded to 4 bytes). */
  stride: number;
}

/**
 * Reads and checks a BMP file's headers without decoding pixels (what a size probe needs): the
 * same errors as decodeBmp for anything unsupported, inconsistent or truncated.
 */
export function readBmpHeader(bytes: Uint8Array): BmpHeader {
  if (!isBmp(bytes)) throw new BmpError('not a BMP file (it does not start with "BM")');
  if (bytes.length < 26) throw new BmpError(`truncated BMP: ${bytes.length} bytes, shorter than its headers`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const pixelOffset = v.getUint32(10, true);
  const headerSize = v.getUint32(14, true);
  if (![12, 40, 52, 56, 108, 124].includes(headerSize))
    throw new BmpError(`unknown BMP header size ${headerSize} (expected 12, 40, 52, 56, 108 or 124)`);
  if (14 + headerSize > bytes.length) throw new BmpError('truncated BMP: the header runs past the end of the file');
  let width: number, rawHeight: number, planes: number, bpp: number;
  let compression = 0,
    colorsUsed = 0;
  if (headerSize === 12) {
    width = v.getUint16(18, true);
    rawHeight = v.getInt16(20, true);
    planes = v.getUint16(22, true);
    bpp = v.getUint16(24, true);
  } else {
    width = v.getInt32(18, true);
    rawHeight = v.getInt32(22, true);
    planes = v.getUint16(26, true);
    bpp = v.getUint16(28, true);
    compression = v.getUint32(30, true);
    colorsUsed = v.getUint32(46, true);
  }
  if (planes !== 1) throw new BmpError(`BMP with ${planes} colour planes (must be 1)`);
  if (compression === 1 || compression === 2) {
    throw new BmpError(
      `run-length-encoded BMP (${COMPRESSION[compression]}) is not supported: save it uncompressed (for example \`convert in.bmp -compress none out.bmp\`) or as PNG`,
    );
  }
  if (compression !== 0 && compression !== 3 && compression !== 6) {
    throw new BmpError(
      `BMP compression ${COMPRESSION[compression] ?? compression} is not supported: save it uncompressed or as PNG`,
    );
  }
  if (![1, 4, 8, 16, 24, 32].includes(bpp))
    throw new BmpError(`BMP with ${bpp} bits per pixel is not supported (1, 4, 8, 16, 24 or 32)`);
  const topDown = rawHeight < 0;
  const height = Math.abs(rawHeight);
  if (width <= 0 || height <= 0) throw new BmpError(`BMP of ${width}x${rawHeight} pixels`);
  if (width > 65535 || height > 65535)
    throw new BmpError(`BMP of ${width}x${height} pixels is larger than 65,535 on a side`);

  const stride = Math.floor((bpp * width + 31) / 32) * 4;
  if (pixelOffset < 14 + headerSize || pixelOffset + stride * height > bytes.length) {
    throw new BmpError(
      `truncated BMP: ${height} rows of ${stride} bytes from offset ${pixelOffset} need ${pixelOffset + stride * height} bytes, the file has ${bytes.length}`,
    );
  }
  return { width, height, topDown, bitsPerPixel: bpp, compression, colorsUsed, headerSize, pixelOffset, stride };
}

/** Decodes a BMP file; throws a BmpError saying what is wrong or unsupported. */
export function decodeBmp(bytes: Uint8Array): DecodedBmp {
  const {
    width,
    height,
    topDown,
    bitsPerPixel: bpp,
    compression,
    colorsUsed,
    headerSize,
    pixelOffset,
    stride,
  } = readBmpHeader(bytes);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

  // Bit fields: after a 40-byte header when compression says so, inside V2+ headers.
  let masks: [number, number, number] | null = null;
  if (bpp === 16 || bpp === 32) {
    if (compression === 3 || compression === 6) {
      const at = 14 + 40;
      if (at + 12 > bytes.length) throw new BmpError('truncated BMP: its bit-field masks run past the end of the file');
      masks = [v.getUint32(at, true), v.getUint32(at + 4, true), v.getUint32(at + 8, true)];
    } else {
      masks = bpp === 16 ? [0x7c00, 0x03e0, 0x001f] : [0x00ff0000, 0x0000ff00, 0x000000ff];
    }
  } else if (compression !== 0) {
    throw new BmpError(
      `BMP bit fields (${COMPRESSION[compression]}) with ${bpp} bits per pixel: only 16- and 32-bit files have them`,
    );
  }

  let palette: Uint8Array | null = null; // RGB triplets
  if (bpp <= 8) {
    const entries = colorsUsed || 1 << bpp;
    if (entries > 1 << bpp) throw new BmpError(`BMP palette of ${entries} colours for ${bpp} bits per pixel`);
    const entrySize = headerSize === 12 ? 3 : 4;
    const at = 14 + headerSize + (compression === 3 ? 12 : compression === 6 ? 16 : 0);
    if (at + entries * entrySize > bytes.length)
      throw new BmpError('truncated BMP: its palette runs past the end of the file');
    palette = new Uint8Array(entries * 3);
    for (let i = 0; i < entries; i++) {
      palette[i * 3] = bytes[at + i * entrySize + 2]!;
      palette[i * 3 + 1] = bytes[at + i * entrySize + 1]!;
      palette[i * 3 + 2] = bytes[at + i * entrySize]!;
    }
  }

  const rgb = new Uint8Array(width * height * 3);
  const fields = masks?.map(fieldOf) ?? null;
  for (let y = 0; y < height; y++) {
    const src = pixelOffset + (topDown ? y : height - 1 - y) * stride;
    const out = y * width * 3;
    for (let x = 0; x < width; x++) {
      const o = out + x * 3;
      if (palette) {
        const bitPos = x * bpp;
        const byte = bytes[src + (bitPos >> 3)]!;
        const index = (byte >> (8 - bpp - (bitPos & 7))) & ((1 << bpp) - 1);
        if (index * 3 >= palette.length)
          throw new BmpError(`BMP pixel (${x}, ${y}) uses colour ${index} of a ${palette.length / 3}-colour palette`);
        rgb[o] = palette[index * 3]!;
        rgb[o + 1] = palette[index * 3 + 1]!;
        rgb[o + 2] = palette[index * 3 + 2]!;
      } else if (bpp === 24) {
        const p = src + x * 3;
        rgb[o] = bytes[p + 2]!;
        rgb[o + 1] = bytes[p + 1]!;
        rgb[o + 2] = bytes[p]!;
      } else {
        const word = bpp === 16 ? v.getUint16(src + x * 2, true) : v.getUint32(src + x * 4, true);
        for (let k = 0; k < 3; k++) rgb[o + k] = fields![k]!(word);
      }
    }
  }

  // Grey when every pixel's channels agree (masks, grey-palette images): one channel.
  let grey = true;
  for (let i = 0; i < rgb.length && grey; i += 3) grey = rgb[i] === rgb[i + 1] && rgb[i] === rgb[i + 2];
  if (grey) {
    const data = new Uint8Array(width * height);
    for (let i = 0; i < data.length; i++) data[i] = rgb[i * 3]!;
    return { width, height, channels: 1, data, bitsPerPixel: bpp };
  }
  return { width, height, channels: 3, data: rgb, bitsPerPixel: bpp };
}

/** A channel's value (0..255) from a pixel word and the channel's bit mask, scaled to 8 bits. */
function fieldOf(mask: number): (word: number) => number {
  if (mask === 0) return () => 0;
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  const max = mask >>> shift;
  if ((max & (max + 1)) !== 0)
    throw new BmpError(`BMP bit-field mask 0x${(mask >>> 0).toString(16)} is not one run of bits`);
  return (word) => Math.round((((word & mask) >>> shift) * 255) / max);
}
