// Deterministic freeing of native memory: `tidy(fn)` disposes every tensor made inside `fn`
// except those it returns (found in arrays, plain objects and Maps) and those marked with `keep`.
// `openScope` / `closeScope` are the same scope without a closure (every `Module.call` is one).
// Tensors that escape every scope are still freed by the garbage collector's finalizer.

/** Anything that holds native memory and can be released now. */
export interface Resource {
  dispose(): void;
}

const KEPT = Symbol('dermosynth.kept');
type Tracked = Resource & { [KEPT]?: boolean };

// One stack for all scopes: tracked[0 .. top) holds every resource made while a scope is open, in
// order of creation; scope k owns tracked[marks[k]] onwards (up to the next scope's mark). A scope
// is one number, so that opening and closing one per module call costs no allocation; the array
// never shrinks (freed slots are cleared, not cut off), so it is not reallocated as scopes close.
const tracked: (Tracked | undefined)[] = [];
let top = 0;
const marks: number[] = [];

/** Called by every new tensor: the innermost open scope will own it. */
export function track(resource: Resource): void {
  if (marks.length !== 0) tracked[top++] = resource;
}

/** Exempts a tensor from every enclosing and future scope (model parameters, optimizer state). */
export function keep<T extends Resource>(resource: T): T {
  (resource as Tracked)[KEPT] = true;
  return resource;
}

function collect(value: unknown, out: Set<unknown>, seen: Set<unknown>): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (isResource(value)) {
    out.add(value);
  } else if (Array.isArray(value)) {
    for (const v of value) collect(v, out, seen);
  } else if (value instanceof Map) {
    for (const v of value.values()) collect(v, out, seen);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, out, seen);
  }
}

function isResource(value: object): value is Resource {
  return typeof (value as Resource).dispose === 'function' && (value as { [SCOPED]?: boolean })[SCOPED] === true;
}

/** Marks a class's instances as scope-managed (the Tensor class sets this on its prototype). */
export const SCOPED = Symbol.for('dermosynth.scoped');

/**
 * Opens a scope: every tensor made until the matching `closeScope` belongs to it. Prefer `tidy`;
 * this pair is for hot paths (`Module.call`), where a closure per call would cost.
 */
export function openScope(): void {
  marks.push(top);
}

/**
 * Closes the innermost scope: disposes every tensor it owns except those in `result` (a tensor,
 * or arrays, plain objects and Maps holding tensors), which move to the enclosing scope (or to
 * the caller, with none open). Call it exactly once per `openScope`, also when the work threw.
 */
export function closeScope(result?: unknown): void {
  const start = marks.pop();
  if (start === undefined) throw new Error('closeScope: no scope is open');
  const end = top;
  const parent = marks.length !== 0;
  let write = start;
  if (result !== null && typeof result === 'object' && !isResource(result)) {
    const escaping = new Set<unknown>();
    collect(result, escaping, new Set());
    for (let i = start; i < end; i++) {
      const r = tracked[i]!;
      if (escaping.has(r)) {
        if (parent) tracked[write++] = r;
      } else if (!r[KEPT]) r.dispose();
    }
  } else {
    // The common case, one tensor (or nothing): no set needed.
    for (let i = start; i < end; i++) {
      const r = tracked[i]!;
      if (r === result) {
        if (parent) tracked[write++] = r;
      } else if (!r[KEPT]) r.dispose();
    }
  }
  for (let i = write; i < end; i++) tracked[i] = undefined;
  top = write;
}

/**
 * Frees a tensor now if the innermost open scope made it (and it is not kept); anything else (a
 * module's inputs, parameters and buffers, tensors of outer scopes) is left alone. For long
 * forward bodies in inference, where the scope's end would come late: release a large
 * intermediate once its last reader has run.
 */
export function release(resource: Resource): void {
  const start = marks.length !== 0 ? marks[marks.length - 1]! : top;
  for (let i = top - 1; i >= start; i--) {
    if (tracked[i] !== resource) continue;
    tracked[i] = tracked[top - 1];
    tracked[--top] = undefined;
    if (!(resource as Tracked)[KEPT]) resource.dispose();
    return;
  }
}

/**
 * Runs `fn`, then disposes every tensor created during it that is not part of its result.
 * Returned tensors move to the enclosing scope. An async function is rejected: a scope must
 * close on the same tick it opened, or tensors from unrelated work would be caught in it.
 */
export function tidy<T>(fn: () => T): T {
  openScope();
  let result: T;
  try {
    result = fn();
  } catch (err) {
    closeScope();
    throw err;
  }
  if (result instanceof Promise) {
    closeScope();
    throw new TypeError('tidy(fn): fn must be synchronous; use tidy inside the async steps instead');
  }
  closeScope(result);
  return result;
}

/** Disposes every tensor in a value (a tensor, or arrays, objects and Maps holding tensors). */
export function dispose(value: unknown): void {
  const found = new Set<unknown>();
  collect(value, found, new Set());
  for (const r of found) (r as Resource).dispose();
}

/** How many scopes are open (for tests and diagnostics). */
export function scopeDepth(): number {
  return marks.length;
}
