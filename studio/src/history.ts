// The results side by side, newest first: each generated image with its mask, diagnosis, seed and
// timing, and a link that downloads the PNG.
import type { Generated } from './api.js';

export interface HistoryEntry extends Generated {
  maskThumb: string;
}

export class History {
  private count = 0;

  constructor(private readonly root: HTMLElement) {}

  add(e: HistoryEntry, width: number, height: number): HTMLElement {
    this.root.querySelector('.empty')?.remove();
    const n = ++this.count;
    const url = URL.createObjectURL(e.png);
    const card = el('figure', 'result');
    card.dataset.index = String(n);

    const images = el('div', 'pair');
    const mask = el('img', 'mask-thumb') as HTMLImageElement;
    mask.src = e.maskThumb;
    mask.alt = 'the mask';
    mask.title = 'the mask as drawn';
    const img = el('img', 'generated') as HTMLImageElement;
    img.src = url;
    img.alt = `generated ${e.className}, seed ${e.seed}`;
    img.width = width;
    img.height = height;
    images.append(mask, img);

    const caption = el('figcaption');
    const what = el('strong');
    what.textContent = `#${n} ${e.className.replace(/_/g, ' ')}`;
    const details = el('span');
    details.textContent = ` seed ${e.seed}${e.vary ? ', shape varied' : ''} · ${width}x${height} · ${Number.isFinite(e.inferenceMs) ? `${Math.round(e.inferenceMs)} ms` : ''}`;
    const link = el('a', 'download') as HTMLAnchorElement;
    link.href = url;
    link.download = `dermosynth-${e.className}-seed${e.seed}${e.vary ? '-varied' : ''}-${n}.png`;
    link.textContent = 'Download PNG';
    caption.append(what, details, el('br'), link);
    if (e.notice) {
      const note = el('small', 'notice');
      note.textContent = e.notice;
      caption.append(el('br'), note);
    }
    card.append(images, caption);
    this.root.prepend(card);
    return card;
  }
}

function el(tag: string, cls?: string): HTMLElement {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  return e;
}
