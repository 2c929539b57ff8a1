// Spectral normalisation (Miyato et al. 2018), as `torch.nn.utils.spectral_norm`: the weight is
// stored as `weight_orig` with power-iteration vectors `weight_u` and `weight_v` (PyTorch's names),
// and each call uses weight_orig / sigma, sigma estimated by power iteration in training mode.
import { F, noGrad, randn, tidy, type Tensor } from '../torch/index.js';
import type { Module, Parametrization } from './module.js';
import { ConvTranspose2d } from './layers/conv.js';

export interface SpectralNormOptions {
  name?: string;
  nPowerIterations?: number;
  eps?: number;
  /** The output dimension of the weight: 1 for transposed convolutions, 0 otherwise. */
  dim?: number;
}

class SpectralNorm implements Parametrization {
  constructor(
    readonly name: string,
    readonly nPowerIterations: number,
    readonly eps: number,
    readonly dim: number,
  ) {}

  /** The weight as a matrix with the output dimension first (inside a scope: it makes a view). */
  matrix(w: Tensor): Tensor {
    const perm = [this.dim, ...w.shape.map((_, i) => i).filter((i) => i !== this.dim)];
    const moved = this.dim === 0 ? w : w.permute(...perm);
    return moved.reshape(moved.shape[0]!, -1);
  }

  compute(module: Module<any, any>): Tensor {
    const weight = module.param(`${this.name}_orig`);
    const u = module.buffer(`${this.name}_u`)!;
    const v = module.buffer(`${this.name}_v`)!;
    return tidy(() => {
      const w = this.matrix(weight);
      if (module.training) {
        noGrad(() => {
          for (let i = 0; i < this.nPowerIterations; i++) {
            v.copy_(F.normalize(F.mv(w.t(), u), 0, 2, this.eps));
            u.copy_(F.normalize(F.mv(w, v), 0, 2, this.eps));
          }
        });
      }
      // Clones keep autograd from seeing the next in-place update of u and v.
      const uu = u.clone('contiguous');
      const vv = v.clone('contiguous');
      const sigma = F.dot(uu, F.mv(w, vv));
      return weight.div(sigma);
    });
  }
}

/** Applies spectral normalisation to a module's weight (in place) and returns the module. */
export function spectralNorm<M extends Module<any, any>>(module: M, o: SpectralNormOptions = {}): M {
  const name = o.name ?? 'weight';
  const weight = module.removeParameter(name);
  if (!weight) throw new Error(`spectralNorm: ${module.constructor.name} has no parameter '${name}'`);
  const sn = new SpectralNorm(
    name,
    o.nPowerIterations ?? 1,
    o.eps ?? 1e-12,
    o.dim ?? (module instanceof ConvTranspose2d ? 1 : 0),
  );
  const [u, v] = noGrad(() =>
    tidy(() => {
      const w = sn.matrix(weight);
      return [F.normalize(randn([w.shape[0]!]), 0, 2, sn.eps), F.normalize(randn([w.shape[1]!]), 0, 2, sn.eps)];
    }),
  );
  module.registerParameter(`${name}_orig`, weight);
  module.registerBuffer(`${name}_u`, u!);
  module.registerBuffer(`${name}_v`, v!);
  module.registerParametrization(name, sn);
  return module;
}
