// Generates the typed operator layer, src/torch/generated/aten.ts, from the schemas of the ATen
// operators listed in src/torch/operators.txt, as tch-rs generates its bindings from ATen's
// declarations.
//
//   npm run generate:ops                 snapshot the installed libtorch's schemas of the listed
//                                        operators (src/torch/generated/schemas/<major.minor>.txt),
//                                        then regenerate aten.ts from every snapshot
//   npm run generate:ops -- --check      change nothing; exit 1 and show what differs
//   bash scripts/libtorch2-root.sh -- npm run generate:ops
//                                        the same against libtorch 2.6 in the Debian 13 root; copy
//                                        the root's src/torch/generated/schemas/2.6.txt back (the
//                                        script prints its path), then run npm run generate:ops here
//
// Several libtorch versions must run the same checked-in layer, and their schemas differ (an
// argument's type, a default's spelling, an argument added). So the layer is made from every
// snapshot at once: a function takes the arguments all known versions share, in their common
// order, typed as all of them accept; positional arguments stay positional, keyword-only ones (after
// the schema's `*`, named in Python) go in an options object; defaults are the libtorch's own (an
// omitted argument takes the schema's default in the addon) and are shown in the documentation.
// At run time each operator is bound once to the installed libtorch's schema, by argument name
// (src/torch/bind.ts). test/torch/generated_ops.test.ts regenerates against the installed libtorch
// and fails on any difference, so a libtorch upgrade shows every changed signature at once.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { parseSchema, type Schema, type SchemaArg } from '../src/torch/schema.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const OPERATOR_LIST = path.join(ROOT, 'src/torch/operators.txt');
export const GENERATED_DIR = path.join(ROOT, 'src/torch/generated');
export const SCHEMA_DIR = path.join(GENERATED_DIR, 'schemas');
export const GENERATED_FILE = path.join(GENERATED_DIR, 'aten.ts');

/** The operator names of src/torch/operators.txt, in its order. */
export function readOperatorList(file = OPERATOR_LIST): string[] {
  const names = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter((l) => l.length > 0);
  const seen = new Set<string>();
  for (const n of names) {
    if (!/^\w+::\w+(\.\w+)?$/.test(n)) throw new Error(`${file}: '${n}' is not an operator name like aten::add.Tensor`);
    if (seen.has(n)) throw new Error(`${file}: ${n} is listed twice`);
    seen.add(n);
  }
  return names;
}

/** `1.13.0` -> `1.13` */
export function minorVersion(version: string): string {
  const m = /^(\d+)\.(\d+)/.exec(version);
  if (!m) throw new Error(`cannot read a libtorch version from '${version}'`);
  return `${m[1]}.${m[2]}`;
}

export function snapshotFile(version: string): string {
  return path.join(SCHEMA_DIR, `${version}.txt`);
}

/** A snapshot's text: one schema a line, in the operator list's order. */
export function snapshotText(version: string, schemas: readonly string[]): string {
  return (
    `# The schemas of src/torch/operators.txt's operators in libtorch ${version}, read by scripts/generate-ops.ts.\n` +
    schemas.join('\n') +
    '\n'
  );
}

export function parseSnapshot(text: string): string[] {
  return text.split('\n').filter((l) => l.length > 0 && !l.startsWith('#'));
}

/** Every checked-in snapshot: version -> schemas (in list order). */
export function readSnapshots(dir = SCHEMA_DIR): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (!fs.existsSync(dir)) return out;
  const files = fs.readdirSync(dir).filter((f) => /^\d+\.\d+\.txt$/.test(f));
  for (const f of files.sort(byVersion))
    out.set(f.slice(0, -4), parseSnapshot(fs.readFileSync(path.join(dir, f), 'utf8')));
  return out;
}

function byVersion(a: string, b: string): number {
  const pa = a.split('.').map((x) => parseInt(x, 10));
  const pb = b.split('.').map((x) => parseInt(x, 10));
  return pa[0]! - pb[0]! || pa[1]! - pb[1]!;
}

