// `dermosynth data merge DATASET[=MAPFILE]... --out DIR`: one flat dataset made of several, for
// training a classifier: real datasets of any layout (ISIC-2017, ISIC 2018 / HAM10000, PH2, flat)
// and `dermosynth synthesize` outputs, each mapped onto one vocabulary by its class map.
//
// - Vocabulary: the first dataset's, after its class map (so a map's `classes:` line sets it).
//   Every other dataset's diagnoses, after its map, must be in it (labels are re-indexed by name);
//   one outside it is an error naming the dataset and the diagnosis, saying to map it.
// - Splits (merge_split.ts): a lesion keeps its dataset's official split; the others are split per
//   dataset as `data prepare` would split it alone; one lesion's images are always on one side.
//   Synthetic lesions all go to train.
// - Sources: source.csv says, per image, the dataset folder it came from, that dataset's layout
//   and its own diagnosis (before the map), its lesion (lesion_id, read back by the flat reader, so
//   a later `data prepare` keeps lesions together too) and the other datasets that held the image.
//   Ids are kept as they are.
// - One id in two datasets: see `checkDuplicate`.
// Images are hard-linked where the file system allows, else copied; masks that are not PNG (PH2's
// BMPs) are converted to PNG, as the flat layout has them.
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic_file.js';
import { applyClassMap, readClassMap, type ClassMap } from './class_map.js';
import { parseCsv } from './csv.js';
import type { DatasetIndex, LesionRecord, Split } from './dataset.js';
import {
  CLASSES_FILE,
  classesFileText,
  encodeMaskPng,
  labelsHeaderFor,
  labelsRowFor,
  maskFileName,
} from './flat_writer.js';
import { checkMask } from './image_io.js';
import { mergedSplits, type Occurrence } from './merge_split.js';
import { DataError, formatProblem } from './problems.js';
import { SOURCE_FILE } from './readers/flat.js';
import { readDataset } from './readers/index.js';
import { DEFAULT_SPLIT, type SplitOptions } from './split.js';

export const MERGE_FILE = 'merge.json';
export const SOURCE_HEADER = 'image_id,source,format,original_diagnosis,lesion_id,also_in';

export interface MergeInput {
  dir: string;
  /** Maps the dataset's diagnoses onto the merged vocabulary. */
  classMap?: ClassMap | null;
  /** What the dataset must be; without it, read from its ids (all SYN_: synthetic; none: real). */
  role?: Role;
}

type Role = 'real' | 'synthetic';

export interface MergeOptions {
  /** Replace an earlier merge in `out` (a folder with merge.json); any other folder is refused. */
  overwrite?: boolean;
  /** How datasets without an official split are split (as `data prepare`'s --val/--test/--seed). */
  split?: SplitOptions;
  onProgress?: (done: number, total: number) => void;
}

/** An image found in two datasets, written once (from the first) and listed here. */
export interface Duplicate {
  id: string;
  kept: string;
  dropped: string;
}

export interface MergeSummary {
  out: string;
  classes: string[];
  real: number;
  synthetic: number;
  /** Lesions per split and diagnosis. */
  counts: Record<Split, Record<string, number>>;
  inputs: {
    dir: string;
    format: string;
    role: Role;
    classMap: string | null;
    images: number;
    officialSplit: boolean;
  }[];
  duplicates: Duplicate[];
}

/** A dataset read, mapped and checked. */
interface Loaded {
  dir: string;
  index: DatasetIndex;
  classMap: ClassMap | null;
  role: Role;
  official: boolean;
  /** Each image's diagnosis in the dataset's own vocabulary (before the map). */
  original: Map<string, string>;
}

/** An image written to the merged dataset. */
interface Entry {
  record: LesionRecord;
  from: Loaded;
  alsoIn: string[];
}

/**
 * A command-line dataset: `DIR`, or `DIR=MAPFILE` with that dataset's class map. A path that
 * exists as given is a folder even when its name holds '='.
 */
