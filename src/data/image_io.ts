// Image and mask decoding with sharp (libvips): checked, resized to a target, as raw uint8 pixels.
import sharp from 'sharp';
import { BmpError, decodeBmp, isBmp, readBmpHeader } from './bmp.js';
import { coverGeometry, fitInside, type Fit, type Placed, type RawMask, type Size } from './mask_geometry.js';

export * from './mask_geometry.js';

// Many lesions are decoded at once (one per core); one libvips thread per image is fastest then.
sharp.concurrency(1);
sharp.cache(false);

export class ImageError extends Error {
  constructor(
    readonly file: string,
    readonly kind: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'ImageError';
  }
}

/**
 * A sharp pipeline on an encoded image: BMP files (which libvips cannot read) are decoded by
 * bmp.ts and handed over as raw pixels; everything else goes to sharp as it is.
 */
function open(bytes: Uint8Array, options: sharp.SharpOptions = {}): sharp.Sharp {
  if (!isBmp(bytes)) return sharp(bytes, options);
  const b = decodeBmp(bytes);
  return sharp(b.data, { raw: { width: b.width, height: b.height, channels: b.channels } });
}

function reason(e: unknown): string {
  return e instanceof BmpError ? e.message : (e as Error).message;
}

/** The image's size from its headers (a BMP's are read by bmp.ts: no pixels are decoded). */
export async function probe(bytes: Uint8Array, file: string): Promise<Size> {
  try {
    if (isBmp(bytes)) {
      const h = readBmpHeader(bytes);
      return { width: h.width, height: h.height };
    }
    const m = await open(bytes).metadata();
    if (!m.width || !m.height) throw new Error('no width or height');
    return { width: m.width, height: m.height };
  } catch (e) {
    throw new ImageError(file, 'corrupt-image', `cannot read the image (${reason(e)}); replace or remove the file`);
  }
}

/**
 * Decodes an image to sRGB and resizes it to `target`: 'crop' scales to cover then cuts the centre,
 * 'pad' scales to fit inside then pads with black, both anti-aliased (Lanczos-3). Truncated or
 * corrupt files throw an ImageError naming the file.
 */
export async function decodeImageTo(
  bytes: Uint8Array,
  file: string,
  source: Size,
  target: Size,
  fit: Fit,
): Promise<Placed> {
  const { width: W, height: H } = target;
  const cover = fit === 'crop' ? coverGeometry(source, target) : null;
  const inner = cover ? { width: W, height: H } : fitInside(source, target);
  let out: { data: Buffer; info: sharp.OutputInfo };
  try {
    // The crop geometry is ours (resize to whole pixels, then cut), so the mask can follow it exactly.
    let s = open(bytes, { failOn: 'truncated' }).removeAlpha().toColourspace('srgb');
    if (cover)
      s = s
        .resize(cover.width, cover.height, { fit: 'fill', kernel: 'lanczos3' })
        .extract({ left: cover.left, top: cover.top, width: W, height: H });
    else s = s.resize(inner.width, inner.height, { fit: 'fill', kernel: 'lanczos3' });
    out = await s.raw().toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw new ImageError(file, 'corrupt-image', `cannot decode the image (${reason(e)}); replace or remove the file`);
  }
  const channels = 3;
  if (out.info.channels !== channels || out.info.width !== inner.width || out.info.height !== inner.height) {
    throw new ImageError(
      file,
      'decode',
      `decoded to ${out.info.width}x${out.info.height}x${out.info.channels}, expected ${inner.width}x${inner.height}x${channels}`,
    );
  }
  const data = new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength);
  if (inner.width === W && inner.height === H) {
    return { pixels: data, channels, content: { left: 0, top: 0, width: W, height: H } };
  }
  const left = Math.floor((W - inner.width) / 2);
  const top = Math.floor((H - inner.height) / 2);
  const pixels = new Uint8Array(W * H * channels);
  const rowBytes = inner.width * channels;
  for (let y = 0; y < inner.height; y++) {
    pixels.set(data.subarray(y * rowBytes, (y + 1) * rowBytes), ((top + y) * W + left) * channels);
  }
  return { pixels, channels, content: { left, top, width: inner.width, height: inner.height } };
}

export interface MaskCheck {
  /** 'ok'; 'grey-as-colour' (several identical channels: used); 'colour' (channels differ: unusable). */
  channels: 'ok' | 'grey-as-colour' | 'colour';
  channelCount: number;
  /** Fraction of pixels with values in (32, 224), far from both 0 and 255. */
  ambiguous: number;
  /** Fraction of pixels >= 128 (lesion), at the mask's own resolution. */
  coverage: number;
}

/** Decodes a mask at full resolution and checks it is a single-channel 0/255 image. */
export async function checkMask(bytes: Uint8Array, file: string): Promise<{ check: MaskCheck; raw: RawMask }> {
  let out: { data: Buffer; info: sharp.OutputInfo };
  try {
    // libvips would turn a grey mask into sRGB on output; keep what the file stores.
    const stored = pngChannels(bytes) ?? (await open(bytes).metadata()).channels ?? 1;
    const s = open(bytes, { failOn: 'truncated' });
    out = await (stored <= 2 ? s.extractChannel(0) : s).raw().toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw new ImageError(file, 'corrupt-mask', `cannot decode the mask (${reason(e)}); replace or remove the file`);
  }
  const { data, info } = out;
  const c = info.channels;
  // An alpha channel (last of 2 or 4) is ignored; colour channels must agree.
  const colourChannels = c === 2 || c === 4 ? c - 1 : c;
  let differ = false;
  let ambiguous = 0;
  let lesion = 0;
  const n = info.width * info.height;
  for (let i = 0, p = 0; i < n; i++, p += c) {
    const v = data[p]!;
    for (let k = 1; k < colourChannels; k++) if (data[p + k] !== v) differ = true;
    if (v > 32 && v < 224) ambiguous++;
    if (v >= 128) lesion++;
  }
  const check: MaskCheck = {
    channels: colourChannels === 1 ? 'ok' : differ ? 'colour' : 'grey-as-colour',
    channelCount: c,
    ambiguous: ambiguous / n,
    coverage: lesion / n,
  };
  return { check, raw: { data, width: info.width, height: info.height, channels: c } };
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** Channels a PNG stores, read from its IHDR chunk (null when not a PNG): saves a metadata call. */
export function pngChannels(bytes: Uint8Array): number | null {
  if (bytes.length < 33 || PNG_SIGNATURE.some((b, i) => bytes[i] !== b)) return null;
  if (String.fromCharCode(bytes[12]!, bytes[13]!, bytes[14]!, bytes[15]!) !== 'IHDR') return null;
  // Colour types: 0 grey, 2 RGB, 3 palette (decoded to RGB), 4 grey + alpha, 6 RGBA.
  return ({ 0: 1, 2: 3, 3: 3, 4: 2, 6: 4 } as Record<number, number>)[bytes[25]!] ?? null;
}
