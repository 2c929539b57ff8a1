// The ONNX form of the generators' own modules (src/models): each emitter follows its module's
// forward step by step (skip connections, the local enhancers' input pyramid, the U-Net's nested
// blocks, SPADE's label map at every resolution), emitting the layers through the walker.
import { GlobalGenerator, GlobalTrunk } from '../models/global_generator.js';
import { LocalEnhancer, LocalEnhancerGenerator } from '../models/local_enhancer.js';
import { ResnetBlock } from '../models/blocks.js';
import { UnetGenerator, UnetSkipBlock } from '../models/unet_generator.js';
import { SPADE, SPADEResnetBlock } from '../models/spade.js';
import { SPADEGenerator } from '../models/spade_generator.js';
import type { SkipMode } from '../models/types.js';
import type { Module } from '../nn/index.js';
import { emitter, join, type EmitterEntry, type ModuleWalker } from './onnx_emit.js';
import { float } from './onnx_graph.js';
import { resize } from './onnx_layers.js';

/** combine(decoder, encoder) of blocks.ts combineSkip: cat along channels (decoder first), sum, or the decoder alone. */
function combine(w: ModuleWalker, skip: SkipMode, decoder: string, encoder: string | null, name: string): string {
  if (skip === 'none' || encoder === null) return decoder;
  return skip === 'concat'
    ? w.g.node('Concat', [decoder, encoder], { axis: 1 }, { name })
    : w.g.node('Add', [decoder, encoder], {}, { name });
}

/**
 * GlobalGenerator.features: the decoder's last features and, when kept, the full-resolution
 * encoder features e0. `owner` is the module the layers are registered in (the generator, or a
 * trunk that registers the same layers), which names them.
 */
function globalFeatures(
  w: ModuleWalker,
  g: GlobalGenerator,
  owner: Module<any, any>,
  path: string,
  x: string,
  withShallow: boolean,
): { decoded: string; shallow: string | null } {
  const kept = (s: number): boolean => g.skip !== 'none' && (s > 0 || withShallow);
  const enc: (string | null)[] = [];
  let h = w.emitMember(owner, path, g.front, x);
  g.downs.forEach((down) => {
    enc.push(kept(enc.length) ? h : null);
    h = w.emitMember(owner, path, down, h);
  });
  enc.push(kept(enc.length) ? h : null);
  let d = w.emitMember(owner, path, g.blocks, h);
  g.ups.forEach((up, i) => {
    const input = combine(w, g.skip, d, enc[g.nDown - i] ?? null, join(path, `skip${i}`));
    d = w.emitMember(owner, path, up, input);
  });
  return { decoded: d, shallow: enc[0] ?? null };
}

function globalGenerator(w: ModuleWalker, g: GlobalGenerator, path: string, [x]: string[]): string {
  const f = globalFeatures(w, g, g, path, x!, true);
  return w.emitMember(g, path, g.head, combine(w, g.skip, f.decoded, f.shallow, join(path, 'skip_head')));
}

/** The global generator without its head (its layers registered in the trunk under the same names). */
function globalTrunk(w: ModuleWalker, t: GlobalTrunk, path: string, [x]: string[]): string {
  return globalFeatures(w, t.generator, t, path, x!, false).decoded;
}

function localEnhancer(w: ModuleWalker, e: LocalEnhancer, path: string, [label, coarser]: string[]): string {
  const skipping = e.skip !== 'none';
  const f0 = w.emitMember(e, path, e.front, label!);
  const f1 = w.emitMember(e, path, e.down, f0);
  const summed = w.g.node('Add', [f1, coarser!], {}, { name: join(path, 'add_coarser') });
  const r = w.emitMember(e, path, e.blocks, summed);
  const upInput = skipping ? combine(w, e.skip, r, f1, join(path, 'skip_up')) : r;
  const d = w.emitMember(e, path, e.up, upInput);
  if (!e.head) return d;
  return w.emitMember(e, path, e.head, skipping ? combine(w, e.skip, d, f0, join(path, 'skip_head')) : d);
}

function localEnhancerGenerator(w: ModuleWalker, g: LocalEnhancerGenerator, path: string, [x]: string[]): string {
  // The input pyramid: average pooling 3x3, stride 2, padding 1, padding not counted (pix2pixHD).
  const pyramid = [x!];
  for (let i = 0; i < g.numLocalEnhancers; i++) {
    pyramid.push(
      w.g.node(
        'AveragePool',
        [pyramid[i]!],
        { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad: 0 },
        { name: join(path, `pyramid${i + 1}`) },
      ),
    );
  }
  let h = w.emitMember(g, path, g.trunk, pyramid[g.numLocalEnhancers]!);
  g.enhancers.forEach((enhancer, i) => {
    h = w.emitMember(g, path, enhancer, pyramid[g.numLocalEnhancers - 1 - i]!, h);
  });
  return h;
}