/** The installed libtorch's version (major.minor) and schemas of `names` (an absent operator is an error). */
export async function liveSchemas(names: readonly string[]): Promise<{ version: string; schemas: string[] }> {
  const ops = await import('../src/torch/ops.js');
  const runtime = await import('../src/torch/runtime.js');
  const missing: string[] = [];
  const schemas = names.map((n) => {
    try {
      return ops.schemaOf(n);
    } catch {
      missing.push(n);
      return '';
    }
  });
  const version = minorVersion(runtime.buildInfo().version);
  if (missing.length > 0) {
    throw new Error(
      `libtorch ${version} has no operator ${missing.join(', ')}: remove it from src/torch/operators.txt or use another overload`,
    );
  }
  return { version, schemas };
}

// ---- from schemas to TypeScript ---------------------------------------------------------------

interface ArgType {
  /** The TypeScript type of the argument (without `| null`). */
  ts: string;
  nullable: boolean;
  /** The expression passing `e` to the addon. */
  convert: (e: string) => string;
}

const RESERVED = new Set(
  'break case catch class const continue debugger default delete do else enum export extends false finally for function if import in instanceof new null return super switch this throw true try typeof var void while with yield let static implements interface package private protected public await'.split(
    ' ',
  ),
);

function camel(snake: string): string {
  const lead = /^_*/.exec(snake)![0];
  const parts = snake.slice(lead.length).split('_').filter(Boolean);
  if (parts.length === 1 && parts[0] === parts[0]!.toUpperCase()) return lead + parts[0]!.toLowerCase();
  return (
    lead + parts.map((p, i) => (i === 0 ? p[0]!.toLowerCase() + p.slice(1) : p[0]!.toUpperCase() + p.slice(1))).join('')
  );
}

function identifier(name: string): string {
  return RESERVED.has(name) ? `${name}_` : name;
}

/** `aten::add_.Tensor` -> `addTensor_`, `aten::sum.dim_IntList` -> `sumDimIntList`, `aten::conv2d` -> `conv2d`. */
export function functionName(qualified: string): string {
  const s = parseSchema(`${qualified}() -> ()`);
  let base = s.name.slice(s.name.indexOf('::') + 2);
  const inplace = base.endsWith('_') && !base.endsWith('__');
  if (inplace) base = base.slice(0, -1);
  const overload = s.overload
    .split('_')
    .filter(Boolean)
    .map((p) => p[0]!.toUpperCase() + p.slice(1))
    .join('');
  return identifier(camel(base) + overload + (inplace ? '_' : ''));
}

/** The type without alias annotations (`Tensor(a!)` -> `Tensor`) and with SymInt read as int. */
function plainType(type: string): string {
  return type.replace(/\([^)]*\)/g, '').replace(/SymInt/g, 'int');
}

function argType(type: string, where: string): ArgType {
  let t = plainType(type);
  const nullable = t.endsWith('?');
  if (nullable) t = t.slice(0, -1);
  const plain = (ts: string): ArgType => ({ ts, nullable, convert: (e) => e });
  const call = (ts: string, fn: string): ArgType => ({
    ts,
    nullable,
    convert: nullable ? (e) => `${e} == null ? ${e} : ${fn}(${e})` : (e) => `${fn}(${e})`,
  });
  switch (t) {
    case 'Tensor':
      return { ts: 'Tensor', nullable, convert: (e) => (nullable ? `${e}?.handle` : `${e}.handle`) };
    case 'Tensor[]':
      return call('readonly Tensor[]', 'handles');
    case 'Tensor?[]':
      return call('readonly (Tensor | null)[]', 'optionalHandles');
    case 'Generator':
      return { ts: 'Generator', nullable, convert: (e) => (nullable ? `${e}?.handle` : `${e}.handle`) };
    case 'int':
    case 'float':
    case 'Scalar':
      return plain('number');
    case 'bool':
      return plain('boolean');
    case 'str':
      return plain('string');
    case 'Device':
      return plain('Device');
    case 'ScalarType':
      return { ts: 'DType', nullable, convert: (e) => `dtypeArg(${e})` };
    case 'MemoryFormat':
      return { ts: 'MemoryFormat', nullable, convert: (e) => `memoryFormatArg(${e})` };
    case 'Layout':
      return { ts: 'Layout', nullable, convert: (e) => `layoutArg(${e})` };
  }
  const list = /^(int|float|bool)\[(\d*)\]$/.exec(t);
  if (list) {
    const elem = list[1] === 'bool' ? 'boolean' : 'number';
    // The addon repeats a single integer for a fixed-length int list (`int[2] stride=1`), as PyTorch.
    const ts = list[2] && list[1] === 'int' ? `number | readonly number[]` : `readonly ${elem}[]`;
    return plain(ts);
  }
  throw new Error(`${where}: the type ${type} has no TypeScript form in scripts/generate-ops.ts`);
}

