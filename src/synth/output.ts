// A synthetic dataset folder, in the flat layout so every reader and command takes it as is:
//   images/SYN_xxxxxxx.jpg, masks/SYN_xxxxxxx_segmentation.png, labels.csv (ISIC-2017 columns)
//   provenance.csv  one row per lesion: where it came from (source mask, deformation seed,
//                   diagnosis, model, weights hash and step, run)
//   synthesis.json  the request, the run and the plan's hash: what --resume must match
// Each lesion's image and mask are written atomically, then its labels.csv and provenance.csv rows
// are appended: a lesion is done when its provenance row is. A killed run leaves complete files;
// `open(..., 'resume')` drops anything not done (a half-appended row, files without rows).
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic_file.js';
import { parseCsv, requireColumn } from '../data/csv.js';
import {
  CLASSES_FILE,
  classesFileText,
  encodeMaskPng,
  encodeRgb,
  labelsHeaderFor,
  labelsRowFor,
  maskFileName,
  type ImageFormat,
} from '../data/flat_writer.js';
import { DataError } from '../data/problems.js';
import type { PlanItem } from './plan.js';
import type { GeneratorProvenance } from './run_generator.js';

export const SYNTHESIS_FILE = 'synthesis.json';
export const PROVENANCE_FILE = 'provenance.csv';
export const PROVENANCE_COLUMNS = [
  'image_id',
  'diagnosis',
  'source_id',
  'source_file',
  'deform_seed',
  'model',
  'checkpoint_sha256',
  'checkpoint_step',
  'run',
] as const;
export const SYNTHESIS_VERSION = 1;

export interface SynthesisManifest extends GeneratorProvenance {
  format: 'dermosynth-synthesis';
  version: number;
  created: string;
  imageFormat: ImageFormat;
  /** The request as given (sources, classes, counts, seed, deformation). */
  request: Record<string, unknown>;
  /** Lesions in the plan, and a hash of the plan (ids, diagnoses, sources, seeds). */
  total: number;
  planSha256: string;
}

export interface WrittenLesion {
  item: PlanItem;
  rgb: Uint8Array;
  mask: Uint8Array;
}

export class SyntheticDatasetWriter {
  private constructor(
    readonly dir: string,
    readonly manifest: SynthesisManifest,
    /** Ids already written (their provenance rows are complete). */
    readonly done: Set<string>,
  ) {}

