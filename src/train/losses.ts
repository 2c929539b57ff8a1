// The training objectives of a pix2pixHD-style conditional GAN: adversarial losses (LSGAN, hinge,
// vanilla) over a multiscale discriminator, discriminator feature matching, the VGG perceptual
// loss and L1, and `GanLosses`, which combines them into the generator's and discriminator's
// totals with named parts for logging.
//
// A discriminator's output is `Tensor[][]`: per scale, the intermediate feature maps in order,
// the LAST of which is the patch prediction (logits, no sigmoid).
//
// Per mode, the arithmetic follows the code each objective comes from:
//
//   lsgan   (pix2pixHD GANLoss, use_lsgan):  per scale MSE(pred, 1 or 0), SUMMED over the scales;
//           D = (D_real + D_fake) * 0.5 (pix2pixHD train.py); G_GAN = sum_s MSE(fake_s, 1).
//   vanilla (pix2pixHD GANLoss, --no_lsgan): per scale BCE(sigmoid(pred), 1 or 0) computed stably
//           as BCE-with-logits, SUMMED over the scales; D = (D_real + D_fake) * 0.5 (as pix2pixHD,
//           and pix2pix's cGAN); G_GAN = sum_s BCE(fake_s, 1).
//   hinge   (SPADE GANLoss 'hinge'): per scale mean(relu(1 - real)) and mean(relu(1 + fake)),
//           AVERAGED over the scales (SPADE divides by len(input)); D = D_real + D_fake (no 0.5,
//           SPADE's trainer sums the D terms); G_GAN = -mean_s mean(fake_s).
//
// `scaleReduction` overrides the sum/mean choice where wanted; the defaults are the originals'.
//
// Feature matching is pix2pixHD's: sum over scales i and intermediate maps j (the prediction
// excluded) of L1(fake_ij, real_ij.detach()) * 4/(n_layers_D + 1) * 1/num_D * lambda, where a
// discriminator with n_layers_D strided layers returns n_layers_D + 2 maps, so 4/(n_layers_D + 1)
// is 4 / (the number of intermediate maps). SPADE's variant lacks the 4/(n_layers_D + 1) factor.
//
// Feature-statistics matching (an option, off by default; the method's 2020 precursor adds such a
// term): the same sum with the same coefficients of L1(std_hw(fake_ij), std_hw(real_ij).detach()),
// where std_hw is each channel's standard deviation over the map's pixels, per image. Matching
// means alone (as L1 of the maps nearly does) lets the generator's textures stay flatter or
// noisier than real skin; the spread of the features is what texture is made of.
import type { GanLoss } from '../models/types.js';
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';

const { F } = torch;

/** The adversarial objectives (the models' loss defaults name them). */
export type GanMode = GanLoss;
export const GAN_MODES: readonly GanMode[] = ['lsgan', 'hinge', 'vanilla'];

/** How the per-scale adversarial losses combine: pix2pixHD sums them, SPADE averages them. */
export type ScaleReduction = 'sum' | 'mean';

export interface AdversarialOptions {
  /** Default: 'sum' for lsgan and vanilla (pix2pixHD), 'mean' for hinge (SPADE). */
  scaleReduction?: ScaleReduction;
}

/** The originals' reduction over discriminator scales for each mode. */
export function defaultScaleReduction(mode: GanMode): ScaleReduction {
  return checkMode(mode) === 'hinge' ? 'mean' : 'sum';
}

/** The originals' factor on D_real + D_fake: 0.5 for pix2pixHD's lsgan and vanilla, 1 for SPADE's hinge. */
export function discriminatorFactor(mode: GanMode): number {
  return checkMode(mode) === 'hinge' ? 1 : 0.5;
}

function checkMode(mode: GanMode): GanMode {
  if (!GAN_MODES.includes(mode)) {
    throw new TypeError(`unknown GAN mode '${String(mode)}' (expected ${GAN_MODES.join(', ')})`);
  }
  return mode;
}

function checkWeight(weight: number, what: string): number {
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) {
    throw new RangeError(`${what} must be a finite number >= 0, got ${String(weight)}`);
  }
  return weight;
}

function checkScales(preds: Tensor[][], what: string, minMaps = 1): void {
  if (!Array.isArray(preds) || preds.length === 0) {
    throw new TypeError(
      `${what}: expected one list of feature maps per discriminator scale, got ${Array.isArray(preds) ? 'no scales' : typeof preds}`,
    );
  }
  preds.forEach((scale, i) => {
    if (!Array.isArray(scale) || scale.length < minMaps) {
      throw new TypeError(
        `${what}: scale ${i} must be a list of at least ${minMaps} feature map${minMaps > 1 ? 's' : ''} ` +
          `(the last is the prediction), got ${Array.isArray(scale) ? scale.length : typeof scale}`,
      );
    }
  });
}