function tsTypeText(a: ArgType): string {
  return a.nullable ? `${a.ts} | null` : a.ts;
}

interface ReturnKind {
  ts: string;
  /** The statement(s) returning from `r` (the native result); `self` for in-place. */
  body: (callExpr: string) => string;
  discard: boolean;
  generic: boolean;
}

function returnKind(s: Schema, where: string): ReturnKind {
  const rs = s.returns;
  if (rs.length === 0) return { ts: 'void', body: (c) => `${c};`, discard: true, generic: false };
  if (rs.length === 1) {
    const r = rs[0]!;
    const alias = /^Tensor\((\w+)!\)$/.exec(r.type);
    if (alias) {
      const arg = s.args.find((a) => a.type === `Tensor(${alias[1]}!)`);
      if (arg && arg === s.args[0])
        return { ts: 'T', body: (c) => `${c};\nreturn ${identifier(camel(arg.name))};`, discard: true, generic: true };
      throw new Error(`${where}: returns ${r.type}, which is not its first argument`);
    }
    switch (plainType(r.type)) {
      case 'Tensor':
        return { ts: 'Tensor', body: (c) => `return wrap(${c});`, discard: false, generic: false };
      case 'Tensor?':
        return {
          ts: 'Tensor | null',
          body: (c) => `const r = ${c};\nreturn r == null ? null : wrap(r);`,
          discard: false,
          generic: false,
        };
      case 'Tensor[]':
        return { ts: 'Tensor[]', body: (c) => `return wrapList(${c});`, discard: false, generic: false };
      case 'bool':
        return { ts: 'boolean', body: (c) => `return ${c} as boolean;`, discard: false, generic: false };
      case 'int':
      case 'float':
      case 'Scalar':
        return { ts: 'number', body: (c) => `return ${c} as number;`, discard: false, generic: false };
    }
  } else if (rs.every((r) => plainType(r.type) === 'Tensor')) {
    const ts = `[${rs.map((r, i) => `${r.name ?? `r${i}`}: Tensor`).join(', ')}]`;
    return { ts, body: (c) => `return wrapList(${c}) as ${ts};`, discard: false, generic: false };
  }
  throw new Error(`${where}: the return type(s) ${rs.map((r) => r.type).join(', ')} have no TypeScript form`);
}

/** Whether an argument may be left out: it has a default, or is optional (None). */
function omittable(a: SchemaArg): boolean {
  return a.default !== undefined || plainType(a.type).endsWith('?');
}

function docDefault(a: SchemaArg): string {
  return a.default ?? 'None';
}

interface OpVersions {
  qualified: string;
  /** version -> schema text */
  schemas: Map<string, string>;
}

