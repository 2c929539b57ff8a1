// `dermosynth evaluate`: a trained run's generator against the real images of a split, in one
// pass over the split's label maps:
//   paired        SSIM, MS-SSIM, PSNR, L1 and (with its weights) LPIPS of each generated image
//                 against the real image of the same label map
//   distribution  FID, KID and IS on the FID Inception's features (with --inception-weights), else
//                 domain-FID and domain-KID on the features of a classifier trained on the real
//                 training split (never mixed with FID: other names, other numbers)
//   semantic      Dice and IoU of a lesion segmenter trained on the real training split, on the
//                 generated images against the masks they were generated from, and on the real
//                 images (the ceiling)
//   artifacts     checkerboard energy (checkerboard.ts): the share of each image's variation that
//                 is a 2x2-periodic pattern, on the generated and on the real images
//   class         AUC (melanoma vs rest, SK vs rest) of the real-trained classifier on the
//                 generated images labelled with the diagnosis they were conditioned on, and on
//                 the real images (the ceiling)
// The result is RUN/metrics.json; report.ts turns it into HTML and Markdown.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import * as torch from '../torch/index.js';
import { F, type Device, type Precision, type Tensor } from '../torch/index.js';
import { LesionCache, MANIFEST_FILE } from '../data/cache.js';
import { isSyntheticId, type Split } from '../data/dataset.js';
import { classAbbreviation } from '../data/diagnosis.js';
import { lesionTargets } from '../data/label_map.js';
import { LesionSet } from '../data/lesion_set.js';
import { prepareCache, type PrepareProgress } from '../data/prepare.js';
import { DataError, noMasksMessage } from '../data/problems.js';
import { readDataset } from '../data/readers/index.js';
import { loadInceptionV3, type InceptionV3 } from '../models/inception_v3.js';
import { loadLpips, type Lpips } from '../models/lpips.js';
import type { ImageClassifier } from '../models/classifiers/index.js';
import type { Segmenter } from '../models/segmenter.js';
import { writeSampleGrid } from '../data/sample_grid.js';
import { RunGenerator, type GeneratorProvenance } from '../synth/run_generator.js';
import { writeFileAtomic } from '../util/atomic_file.js';
import { rocAuc, rocCurve } from './auc.js';
import { checkerboardEnergy } from './checkerboard.js';
import { plotRocCurves } from './plot.js';
import {
  cacheContentKey,
  domainClassifier,
  lesionSegmenter,
  sha256,
  type AuxNetwork,
  type AuxProgress,
} from './aux_networks.js';
import { fid } from './fid.js';
import { inceptionScore } from './inception_score.js';
import { kid } from './kid.js';
import { msSsim } from './ms_ssim.js';
import { psnr } from './psnr.js';
import { segmentationScores } from './segmentation.js';
import { l1Distance, ssim, toUnitRange } from './ssim.js';

export const METRICS_FILE = 'metrics.json';
export const METRICS_VERSION = 1;

export interface EvaluateOptions {
  /** A training run folder, or a packaged model folder (models/NAME). */
  run: string;
  /** One of the run's checkpoints (or a generator safetensors) instead of its final weights. */
  weights?: string | null;
  /** Where metrics.json, the grids, charts and eval/ go; absent or null: the run folder. */
  out?: string | null;
  /** A dataset folder or a prepared cache; null: the run's own training cache. */
  data: string | null;
  split: Split;
  /** pytorch-fid's Inception weights as safetensors: FID/KID/IS; without them domain-FID/KID. */
  inceptionWeights: string | null;
  /** LPIPS: the backbone's and the linear layers' safetensors files, and which backbone. */
  lpips: { backbone: 'alex' | 'vgg'; files: { backbone: string; linear: string } } | null;
  device: Device;
  /** The generator's forward: fp32 (default), or autocast to bf16 (fp16 needs CUDA). The metric networks run in float32. */
  precision?: Precision;
  batch: number;
  /** Evaluate at most this many lesions of the split (the first ones); null: all. */
  maxImages: number | null;
  /** Epochs of the auxiliary classifier and segmenter (trained once per dataset and settings). */
  auxEpochs: number;
  /** Where those networks are kept; null: RUN/eval/networks. */
  auxDir: string | null;
  seed: number;
  /** Label | real | generated examples per diagnosis in the report's grids. */
  gridExamples: number;
}