function lastOf(scale: Tensor[]): Tensor {
  return scale[scale.length - 1]!;
}

/** A constant broadcast to `like`'s shape without allocating it (as SPADE's expand_as targets). */
function constantLike(like: Tensor, value: number): Tensor {
  return torch.full([], value, { dtype: like.dtype, device: like.device }).expand(...like.shape);
}

type Role = 'real' | 'fake' | 'generator';

/** One scale's adversarial term for a prediction map. */
function adversarialTerm(mode: GanMode, pred: Tensor, role: Role): Tensor {
  switch (mode) {
    case 'lsgan':
      return F.mseLoss(pred, constantLike(pred, role === 'fake' ? 0 : 1));
    case 'vanilla':
      return F.binaryCrossEntropyWithLogits(pred, constantLike(pred, role === 'fake' ? 0 : 1));
    case 'hinge':
      if (role === 'real') return pred.rsub(1).relu().mean();
      if (role === 'fake') return pred.add(1).relu().mean();
      return pred.mean().neg();
  }
}

/** The per-scale terms of one role, combined over the scales. Call inside a tidy. */
function adversarial(mode: GanMode, preds: Tensor[][], role: Role, reduction: ScaleReduction): Tensor {
  let acc = adversarialTerm(mode, lastOf(preds[0]!), role);
  for (let i = 1; i < preds.length; i++) acc = acc.add(adversarialTerm(mode, lastOf(preds[i]!), role));
  return reduction === 'mean' && preds.length > 1 ? acc.div(preds.length) : acc;
}

function reductionOf(mode: GanMode, o: AdversarialOptions): ScaleReduction {
  const r = o.scaleReduction ?? defaultScaleReduction(mode);
  if (r !== 'sum' && r !== 'mean') throw new TypeError(`scaleReduction must be 'sum' or 'mean', got '${String(r)}'`);
  return r;
}

/**
 * The discriminator's two terms, D_real and D_fake, each combined over the scales (unscaled: the
 * values pix2pixHD and SPADE log). Gradients flow to both predictions.
 */
export function discriminatorTerms(
  mode: GanMode,
  predReal: Tensor[][],
  predFake: Tensor[][],
  o: AdversarialOptions = {},
): { real: Tensor; fake: Tensor } {
  checkMode(mode);
  checkScales(predReal, 'discriminatorLoss: predReal');
  checkScales(predFake, 'discriminatorLoss: predFake');
  if (predReal.length !== predFake.length) {
    throw new TypeError(
      `discriminatorLoss: predReal has ${predReal.length} scales but predFake has ${predFake.length}`,
    );
  }
  const reduction = reductionOf(mode, o);
  return torch.tidy(() => ({
    real: adversarial(mode, predReal, 'real', reduction),
    fake: adversarial(mode, predFake, 'fake', reduction),
  }));
}

/**
 * The discriminator's loss: (D_real + D_fake) * 0.5 for lsgan and vanilla (pix2pixHD), D_real +
 * D_fake for hinge (SPADE); see the top of this file for each term. Pass predictions of the
 * detached fake image, so that the generator gets no gradient from this loss.
 */
export function discriminatorLoss(
  mode: GanMode,
  predReal: Tensor[][],
  predFake: Tensor[][],
  o: AdversarialOptions = {},
): Tensor {
  return torch.tidy(() => {
    const { real, fake } = discriminatorTerms(mode, predReal, predFake, o);
    const sum = real.add(fake);
    const factor = discriminatorFactor(mode);
    return factor === 1 ? sum : sum.mul(factor);
  });
}

/**
 * The generator's adversarial loss on the discriminator's predictions of the fake image:
 * lsgan MSE to 1, vanilla BCE-with-logits to 1 (each summed over scales, as pix2pixHD), hinge
 * -mean(fake) (averaged over scales, as SPADE).
 */
export function generatorAdversarialLoss(mode: GanMode, predFake: Tensor[][], o: AdversarialOptions = {}): Tensor {
  checkMode(mode);
  checkScales(predFake, 'generatorAdversarialLoss: predFake');
  const reduction = reductionOf(mode, o);
  return torch.tidy(() => adversarial(mode, predFake, 'generator', reduction));
}

