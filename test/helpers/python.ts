// The Python side of the tests: references computed live by /usr/bin/python3 with PyTorch (or
// numpy, scikit-image, PIL) on this machine, never pasted from a run on another CPU. Set-up
// (scripts/setup.sh) installs every module asked for here; a test that needs one that is missing
// is skipped with a line naming the Debian package that provides it.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** The Python with PyTorch: /usr/bin/python3 (set-up installs it there), or DERMOSYNTH_PYTHON. */
export const PYTHON = process.env.DERMOSYNTH_PYTHON || '/usr/bin/python3';

const probed = new Map<string, boolean>();

/** Whether PYTHON can import every module in `modules` (e.g. 'torch', 'PIL.Image, numpy'). */
export function pythonHas(modules: string): boolean {
  let ok = probed.get(modules);
  if (ok === undefined) {
    ok =
      existsSync(PYTHON) &&
      spawnSync(PYTHON, ['-c', `import ${modules}`], { stdio: 'ignore', timeout: 120_000 }).status === 0;
    probed.set(modules, ok);
  }
  return ok;
}

/**
 * True when `modules` import; otherwise warns once, for `file`, that `what` is skipped and which
 * Debian package set-up installs for it.
 */
export function needPython(file: string, what: string, modules: string, debianPackage: string): boolean {
  const ok = pythonHas(modules);
  if (!ok)
    console.warn(
      `${file}: ${what} skipped: ${PYTHON} cannot import ${modules} (apt-get install ${debianPackage}; scripts/setup.sh does)`,
    );
  return ok;
}

/**
 * Runs `code` in PYTHON with `input` as JSON on its standard input and returns what it prints on
 * standard output, parsed as JSON. It inherits this process's environment (OMP_NUM_THREADS,
 * ONEDNN_MAX_CPU_ISA), so PyTorch picks the kernels the test's libtorch picks; code that depends
 * on the thread count sets it (torch.set_num_threads).
 */
export function pythonJson<T>(code: string, input: unknown = null): T {
  return runJson<T>(['-c', code], input);
}

/** pythonJson for a script file: `PYTHON FILE ...args`, its standard output as JSON. */
export function pythonScriptJson<T>(file: string, args: string[] = []): T {
  return runJson<T>([file, ...args], null);
}

function runJson<T>(argv: string[], input: unknown): T {
  const out = execFileSync(PYTHON, argv, {
    input: JSON.stringify(input),
    encoding: 'utf8',
    maxBuffer: 256 << 20,
    timeout: 300_000,
  });
  return JSON.parse(out) as T;
}