export interface EvaluateHooks {
  onNotice?: (m: string) => void;
  onPrepare?: (p: PrepareProgress) => void;
  onAux?: (p: AuxProgress) => void;
  onProgress?: (done: number, total: number) => void;
}

export interface MeanStd {
  mean: number;
  std: number;
}

export interface Metrics extends GeneratorProvenance {
  format: 'dermosynth-metrics';
  version: number;
  created: string;
  /** The cache evaluated on, and a hash of its content (equal for the same data and label-map options). */
  data: { cache: string; contentKey: string; split: Split; lesions: number; perClass: Record<string, number> };
  /** Each metric, null when it could not be computed (no weights given, too few images...). */
  metrics: {
    ssim: MeanStd;
    msSsim: MeanStd & { scales: number };
    /** Mean over finite values; `identical` counts infinite ones (identical pairs). */
    psnr: MeanStd & { identical: number };
    l1: MeanStd;
    lpips: MeanStd | null;
    fid: number | null;
    kid: MeanStd | null;
    is: MeanStd | null;
    domainFid: number | null;
    domainKid: MeanStd | null;
    dice: { generated: number; real: number } | null;
    iou: { generated: number; real: number } | null;
    /** Checkerboard energy (a fraction of each image's variance) of generated and real images; absent in older metrics. */
    checkerboard?: { generated: MeanStd; real: MeanStd };
    /** Per one-vs-rest question (e.g. melanoma): the AUC on generated and on real images. */
    classAuc: Record<string, { generated: number | null; real: number | null }> | null;
  };
  networks: Record<string, { description: string; file: string; sha256: string }>;
  /** Files written next to metrics.json, relative to the run (PNG; the charts also as SVG). */
  files: {
    grids: Record<string, string>;
    roc: Record<string, string>;
    /**
     * The --grid-examples lesions whose generated image has the lowest SSIM to its real one
     * (label | real | generated, lowest first): where to look for failure cases. Absent in older metrics.
     */
    lowestSsim?: { grid: string; lesions: { id: string; diagnosis: string; ssim: number }[] };
  };
  notes: string[];
}

/** Opens the cache to evaluate on: the run's own, a given cache, or a dataset prepared into RUN/eval/cache. */
async function evaluationCache(
  gen: RunGenerator,
  data: string | null,
  outDir: string,
  onPrepare?: (p: PrepareProgress) => void,
): Promise<LesionCache> {
  const o = gen.config.options;
  let cache: LesionCache;
  if (data === null) {
    const dir = gen.config.data.cache;
    if (!existsSync(path.join(dir, MANIFEST_FILE)))
      throw new DataError(
        `${gen.dir}: the run's training cache ${dir} is gone; pass --data DIR (a dataset folder or a prepared cache)`,
      );
    cache = await LesionCache.open(dir);
  } else if (existsSync(path.join(data, MANIFEST_FILE))) {
    cache = await LesionCache.open(data);
  } else {
    const index = await readDataset(data);
    if (index.masks === false) throw new DataError(noMasksMessage(data));
    const dir = path.join(outDir, 'eval', 'cache');
    await prepareCache(index, dir, {
      width: o.width,
      height: o.height,
      fit: o.fit,
      labelMap: { boundary: o.boundary, frame: o.frame },
      skipBad: false,
      onProgress: onPrepare,
    });
    cache = await LesionCache.open(dir);
  }
  const spec = cache.spec;
  if (!cache.hasMasks) {
    cache.close();
    throw new DataError(noMasksMessage(cache.dir));
  }
  if (
    cache.width !== gen.width ||
    cache.height !== gen.height ||
    spec.channels.join(',') !== gen.spec.channels.join(',')
  ) {
    cache.close();
    throw new DataError(
      `${cache.dir}: its lesions are ${cache.width}x${cache.height} with label channels ${spec.channels.join(', ')}, the run's are ${gen.width}x${gen.height} with ${gen.spec.channels.join(', ')}; give the dataset folder instead (it is prepared to fit)`,
    );
  }
  return cache;
}

