// The lesion mask editor: a canvas at the run's size (shown enlarged, pixel for pixel) holding one
// 0/1 value per pixel; brush and eraser stamp discs along the pointer's path, fill floods the
// 4-connected skin region under the pointer; undo keeps the last 30 states.
import type { Rle } from './api.js';

export type Tool = 'brush' | 'erase' | 'fill';

const SKIN: [number, number, number] = [236, 205, 180];
const LESION: [number, number, number] = [92, 52, 34];
const UNDO_DEPTH = 30;

export class MaskEditor {
  readonly mask: Uint8Array;
  tool: Tool = 'brush';
  /** Brush diameter in mask pixels. */
  size = 4;
  private readonly ctx: CanvasRenderingContext2D;
  private readonly image: ImageData;
  private readonly undoStack: Uint8Array[] = [];
  private last: [number, number] | null = null;
  /** Called after every change (drawing, loading, clearing). */
  onChange: () => void = () => {};

  constructor(
    readonly canvas: HTMLCanvasElement,
    readonly width: number,
    readonly height: number,
  ) {
    canvas.width = width;
    canvas.height = height;
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('this browser has no 2D canvas');
    this.ctx = ctx;
    this.image = ctx.createImageData(width, height);
    this.mask = new Uint8Array(width * height);
    canvas.addEventListener('pointerdown', (e) => this.down(e));
    canvas.addEventListener('pointermove', (e) => this.move(e));
    canvas.addEventListener('pointerup', () => (this.last = null));
    canvas.addEventListener('pointercancel', () => (this.last = null));
    this.render();
  }

  get lesionPixels(): number {
    let n = 0;
    for (const v of this.mask) n += v;
    return n;
  }

  clear(): void {
    this.snapshot();
    this.mask.fill(0);
    this.changed();
  }

  undo(): void {
    const prev = this.undoStack.pop();
    if (!prev) return;
    this.mask.set(prev);
    this.changed();
  }

  /** Loads a mask image at the run's size (>= 128 in its first channel is lesion). */
  async load(png: Blob): Promise<void> {
    const bitmap = await createImageBitmap(png);
    try {
      if (bitmap.width !== this.width || bitmap.height !== this.height) {
        throw new Error(`the mask is ${bitmap.width}x${bitmap.height}, the run is ${this.width}x${this.height}`);
      }
      const c = document.createElement('canvas');
      c.width = this.width;
      c.height = this.height;
      const ctx = c.getContext('2d')!;
      ctx.drawImage(bitmap, 0, 0);
      const px = ctx.getImageData(0, 0, this.width, this.height).data;
      this.snapshot();
      for (let i = 0; i < this.mask.length; i++) this.mask[i] = px[i * 4]! >= 128 ? 1 : 0;
      this.changed();
    } finally {
      bitmap.close();
    }
  }

  /** Row-major runs, skin first, as POST /api/generate reads them. */
  toRle(): Rle {
    const counts: number[] = [];
    let current = 0;
    let run = 0;
    for (const v of this.mask) {
      if (v !== current) {
        counts.push(run);
        current = v;
        run = 0;
      }
      run++;
    }
    counts.push(run);
    return { width: this.width, height: this.height, counts };
  }

  /** The mask as a small data URL (for the history's thumbnails). */
  toDataUrl(): string {
    return this.canvas.toDataURL('image/png');
  }

  private point(e: PointerEvent): [number, number] {
    const r = this.canvas.getBoundingClientRect();
    const x = Math.floor(((e.clientX - r.left) / r.width) * this.width);
    const y = Math.floor(((e.clientY - r.top) / r.height) * this.height);
    return [Math.min(this.width - 1, Math.max(0, x)), Math.min(this.height - 1, Math.max(0, y))];
  }

  private down(e: PointerEvent): void {
    if (e.button !== 0) return;
    e.preventDefault();
    this.canvas.setPointerCapture(e.pointerId);
    const p = this.point(e);
    this.snapshot();
    if (this.tool === 'fill') {
      this.fill(p[0], p[1]);
    } else {
      this.stamp(p[0], p[1]);
      this.last = p;
    }
    this.changed();
  }

  private move(e: PointerEvent): void {
    if (!this.last || this.tool === 'fill') return;
    const p = this.point(e);
    const [x0, y0] = this.last;
    const steps = Math.max(Math.abs(p[0] - x0), Math.abs(p[1] - y0), 1);
    for (let s = 1; s <= steps; s++)
      this.stamp(Math.round(x0 + ((p[0] - x0) * s) / steps), Math.round(y0 + ((p[1] - y0) * s) / steps));
    this.last = p;
    this.changed();
  }

  /** A disc of diameter `size` centred on the pixel. */
  private stamp(cx: number, cy: number): void {
    const v = this.tool === 'erase' ? 0 : 1;
    const r = this.size / 2;
    const lo = -Math.ceil(r);
    for (let dy = lo; dy <= -lo; dy++) {
      for (let dx = lo; dx <= -lo; dx++) {
        const x = cx + dx;
        const y = cy + dy;
        if (x < 0 || y < 0 || x >= this.width || y >= this.height) continue;
        if (dx * dx + dy * dy <= r * r || (dx === 0 && dy === 0)) this.mask[y * this.width + x] = v;
      }
    }
  }

  /** Fills the 4-connected skin region at (x, y) with lesion. */
  private fill(x: number, y: number): void {
    const w = this.width;
    if (this.mask[y * w + x]) return;
    const stack = [y * w + x];
    this.mask[y * w + x] = 1;
    while (stack.length > 0) {
      const i = stack.pop()!;
      const px = i % w;
      const next = [px > 0 ? i - 1 : -1, px < w - 1 ? i + 1 : -1, i - w, i + w];
      for (const j of next) {
        if (j >= 0 && j < this.mask.length && !this.mask[j]) {
          this.mask[j] = 1;
          stack.push(j);
        }
      }
    }
  }

  private snapshot(): void {
    this.undoStack.push(this.mask.slice());
    if (this.undoStack.length > UNDO_DEPTH) this.undoStack.shift();
  }

  private changed(): void {
    this.render();
    this.onChange();
  }

  private render(): void {
    const d = this.image.data;
    for (let i = 0; i < this.mask.length; i++) {
      const c = this.mask[i] ? LESION : SKIN;
      d[i * 4] = c[0];
      d[i * 4 + 1] = c[1];
      d[i * 4 + 2] = c[2];
      d[i * 4 + 3] = 255;
    }
    this.ctx.putImageData(this.image, 0, 0);
  }
}