/** The TypeScript of one operator over every known version's schema. */
function generateOp(op: OpVersions, index: number): string {
  const versions = [...op.schemas.keys()];
  const parsed = versions.map((v) => parseSchema(op.schemas.get(v)!));
  const where = op.qualified;
  const first = parsed[0]!;
  // The arguments every version has, in the first version's order (which all must keep).
  const shared = first.args.filter((a) => parsed.every((p) => p.args.some((b) => b.name === a.name)));
  for (const [i, p] of parsed.entries()) {
    const order = p.args.filter((a) => shared.some((b) => b.name === a.name)).map((a) => a.name);
    if (order.join() !== shared.map((a) => a.name).join())
      throw new Error(`${where}: libtorch ${versions[i]} orders its arguments differently`);
    for (const a of p.args) {
      if (!shared.some((b) => b.name === a.name) && !omittable(a)) {
        throw new Error(
          `${where}: libtorch ${versions[i]} requires the argument '${a.name}' that other versions lack; the layer cannot call both`,
        );
      }
    }
  }
  const perVersion = (name: string): SchemaArg[] => parsed.map((p) => p.args.find((a) => a.name === name)!);
  const args = shared.map((a) => {
    const all = perVersion(a.name);
    const types = all.map((x, i) => argType(x.type, `${where} (libtorch ${versions[i]}) argument '${x.name}'`));
    const texts = new Set(types.map(tsTypeText));
    if (texts.size > 1)
      throw new Error(`${where}: argument '${a.name}' has types ${[...texts].join(' and ')} in different versions`);
    const defaults = [...new Set(all.map(docDefault))];
    return {
      name: a.name,
      id: identifier(camel(a.name)),
      type: types[0]!,
      kwOnly: all.some((x) => x.kwOnly),
      omittable: all.every(omittable),
      defaults,
    };
  });
  // Positional: the leading arguments positional in every version; the rest are named options.
  let nPos = 0;
  while (nPos < args.length && !args[nPos]!.kwOnly) nPos++;
  const positional = args.slice(0, nPos);
  const named = args.slice(nPos);
  const returns = parsed.map((p, i) => returnKind(p, `${where} (libtorch ${versions[i]})`));
  if (new Set(returns.map((r) => r.ts)).size > 1)
    throw new Error(`${where}: its return type differs between versions (${returns.map((r) => r.ts).join(', ')})`);
  const ret = returns[0]!;

  const params: string[] = [];
  positional.forEach((a, i) => {
    const optional = positional.slice(i).every((b) => b.omittable);
    const self = ret.generic && i === 0;
    params.push(`${a.id}${optional ? '?' : ''}: ${self ? 'T' : tsTypeText(a.type)}`);
  });
  if (named.length > 0) {
    const fields = named.map((a) => {
      const doc = a.omittable ? `/** Default ${a.defaults.join(' or ')}. */\n` : '';
      return `${doc}${a.id}${a.omittable ? '?' : ''}: ${tsTypeText(a.type)}`;
    });
    params.push(`o${named.every((a) => a.omittable) ? '?' : ''}: {\n${fields.join(';\n')}\n}`);
  }
  const values = [
    ...positional.map((a) => a.type.convert(a.id)),
    ...named.map((a) => a.type.convert(named.every((b) => b.omittable) ? `o?.${a.id}` : `o.${a.id}`)),
  ];
  const binding = `B${index}`;
  const call = `invoke(${binding}, [${values.join(', ')}]${ret.discard ? ', true' : ''})`;
  const fn = functionName(op.qualified);
  const distinct = new Map<string, string[]>();
  for (const v of versions) {
    const s = op.schemas.get(v)!;
    distinct.set(s, [...(distinct.get(s) ?? []), v]);
  }
  const doc = [...distinct]
    .map(([s, vs]) => ` * \`${s}\`${distinct.size > 1 || versions.length > 1 ? ` (libtorch ${vs.join(', ')})` : ''}`)
    .join('\n');
  const positionalDefaults = positional
    .filter((a) => a.omittable)
    .map((a) => ` * @param ${a.id} default ${a.defaults.join(' or ')}`);
  return [
    `const ${binding} = bindOp('${op.qualified}', [${args.map((a) => `'${a.name}'`).join(', ')}]);`,
    `/**\n${doc}${positionalDefaults.length ? '\n' + positionalDefaults.join('\n') : ''}\n */`,
    `export function ${fn}${ret.generic ? '<T extends Tensor>' : ''}(${params.join(', ')}): ${ret.ts} {`,
    ret.body(call),
    '}',
  ].join('\n');
}