/**
 * pix2pixHD's discriminator feature-matching loss: for each scale i and each intermediate map j
 * (every map but the last, the prediction), L1(fake_ij, real_ij.detach()) * 4/(n_layers_D + 1)
 * * 1/num_D * weight, summed; 4/(n_layers_D + 1) = 4 / (maps per scale - 1). The real features
 * get no gradient.
 */
export function featureMatchingLoss(featsFake: Tensor[][], featsReal: Tensor[][], weight = 10): Tensor {
  return matchedFeatures('featureMatchingLoss', featsFake, featsReal, weight, (fake, real) =>
    F.l1Loss(fake, real.detach()),
  );
}

/**
 * Feature-statistics matching: as featureMatchingLoss (same maps, same coefficients), on each
 * channel's standard deviation over the pixels of each map, per image (sqrt(var + 1e-8), so the
 * gradient stays finite on a flat map). The real features get no gradient.
 */
export function featureStdLoss(featsFake: Tensor[][], featsReal: Tensor[][], weight = 10): Tensor {
  const spread = (t: Tensor) => t.var([2, 3], { correction: 0 }).add(1e-8).sqrt();
  return matchedFeatures('featureStdLoss', featsFake, featsReal, weight, (fake, real) =>
    F.l1Loss(spread(fake), spread(real.detach())),
  );
}

/** Sum over scales i and intermediate maps j of term(fake_ij, real_ij) * 1/num_D * 4/maps * weight, the shapes checked. */
function matchedFeatures(
  what: string,
  featsFake: Tensor[][],
  featsReal: Tensor[][],
  weight: number,
  term: (fake: Tensor, real: Tensor) => Tensor,
): Tensor {
  checkWeight(weight, `${what}: weight`);
  checkScales(featsFake, `${what}: featsFake`, 2);
  checkScales(featsReal, `${what}: featsReal`, 2);
  const numD = featsFake.length;
  if (featsReal.length !== numD) {
    throw new TypeError(`${what}: featsFake has ${numD} scales but featsReal has ${featsReal.length}`);
  }
  featsFake.forEach((scale, i) => {
    const real = featsReal[i]!;
    if (real.length !== scale.length) {
      throw new TypeError(`${what}: scale ${i} has ${scale.length} fake maps but ${real.length} real ones`);
    }
    scale.forEach((f, j) => {
      const a = f.shape;
      const b = real[j]!.shape;
      if (a.length !== b.length || a.some((s, k) => s !== b[k])) {
        throw new TypeError(`${what}: scale ${i} map ${j}: fake is [${a.join(', ')}] but real is [${b.join(', ')}]`);
      }
    });
  });
  return torch.tidy(() => {
    let acc: Tensor | null = null;
    for (let i = 0; i < numD; i++) {
      const fake = featsFake[i]!;
      const real = featsReal[i]!;
      const intermediate = fake.length - 1;
      const coefficient = (1 / numD) * (4 / intermediate) * weight;
      for (let j = 0; j < intermediate; j++) {
        const t = term(fake[j]!, real[j]!).mul(coefficient);
        acc = acc ? acc.add(t) : t;
      }
    }
    return acc!;
  });
}

/** A network that maps an image batch to a list of feature maps (VGG19's relu1_1..relu5_1). */
export interface FeatureExtractor {
  call(x: Tensor): Tensor[];
}

/** pix2pixHD's VGG layer weights, for relu1_1, relu2_1, relu3_1, relu4_1, relu5_1. */
export const VGG_LAYER_WEIGHTS: readonly number[] = Object.freeze([1 / 32, 1 / 16, 1 / 8, 1 / 4, 1]);

export interface VggPerceptualLossOptions {
  /** The overall factor (pix2pixHD multiplies its VGGLoss by lambda_feat = 10). Default 10. */
  weight?: number;
  /** One weight per feature map; default pix2pixHD's [1/32, 1/16, 1/8, 1/4, 1]. */
  layerWeights?: readonly number[];
}

/**
 * pix2pixHD's VGG perceptual loss: weight * sum_k layerWeights[k] * L1(vgg(fake)_k,
 * vgg(real)_k.detach()). The real image's features are computed without autograd (the same
 * values as detaching them, without recording a graph). The extractor sees the images as given
 * (pix2pixHD feeds [-1, 1] images to VGG19 unnormalised); it should have frozen parameters.
 */
export class VggPerceptualLoss {
  readonly extractor: FeatureExtractor;
  readonly weight: number;
  readonly layerWeights: readonly number[];

