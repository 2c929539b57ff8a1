// The benchmark's networks: pix2pixHD's global generator and multi-scale PatchGAN, written with
// dermosynth's nn modules exactly as bench/engine_pytorch.py writes them with torch.nn.
import { F, type Tensor } from '../src/torch/index.js';
import * as nn from '../src/nn/index.js';

class ResnetBlock extends nn.Module {
  readonly block: nn.Sequential;
  constructor(dim: number) {
    super();
    this.block = this.registerModule(
      'block',
      new nn.Sequential(
        new nn.ReflectionPad2d(1),
        new nn.Conv2d(dim, dim, 3),
        new nn.InstanceNorm2d(dim),
        new nn.ReLU({ inplace: true }),
        new nn.ReflectionPad2d(1),
        new nn.Conv2d(dim, dim, 3),
        new nn.InstanceNorm2d(dim),
      ),
    );
  }
  forward(x: Tensor): Tensor {
    const y = this.block.call(x);
    const out = x.add(y);
    y.dispose();
    return out;
  }
}

export function globalGenerator(
  inputNc: number,
  outputNc: number,
  ngf: number,
  nDown: number,
  nBlocks: number,
  subpixel = true,
): nn.Sequential {
  const layers: nn.Module[] = [
    new nn.ReflectionPad2d(3),
    new nn.Conv2d(inputNc, ngf, 7),
    new nn.InstanceNorm2d(ngf),
    new nn.ReLU({ inplace: true }),
  ];
  for (let i = 0; i < nDown; i++) {
    const m = 2 ** i;
    layers.push(
      new nn.Conv2d(ngf * m, ngf * m * 2, 3, { stride: 2, padding: 1 }),
      new nn.InstanceNorm2d(ngf * m * 2),
      new nn.ReLU({ inplace: true }),
    );
  }
  const m = 2 ** nDown;
  for (let i = 0; i < nBlocks; i++) layers.push(new ResnetBlock(ngf * m));
  for (let i = 0; i < nDown; i++) {
    const k = 2 ** (nDown - i);
    layers.push(
      new nn.ConvTranspose2d(ngf * k, (ngf * k) / 2, 3, { stride: 2, padding: 1, outputPadding: 1, subpixel }),
      new nn.InstanceNorm2d((ngf * k) / 2),
      new nn.ReLU({ inplace: true }),
    );
  }
  layers.push(new nn.ReflectionPad2d(3), new nn.Conv2d(ngf, outputNc, 7), new nn.Tanh());
  return new nn.Sequential(...layers);
}

class NLayerDiscriminator extends nn.Module<[Tensor], Tensor[]> {
  readonly groups: nn.Sequential[] = [];
  constructor(inputNc: number, ndf: number, nLayers: number) {
    super();
    const specs: nn.Module[][] = [
      [new nn.Conv2d(inputNc, ndf, 4, { stride: 2, padding: 2 }), new nn.LeakyReLU(0.2, { inplace: true })],
    ];
    let nf = ndf;
    for (let n = 1; n < nLayers; n++) {
      const prev = nf;
      nf = Math.min(nf * 2, 512);
      specs.push([
        new nn.Conv2d(prev, nf, 4, { stride: 2, padding: 2 }),
        new nn.InstanceNorm2d(nf),
        new nn.LeakyReLU(0.2, { inplace: true }),
      ]);
    }
    const prev = nf;
    nf = Math.min(nf * 2, 512);
    specs.push([
      new nn.Conv2d(prev, nf, 4, { stride: 1, padding: 2 }),
      new nn.InstanceNorm2d(nf),
      new nn.LeakyReLU(0.2, { inplace: true }),
    ]);
    specs.push([new nn.Conv2d(nf, 1, 4, { stride: 1, padding: 2 })]);
    specs.forEach((s, i) => this.groups.push(this.registerModule(`model${i}`, new nn.Sequential(...s))));
  }
  forward(x: Tensor): Tensor[] {
    const feats: Tensor[] = [];
    let h = x;
    for (const g of this.groups) {
      h = g.call(h);
      feats.push(h);
    }
    return feats;
  }
}

export class MultiscaleDiscriminator extends nn.Module<[Tensor], Tensor[][]> {
  readonly ds: NLayerDiscriminator[] = [];
  constructor(inputNc: number, ndf: number, nLayers: number, numD: number) {
    super();
    for (let i = 0; i < numD; i++)
      this.ds.push(this.registerModule(`scale${i}`, new NLayerDiscriminator(inputNc, ndf, nLayers)));
  }
  forward(x: Tensor): Tensor[][] {
    const out: Tensor[][] = [];
    let h = x;
    this.ds.forEach((d, i) => {
      out.push(d.call(h));
      if (i !== this.ds.length - 1) {
        const next = F.avgPool2d(h, 3, { stride: 2, padding: 1, countIncludePad: false });
        if (h !== x) h.dispose();
        h = next;
      }
    });
    if (h !== x) h.dispose();
    return out;
  }
}
