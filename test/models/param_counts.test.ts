// Parameter counts of every model against reference torch.nn networks written after the original
// code (test/fixtures/make_param_counts.py, run with /usr/bin/python3: torch 1.13). Label maps
// have 4 channels (skin + 3 diagnoses, the project's default), so generators read 4 channels and
// discriminators 4 + 3 = 7. No count depends on the image size (SPADE's first convolution reads
// the label map resized to H/32, the U-Net and PatchGANs are fully convolutional).
//
// Published counts agree with the originals' own logs: pix2pix's "[Network G] Total number of
// parameters : 54.408 M" and "[Network D] ... 2.765 M" for one-channel images
// (junyanz/pytorch-CycleGAN-and-pix2pix issue #1152) are 54,407,809 and 2,764,609 with this
// structure for 1 input and 1 output channel; with 3 and 3 it gives 54,413,955 (54.414 M) and
// 2,768,705. pix2pixHD's global generator at its command-line defaults (ngf 64, 4, 9) is
// 182,446,403 for 4 label channels.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as torch from '../../src/torch/index.js';
import {
  buildModels,
  GlobalGenerator,
  LocalEnhancerGenerator,
  MODEL_NAMES,
  SPADEGenerator,
  UnetGenerator,
  Vgg19,
  type ModelName,
} from '../../src/models/index.js';
import { freeModule, gc } from './helpers.js';

const LABELS = 4;

/** Printed by test/fixtures/make_param_counts.py. */
const REFERENCE: Record<'published' | 'cpu', Record<ModelName, { G: number; D: number }>> = {
  published: {
    pix2pixhd: { G: 182_706_531, D: 5_537_666 },
    proposed: { G: 188_996_547, D: 5_537_666 },
    pix2pix: { G: 54_414_979, D: 2_769_729 },
    spade: { G: 92_089_539, D: 5_535_874 },
  },
  cpu: {
    pix2pixhd: { G: 5_506_467, D: 1_392_578 },
    proposed: { G: 5_898_243, D: 1_392_578 },
    pix2pix: { G: 7_315_267, D: 696_737 },
    spade: { G: 5_784_627, D: 1_391_682 },
  },
};

beforeAll(() => torch.setNumThreads(2));
afterEach(() => gc());

describe('parameter counts match the reference networks', () => {
  for (const preset of ['published', 'cpu'] as const) {
    for (const name of MODEL_NAMES) {
      it(`${name} (${preset})`, () => {
        const m = buildModels(name, LABELS, {}, preset);
        try {
          expect(m.generator.numParameters(), 'generator').toBe(REFERENCE[preset][name].G);
          expect(m.discriminator.numParameters(), 'discriminator').toBe(REFERENCE[preset][name].D);
        } finally {
          freeModule(m.generator, m.discriminator);
        }
      });
    }
  }

  it("proposed with skip 'none' or 'add' is pix2pixHD's generator, parameter for parameter", () => {
    const sizes = { ngf: 16, nDown: 3, nBlocks: 2, numLocalEnhancers: 1, nBlocksLocal: 1 };
    const hd = buildModels('pix2pixhd', LABELS, sizes);
    const shapes = (g: typeof hd.generator): string[] =>
      [...g.namedParameters()].map(([n, p]) => `${n}:${p.shape.join('x')}`);
    try {
      for (const skip of ['none', 'add'] as const) {
        const p = buildModels('proposed', LABELS, { ...sizes, skip });
        try {
          expect(shapes(p.generator), skip).toEqual(shapes(hd.generator));
        } finally {
          freeModule(p.generator, p.discriminator);
        }
      }
      const concat = buildModels('proposed', LABELS, { ...sizes, skip: 'concat' });
      expect(concat.generator.numParameters()).toBeGreaterThan(hd.generator.numParameters());
      freeModule(concat.generator, concat.discriminator);
    } finally {
      freeModule(hd.generator, hd.discriminator);
    }
  });

  it('other sizes: global generators, heads, two local enhancers, unet_128, SPADE most, VGG19', () => {
    const count = (
      make: () => {
        numParameters(): number;
        namedParameters(): Generator<[string, torch.Tensor]>;
        namedBuffers(): Generator<[string, torch.Tensor]>;
      },
    ): number => {
      const m = make();
      const n = m.numParameters();
      for (const [, t] of [...m.namedParameters(), ...m.namedBuffers()]) t.dispose();
      return n;
    };
    expect(count(() => new GlobalGenerator({ inputNc: LABELS, ngf: 64, nDown: 4, nBlocks: 9 }))).toBe(182_446_403);
    expect(count(() => new GlobalGenerator({ inputNc: LABELS, ngf: 16, nDown: 3, nBlocks: 2, skip: 'concat' }))).toBe(
      888_835,
    );
    expect(
      count(
        () =>
          new LocalEnhancerGenerator({
            inputNc: LABELS,
            ngf: 32,
            nDown: 2,
            nBlocks: 2,
            numLocalEnhancers: 2,
            nBlocksLocal: 1,
            skip: 'concat',
          }),
      ),
    ).toBe(920_979);
    expect(
      count(
        () =>
          new LocalEnhancerGenerator({
            inputNc: LABELS,
            ngf: 32,
            nDown: 2,
            nBlocks: 2,
            numLocalEnhancers: 2,
            nBlocksLocal: 1,
          }),
      ),
    ).toBe(821_883);
    expect(count(() => new UnetGenerator({ inputNc: LABELS, ngf: 64, numDowns: 7 }))).toBe(41_830_019);
    expect(count(() => new SPADEGenerator({ labelNc: LABELS, ngf: 64, upsampling: 'most', spectral: true }))).toBe(
      92_501_603,
    );
    expect(count(() => new Vgg19())).toBe(20_024_384);
  });

  it("a coarse-to-fine generator's global generator adds only its head (global width 16: 2,355 without skips, 4,707 with concat)", () => {
    for (const [name, head] of [
      ['pix2pixhd', 2_355],
      ['proposed', 4_707],
    ] as const) {
      const m = buildModels(name, LABELS, { ngf: 16, nDown: 3, nBlocks: 2, numLocalEnhancers: 1, nBlocksLocal: 1 });
      try {
        const g = m.generator as LocalEnhancerGenerator;
        const full = new Set(g.parameters());
        const extra = g.globalGenerator.parameters().filter((p) => !full.has(p));
        expect(
          extra.reduce((n, p) => n + p.numel, 0),
          name,
        ).toBe(head);
        expect(g.globalGenerator.numParameters(), name).toBe(
          g.globalParameters().reduce((n, p) => n + p.numel, 0) + head,
        );
      } finally {
        freeModule(m.generator, m.discriminator, (m.generator as LocalEnhancerGenerator).globalGenerator.head);
      }
    }
  });
});