export function parseMergeArgument(arg: string): { dir: string; mapFile: string | null } {
  const at = arg.lastIndexOf('=');
  if (at < 0 || existsSync(arg)) return { dir: arg, mapFile: null };
  const [dir, mapFile] = [arg.slice(0, at), arg.slice(at + 1)];
  if (dir === '' || mapFile === '')
    throw new DataError(
      `data merge: '${arg}' is not DIR or DIR=MAPFILE; write the dataset folder, then '=' and its class map file`,
    );
  return { dir, mapFile };
}

/** A command-line dataset as a merge input: its own class map, else `defaultMap` (--classes), else none. */
export function mergeInputOf(arg: string, defaultMap?: string): MergeInput {
  const { dir, mapFile } = parseMergeArgument(arg);
  if (mapFile !== null && !existsSync(mapFile))
    throw new DataError(
      `data merge: ${arg}: there is no class map file ${mapFile} (nor a folder named ${arg}); write DIR=MAPFILE with an existing map`,
    );
  const file = mapFile ?? defaultMap;
  return { dir: path.resolve(dir), classMap: file ? readClassMap(file) : null };
}

/** Today's first form: one real dataset and synthetic ones. */
export async function mergeDatasets(
  realDir: string,
  syntheticDirs: readonly string[],
  out: string,
  o: MergeOptions = {},
): Promise<MergeSummary> {
  if (syntheticDirs.length === 0)
    throw new DataError('data merge: give at least one synthetic dataset after the real one');
  return mergeInputs(
    [{ dir: realDir, role: 'real' }, ...syntheticDirs.map((dir) => ({ dir, role: 'synthetic' as const }))],
    out,
    o,
  );
}

export async function mergeInputs(
  inputs: readonly MergeInput[],
  out: string,
  o: MergeOptions = {},
): Promise<MergeSummary> {
  const loaded = await loadAll(inputs);
  const classes = loaded[0]!.index.classes;
  for (const l of loaded.slice(1)) relabel(l, classes, loaded[0]!);
  const { entries, occurrences, duplicates } = await collect(loaded);
  const { splits, lesions } = mergedSplits(occurrences, o.split ?? DEFAULT_SPLIT);
  for (const e of entries) if (e.record.synthetic) splits.set(e.record.id, 'train');
  await prepareOut(out, o.overwrite ?? false);
  await placeAll(entries, out, o.onProgress);
  const summary = summarise(out, classes, loaded, entries, splits, duplicates);
  await writeTables(out, entries, splits, lesions, summary, o.split ?? DEFAULT_SPLIT);
  return summary;
}

async function loadAll(inputs: readonly MergeInput[]): Promise<Loaded[]> {
  if (inputs.length === 0) throw new DataError('data merge: give at least one dataset');
  const seen = new Set<string>();
  const loaded: Loaded[] = [];
  for (const input of inputs) {
    const l = await load(input);
    // A synthetic set given twice is refused by its ids (with what to do about --first-id).
    if (l.role === 'real' && seen.has(l.index.root))
      throw new DataError(`data merge: ${input.dir} is given twice; give each dataset once`);
    seen.add(l.index.root);
    loaded.push(l);
  }
  if (!loaded.some((l) => l.role === 'real')) {
    throw new DataError(
      `data merge: every dataset given is synthetic (${loaded.map((l) => l.dir).join(', ')}); give at least one real dataset: val and test splits are made of real lesions only`,
    );
  }
  return loaded;
}

