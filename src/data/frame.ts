// Detects the dermoscope frame: the near-black corners and circular vignette that many ISIC images
// have outside the lens's field of view. It is content the generator must reproduce but that is
// neither skin nor lesion, so it gets its own label class when the user asks for it.

export interface FrameOptions {
  /** Pixels darker than this luma (0..255) may be frame; default: min(60, 0.4 x median skin luma). */
  threshold?: number;
  /** Frame regions smaller than this fraction of the image are ignored (default 0.005). */
  minFraction?: number;
}

/**
 * Returns a 0/1 map of frame pixels: dark pixels connected to the image border through dark pixels,
 * after an opening that removes thin dark structures (hairs) so they cannot carry the frame inwards.
 * Lesion pixels (mask 1) are never frame. `outside`, when given, marks padding that is frame anyway.
 */
export function detectFrame(
  rgb: Uint8Array,
  mask: Uint8Array,
  width: number,
  height: number,
  o: FrameOptions = {},
  outside?: Uint8Array,
): Uint8Array {
  const n = width * height;
  const luma = new Uint8Array(n);
  for (let i = 0, p = 0; i < n; i++, p += 3) {
    luma[i] = (rgb[p]! * 77 + rgb[p + 1]! * 150 + rgb[p + 2]! * 29) >> 8;
  }
  let threshold = o.threshold;
  if (threshold === undefined) {
    const hist = new Uint32Array(256);
    let count = 0;
    for (let i = 0; i < n; i++) {
      if (!mask[i] && !(outside && outside[i])) {
        hist[luma[i]!]!++;
        count++;
      }
    }
    let acc = 0;
    let median = 0;
    for (let v = 0; v < 256; v++) {
      acc += hist[v]!;
      if (acc * 2 >= count) {
        median = v;
        break;
      }
    }
    threshold = Math.min(60, 0.4 * median);
  }
  const dark = new Uint8Array(n);
  for (let i = 0; i < n; i++) dark[i] = luma[i]! < threshold && !mask[i] ? 1 : 0;
  const minPixels = (o.minFraction ?? 0.005) * n;
  // Most images have no frame: the dark region reached from the border is already too small
  // before the opening (which only shrinks it), so skip the opening.
  if (!outside && borderFill(dark, width, height).size < minPixels) return new Uint8Array(n);
  // Opening (erode then dilate) with a square of radius r removes hairs thinner than 2r + 1 pixels.
  const r = Math.max(1, Math.round(Math.min(width, height) / 100));
  const opened = dilate(erode(dark, width, height, r, 1), width, height, r);
  for (let i = 0; i < n; i++) opened[i] = opened[i]! & dark[i]!;
  if (outside) for (let i = 0; i < n; i++) if (outside[i]) opened[i] = 1;
  const { region: frame, size } = borderFill(opened, width, height);
  if (size < minPixels && !outside) return new Uint8Array(n);
  return frame;
}

/** The pixels of `m` connected (4-neighbours) to the image border through pixels of `m`. */
function borderFill(m: Uint8Array, width: number, height: number): { region: Uint8Array; size: number } {
  const n = width * height;
  const region = new Uint8Array(n);
  const stack: number[] = [];
  const seed = (i: number) => {
    if (m[i] && !region[i]) {
      region[i] = 1;
      stack.push(i);
    }
  };
  for (let x = 0; x < width; x++) {
    seed(x);
    seed((height - 1) * width + x);
  }
  for (let y = 0; y < height; y++) {
    seed(y * width);
    seed(y * width + width - 1);
  }
  let size = 0;
  while (stack.length > 0) {
    const i = stack.pop()!;
    size++;
    const x = i % width;
    if (x > 0) seed(i - 1);
    if (x < width - 1) seed(i + 1);
    if (i >= width) seed(i - width);
    if (i < n - width) seed(i + width);
  }
  return { region, size };
}

/**
 * Binary erosion with a (2r+1)-square, separable. `edge` is the value assumed outside the image:
 * 1 keeps regions that touch the border intact there, 0 erodes them from the border too.
 */
export function erode(m: Uint8Array, width: number, height: number, r: number, edge: 0 | 1): Uint8Array {
  return minFilter(minFilter(m, width, height, r, edge, true), width, height, r, edge, false);
}

/** Binary dilation with a (2r+1)-square, separable (outside the image counts as 0). */
export function dilate(m: Uint8Array, width: number, height: number, r: number): Uint8Array {
  const inv = new Uint8Array(m.length);
  for (let i = 0; i < m.length; i++) inv[i] = 1 - m[i]!;
  const e = erode(inv, width, height, r, 1);
  for (let i = 0; i < e.length; i++) e[i] = 1 - e[i]!;
  return e;
}

/** A 1-D running minimum of a 0/1 map along rows or columns, from prefix counts of zeros. */
function minFilter(
  m: Uint8Array,
  width: number,
  height: number,
  r: number,
  edge: 0 | 1,
  horizontal: boolean,
): Uint8Array {
  const out = new Uint8Array(m.length);
  const lines = horizontal ? height : width;
  const len = horizontal ? width : height;
  const stride = horizontal ? 1 : width;
  const zeros = new Int32Array(len + 1);
  const outsideZero = edge === 0 ? 1 : 0;
  for (let l = 0; l < lines; l++) {
    const base = horizontal ? l * width : l;
    for (let k = 0, p = base; k < len; k++, p += stride) zeros[k + 1] = zeros[k]! + (m[p] === 0 ? 1 : 0);
    for (let k = 0, p = base; k < len; k++, p += stride) {
      const lo = k - r;
      const hi = k + r;
      let z = zeros[hi >= len ? len : hi + 1]! - zeros[lo < 0 ? 0 : lo]!;
      if (outsideZero) z += (lo < 0 ? -lo : 0) + (hi >= len ? hi - len + 1 : 0);
      out[p] = z === 0 ? 1 : 0;
    }
  }
  return out;
}
