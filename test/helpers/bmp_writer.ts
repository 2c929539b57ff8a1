// A BMP writer for tests: the variants of the format, written from plain pixel values.

export interface WriteOptions {
  bpp: 1 | 4 | 8 | 16 | 24 | 32;
  topDown?: boolean;
  core?: boolean;
  palette?: number[][]; // RGB entries
  masks?: [number, number, number];
  compression?: number;
}

/** A BMP writer for tests: `index(x, y)` for palette files, `rgb(x, y)` packed by bpp otherwise. */
export function writeBmp(w: number, h: number, o: WriteOptions, value: (x: number, y: number) => number): Uint8Array {
  const headerSize = o.core ? 12 : 40;
  const maskBytes = o.masks ? 12 : 0;
  const pal = o.palette ?? [];
  const palBytes = pal.length * (o.core ? 3 : 4);
  const stride = Math.floor((o.bpp * w + 31) / 32) * 4;
  const offset = 14 + headerSize + maskBytes + palBytes;
  const buf = new Uint8Array(offset + stride * h);
  const v = new DataView(buf.buffer);
  buf[0] = 0x42;
  buf[1] = 0x4d;
  v.setUint32(2, buf.length, true);
  v.setUint32(10, offset, true);
  v.setUint32(14, headerSize, true);
  if (o.core) {
    v.setUint16(18, w, true);
    v.setInt16(20, o.topDown ? -h : h, true);
    v.setUint16(22, 1, true);
    v.setUint16(24, o.bpp, true);
  } else {
    v.setInt32(18, w, true);
    v.setInt32(22, o.topDown ? -h : h, true);
    v.setUint16(26, 1, true);
    v.setUint16(28, o.bpp, true);
    v.setUint32(30, o.compression ?? (o.masks ? 3 : 0), true);
    v.setUint32(46, pal.length, true);
  }
  let at = 14 + headerSize;
  if (o.masks) for (const m of o.masks) (v.setUint32(at, m, true), (at += 4));
  for (const [r, g, b] of pal) {
    buf[at++] = b!;
    buf[at++] = g!;
    buf[at++] = r!;
    if (!o.core) at++;
  }
  for (let y = 0; y < h; y++) {
    const row = offset + (o.topDown ? y : h - 1 - y) * stride;
    for (let x = 0; x < w; x++) {
      const val = value(x, y);
      if (o.bpp < 8) {
        const bit = x * o.bpp;
        buf[row + (bit >> 3)]! |= val << (8 - o.bpp - (bit & 7));
      } else if (o.bpp === 8) buf[row + x] = val;
      else if (o.bpp === 16) v.setUint16(row + x * 2, val, true);
      else if (o.bpp === 24)
        ((buf[row + x * 3] = val & 255),
          (buf[row + x * 3 + 1] = (val >> 8) & 255),
          (buf[row + x * 3 + 2] = (val >> 16) & 255));
      else v.setUint32(row + x * 4, val, true);
    }
  }
  return buf;
}