async function load(input: MergeInput): Promise<Loaded> {
  const raw = await usable(input.dir);
  const noMask = raw.records.find((r) => r.mask === null);
  if (noMask)
    throw new DataError(
      `${input.dir}: ${noMask.id} has no segmentation mask (a ${raw.format} dataset without masks); the merged flat layout needs a mask for every lesion: merge datasets with masks`,
    );
  const index = input.classMap ? applyClassMap(raw, input.classMap) : raw;
  const original = new Map(raw.records.map((r) => [r.id, raw.classes[r.label!]!]));
  const role = roleOf(input, index);
  const official = role === 'real' && index.records.every((r) => r.split !== null);
  return { dir: input.dir, index, classMap: input.classMap ?? null, role, official, original };
}

function roleOf(input: MergeInput, index: DatasetIndex): Role {
  const syn = index.records.filter((r) => r.synthetic);
  const real = index.records.find((r) => !r.synthetic);
  if (input.role === 'real' && syn.length > 0) {
    throw new DataError(
      `${input.dir}: the real dataset holds synthetic lesions (${syn[0]!.id}, ...); give the real dataset first, then the synthetic ones`,
    );
  }
  if (input.role === 'synthetic' && real) {
    throw new DataError(
      `${input.dir}: '${real.id}' is not a synthetic lesion (ids start with SYN_); only 'dermosynth synthesize' outputs can be merged as synthetic`,
    );
  }
  if (syn.length > 0 && real) {
    throw new DataError(
      `${input.dir}: mixes real lesions (${real.id}, ...) and synthetic ones (${syn[0]!.id}, ...), as an earlier merge does; merge the datasets it was made from instead`,
    );
  }
  return input.role ?? (real ? 'real' : 'synthetic');
}

/** A dataset whose every lesion can be used (else the problems, and what to do). */
async function usable(dir: string): Promise<DatasetIndex> {
  const index = await readDataset(dir);
  const errors = index.problems.filter((p) => p.severity === 'error');
  if (errors.length > 0) {
    throw new DataError(
      `${dir}: ${errors.length} problem(s) to fix before merging:\n${errors.slice(0, 10).map(formatProblem).join('\n')}${errors.length > 10 ? '\n...' : ''}`,
      errors,
    );
  }
  return index;
}

/** Re-indexes a dataset's labels into the merged vocabulary; a diagnosis outside it is an error. */
function relabel(l: Loaded, classes: readonly string[], first: Loaded): void {
  const outside = l.index.classes.filter((c) => !classes.includes(c));
  if (outside.length > 0) {
    const one = outside.length === 1;
    const whose = first.classMap
      ? `set by the first dataset's class map ${first.classMap.file}`
      : `the first dataset's, ${first.dir}`;
    throw new DataError(
      `${l.dir}: its diagnos${one ? 'is' : 'es'} ${outside.join(', ')}${l.classMap ? ` (after its class map ${l.classMap.file})` : ''} ${one ? 'is' : 'are'} not in the merged vocabulary ` +
        `(${classes.join(', ')}: ${whose}); map ${one ? 'it' : 'them'} onto it: give the dataset as ${l.dir}=MAPFILE (or --classes MAPFILE) with lines such as "${outside[0]} -> ${classes[0]}"`,
    );
  }
  const to = l.index.classes.map((c) => classes.indexOf(c));
  l.index = {
    ...l.index,
    classes: [...classes],
    records: l.index.records.map((r) => ({ ...r, label: to[r.label!]! })),
  };
}

/** Every image once, in input order; the real images' occurrences (duplicates too) for the splits. */
async function collect(
  loaded: readonly Loaded[],
): Promise<{ entries: Entry[]; occurrences: Occurrence[]; duplicates: Duplicate[] }> {
  const byId = new Map<string, Entry>();
  const occurrences: Occurrence[] = [];
  const duplicates: Duplicate[] = [];
  for (const [dataset, from] of loaded.entries()) {
    for (const record of from.index.records) {
      const first = byId.get(record.id);
      if (first) {
        await checkDuplicate(first, record, from);
        first.alsoIn.push(from.index.root);
        duplicates.push({ id: record.id, kept: first.from.index.root, dropped: from.index.root });
      } else byId.set(record.id, { record, from, alsoIn: [] });
      if (!record.synthetic)
        occurrences.push({
          record,
          dataset,
          source: from.index.root,
          official: from.official ? record.split : null,
          kept: !first,
        });
    }
  }
  return { entries: [...byId.values()], occurrences, duplicates };
}

