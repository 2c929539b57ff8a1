// Overlap between predicted and reference lesion masks: Dice (F1) and IoU (Jaccard) per image, their
// means over images, and the pooled (micro) values over all pixels of all images.
//
//   Dice = 2 |P ∩ T| / (|P| + |T|),   IoU = |P ∩ T| / |P ∪ T|
//
// Masks are [B, 1, H, W] or [B, H, W] of any dtype: bool masks as they are; numbers are foreground
// where > 0.5 (0/1 masks, or probabilities thresholded at 0.5; threshold logits at 0 yourself).
//
// Empty masks: when both the prediction and the reference of an image are empty, Dice and IoU are
// 1 (nothing to find and nothing found: perfect agreement) by default; `bothEmpty: NaN` makes them
// undefined instead, and NaN values are left out of the means (the mean is NaN only when every
// image is both-empty). A non-empty prediction on an empty reference, or an empty prediction on a
// non-empty reference, scores 0. The pooled values count pixels over the whole batch (1 when
// every mask is empty, with the default).
//
//   segmentationScores(pred, target, { bothEmpty?: 1 }) ->
//     { dice: number[], iou: number[], meanDice, meanIou, pooledDice, pooledIou }
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';

export interface SegmentationScores {
  dice: number[];
  iou: number[];
  meanDice: number;
  meanIou: number;
  pooledDice: number;
  pooledIou: number;
}

function describe(t: Tensor): string {
  return `[${t.shape.join(', ')}]`;
}

/** A mask as bool [B, H*W]. */
function asMask(name: string, t: Tensor): Tensor {
  if (t.ndim !== 3 && !(t.ndim === 4 && t.shape[1] === 1))
    throw new TypeError(`segmentationScores: ${name} must be masks [B, 1, H, W] or [B, H, W], got ${describe(t)}`);
  const b = t.dtype === 'bool' ? t : t.gt(0.5);
  return b.reshape(t.shape[0]!, -1);
}

function nanMean(values: number[]): number {
  const kept = values.filter((v) => !Number.isNaN(v));
  return kept.length ? kept.reduce((s, v) => s + v, 0) / kept.length : NaN;
}

export function segmentationScores(pred: Tensor, target: Tensor, o: { bothEmpty?: number } = {}): SegmentationScores {
  const bothEmpty = o.bothEmpty ?? 1;
  const p0 = pred.ndim === 4 ? pred.shape.filter((_, i) => i !== 1) : pred.shape;
  const t0 = target.ndim === 4 ? target.shape.filter((_, i) => i !== 1) : target.shape;
  if (p0.length !== t0.length || p0.some((s, i) => s !== t0[i])) {
    throw new TypeError(
      `segmentationScores: prediction ${describe(pred)} and reference ${describe(target)} differ in shape`,
    );
  }
  if (pred.shape[0] === 0) throw new TypeError('segmentationScores: no image');
  const [inter, sizeP, sizeT] = torch.tidy(() => {
    const p = asMask('the prediction', pred);
    const t = asMask('the reference', target);
    return [p.logicalAnd(t).sum(1).toArray(), p.sum(1).toArray(), t.sum(1).toArray()];
  });
  const dice: number[] = [];
  const iou: number[] = [];
  let [si, sp, st] = [0, 0, 0];
  inter.forEach((i, k) => {
    const p = sizeP[k]!;
    const t = sizeT[k]!;
    si += i;
    sp += p;
    st += t;
    if (p + t === 0) {
      dice.push(bothEmpty);
      iou.push(bothEmpty);
    } else {
      dice.push((2 * i) / (p + t));
      iou.push(i / (p + t - i));
    }
  });
  return {
    dice,
    iou,
    meanDice: nanMean(dice),
    meanIou: nanMean(iou),
    pooledDice: sp + st === 0 ? bothEmpty : (2 * si) / (sp + st),
    pooledIou: sp + st === 0 ? bothEmpty : si / (sp + st - si),
  };
}
