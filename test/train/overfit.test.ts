// The proposed generator can learn: it fits one 32x32 label map -> image pair with L1 alone.
import { describe, it, expect } from 'vitest';
import * as torch from '../../src/torch/index.js';
import * as nn from '../../src/nn/index.js';
import { buildModels } from '../../src/models/registry.js';
import { renderSampleLesion } from '../../src/data/sample_dataset.js';
import { buildLabelBytes, labelMapSpec, oneHotLabels } from '../../src/data/label_map.js';
import { ISIC2017_CLASSES } from '../../src/data/diagnosis.js';

describe('proposed generator', () => {
  for (const skip of ['concat', 'add'] as const) {
    it(`overfits one 32x32 image (skip ${skip}): L1 below 0.06 within 200 steps`, () => {
      torch.manualSeed(3);
      const size = 32;
      const spec = labelMapSpec(ISIC2017_CLASSES, { boundary: 1, frame: false });
      const { rgb, mask } = renderSampleLesion(1, 'melanoma', 5, size);
      const labelBytes = buildLabelBytes(mask, 1, spec, size, size);
      const label = torch.keep(oneHotLabels(torch.fromBytes(labelBytes, 'uint8', [1, 1, size, size]), spec));
      const image = torch.keep(
        torch.tidy(() =>
          torch.fromBytes(rgb, 'uint8', [1, size, size, 3]).permute(0, 3, 1, 2).to('float32').div(127.5).sub(1),
        ),
      );
      const { generator } = buildModels(
        'proposed',
        spec.channels.length,
        { skip, ngf: 16, nDown: 2, nBlocks: 2 },
        'cpu',
      );
      const opt = new nn.optim.Adam(generator.parameters(), { lr: 5e-4, betas: [0.5, 0.999] });
      const first = torch.tidy(() => torch.F.l1Loss(generator.call(label), image).item());
      let last = first;
      let steps = 0;
      for (; steps < 200 && last > 0.06; steps++) {
        last = torch.tidy(() => {
          const loss = torch.F.l1Loss(generator.call(label), image);
          opt.zeroGrad();
          loss.backward();
          opt.step();
          return loss.item();
        });
      }
      expect(first).toBeGreaterThan(0.3);
      expect(last, `L1 after ${steps} steps`).toBeLessThan(0.06);
      torch.dispose([label, image]);
    });
  }
});