/** The source of generated/aten.ts (unformatted) from every version's schemas of `names`. */
export function generateSource(names: readonly string[], snapshots: Map<string, string[]>): string {
  const versions = [...snapshots.keys()].sort(byVersion);
  if (versions.length === 0) throw new Error('no schema snapshots to generate from');
  for (const v of versions) {
    const have = snapshots.get(v)!.map((s) => parseSchema(s).qualified);
    const lack = names.filter((n) => !have.includes(n));
    if (lack.length > 0)
      throw new Error(
        `the libtorch ${v} snapshot lacks ${lack.join(', ')}: run npm run generate:ops with libtorch ${v}`,
      );
  }
  const ops = names.map((qualified) => {
    const schemas = new Map<string, string>();
    for (const v of versions)
      schemas.set(
        v,
        snapshots.get(v)!.find((s) => parseSchema(s).qualified === qualified)!,
      );
    return { qualified, schemas };
  });
  const fnNames = new Map<string, string>();
  for (const op of ops) {
    const fn = functionName(op.qualified);
    if (fnNames.has(fn)) throw new Error(`${op.qualified} and ${fnNames.get(fn)} would both be named ${fn}`);
    fnNames.set(fn, op.qualified);
  }
  const body = ops.map((op, i) => generateOp(op, i)).join('\n\n');
  const uses = (s: string): boolean => new RegExp(`\\b${s}\\b`).test(body);
  const bindImports = [
    'bindOp',
    'invoke',
    'handles',
    'optionalHandles',
    'dtypeArg',
    'memoryFormatArg',
    'layoutArg',
    'wrap',
    'wrapList',
  ].filter(uses);
  const bindTypes = ['Layout'].filter((t) => new RegExp(`: (readonly )?${t}\\b|\\| ${t}\\b|: ${t} \\|`).test(body));
  const lines = [
    '// Generated by scripts/generate-ops.ts (npm run generate:ops) from src/torch/operators.txt and the',
    `// schema snapshots of libtorch ${versions.join(', ')} in src/torch/generated/schemas/. Do not edit.`,
    '//',
    '// One typed function per operator: the arguments every known libtorch shares, positional ones as',
    "// parameters and keyword-only ones (after the schema's `*`) as named options; an omitted argument",
    "// takes the installed libtorch's default. In-place operators return their first argument.",
    `import { ${[...bindImports, ...bindTypes.map((t) => `type ${t}`)].join(', ')} } from '../bind.js';`,
    "import type { Tensor } from '../tensor.js';",
  ];
  if (uses('DType')) lines.push("import type { DType } from '../dtype.js';");
  if (uses('Device')) lines.push("import type { Device } from '../device.js';");
  if (uses('MemoryFormat')) lines.push("import type { MemoryFormat } from '../ops.js';");
  if (uses('Generator')) lines.push("import type { Generator } from '../random.js';");
  return `${lines.join('\n')}\n\n${body}\n`;
}

export async function formatSource(source: string, file = GENERATED_FILE): Promise<string> {
  const config = (await prettier.resolveConfig(file)) ?? {};
  return prettier.format(source, { ...config, filepath: file });
}

/** The snapshots with `live` in place of (or beside) its version's. */
export function withLive(snapshots: Map<string, string[]>, version: string, schemas: string[]): Map<string, string[]> {
  const out = new Map(snapshots);
  out.set(version, schemas);
  return new Map([...out].sort(([a], [b]) => byVersion(a, b)));
}

/** Lines of `a` and `b` that differ, per operator: for messages. */
export function schemaChanges(before: readonly string[], after: readonly string[]): string[] {
  const key = (s: string): string => parseSchema(s).qualified;
  const b = new Map(before.map((s) => [key(s), s]));
  const a = new Map(after.map((s) => [key(s), s]));
  const out: string[] = [];
  for (const [k, s] of a) {
    if (!b.has(k)) out.push(`  + ${s}`);
    else if (b.get(k) !== s) out.push(`  - ${b.get(k)}\n  + ${s}`);
  }
  for (const [k, s] of b) if (!a.has(k)) out.push(`  - ${s}`);
  return out;
}

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const names = readOperatorList();
  const { version, schemas } = await liveSchemas(names);
  const snapshots = readSnapshots();
  const file = snapshotFile(version);
  const text = snapshotText(version, schemas);
  const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
  const source = await formatSource(generateSource(names, withLive(snapshots, version, schemas)));
  const oldSource = fs.existsSync(GENERATED_FILE) ? fs.readFileSync(GENERATED_FILE, 'utf8') : null;
  const rel = (f: string): string => path.relative(ROOT, f);
  const written: string[] = [];
  if (old !== text) {
    const changes = old === null ? [`  ${schemas.length} operators`] : schemaChanges(parseSnapshot(old), schemas);
    console.log(`${rel(file)} (libtorch ${version}) ${old === null ? 'is new' : 'changes'}:\n${changes.join('\n')}`);
    if (!check) fs.writeFileSync(file, text);
    written.push(file);
  }
  if (oldSource !== source) {
    console.log(`${rel(GENERATED_FILE)} ${oldSource === null ? 'is new' : 'changes'}`);
    if (!check) {
      fs.mkdirSync(GENERATED_DIR, { recursive: true });
      fs.writeFileSync(GENERATED_FILE, source);
    }
    written.push(GENERATED_FILE);
  }
  if (written.length === 0) console.log(`generate-ops: up to date (libtorch ${version}, ${names.length} operators)`);
  else if (check) process.exitCode = 1;
  else console.log(`generate-ops: wrote ${written.join(', ')}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(`generate-ops: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  });
}