/**
 * One id in two datasets. Synthetic ids are an error (two sets made with overlapping --first-id).
 * A real id is one image: the same bytes under the same diagnosis (ISIC 2017 and ISIC 2018 share
 * about 2,000 images, by id and file) are the same lesion image, written once from the first
 * dataset given, with its mask, and listed (also_in in source.csv, duplicates in merge.json, and
 * the command's output); its lesion joins the lesions of every copy, so the splits keep them
 * together. Refusing would make such overlaps unmergeable without editing the datasets; keeping
 * both is impossible (one file name) and would put one image on both sides of a split. Different
 * files or diagnoses under one id cannot be told apart safely: an error naming both.
 */
async function checkDuplicate(first: Entry, record: LesionRecord, from: Loaded): Promise<void> {
  const a = first.from.index;
  if (record.synthetic)
    throw new DataError(
      `lesion id ${record.id} is in both ${a.root} and ${from.index.root}; make synthetic sets with different --first-id ranges`,
    );
  const dx = (e: { label: number | null }) => a.classes[e.label!]!;
  const why =
    dx(first.record) !== dx(record)
      ? `with different diagnoses (${dx(first.record)}, ${dx(record)})`
      : !(await sameBytes(first.record.image!, record.image!))
        ? 'as different image files'
        : null;
  if (why) {
    throw new DataError(
      `lesion id ${record.id} is in both ${a.root} (${first.record.image}) and ${from.index.root} (${record.image}) ${why}; ` +
        'one id must be one image: remove it from one of the datasets (or rename it there)',
    );
  }
}

async function sameBytes(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([fs.stat(a), fs.stat(b)]);
  if (sa.size !== sb.size) return false;
  const [ba, bb] = await Promise.all([fs.readFile(a), fs.readFile(b)]);
  return ba.equals(bb);
}

async function prepareOut(out: string, overwrite: boolean): Promise<void> {
  const entries = await fs.readdir(out).catch(() => null);
  if (entries && entries.length > 0) {
    if (!overwrite)
      throw new DataError(
        `${out} already exists and is not empty; pass --overwrite to replace an earlier merge, or choose another --out`,
      );
    if (!entries.includes(MERGE_FILE))
      throw new DataError(
        `${out}: --overwrite replaces only an earlier merge (a folder with ${MERGE_FILE}); choose another --out`,
      );
    await fs.rm(out, { recursive: true, force: true });
  }
  await fs.mkdir(path.join(out, 'images'), { recursive: true });
  await fs.mkdir(path.join(out, 'masks'), { recursive: true });
}

async function placeAll(
  entries: readonly Entry[],
  out: string,
  onProgress?: (done: number, total: number) => void,
): Promise<void> {
  let done = 0;
  for (const { record: r } of entries) {
    await place(r.image!, path.join(out, 'images', `${r.id}${path.extname(r.image!)}`));
    const mask = path.join(out, 'masks', maskFileName(r.id));
    if (path.extname(r.mask!).toLowerCase() === '.png') await place(r.mask!, mask);
    else await writeFileAtomic(mask, await maskAsPng(r.mask!));
    onProgress?.(++done, entries.length);
  }
}

/** A hard link when possible (same file system), else a copy. */
async function place(from: string, to: string): Promise<void> {
  try {
    await fs.link(from, to);
  } catch {
    await fs.copyFile(from, to);
  }
}

