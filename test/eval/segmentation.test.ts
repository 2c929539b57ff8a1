// Dice and IoU: hand-computed cases, mask forms (bool, 0/1, probabilities, [B, H, W]), the
// empty-mask conventions, the pooled values and errors.
import { describe, expect, it } from 'vitest';
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { segmentationScores } from '../../src/eval/segmentation.js';

/** Masks [B, 1, H, W] float32 from rows of 0/1 strings. */
function masks(...images: string[][]): Tensor {
  const h = images[0]!.length;
  const w = images[0]![0]!.length;
  const v = images.flatMap((rows) => rows.flatMap((r) => [...r].map(Number)));
  return torch.tensor(Float32Array.from(v), { shape: [images.length, 1, h, w] });
}

describe('segmentationScores', () => {
  it('hand-computed Dice and IoU per image, means and pooled values', () => {
    torch.tidy(() => {
      const pred = masks(['1100', '1100'], ['0000', '0011'], ['1111', '1111']);
      const ref = masks(['1000', '1000'], ['0000', '0011'], ['0000', '0001']);
      const s = segmentationScores(pred, ref);
      // image 1: |P| 4, |T| 2, |P∩T| 2 -> Dice 4/6, IoU 2/4; image 2: identical -> 1, 1; image 3: |P| 8, |T| 1, ∩ 1 -> 2/9, 1/8
      expect(s.dice[0]).toBeCloseTo(2 / 3, 15);
      expect(s.iou[0]).toBeCloseTo(1 / 2, 15);
      expect(s.dice[1]).toBe(1);
      expect(s.iou[1]).toBe(1);
      expect(s.dice[2]).toBeCloseTo(2 / 9, 15);
      expect(s.iou[2]).toBeCloseTo(1 / 8, 15);
      expect(s.meanDice).toBeCloseTo((2 / 3 + 1 + 2 / 9) / 3, 15);
      expect(s.meanIou).toBeCloseTo((1 / 2 + 1 + 1 / 8) / 3, 15);
      // pooled: |P| 14, |T| 5, ∩ 5 -> Dice 10/19, IoU 5/14
      expect(s.pooledDice).toBeCloseTo(10 / 19, 15);
      expect(s.pooledIou).toBeCloseTo(5 / 14, 15);
    });
  });

  it('bool masks, [B, H, W] masks and probabilities (> 0.5) give the same', () => {
    torch.tidy(() => {
      const pred = masks(['1100', '0110']);
      const ref = masks(['0100', '0111']);
      const s = segmentationScores(pred, ref).dice[0];
      expect(s).toBeCloseTo((2 * 3) / (4 + 4), 15); // |P| 4, |T| 4, |P∩T| 3
      expect(segmentationScores(pred.gt(0.5), ref.squeeze(1)).dice[0]).toBe(s);
      expect(segmentationScores(pred.mul(0.4).add(0.3), ref).dice[0]).toBe(s); // 0.7 / 0.3
    });
  });

  it('empty masks: both empty -> 1 (or NaN, left out of the means); one empty -> 0', () => {
    torch.tidy(() => {
      const empty = masks(['00', '00']);
      const full = masks(['11', '11']);
      expect(segmentationScores(empty, empty).dice).toEqual([1]);
      expect(segmentationScores(empty, empty).pooledIou).toBe(1);
      expect(segmentationScores(full, empty).dice).toEqual([0]);
      expect(segmentationScores(empty, full).iou).toEqual([0]);
      const both = segmentationScores(torch.cat([empty, full]), torch.cat([empty, full]), { bothEmpty: NaN });
      expect(both.dice[0]).toBeNaN();
      expect(both.meanDice).toBe(1);
      expect(segmentationScores(empty, empty, { bothEmpty: NaN }).meanDice).toBeNaN();
    });
  });

  it('errors name the problem', () => {
    torch.tidy(() => {
      expect(() => segmentationScores(torch.zeros([1, 1, 4, 4]), torch.zeros([1, 1, 4, 5]))).toThrow(
        'segmentationScores: prediction [1, 1, 4, 4] and reference [1, 1, 4, 5] differ in shape',
      );
      expect(() => segmentationScores(torch.zeros([1, 2, 4, 4]), torch.zeros([1, 2, 4, 4]))).toThrow(
        'must be masks [B, 1, H, W] or [B, H, W], got [1, 2, 4, 4]',
      );
    });
  });
});
