// `dermosynth data merge REAL SYN... --out DIR`: a classifier training set made of a real dataset
// and synthetic ones, in the flat layout. The real lesions keep their split (a dataset without one
// is split as `data prepare` does by default); synthetic lesions all go to train and keep their
// provenance rows. Files are hard-linked where the file system allows, else copied.
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../torch/atomic_file.js';
import { parseCsv } from './csv.js';
import type { DatasetIndex, LesionRecord, Split } from './dataset.js';
import { CLASSES_FILE, classesFileText, labelsHeaderFor, labelsRowFor, maskFileName } from './flat_writer.js';
import { DataError, formatProblem } from './problems.js';
import { readDataset } from './readers/index.js';
import { DEFAULT_SPLIT, assignSplits } from './split.js';

export const MERGE_FILE = 'merge.json';

export interface MergeOptions {
  /** Replace an earlier merge in `out` (a folder with merge.json); any other folder is refused. */
  overwrite?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface MergeSummary {
  out: string;
  real: number;
  synthetic: number;
  /** Lesions per split and diagnosis. */
  counts: Record<Split, Record<string, number>>;
}

export async function mergeDatasets(realDir: string, syntheticDirs: readonly string[], out: string, o: MergeOptions = {}): Promise<MergeSummary> {
  if (syntheticDirs.length === 0) throw new DataError('data merge: give at least one synthetic dataset after the real one');
  const real = await usable(realDir);
  const realSyn = real.records.filter((r) => r.synthetic);
  if (realSyn.length > 0) throw new DataError(`${realDir}: the real dataset holds synthetic lesions (${realSyn[0]!.id}, ...); give the real dataset first, then the synthetic ones`);
  const syns: DatasetIndex[] = [];
  for (const dir of syntheticDirs) {
    const s = await usable(dir);
    const notSyn = s.records.find((r) => !r.synthetic);
    if (notSyn) throw new DataError(`${dir}: '${notSyn.id}' is not a synthetic lesion (ids start with SYN_); only 'dermosynth synthesize' outputs can be merged as synthetic`);
    if (s.classes.join(',') !== real.classes.join(',')) throw new DataError(`${dir}: its diagnoses (${s.classes.join(', ')}) are not the real dataset's (${real.classes.join(', ')})`);
    syns.push(s);
  }
  // Ids must be unique across every input.
  const owner = new Map<string, string>();
  for (const index of [real, ...syns]) {
    for (const r of index.records) {
      const other = owner.get(r.id);
      if (other) throw new DataError(`lesion id ${r.id} is in both ${other} and ${index.root}; make synthetic sets with different --first-id ranges`);
      owner.set(r.id, index.root);
    }
  }
  await prepareOut(out, o.overwrite ?? false);
  const splits = assignSplits(real.records, DEFAULT_SPLIT).splits;
  const all: { r: LesionRecord; split: Split }[] = [
    ...real.records.map((r) => ({ r, split: splits.get(r.id)! })),
    ...syns.flatMap((s) => s.records.map((r) => ({ r, split: 'train' as Split }))),
  ];
  const counts = { train: {}, val: {}, test: {} } as MergeSummary['counts'];
  let done = 0;
  for (const { r, split } of all) {
    const ext = path.extname(r.image!);
    await place(r.image!, path.join(out, 'images', `${r.id}${ext}`));
    await place(r.mask!, path.join(out, 'masks', maskFileName(r.id)));
    const name = real.classes[r.label!]!;
    counts[split][name] = (counts[split][name] ?? 0) + 1;
    o.onProgress?.(++done, all.length);
  }
  const enc = (s: string) => new TextEncoder().encode(s);
  const provenance = await mergedProvenance(syns.map((s) => s.root));
  if (provenance) await writeFileAtomic(path.join(out, 'provenance.csv'), enc(provenance));
  await writeFileAtomic(path.join(out, 'split.csv'), enc(['image_id,split', ...all.map(({ r, split }) => `${r.id},${split}`)].join('\n') + '\n'));
  const summary: MergeSummary = { out, real: real.records.length, synthetic: all.length - real.records.length, counts };
  await writeFileAtomic(path.join(out, MERGE_FILE), enc(JSON.stringify({ format: 'dermosynth-merge', version: 1, created: new Date().toISOString(), ...summary, realDir: real.root, syntheticDirs: syns.map((s) => s.root) }, null, 2) + '\n'));
  // labels.csv last: the folder is a dataset only once every file it lists is there.
  const order = classesFileText(real.classes);
  if (order) await writeFileAtomic(path.join(out, CLASSES_FILE), enc(order));
  await writeFileAtomic(path.join(out, 'labels.csv'), enc([labelsHeaderFor(real.classes), ...all.map(({ r }) => labelsRowFor(r.id, real.classes[r.label!]!, real.classes))].join('\n') + '\n'));
  return summary;
}

/** A dataset whose every lesion can be used (else the problems, and what to do). */
async function usable(dir: string): Promise<DatasetIndex> {
  const index = await readDataset(dir);
  const errors = index.problems.filter((p) => p.severity === 'error');
  if (errors.length > 0) {
    throw new DataError(`${dir}: ${errors.length} problem(s) to fix before merging:\n${errors.slice(0, 10).map(formatProblem).join('\n')}${errors.length > 10 ? '\n...' : ''}`, errors);
  }
  return index;
}

async function prepareOut(out: string, overwrite: boolean): Promise<void> {
  const entries = await fs.readdir(out).catch(() => null);
  if (entries && entries.length > 0) {
    if (!overwrite) throw new DataError(`${out} already exists and is not empty; pass --overwrite to replace an earlier merge, or choose another --out`);
    if (!entries.includes(MERGE_FILE)) throw new DataError(`${out}: --overwrite replaces only an earlier merge (a folder with ${MERGE_FILE}); choose another --out`);
    await fs.rm(out, { recursive: true, force: true });
  }
  await fs.mkdir(path.join(out, 'images'), { recursive: true });
  await fs.mkdir(path.join(out, 'masks'), { recursive: true });
}

/** A hard link when possible (same file system), else a copy. */
async function place(from: string, to: string): Promise<void> {
  try {
    await fs.link(from, to);
  } catch {
    await fs.copyFile(from, to);
  }
}

/** The synthetic sets' provenance.csv files as one (same columns), or null when none has one. */
async function mergedProvenance(dirs: readonly string[]): Promise<string | null> {
  let header: string | null = null;
  const rows: string[] = [];
  for (const dir of dirs) {
    const file = path.join(dir, 'provenance.csv');
    if (!existsSync(file)) continue;
    const text = await fs.readFile(file, 'utf8');
    const t = parseCsv(text, file);
    const h = t.header.join(',');
    if (header !== null && h !== header) throw new DataError(`${file}: its columns (${h}) differ from the other provenance files' (${header})`);
    header = h;
    rows.push(...text.split('\n').slice(1).filter((l) => l.trim() !== ''));
  }
  return header === null ? null : [header, ...rows].join('\n') + '\n';
}