/** A mask of another format (PH2's BMPs) as the flat layout's one-channel PNG, values kept. */
async function maskAsPng(file: string): Promise<Buffer> {
  const { check, raw } = await checkMask(await fs.readFile(file), file);
  if (check.channels === 'colour')
    throw new DataError(
      `${file}: a colour mask (its channels differ); a mask is one grey channel (0 skin, 255 lesion): fix it before merging`,
    );
  const grey = new Uint8Array(raw.width * raw.height);
  for (let i = 0; i < grey.length; i++) grey[i] = raw.data[i * raw.channels]!;
  return encodeMaskPng(grey, raw.width, raw.height);
}

function summarise(
  out: string,
  classes: string[],
  loaded: readonly Loaded[],
  entries: readonly Entry[],
  splits: Map<string, Split>,
  duplicates: Duplicate[],
): MergeSummary {
  const counts = { train: {}, val: {}, test: {} } as MergeSummary['counts'];
  for (const { record: r } of entries) {
    const c = counts[splits.get(r.id)!];
    c[classes[r.label!]!] = (c[classes[r.label!]!] ?? 0) + 1;
  }
  const synthetic = entries.filter((e) => e.record.synthetic).length;
  const inputs = loaded.map((l) => ({
    dir: l.index.root,
    format: l.index.format,
    role: l.role,
    classMap: l.classMap?.file ?? null,
    images: l.index.records.length,
    officialSplit: l.official,
  }));
  return { out, classes: [...classes], real: entries.length - synthetic, synthetic, counts, inputs, duplicates };
}

/** The tables, labels.csv last: the folder is a dataset only once every file it lists is there. */
async function writeTables(
  out: string,
  entries: readonly Entry[],
  splits: Map<string, Split>,
  lesions: Map<string, string>,
  s: MergeSummary,
  split: SplitOptions,
): Promise<void> {
  const write = (name: string, lines: string[]) =>
    writeFileAtomic(path.join(out, name), new TextEncoder().encode(lines.join('\n') + '\n'));
  const provenance = await mergedProvenance(entries.filter((e) => e.record.synthetic).map((e) => e.from.index.root));
  if (provenance) await write('provenance.csv', provenance);
  await write(SOURCE_FILE, [SOURCE_HEADER, ...entries.map((e) => sourceRow(e, lesions.get(e.record.id) ?? ''))]);
  await write('split.csv', ['image_id,split', ...entries.map(({ record: r }) => `${r.id},${splits.get(r.id)}`)]);
  const meta = { format: 'dermosynth-merge', version: 2, created: new Date().toISOString(), ...s, split };
  await write(MERGE_FILE, [JSON.stringify(meta, null, 2)]);
  const order = classesFileText(s.classes);
  if (order) await writeFileAtomic(path.join(out, CLASSES_FILE), new TextEncoder().encode(order));
  await write('labels.csv', [
    labelsHeaderFor(s.classes),
    ...entries.map(({ record: r }) => labelsRowFor(r.id, s.classes[r.label!]!, s.classes)),
  ]);
}

function sourceRow(e: Entry, lesion: string): string {
  const r = e.record;
  return [r.id, e.from.index.root, e.from.index.format, e.from.original.get(r.id)!, lesion, e.alsoIn.join(';')]
    .map(csvCell)
    .join(',');
}

function csvCell(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** The synthetic sets' provenance.csv files as one (same columns), or null when none has one. */
async function mergedProvenance(dirs: readonly string[]): Promise<string[] | null> {
  let header: string | null = null;
  const rows: string[] = [];
  for (const dir of new Set(dirs)) {
    const file = path.join(dir, 'provenance.csv');
    if (!existsSync(file)) continue;
    const text = await fs.readFile(file, 'utf8');
    const h = parseCsv(text, file).header.join(',');
    if (header !== null && h !== header)
      throw new DataError(`${file}: its columns (${h}) differ from the other provenance files' (${header})`);
    header = h;
    rows.push(
      ...text
        .split('\n')
        .slice(1)
        .filter((l) => l.trim() !== ''),
    );
  }
  return header === null ? null : [header, ...rows];
}
