// `dermosynth synthesize`: a trained run's generator turns label maps (real masks, or new masks
// deformed from them, with a chosen diagnosis) into a synthetic dataset, in batches, resumable.
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Device, Precision } from '../torch/index.js';
import type { Split } from '../data/dataset.js';
import type { ImageFormat } from '../data/flat_writer.js';
import { buildLabelBytes } from '../data/label_map.js';
import { DataError } from '../data/problems.js';
import { balanceCounts, formatBalanceTarget, type BalanceTarget } from './balance.js';
import { deformMask, type DeformOptions } from './deform.js';
import { SyntheticDatasetWriter, SYNTHESIS_VERSION, type SynthesisManifest, type WrittenLesion } from './output.js';
import { makePlan, type MaskSource, type PlanItem } from './plan.js';
import { RunGenerator, defaultBatchSize } from './run_generator.js';
import { datasetSources, folderSources, loadSourceMask, type SourceTarget } from './sources.js';

export interface SynthesizeRequest {
  run: string;
  /** A weights file instead of the run's own. */
  weights?: string;
  device: Device;
  /** The generator's forward: fp32 (default), or autocast to bf16 (fp16 needs CUDA). */
  precision?: Precision;
  from: { kind: 'dataset'; dir: string; split: Split | 'all'; skipBad: boolean } | { kind: 'masks'; dir: string };
  /** A diagnosis (or 'as-is') and a count, or class balancing of the dataset's split. */
  what: { kind: 'class'; diagnosis: string; count: number } | { kind: 'balance'; target: BalanceTarget };
  deform: boolean;
  deformOptions?: Partial<DeformOptions>;
  maskPool: 'same' | 'all';
  seed: number;
  firstId: number;
  out: string;
  mode: 'new' | 'overwrite' | 'resume';
  /** Images per batch; null picks about 1 Mpixel per batch. */
  batch: number | null;
  format: ImageFormat;
}

export interface SynthesizeHooks {
  onNotice?: (message: string) => void;
  onStart?: (s: { total: number; done: number; counts: Record<string, number>; batch: number }) => void;
  onProgress?: (done: number, total: number) => void;
  /** Polled between batches: true stops after the batch in flight is written. */
  shouldStop?: () => boolean;
}

export interface SynthesizeResult {
  out: string;
  total: number;
  /** Lesions written by this call. */
  written: number;
  finished: boolean;
  counts: Record<string, number>;
}

