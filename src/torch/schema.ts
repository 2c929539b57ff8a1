// Operator schemas as libtorch prints them (`torch.schemaOf`), parsed: the generator of the typed
// operator layer (scripts/generate-ops.ts) reads their types and defaults, and the layer's runtime
// (bind.ts) places each argument by name in the schema of the libtorch in use.
//   aten::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor

export interface SchemaArg {
  name: string;
  /** As printed, alias annotations included: `Tensor(a!)`, `int[2]`, `ScalarType?`. */
  type: string;
  /** The default as printed (`1`, `None`, `[0, 1]`, `"none"`), or undefined when there is none. */
  default: string | undefined;
  /** After the schema's `*`: named only (in Python). */
  kwOnly: boolean;
}

export interface SchemaReturn {
  type: string;
  name: string | undefined;
}

export interface Schema {
  /** `aten::add.Tensor` */
  qualified: string;
  /** `aten::add` */
  name: string;
  /** `Tensor` ('' for the default overload) */
  overload: string;
  args: SchemaArg[];
  returns: SchemaReturn[];
}

/** Splits at `sep` where no bracket, parenthesis or string is open. */
function splitTopLevel(s: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote = '';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '(' || c === '[') depth++;
    else if (c === ')' || c === ']') depth--;
    else if (depth === 0 && s.startsWith(sep, i)) {
      out.push(s.slice(start, i));
      start = i + sep.length;
      i += sep.length - 1;
    }
  }
  out.push(s.slice(start));
  return out.map((p) => p.trim()).filter((p) => p.length > 0);
}

/** `Tensor(a -> *) self` -> [type, name]; `Tensor(a)` -> [type, undefined]. */
function splitDecl(decl: string): [string, string | undefined] {
  const parts = splitTopLevel(decl, ' ');
  if (parts.length === 1) return [parts[0]!, undefined];
  return [parts.slice(0, -1).join(' '), parts[parts.length - 1]!];
}

/**
 * Only the argument names, in order: what binding an operator at load time needs (one pass, for the
 * ~190 operators bound whenever the engine loads).
 */
export function argumentNames(schema: string): string[] {
  const names: string[] = [];
  let depth = 0;
  let quote = '';
  let start = schema.indexOf('(') + 1;
  let eq = -1;
  for (let i = start; i < schema.length; i++) {
    const c = schema.charCodeAt(i);
    if (quote) {
      if (c === 92 /* \\ */) i++;
      else if (c === quote.charCodeAt(0)) quote = '';
    } else if (c === 34 || c === 39 /* " ' */) quote = schema[i]!;
    else if (c === 40 || c === 91 /* ( [ */) depth++;
    else if (depth === 0 && c === 61 /* = */ && eq < 0) eq = i;
    else if (depth === 0 && (c === 44 || c === 41) /* , ) */) {
      const decl = schema.slice(start, eq < 0 ? i : eq).trim();
      if (decl.length > 0 && decl !== '*') names.push(decl.slice(decl.lastIndexOf(' ') + 1));
      if (c === 41) break;
      start = i + 1;
      eq = -1;
    } else if (c === 41 || c === 93 /* ) ] */) depth--;
  }
  return names;
}

export function parseSchema(schema: string): Schema {
  const open = schema.indexOf('(');
  if (open < 0) throw new SyntaxError(`not an operator schema: ${schema}`);
  let depth = 0;
  let close = -1;
  let quote = '';
  for (let i = open; i < schema.length && close < 0; i++) {
    const c = schema[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '(' || c === '[') depth++;
    else if ((c === ')' || c === ']') && --depth === 0) close = i;
  }
  if (close < 0) throw new SyntaxError(`unbalanced operator schema: ${schema}`);
  const qualified = schema.slice(0, open);
  const dot = qualified.indexOf('.', qualified.indexOf('::') + 2);
  const args: SchemaArg[] = [];
  let kwOnly = false;
  for (const item of splitTopLevel(schema.slice(open + 1, close), ',')) {
    if (item === '*') {
      kwOnly = true;
      continue;
    }
    const [decl, def] = splitTopLevel(item, '=');
    const [type, name] = splitDecl(decl!);
    if (name === undefined) throw new SyntaxError(`argument without a name in ${schema}: ${item}`);
    args.push({ name, type, default: def, kwOnly });
  }
  const rest = schema.slice(close + 1).trim();
  if (!rest.startsWith('->')) throw new SyntaxError(`no return types in ${schema}`);
  let ret = rest.slice(2).trim();
  // A type never starts with a parenthesis: `(...)` is a tuple of returns (`()`: none).
  if (ret.startsWith('(')) ret = ret.slice(1, -1);
  const returns = splitTopLevel(ret, ',').map((r) => {
    const [type, name] = splitDecl(r);
    return { type, name };
  });
  return {
    qualified,
    name: dot < 0 ? qualified : qualified.slice(0, dot),
    overload: dot < 0 ? '' : qualified.slice(dot + 1),
    args,
    returns,
  };
}
