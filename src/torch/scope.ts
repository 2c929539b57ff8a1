// Deterministic freeing of native memory: `tidy(fn)` disposes every tensor made inside `fn`
// except those it returns (found in arrays, plain objects and Maps) and those marked with `keep`.
// Tensors that escape every scope are still freed by the garbage collector's finalizer.

/** Anything that holds native memory and can be released now. */
export interface Resource {
  dispose(): void;
}

const KEPT = Symbol('dermosynth.kept');
type Tracked = Resource & { [KEPT]?: boolean };

const scopes: Set<Tracked>[] = [];

/** Called by every new tensor: the innermost open scope will own it. */
export function track(resource: Resource): void {
  const top = scopes[scopes.length - 1];
  if (top) top.add(resource);
}

/** Exempts a tensor from every enclosing and future scope (model parameters, optimizer state). */
export function keep<T extends Resource>(resource: T): T {
  (resource as Tracked)[KEPT] = true;
  for (const scope of scopes) scope.delete(resource);
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
 * Runs `fn`, then disposes every tensor created during it that is not part of its result.
 * Returned tensors move to the enclosing scope. An async function is rejected: a scope must
 * close on the same tick it opened, or tensors from unrelated work would be caught in it.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tracked>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (err) {
    scopes.pop();
    for (const r of scope) r.dispose();
    throw err;
  }
  scopes.pop();
  if (result instanceof Promise) {
    for (const r of scope) r.dispose();
    throw new TypeError('tidy(fn): fn must be synchronous; use tidy inside the async steps instead');
  }
  const escaping = new Set<unknown>();
  collect(result, escaping, new Set());
  const parent = scopes[scopes.length - 1];
  for (const r of scope) {
    if (escaping.has(r)) parent?.add(r);
    else if (!r[KEPT]) r.dispose();
  }
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
  return scopes.length;
}