export async function synthesize(r: SynthesizeRequest, hooks: SynthesizeHooks = {}): Promise<SynthesizeResult> {
  const notice = hooks.onNotice ?? (() => {});
  const gen = await RunGenerator.load(r.run, { device: r.device, weights: r.weights, precision: r.precision });
  try {
    const classes = gen.classes;
    const target: SourceTarget = { width: gen.width, height: gen.height, fit: gen.config.options.fit, spec: gen.spec };
    let sources: MaskSource[];
    let realCounts: number[] | null = null;
    if (r.from.kind === 'dataset') {
      const d = await datasetSources(r.from.dir, r.from.split, classes, r.from.skipBad);
      sources = d.sources;
      realCounts = d.counts;
      if (d.skipped.length > 0)
        notice(
          `--skip-bad: left out ${d.skipped.length} unusable lesion(s): ${d.skipped.slice(0, 10).join(', ')}${d.skipped.length > 10 ? ', ...' : ''}`,
        );
    } else {
      sources = await folderSources(r.from.dir);
      if (gen.spec.frame)
        notice(
          'the run has a dermoscope-frame class, but bare masks have no image to find a frame in: the label maps have none',
        );
    }
    let what: Parameters<typeof makePlan>[2]['what'];
    if (r.what.kind === 'balance') {
      if (!realCounts)
        throw new DataError('--balance needs --dataset: it fills each class of the dataset up to the target');
      const counts = balanceCounts(realCounts, r.what.target);
      notice(
        `balance to ${formatBalanceTarget(r.what.target)}: real ${classes.map((c, k) => `${c} ${realCounts![k]}`).join(', ')}; adding ${classes.map((c, k) => `${c} ${counts[k]}`).join(', ')}`,
      );
      what = { kind: 'classes', counts };
    } else if (r.what.diagnosis === 'as-is') {
      if (r.from.kind === 'masks')
        throw new DataError(
          "--class as-is keeps each source's diagnosis, but a folder of masks has none; use --dataset, or choose a --class",
        );
      what = { kind: 'as-is', count: r.what.count };
    } else {
      const k = classes.indexOf(r.what.diagnosis);
      if (k < 0)
        throw new DataError(
          `--class: '${r.what.diagnosis}' is not one of the run's diagnoses (${classes.join(', ')}) or as-is`,
        );
      what = { kind: 'classes', counts: classes.map((_, i) => (i === k ? (r.what as { count: number }).count : 0)) };
    }
    const plan = makePlan(sources, classes, {
      what,
      maskPool: r.maskPool,
      deform: r.deform,
      seed: r.seed,
      firstId: r.firstId,
    });
    if (plan.length === 0) notice('nothing to synthesize: every class already reaches the target');
    const counts = Object.fromEntries(classes.map((c, k) => [c, plan.filter((p) => p.diagnosis === k).length]));
    const request = {
      from: r.from,
      what: r.what,
      deform: r.deform,
      deformOptions: r.deformOptions ?? {},
      maskPool: r.maskPool,
      seed: r.seed,
      firstId: r.firstId,
    };
    const manifest: SynthesisManifest = {
      format: 'dermosynth-synthesis',
      version: SYNTHESIS_VERSION,
      created: new Date().toISOString(),
      ...gen.provenance,
      imageFormat: r.format,
      request,
      total: plan.length,
      planSha256: planHash(plan, request.deformOptions),
    };
    const writer = await SyntheticDatasetWriter.open(r.out, manifest, r.mode, classes);
    const todo = plan.filter((p) => !writer.done.has(p.id));
    const batch = r.batch ?? defaultBatchSize(gen.width, gen.height);
    hooks.onStart?.({ total: plan.length, done: plan.length - todo.length, counts, batch });
    let resized = 0;
    let written = 0;
    let pending: Promise<void> | null = null;
    let stopped = false;
    for (let i = 0; i < todo.length; i += batch) {
      const items = todo.slice(i, i + batch);
      const masks = await Promise.all(
        items.map(async (item) => {
          const m = await labelMapOf(item, target, r.deformOptions);
          if (m.resized) resized++;
          if (m.resized && resized === 1)
            notice(
              `${item.source.file} is ${m.resizedFrom}, not the run's ${gen.width}x${gen.height}: masks of other sizes are resized (${target.fit}, nearest)`,
            );
          return m;
        }),
      );
      // Generation is synchronous; the previous batch's encoding and writing go on meanwhile.
      const rgb = gen.generate(masks.map((m) => m.labelBytes));
      await pending;
      const lesions: WrittenLesion[] = items.map((item, j) => ({ item, rgb: rgb[j]!, mask: masks[j]!.mask }));
      pending = writer.write(lesions, gen.width, gen.height, classes).then(() => {
        written += lesions.length;
        hooks.onProgress?.(writer.done.size, plan.length);
      });
      // Awaited before the next write; a failure meanwhile must not count as unhandled.
      pending.catch(() => {});
      if (i + batch < todo.length && hooks.shouldStop?.()) {
        stopped = true;
        break;
      }
    }
    await pending;
    if (resized > 1) notice(`${resized} masks were resized to the run's size`);
    return { out: r.out, total: plan.length, written, finished: !stopped, counts };
  } finally {
    gen.dispose();
  }
}

async function labelMapOf(item: PlanItem, t: SourceTarget, deformOptions: Partial<DeformOptions> | undefined) {
  const loaded = await loadSourceMask(item.source, t);
  const mask =
    item.deformSeed === null ? loaded.mask : deformMask(loaded.mask, t.width, t.height, item.deformSeed, deformOptions);
  return {
    mask,
    labelBytes: buildLabelBytes(mask, item.diagnosis, t.spec, t.width, t.height, loaded.frame),
    resized: loaded.resizedFrom !== null,
    resizedFrom: loaded.resizedFrom ? `${loaded.resizedFrom.width}x${loaded.resizedFrom.height}` : '',
  };
}

/** What a resumed run must match: every item's id, diagnosis, source and seed, and the deformation. */
function planHash(plan: readonly PlanItem[], deformOptions: Partial<DeformOptions>): string {
  const h = createHash('sha256').update(JSON.stringify(deformOptions));
  for (const p of plan) h.update(`${p.id}\t${p.diagnosis}\t${p.source.id}\t${p.source.file}\t${p.deformSeed ?? ''}\n`);
  return h.digest('hex');
}
