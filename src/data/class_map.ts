// A class map (`--classes FILE`): maps a dataset's own diagnoses onto another vocabulary, so that
// datasets of different sources train one model and are measured on one scale. The file:
//
//   # PH2 onto ISIC-2017's diagnoses
//   classes: nevus, melanoma, seborrheic_keratosis     (optional: the target vocabulary, in order)
//   common_nevus -> nevus
//   atypical_nevus -> nevus
//
// A dataset diagnosis that is already a target name maps onto itself. Without a `classes:` line,
// the targets are the mapped-to names in the order they first appear. Lines for diagnoses a
// dataset does not have are allowed (one map serves several datasets); a dataset diagnosis the
// map does not cover is an error naming it.
import { readFileSync } from 'node:fs';
import type { DatasetIndex } from './dataset.js';
import { DataError } from './problems.js';

export interface ClassMap {
  file: string;
  /** The target vocabulary, in label order. */
  classes: string[];
  /** Dataset diagnosis -> target name. */
  map: Map<string, string>;
}

const NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;

export function parseClassMap(text: string, file: string): ClassMap {
  let declared: string[] | null = null;
  const map = new Map<string, string>();
  const order: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') return;
    const where = `${file}:${i + 1}`;
    const decl = /^classes\s*:(.*)$/i.exec(line);
    if (decl) {
      if (declared) throw new DataError(`${where}: a second "classes:" line; keep one`);
      declared = decl[1]!
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      for (const c of declared)
        if (!NAME.test(c))
          throw new DataError(
            `${where}: "${c}" is not a class name (letters, digits, _ and -, starting with a letter)`,
          );
      if (new Set(declared).size !== declared.length)
        throw new DataError(`${where}: a class is named twice in "classes:"`);
      return;
    }
    const m = /^(\S+)\s*->\s*(\S+)$/.exec(line);
    if (!m) throw new DataError(`${where}: "${raw.trim()}" is not "from -> to" (or "classes: a, b, c")`);
    const [, from, to] = m as unknown as [string, string, string];
    for (const n of [from, to])
      if (!NAME.test(n))
        throw new DataError(`${where}: "${n}" is not a class name (letters, digits, _ and -, starting with a letter)`);
    if (map.has(from) && map.get(from) !== to)
      throw new DataError(`${where}: "${from}" is mapped twice (to ${map.get(from)} and ${to}); keep one`);
    map.set(from, to);
    if (!order.includes(to)) order.push(to);
  });
  const classes: string[] = declared ?? order;
  if (classes.length === 0) throw new DataError(`${file}: the class map maps nothing; write "from -> to" lines`);
  for (const [from, to] of map) {
    if (!classes.includes(to))
      throw new DataError(
        `${file}: "${from} -> ${to}": ${to} is not one of the declared classes (${classes.join(', ')})`,
      );
  }
  return { file, classes, map };
}

export function readClassMap(file: string): ClassMap {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new DataError(
      `--classes ${file}: cannot read the class map (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  return parseClassMap(text, file);
}

/**
 * Where each of `from`'s diagnoses lands in the map's vocabulary (indices into `cm.classes`); a
 * diagnosis the map does not cover is an error naming `what` (the dataset) and the diagnosis.
 */
export function classIndexMap(from: readonly string[], cm: ClassMap, what: string): number[] {
  const target = from.map((c) => cm.map.get(c) ?? (cm.classes.includes(c) ? c : null));
  const missing = from.filter((_, k) => target[k] === null);
  if (missing.length > 0) {
    throw new DataError(
      `${what}: its diagnos${missing.length === 1 ? 'is' : 'es'} ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not covered by the class map ${cm.file} ` +
        `(targets: ${cm.classes.join(', ')}); add a line such as "${missing[0]} -> ${cm.classes[0]}"`,
    );
  }
  return target.map((t) => cm.classes.indexOf(t!));
}

/** The dataset with its diagnoses mapped onto the map's vocabulary (a new index; labels re-indexed). */
export function applyClassMap(index: DatasetIndex, cm: ClassMap): DatasetIndex {
  const to = classIndexMap(index.classes, cm, index.root);
  return {
    ...index,
    classes: [...cm.classes],
    records: index.records.map((r) => ({ ...r, label: r.label === null ? null : to[r.label]! })),
  };
}