/** Loads user-given weights; a missing or unfit file is the user's to fix, named with its flag. */
async function userWeights<T>(flag: string, files: readonly string[], load: () => Promise<T>): Promise<T> {
  for (const f of files) if (!existsSync(f)) throw new DataError(`${flag} ${f}: no such file`);
  try {
    return await load();
  } catch (e) {
    throw new DataError(`${flag}: ${(e as Error).message}`);
  }
}

function meanStd(v: readonly number[]): MeanStd {
  const n = v.length;
  const mean = v.reduce((a, b) => a + b, 0) / n;
  const std = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
  return { mean, std };
}

/**
 * Below these, on the real images themselves, an auxiliary network is too weak for the metrics
 * measured with it to mean much, and the report says so (a melanoma-vs-rest AUC of 0.5 is chance;
 * ISIC-2017's lesion masks are segmented at Dice ~0.85 by its challenge's winners).
 */
export const AUX_AUC_FLOOR = 0.6;
export const AUX_DICE_FLOOR = 0.5;

/** Checkerboard energy of each image of a batch [B, C, H, W]. */
function checkerboardEnergies(images: Tensor): number[] {
  const [b, c, h, w] = images.shape as [number, number, number, number];
  const hwc = images.permute(0, 2, 3, 1).contiguous().to('float32').to('cpu').data() as Float32Array;
  const n = h * w * c;
  return Array.from({ length: b }, (_, i) => checkerboardEnergy(hwc.subarray(i * n, (i + 1) * n), w, h, c));
}