  constructor(extractor: FeatureExtractor, o: VggPerceptualLossOptions = {}) {
    if (!extractor || typeof extractor.call !== 'function') {
      throw new TypeError(
        'VggPerceptualLoss: expected a feature extractor with a call(x) method returning feature maps',
      );
    }
    this.extractor = extractor;
    this.weight = checkWeight(o.weight ?? 10, 'VggPerceptualLoss: weight');
    const lw = o.layerWeights ?? VGG_LAYER_WEIGHTS;
    if (!Array.isArray(lw) || lw.length === 0)
      throw new TypeError('VggPerceptualLoss: layerWeights must be a non-empty array');
    lw.forEach((w, k) => checkWeight(w, `VggPerceptualLoss: layerWeights[${k}]`));
    this.layerWeights = Object.freeze([...lw]);
  }

  /** The loss between a generated batch and the real one (same shape); gradients flow to `fake`. */
  call(fake: Tensor, real: Tensor): Tensor {
    const a = fake.shape;
    const b = real.shape;
    if (a.length !== b.length || a.some((s, k) => s !== b[k])) {
      throw new TypeError(`VggPerceptualLoss: fake is [${a.join(', ')}] but real is [${b.join(', ')}]`);
    }
    return torch.tidy(() => {
      const fakeFeats = this.extractor.call(fake);
      const realFeats = torch.noGrad(() => this.extractor.call(real));
      const n = this.layerWeights.length;
      if (fakeFeats.length !== n || realFeats.length !== n) {
        throw new TypeError(
          `VggPerceptualLoss: the extractor returned ${fakeFeats.length} feature maps; expected ${n} (one per layer weight)`,
        );
      }
      let acc: Tensor | null = null;
      for (let k = 0; k < n; k++) {
        const term = F.l1Loss(fakeFeats[k]!, realFeats[k]!.detach()).mul(this.layerWeights[k]!);
        acc = acc ? acc.add(term) : term;
      }
      return acc!.mul(this.weight);
    });
  }
}

/** Mean absolute error between the generated and real images, times `weight`; `real` gets no gradient. */
export function l1Loss(fake: Tensor, real: Tensor, weight = 1): Tensor {
  checkWeight(weight, 'l1Loss: weight');
  const a = fake.shape;
  const b = real.shape;
  if (a.length !== b.length || a.some((s, k) => s !== b[k])) {
    throw new TypeError(`l1Loss: fake is [${a.join(', ')}] but real is [${b.join(', ')}]`);
  }
  return torch.tidy(() => F.l1Loss(fake, real.detach()).mul(weight));
}

// ---- the combined objectives ------------------------------------------------------------------

export interface GanLossConfig {
  gan: GanMode;
  /** Feature-matching weight (pix2pixHD's lambda_feat, 10); 0 disables it. */
  featureMatching: number;
  /** VGG perceptual weight (pix2pixHD uses lambda_feat, 10); 0 disables it. */
  vgg: number;
  /** L1 reconstruction weight; 0 disables it. */
  l1: number;
  /** Feature-statistics (standard deviation) matching weight; 0 or absent disables it. */
  featureStd?: number;
  /** Overrides the mode's reduction over discriminator scales (see the top of this file). */
  scaleReduction?: ScaleReduction;
}

export interface GeneratorLossInputs {
  /** D's outputs for the generated image (with the graph to the generator). */
  predFake: Tensor[][];
  /** D's outputs for the real image; needed when featureMatching > 0 (detached inside). */
  predReal?: Tensor[][];
  /** The generated image; needed when vgg or l1 > 0. */
  fake?: Tensor;
  /** The real image; needed when vgg or l1 > 0. */
  real?: Tensor;
}

export interface DiscriminatorLossInputs {
  /** D's outputs for the real image. */
  predReal: Tensor[][];
  /** D's outputs for the detached generated image. */
  predFake: Tensor[][];
}

export interface LossResult {
  /** The scalar to back-propagate. */
  total: Tensor;
  /** Each weighted part as a number (one device-to-host copy for all of them), for logging. */
  parts: Record<string, number>;
}

export interface PartsOption {
  /** Read the parts back as numbers (one synchronisation); false leaves `parts` empty. Default true. */
  parts?: boolean;
}

/** Reads several scalar tensors back at once (one device synchronisation). */
function readScalars(named: [string, Tensor][]): Record<string, number> {
  if (named.length === 0) return {};
  // Stacked on the device, then copied once.
  const values = torch.tidy(() =>
    torch.noGrad(() =>
      torch
        .stack(named.map(([, t]) => t.detach().reshape(1)))
        .cpu()
        .toArray(),
    ),
  );
  return Object.fromEntries(named.map(([name], i) => [name, values[i]!]));
}