function resnetBlock(w: ModuleWalker, b: ResnetBlock, path: string, [x]: string[]): string {
  const y = w.emitMember(b, path, b.convBlock, x!);
  return w.g.node('Add', [x!, y], {}, { name: join(path, 'residual') });
}

function unetBlock(w: ModuleWalker, b: UnetSkipBlock, path: string, [x]: string[]): string {
  // The original activates the block's input in place; the skip carries the activated features.
  const a =
    b.position === 'outermost' ? x! : w.g.node('LeakyRelu', [x!], { alpha: float(0.2) }, { name: join(path, 'lrelu') });
  const h = w.emitMember(b, path, b.down, a);
  const inner = b.submodule ? w.emitMember(b, path, b.submodule, h) : h;
  const u = w.emitMember(b, path, b.up, inner);
  return b.position === 'outermost' ? u : w.g.node('Concat', [a, u], { axis: 1 }, { name: join(path, 'skip') });
}

/** SPADE(x, seg) = norm(x) * (1 + gamma(seg)) + beta(seg); `seg` is the label map already at x's resolution. */
function spade(w: ModuleWalker, s: SPADE, path: string, [x, seg]: string[]): string {
  const normalized = w.emitMember(s, path, s.paramFreeNorm, x!);
  const actv = w.emitMember(s, path, s.mlpShared, seg!);
  const gamma = w.emitMember(s, path, s.mlpGamma, actv);
  const beta = w.emitMember(s, path, s.mlpBeta, actv);
  const scale = w.g.node('Add', [gamma, w.g.floatConstant([1], [])], {}, { name: join(path, 'one_plus_gamma') });
  const scaled = w.g.node('Mul', [normalized, scale], {}, { name: join(path, 'scale') });
  return w.g.node('Add', [scaled, beta], {}, { name: join(path, 'shift') });
}

function spadeBlock(w: ModuleWalker, b: SPADEResnetBlock, path: string, [x, seg]: string[]): string {
  let shortcut = x!;
  if (b.convS && b.normS) shortcut = w.emitMember(b, path, b.convS, w.emitMember(b, path, b.normS, x!, seg!));
  const lrelu = (v: string, name: string): string =>
    w.g.node('LeakyRelu', [v], { alpha: float(0.2) }, { name: join(path, name) });
  const d0 = w.emitMember(b, path, b.conv0, lrelu(w.emitMember(b, path, b.norm0, x!, seg!), 'lrelu_0'));
  const d1 = w.emitMember(b, path, b.conv1, lrelu(w.emitMember(b, path, b.norm1, d0, seg!), 'lrelu_1'));
  return w.g.node('Add', [shortcut, d1], {}, { name: join(path, 'residual') });
}

function spadeGenerator(w: ModuleWalker, g: SPADEGenerator, path: string, [seg]: string[]): string {
  // Features at level l have the input's size / 2^l; the label map at each level is made once
  // (nearest: the source pixel of output pixel i is i * 2^l, as torch's interpolate to that size).
  let level = g.numUpsamplings;
  const segAt = new Map<number, string>([[0, seg!]]);
  const segmap = (l: number): string => {
    let s = segAt.get(l);
    if (!s) segAt.set(l, (s = resize(w, join(path, `segmap_${l}`), seg!, 2 ** -l, 2 ** -l, 'nearest')));
    return s;
  };
  let x = w.emitMember(g, path, g.fc, segmap(level));
  const run = (name: string): void => {
    x = w.emitChild(g, path, name, x, segmap(level));
  };
  const up = (): void => {
    level--;
    x = resize(w, join(path, `up_to_${level}`), x, 2, 2, 'nearest');
  };
  run('head_0');
  up();
  run('G_middle_0');
  if (g.upsampling !== 'normal') up();
  run('G_middle_1');
  for (const name of ['up_0', 'up_1', 'up_2', 'up_3']) {
    up();
    run(name);
  }
  if (g.upsampling === 'most') {
    up();
    run('up_4');
  }
  if (level !== 0)
    throw new Error(`ONNX export: SPADEGenerator ended at level ${level}, not at the input's resolution`);
  x = w.g.node('LeakyRelu', [x], { alpha: float(0.2) }, { name: join(path, 'lrelu') });
  x = w.emitMember(g, path, g.convImg, x);
  return w.g.node('Tanh', [x], {}, { name: join(path, 'tanh') });
}

export const GENERATOR_EMITTERS: readonly EmitterEntry[] = [
  emitter(GlobalGenerator, globalGenerator),
  emitter(GlobalTrunk, globalTrunk),
  emitter(LocalEnhancerGenerator, localEnhancerGenerator),
  emitter(LocalEnhancer, localEnhancer),
  emitter(ResnetBlock, resnetBlock),
  emitter(UnetGenerator, (w, g, path, [x]) => w.emitMember(g, path, g.model, x!)),
  emitter(UnetSkipBlock, unetBlock),
  emitter(SPADEGenerator, spadeGenerator),
  emitter(SPADEResnetBlock, spadeBlock),
  emitter(SPADE, spade),
];