export async function evaluate(o: EvaluateOptions, hooks: EvaluateHooks = {}): Promise<Metrics> {
  const notice = hooks.onNotice ?? (() => {});
  const notes: string[] = [];
  const note = (m: string) => {
    notes.push(m);
    notice(m);
  };
  const gen = await RunGenerator.load(o.run, {
    device: o.device,
    precision: o.precision,
    ...(o.weights ? { weights: o.weights } : {}),
  });
  const outDir = o.out ?? o.run;
  await mkdir(path.join(outDir, 'eval'), { recursive: true });
  const cache = await evaluationCache(gen, o.data, outDir, hooks.onPrepare).catch((e: unknown) => {
    gen.dispose();
    throw e;
  });
  let inception: InceptionV3 | null = null;
  let lpips: Lpips | null = null;
  let classifier: AuxNetwork<ImageClassifier> | null = null;
  let segmenter: AuxNetwork<Segmenter> | null = null;
  try {
    const classes = cache.spec.classes;
    let members = cache.indices(o.split);
    if (members.length === 0)
      throw new DataError(`${cache.dir}: the ${o.split} split is empty; choose another --split`);
    const syn = members.filter((i) => isSyntheticId(cache.records[i]!.id));
    if (syn.length > 0) {
      throw new DataError(
        `${cache.dir}: the ${o.split} split contains ${syn.length} synthetic lesions (${cache.records[syn[0]!]!.id}, ...); evaluate on real lesions only`,
      );
    }
    if (o.maxImages !== null && members.length > o.maxImages) {
      note(
        `evaluating the first ${o.maxImages} of the ${members.length} lesions of the ${o.split} split (--max-images)`,
      );
      members = members.slice(0, o.maxImages);
    }
    const set = new LesionSet([{ cache, split: o.split }]);
    // The set lists the split's lesions in cache order: the first `members.length` of them.
    const positions = members.map((_, i) => i);

    // Networks: given weights, and the auxiliary ones trained on the real training split.
    const networks: Metrics['networks'] = {};
    if (o.inceptionWeights) {
      const file = o.inceptionWeights;
      inception = await userWeights('--inception-weights', [file], () => loadInceptionV3(file));
      if (o.device !== 'cpu') inception.to(o.device);
      networks.inception = {
        description: 'FID Inception-v3 (pytorch-fid weights)',
        file: o.inceptionWeights,
        sha256: await sha256(o.inceptionWeights),
      };
    } else {
      note(
        'no --inception-weights: distribution metrics are domain-FID and domain-KID on the features of a classifier trained on the real training split (not comparable with published FIDs)',
      );
    }
    if (o.lpips) {
      const l = o.lpips;
      lpips = await userWeights('--lpips-weights', [l.files.backbone, l.files.linear], () =>
        loadLpips(l.backbone, l.files),
      );
      if (o.device !== 'cpu') lpips.to(o.device);
      networks.lpips = {
        description: `LPIPS (${o.lpips.backbone})`,
        file: o.lpips.files.linear,
        sha256: await sha256(o.lpips.files.linear),
      };
    }
    const trainCount = cache.indices('train').length;
    const auxDir = o.auxDir ?? path.join(outDir, 'eval', 'networks');
    if (trainCount < 16) {
      note(
        `the training split has ${trainCount} lesions, too few to train the auxiliary classifier and segmenter: domain, semantic and class-consistency metrics are left out`,
      );
    } else {
      const aux = { dir: auxDir, epochs: o.auxEpochs, seed: o.seed, onProgress: hooks.onAux, onNotice: notice };
      classifier = await domainClassifier(cache, aux);
      segmenter = await lesionSegmenter(cache, aux);
      if (o.device !== 'cpu') {
        classifier.model.to(o.device);
        segmenter.model.to(o.device);
      }
      for (const [k, n] of [
        ['classifier', classifier],
        ['segmenter', segmenter],
      ] as const)
        networks[k] = { description: n.description, file: n.file, sha256: n.sha256 };
    }

    // One pass over the split.
    const per = {
      ssim: [] as number[],
      msSsim: [] as number[],
      psnr: [] as number[],
      l1: [] as number[],
      lpips: [] as number[],
      checkerFake: [] as number[],
      checkerReal: [] as number[],
    };
    let scales = 0;
    const feats = { real: [] as Tensor[], fake: [] as Tensor[], logits: [] as Tensor[] };
    const seg = { genDice: [] as number[], genIou: [] as number[], realDice: [] as number[], realIou: [] as number[] };
    const probs = { fake: [] as Float64Array[], real: [] as Float64Array[] };
    const labels: number[] = [];
    const gridPick = new Map<number, number[]>(); // diagnosis -> positions in the set
    const perClass: Record<string, number> = {};
    for (let start = 0; start < positions.length; start += o.batch) {
      const batch = positions.slice(start, start + o.batch);
      const { image, label } = set.read(batch);
      const b = batch.length;
      for (const p of batch) {
        const k = set.labels[p]!;
        labels.push(k);
        perClass[classes[k]!] = (perClass[classes[k]!] ?? 0) + 1;
        const picked = gridPick.get(k) ?? [];
        if (picked.length < o.gridExamples) gridPick.set(k, [...picked, p]);
      }
      torch.tidy(() =>
        torch.noGrad(() => {
          const real8 = torch.fromBytes(image, 'uint8', [b, 3, gen.height, gen.width], o.device);
          const lab8 = torch.fromBytes(label, 'uint8', [b, 1, gen.height, gen.width], o.device);
          const fake = gen.generateImages(lab8).clone();
          const real = real8.to('float32').div(127.5).sub(1);
          const fake01 = toUnitRange(fake);
          const real01 = toUnitRange(real);
          per.ssim.push(...(ssim(fake01, real01).to('cpu').data() as Float64Array));
          const ms = msSsim(fake01, real01);
          per.msSsim.push(...ms.values);
          scales = ms.scales;
          per.psnr.push(...psnr(fake01, real01));
          per.l1.push(...(l1Distance(fake01, real01).to('float64').to('cpu').data() as Float64Array));
          per.checkerFake.push(...checkerboardEnergies(fake01));
          per.checkerReal.push(...checkerboardEnergies(real01));
          if (lpips) per.lpips.push(...lpips.distance(fake, real));
          if (inception) {
            const outFake = inception.call(fake01);
            const outReal = inception.call(real01);
            feats.fake.push(torch.keep(outFake.pool3.to('float64').to('cpu')));
            feats.real.push(torch.keep(outReal.pool3.to('float64').to('cpu')));
            feats.logits.push(torch.keep(outFake.logits.to('float64').to('cpu')));
          }
          if (classifier) {
            for (const [x, into, f] of [
              [fake, probs.fake, feats.fake],
              [real, probs.real, feats.real],
            ] as const) {
              const features = classifier.model.features(x);
              if (!inception) f.push(torch.keep(features.to('float64').to('cpu')));
              const p = F.softmax(classifier.model.call(x).to('float64'), 1).to('cpu').data() as Float64Array;
              const c = classes.length;
              for (let i = 0; i < b; i++) into.push(Float64Array.from(p.subarray(i * c, (i + 1) * c)));
            }
          }
          if (segmenter) {
            const target = lesionTargets(lab8, classes.length);
            for (const [x, dice, iou] of [
              [fake, seg.genDice, seg.genIou],
              [real, seg.realDice, seg.realIou],
            ] as const) {
              const r = segmentationScores(segmenter.model.predict(x), target);
              dice.push(...r.dice);
              iou.push(...r.iou);
            }
          }
        }),
      );
      hooks.onProgress?.(Math.min(start + o.batch, positions.length), positions.length);
    }

    const metrics: Metrics['metrics'] = {
      ssim: meanStd(per.ssim),
      msSsim: { ...meanStd(per.msSsim), scales },
      psnr: {
        ...meanStd(per.psnr.filter(Number.isFinite)),
        identical: per.psnr.filter((v) => !Number.isFinite(v)).length,
      },
      l1: meanStd(per.l1),
      lpips: lpips ? meanStd(per.lpips) : null,
      fid: null,
      kid: null,
      is: null,
      domainFid: null,
      domainKid: null,
      dice: segmenter ? { generated: meanStd(seg.genDice).mean, real: meanStd(seg.realDice).mean } : null,
      iou: segmenter ? { generated: meanStd(seg.genIou).mean, real: meanStd(seg.realIou).mean } : null,
      checkerboard: { generated: meanStd(per.checkerFake), real: meanStd(per.checkerReal) },
      classAuc: null,
    };
    if (feats.real.length > 0) {
      const real = torch.cat(feats.real, 0);
      const fake = torch.cat(feats.fake, 0);
      try {
        const n = real.shape[0]!;
        const d = fid(real, fake);
        const k = n >= 4 ? kid(real, fake, { seed: o.seed }) : null;
        if (!k) note(`KID needs at least 4 images, the split has ${n}`);
        if (n < real.shape[1]!)
          note(
            `${n} images for ${real.shape[1]}-dimensional features: the covariances are singular, so FID is biased upwards (compare runs on the same split only)`,
          );
        if (inception) {
          metrics.fid = d;
          metrics.kid = k ? { mean: k.mean, std: k.std } : null;
          const logits = torch.cat(feats.logits, 0);
          const s = inceptionScore(logits, { splits: Math.min(10, Math.max(1, Math.floor(n / 2))) });
          metrics.is = { mean: s.mean, std: s.std };
          logits.dispose();
        } else {
          metrics.domainFid = d;
          metrics.domainKid = k ? { mean: k.mean, std: k.std } : null;
        }
      } finally {
        real.dispose();
        fake.dispose();
        torch.dispose([...feats.real, ...feats.fake, ...feats.logits]);
      }
    }
    const roc: Record<string, string> = {};
    if (classifier) {
      metrics.classAuc = {};
      for (const [k, name] of classes.entries()) {
        if (k === 0 && classes.length === 3) continue; // nevus vs rest is not one of ISIC-2017's questions
        const positives = labels.filter((l) => l === k).length;
        const auc = (p: Float64Array[]) =>
          positives > 0 && positives < labels.length
            ? rocAuc(
                p.map((r) => r[k]!),
                labels.map((l) => l === k),
              )
            : null;
        metrics.classAuc[name] = { generated: auc(probs.fake), real: auc(probs.real) };
        if (positives === 0 || positives === labels.length) {
          note(`${classAbbreviation(name)}-vs-rest AUC needs both classes in the split; left out`);
          continue;
        }
        const truth = labels.map((l) => l === k);
        const curves = (['generated', 'real'] as const).map((which) => ({
          name: `${which} images`,
          auc: metrics.classAuc![name]![which]!,
          points: rocCurve(
            (which === 'generated' ? probs.fake : probs.real).map((r) => r[k]!),
            truth,
          ),
        }));
        const rel = path.join('eval', `class-roc-${name}`);
        await plotRocCurves(curves, path.join(outDir, rel), {
          title: `${classAbbreviation(name)} vs rest: a classifier trained on real images`,
        });
        roc[name] = `${rel}.png`;
      }
      const weak = Object.entries(metrics.classAuc).filter(([, a]) => a.real !== null && a.real < AUX_AUC_FLOOR);
      if (weak.length > 0) {
        note(
          `the auxiliary classifier is near chance on the real ${o.split} images (${weak.map(([c, a]) => `${classAbbreviation(c)} AUC ${a.real!.toFixed(3)}`).join(', ')}, below ${AUX_AUC_FLOOR}): ` +
            'the class AUCs and the domain-FID/KID on its features say little; train it longer (--aux-epochs) or on more data',
        );
      }
    }
    if (metrics.dice && metrics.dice.real < AUX_DICE_FLOOR) {
      note(
        `the auxiliary segmenter reaches Dice ${metrics.dice.real.toFixed(3)} on the real ${o.split} images (below ${AUX_DICE_FLOOR}): Dice and IoU of the generated images say little; train it longer (--aux-epochs)`,
      );
    }

    // One grid per diagnosis, and one of the lowest-SSIM lesions: label | real | generated.
    const grids: Record<string, string> = {};
    const lowest = per.ssim
      .map((v, i) => [v, i] as const)
      .sort((a, b) => a[0] - b[0])
      .slice(0, o.gridExamples);
    const lowestSsim = {
      grid: path.join('eval', 'grid-lowest-ssim.png'),
      lesions: lowest.map(([v, i]) => ({
        id: set.ids[positions[i]!]!,
        diagnosis: classes[set.labels[positions[i]!]!]!,
        ssim: v,
      })),
    };
    // (diagnosis null: the lowest-SSIM grid, listed in files.lowestSsim rather than files.grids)
    const gridSets: { rel: string; picked: number[]; diagnosis: string | null }[] = [
      ...[...gridPick]
        .sort((a, b) => a[0] - b[0])
        .map(([k, picked]) => ({ rel: path.join('eval', `grid-${classes[k]}.png`), picked, diagnosis: classes[k]! })),
      ...(lowest.length > 0
        ? [{ rel: lowestSsim.grid, picked: lowest.map(([, i]) => positions[i]!), diagnosis: null }]
        : []),
    ];
    for (const { rel, picked, diagnosis } of gridSets) {
      const { image, label } = set.read(picked);
      const cols = torch.tidy(() => {
        const real = torch
          .fromBytes(image, 'uint8', [picked.length, 3, gen.height, gen.width])
          .to('float32')
          .div(127.5)
          .sub(1);
        const labelBytes = torch.fromBytes(label, 'uint8', [picked.length, 1, gen.height, gen.width]);
        return { labelBytes, real, fake: gen.generateImages(labelBytes).to('cpu') };
      });
      try {
        await writeSampleGrid(path.join(outDir, rel), cols, cache.spec);
      } finally {
        torch.dispose([cols.labelBytes, cols.real, cols.fake]);
      }
      if (diagnosis !== null) grids[diagnosis] = rel;
    }

    const result: Metrics = {
      format: 'dermosynth-metrics',
      version: METRICS_VERSION,
      created: new Date().toISOString(),
      ...gen.provenance,
      data: {
        cache: cache.dir,
        contentKey: cacheContentKey(cache),
        split: o.split,
        lesions: positions.length,
        perClass: Object.fromEntries(classes.filter((c) => perClass[c]).map((c) => [c, perClass[c]!])),
      },
      metrics,
      networks,
      files: { grids, roc, ...(lowest.length > 0 ? { lowestSsim } : {}) },
      notes,
    };
    await writeFileAtomic(
      path.join(outDir, METRICS_FILE),
      new TextEncoder().encode(JSON.stringify(result, null, 2) + '\n'),
    );
    return result;
  } finally {
    cache.close();
    gen.dispose();
    inception?.stateDict().forEach((t) => t.dispose());
    lpips?.stateDict().forEach((t) => t.dispose());
    classifier?.model.stateDict().forEach((t) => t.dispose());
    segmenter?.model.stateDict().forEach((t) => t.dispose());
  }
}
