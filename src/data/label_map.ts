// The label map with pathological meaning: (lesion mask, diagnosis[, image]) -> semantic classes.
//
// Version 1 (LABEL_MAP_VERSION), per pixel:
//   class 0            background skin
//   class 1 + k        lesion of diagnosis k (ISIC-2017: 1 nevus, 2 melanoma, 3 seborrheic keratosis)
//   class 1 + K        dermoscope frame (optional): dark corners and vignette detected in the image,
//                      and the padding added by the 'pad' fit; lesion pixels are never frame
//   boundary flag      (optional) lesion pixels within `boundary` pixels of the lesion's edge, the
//                      analogue of pix2pixHD's instance edge map; the image border is not an edge
// Masks are thresholded at 128 (lesion >= 128).
// Stored as one "label byte" per pixel: bits 0-6 the class, bit 7 the boundary flag.
// A lesion of a dataset without masks (ISIC 2019, 2020: cache manifest `masks: false`) has every
// pixel NO_SEGMENTATION (127), a value no class takes (there are at most 126): it one-hot encodes to
// all zeros and reads as neither skin, lesion nor frame, so it cannot pass for a segmentation (an
// all-skin or all-lesion map could).
// One-hot channels, in order: skin, each diagnosis, [frame], [boundary].
// The bytes themselves (buildLabelBytes, the spec, the one-hot table) are in label_bytes.ts, which
// needs no libtorch: the static studio runs the same code in the browser.
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { CLASS_BITS, oneHotTable, type LabelMapSpec } from './label_bytes.js';

export * from './label_bytes.js';

/**
 * One-hot encodes label bytes [B, 1, H, W] (uint8) into float32 [B, C, H, W] as `spec.channels`.
 * The result has channels-last strides (a row lookup per pixel in a [256, C] table, 4x faster here
 * than comparisons into a contiguous tensor); `.contiguous()` gives the NCHW layout if needed.
 * Convolutions accept either layout.
 */
export function oneHotLabels(labelBytes: Tensor, spec: LabelMapSpec): Tensor {
  const shape = labelBytes.shape;
  if (shape.length !== 4 || shape[1] !== 1 || labelBytes.dtype !== 'uint8') {
    throw new TypeError(
      `oneHotLabels: expected uint8 label bytes [B, 1, H, W], got ${labelBytes.dtype} [${shape.join(', ')}]`,
    );
  }
  return torch.tidy(() => {
    const table = torch.tensor(oneHotTable(spec), { shape: [256, spec.channels.length], device: labelBytes.device });
    const rows = torch.ops.embedding(table, labelBytes.squeeze(1).to('int64')); // [B, H, W, C]
    return rows.permute(0, 3, 1, 2);
  });
}

/** Lesion targets float32 [B, 1, H, W] (1 where the label class is 1..numDiagnoses) from label bytes uint8 [B, 1, H, W]. */
export function lesionTargets(labelBytes: Tensor, numDiagnoses: number): Tensor {
  return torch.tidy(() => {
    const cls = torch.ops.bitwiseAndScalar(labelBytes, CLASS_BITS);
    return cls.ge(1).logicalAnd(cls.le(numDiagnoses)).to('float32');
  });
}
