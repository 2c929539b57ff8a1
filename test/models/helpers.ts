// Shared helpers for the model tests.
import * as torch from '../../src/torch/index.js';
import * as nn from '../../src/nn/index.js';
import type { Tensor } from '../../src/torch/index.js';

export function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** A random one-hot label map [b, c, h, w] (float32). */
export function labelMap(b: number, c: number, h: number, w: number): Tensor {
  return torch.tidy(() =>
    torch.F.oneHot(torch.randint(0, c, [b, h, w]), c, 'float32')
      .permute(0, 3, 1, 2)
      .contiguous(),
  );
}

/** Frees a module's parameters and buffers now (large published-size models). */
export function freeModule(...modules: nn.Module<any, any>[]): void {
  for (const m of modules) for (const [, t] of [...m.namedParameters(), ...m.namedBuffers()]) t.dispose();
}

export function minMax(t: Tensor): [number, number] {
  return torch.tidy(() => [t.min().item(), t.max().item()]);
}

/** max |grad| of a parameter, or null when it has none. */
export function gradMax(p: Tensor): number | null {
  const g = p.grad;
  if (!g) return null;
  const v = torch.tidy(() => g.abs().max().item());
  g.dispose();
  return v;
}

/** Names of biases that a parameter-free instance norm follows: their gradient is zero in exact arithmetic. */
export function biasesBeforeInstanceNorm(g: nn.Module<any, any>): Set<string> {
  const names = new Set<string>();
  for (const [prefix, m] of g.namedModules()) {
    if (!(m instanceof nn.Sequential)) continue;
    m.layers.forEach((layer, i) => {
      if (
        (layer instanceof nn.Conv2d || layer instanceof nn.ConvTranspose2d) &&
        m.layers[i + 1] instanceof nn.InstanceNorm2d
      ) {
        names.add(`${prefix ? `${prefix}.` : ''}${i}.bias`);
      }
    });
  }
  return names;
}