/**
 * The generator's and discriminator's objectives of pix2pixHD, from a config of weights:
 *
 *   G = G_GAN + G_GAN_Feat + G_VGG + G_L1  (G_GAN unweighted, as pix2pixHD; others times their weight)
 *   D = (D_real + D_fake) * 0.5 for lsgan and vanilla, D_real + D_fake for hinge
 *
 * Parts are named as pix2pixHD logs them: G_GAN, G_GAN_Feat, G_VGG, G_L1 (a disabled part is 0,
 * so that log columns stay fixed), D_real, D_fake (unhalved).
 */
export class GanLosses {
  readonly config: Readonly<GanLossConfig>;
  readonly vgg: VggPerceptualLoss | null;

  constructor(config: GanLossConfig, vggExtractor?: FeatureExtractor | VggPerceptualLoss | null) {
    checkMode(config.gan);
    checkWeight(config.featureMatching, 'GanLosses: featureMatching weight');
    checkWeight(config.vgg, 'GanLosses: vgg weight');
    checkWeight(config.l1, 'GanLosses: l1 weight');
    checkWeight(config.featureStd ?? 0, 'GanLosses: featureStd weight');
    if (config.scaleReduction !== undefined) reductionOf(config.gan, config);
    this.config = Object.freeze({ ...config });
    if (config.vgg > 0) {
      if (!vggExtractor) {
        throw new TypeError(
          `GanLosses: the VGG loss weight is ${config.vgg} but no VGG19 feature extractor was given ` +
            '(load VGG19 weights, or set the vgg weight to 0)',
        );
      }
      this.vgg =
        vggExtractor instanceof VggPerceptualLoss
          ? new VggPerceptualLoss(vggExtractor.extractor, {
              weight: config.vgg,
              layerWeights: vggExtractor.layerWeights,
            })
          : new VggPerceptualLoss(vggExtractor, { weight: config.vgg });
    } else {
      this.vgg = null;
    }
  }

  private adversarialOptions(): AdversarialOptions {
    return this.config.scaleReduction ? { scaleReduction: this.config.scaleReduction } : {};
  }

  /** The generator's total loss and its parts. */
  generatorLoss(inputs: GeneratorLossInputs, o: PartsOption = {}): LossResult {
    const { gan, featureMatching, vgg, l1 } = this.config;
    const featureStd = this.config.featureStd ?? 0;
    const { predFake, predReal, fake, real } = inputs;
    if ((featureMatching > 0 || featureStd > 0) && !predReal) {
      throw new TypeError(
        'GanLosses.generatorLoss: feature matching needs predReal (the discriminator outputs for the real image)',
      );
    }
    if ((vgg > 0 || l1 > 0) && (!fake || !real)) {
      throw new TypeError('GanLosses.generatorLoss: the VGG and L1 losses need the fake and real images');
    }
    return torch.tidy(() => {
      const named: [string, Tensor][] = [['G_GAN', generatorAdversarialLoss(gan, predFake, this.adversarialOptions())]];
      if (featureMatching > 0) named.push(['G_GAN_Feat', featureMatchingLoss(predFake, predReal!, featureMatching)]);
      if (featureStd > 0) named.push(['G_GAN_FeatStd', featureStdLoss(predFake, predReal!, featureStd)]);
      if (this.vgg) named.push(['G_VGG', this.vgg.call(fake!, real!)]);
      if (l1 > 0) named.push(['G_L1', l1Loss(fake!, real!, l1)]);
      let total = named[0]![1];
      for (let k = 1; k < named.length; k++) total = total.add(named[k]![1]);
      const parts: Record<string, number> = {};
      if (o.parts ?? true) {
        const read = readScalars(named);
        for (const name of ['G_GAN', 'G_GAN_Feat', 'G_VGG', 'G_L1']) parts[name] = read[name] ?? 0;
        if (featureStd > 0) parts.G_GAN_FeatStd = read.G_GAN_FeatStd!;
      }
      return { total, parts };
    });
  }

  /** The discriminator's total loss and its parts D_real and D_fake. */
  discriminatorLoss(inputs: DiscriminatorLossInputs, o: PartsOption = {}): LossResult {
    const { gan } = this.config;
    return torch.tidy(() => {
      const { real, fake } = discriminatorTerms(gan, inputs.predReal, inputs.predFake, this.adversarialOptions());
      const sum = real.add(fake);
      const factor = discriminatorFactor(gan);
      const total = factor === 1 ? sum : sum.mul(factor);
      const parts =
        (o.parts ?? true)
          ? readScalars([
              ['D_real', real],
              ['D_fake', fake],
            ])
          : {};
      return { total, parts };
    });
  }
}