  /**
   * 'new': the folder must not exist or be empty. 'overwrite': a previous synthetic dataset (it has
   * synthesis.json) is deleted first; any other non-empty folder is refused. 'resume': continues
   * the synthesis in the folder, which must have been made by the same request and weights.
   */
  static async open(
    dir: string,
    manifest: SynthesisManifest,
    mode: 'new' | 'overwrite' | 'resume',
    classes: readonly string[],
  ): Promise<SyntheticDatasetWriter> {
    const entries = await fs.readdir(dir).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return null;
      throw new DataError(`${dir}: cannot read the output folder (${e.code ?? e.message})`);
    });
    const own = entries?.includes(SYNTHESIS_FILE) ?? false;
    if (mode === 'resume') {
      if (!own)
        throw new DataError(
          `--resume: ${dir} holds no synthesis to continue (no ${SYNTHESIS_FILE}); start one without --resume`,
        );
      return SyntheticDatasetWriter.resume(dir, manifest, classes);
    }
    if (entries && entries.length > 0) {
      if (mode === 'new')
        throw new DataError(
          `${dir} already exists and is not empty; pass --overwrite to replace a synthetic dataset, --resume to continue one, or choose another --out`,
        );
      if (!own)
        throw new DataError(
          `${dir}: --overwrite replaces only a synthetic dataset (a folder with ${SYNTHESIS_FILE}), and this folder is something else; choose another --out`,
        );
      await fs.rm(dir, { recursive: true, force: true });
    }
    await fs.mkdir(path.join(dir, 'images'), { recursive: true });
    await fs.mkdir(path.join(dir, 'masks'), { recursive: true });
    await writeFileAtomic(path.join(dir, SYNTHESIS_FILE), json(manifest));
    const order = classesFileText(classes);
    if (order) await writeFileAtomic(path.join(dir, CLASSES_FILE), text(order));
    await writeFileAtomic(path.join(dir, 'labels.csv'), text(`${labelsHeaderFor(classes)}\n`));
    await writeFileAtomic(path.join(dir, PROVENANCE_FILE), text(`${PROVENANCE_COLUMNS.join(',')}\n`));
    return new SyntheticDatasetWriter(dir, manifest, new Set());
  }

  private static async resume(
    dir: string,
    manifest: SynthesisManifest,
    classes: readonly string[],
  ): Promise<SyntheticDatasetWriter> {
    const file = path.join(dir, SYNTHESIS_FILE);
    const old = JSON.parse(await fs.readFile(file, 'utf8')) as SynthesisManifest;
    const differences: string[] = [];
    if (old.format !== 'dermosynth-synthesis' || old.version !== SYNTHESIS_VERSION)
      throw new DataError(`${file}: not a dermosynth synthesis of version ${SYNTHESIS_VERSION}`);
    if (old.weights.sha256 !== manifest.weights.sha256)
      differences.push(
        `weights: before ${old.weights.file} (${old.weights.sha256.slice(0, 12)}), now ${manifest.weights.file} (${manifest.weights.sha256.slice(0, 12)})`,
      );
    if (old.planSha256 !== manifest.planSha256)
      differences.push(`request: before ${JSON.stringify(old.request)}, now ${JSON.stringify(manifest.request)}`);
    if (old.imageFormat !== manifest.imageFormat)
      differences.push(`image format: before ${old.imageFormat}, now ${manifest.imageFormat}`);
    // Files from before precision was recorded were made in fp32.
    if ((old.precision ?? 'fp32') !== manifest.precision)
      differences.push(`precision: before ${old.precision ?? 'fp32'}, now ${manifest.precision}`);
    if (differences.length > 0)
      throw new DataError(
        `--resume: ${dir} was made differently (${differences.join('; ')}); resume with the same options, or start anew with --overwrite`,
      );
    // Done: complete provenance rows whose files exist. Everything else is removed and redone.
    const provFile = path.join(dir, PROVENANCE_FILE);
    const prov = completeLines(await fs.readFile(provFile, 'utf8'));
    const table = parseCsv(prov.length > 0 ? prov.join('\n') + '\n' : `${PROVENANCE_COLUMNS.join(',')}\n`, provFile);
    const idCol = requireColumn(table, 'image_id');
    const done = new Set<string>();
    for (const { cells } of table.rows) {
      const id = cells[idCol]!;
      if (
        existsSync(path.join(dir, 'images', `${id}.${old.imageFormat}`)) &&
        existsSync(path.join(dir, 'masks', maskFileName(id)))
      )
        done.add(id);
    }
    const keep = (lines: string[], header: string) =>
      [header, ...lines.slice(1).filter((l) => done.has(l.slice(0, l.indexOf(','))))].join('\n') + '\n';
    await writeFileAtomic(provFile, text(keep(prov, PROVENANCE_COLUMNS.join(','))));
    const labelsFile = path.join(dir, 'labels.csv');
    await writeFileAtomic(
      labelsFile,
      text(keep(completeLines(await fs.readFile(labelsFile, 'utf8')), labelsHeaderFor(classes))),
    );
    for (const sub of ['images', 'masks']) {
      const folder = path.join(dir, sub);
      await fs.mkdir(folder, { recursive: true });
      for (const name of await fs.readdir(folder)) {
        const id = name.startsWith('.')
          ? null
          : sub === 'images'
            ? name.slice(0, name.lastIndexOf('.'))
            : name.slice(0, -maskFileName('').length);
        if (id === null || !done.has(id)) await fs.rm(path.join(folder, name), { force: true });
      }
    }
    return new SyntheticDatasetWriter(dir, old, done);
  }

  /** Writes lesions (files first, then their rows); they are done once this resolves. */
  async write(
    lesions: readonly WrittenLesion[],
    width: number,
    height: number,
    diagnosisNames: readonly string[],
  ): Promise<void> {
    const m = this.manifest;
    await Promise.all(
      lesions.map(async ({ item, rgb, mask }) => {
        const [image, png] = await Promise.all([
          encodeRgb(rgb, width, height, m.imageFormat),
          encodeMaskPng(mask, width, height),
        ]);
        await Promise.all([
          writeFileAtomic(path.join(this.dir, 'images', `${item.id}.${m.imageFormat}`), image),
          writeFileAtomic(path.join(this.dir, 'masks', maskFileName(item.id)), png),
        ]);
      }),
    );
    const labels = lesions
      .map(({ item }) => `${labelsRowFor(item.id, diagnosisNames[item.diagnosis]!, diagnosisNames)}\n`)
      .join('');
    const rows = lesions
      .map(({ item }) =>
        [
          item.id,
          diagnosisNames[item.diagnosis],
          item.source.id,
          csvCell(item.source.file),
          item.deformSeed ?? '',
          m.model,
          m.weights.sha256,
          m.weights.step ?? '',
          csvCell(m.run),
        ].join(','),
      )
      .map((l) => `${l}\n`)
      .join('');
    await fs.appendFile(path.join(this.dir, 'labels.csv'), labels);
    await fs.appendFile(path.join(this.dir, PROVENANCE_FILE), rows);
    for (const { item } of lesions) this.done.add(item.id);
  }
}

/** The lines of a file that end with a newline (a row cut by a kill is dropped). */
function completeLines(s: string): string[] {
  const end = s.lastIndexOf('\n');
  return end < 0 ? [] : s.slice(0, end).split('\n');
}

function csvCell(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

function text(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

function json(v: unknown): Uint8Array {
  return text(JSON.stringify(v, null, 2) + '\n');
}
