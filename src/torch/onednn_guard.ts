// Makes sure the convolutions libtorch sends to oneDNN compute the right numbers on this machine,
// before the first one runs.
//
// Measured: Debian 13's libtorch 2.6 links the system's oneDNN 3.7.2, whose JIT convolution
// kernels (AVX-512 and AVX2 alike) compute wrong results on the AMD EPYC (family 26) virtual
// machines of our CI, whose CPUID reports no cache sizes: transposed convolutions and the input
// gradients of 7x7 and 4x4 convolutions off by O(1), bf16 convolutions off by half their range,
// and intermittent NaN gradients on two threads. Python PyTorch 2.6 on the same library computes
// the same wrong numbers (scripts/onednn-check.py). Capped at SSE4.1, oneDNN runs its GEMM-based
// convolutions, which are right (3.5x slower there than the wrong kernels, 5x faster than
// libtorch's own convolutions without oneDNN). libtorch 1.13's oneDNN 2.6 is right at full ISA on
// the same machines.
//
// So no oneDNN is trusted unchecked: a child process (the addon alone, one thread) runs the
// addon's onednnCheck (float32 convolutions, transposed ones and bf16, against float64) under each
// candidate cap, from none down to SSE4.1; the first that passes is used, through
// ONEDNN_MAX_CPU_ISA, which oneDNN reads when it makes its first primitive (child processes, such
// as the Python references of the tests and the benchmarks' peers, inherit it). If none passes,
// libtorch is told not to use oneDNN at all. The answer is kept per addon build and CPU in
// ~/.cache/dermosynth (or $XDG_CACHE_HOME/dermosynth), so the check costs about a second once per
// machine. A cap the user set (ONEDNN_MAX_CPU_ISA or DNNL_MAX_CPU_ISA) is used unchecked;
// DERMOSYNTH_ONEDNN_CHECK=off skips the check.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface OnednnCase {
  name: string;
  error: number;
  bound: number;
}

export interface OnednnGuardAddon {
  buildInfo(): { version: string; config: string; mkldnn: boolean };
  setMkldnnEnabled(enabled: boolean): void;
}

export interface OnednnChoice {
  /** The cap in force: null for none (oneDNN's best for this CPU), or an ONEDNN_MAX_CPU_ISA value. */
  isa: string | null;
  /** False when libtorch was told not to use oneDNN (no cap made it right). */
  onednn: boolean;
  /** 'user': the user's cap; 'off': not checked; 'cached' / 'checked': the self-check's answer; 'none': no oneDNN in this libtorch. */
  source: 'user' | 'off' | 'cached' | 'checked' | 'none';
  /** For each candidate tried (when checked now or cached): the cap and the cases that failed. */
  tried?: { isa: string | null; failed: OnednnCase[] }[];
}

const VERSION = 1;

function cacheFile(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'dermosynth', 'onednn-check.json');
}

function cpuIdentity(): string {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const first = info.split('\n\n')[0] ?? '';
    return first
      .split('\n')
      .filter((l) => /^(vendor_id|cpu family|model|model name|stepping|flags)\s*:/.test(l))
      .join('\n');
  } catch {
    return `${os.arch()} ${os.cpus()[0]?.model ?? ''}`;
  }
}

function candidates(cpu: string): (string | null)[] {
  if (os.arch() !== 'x64') return [null];
  const out: (string | null)[] = [null];
  if (/\bavx512f\b/.test(cpu)) out.push('AVX2');
  out.push('SSE41');
  return out;
}

/** Runs the addon's self-check in a child process under `isa`; the cases that failed. */
function checkUnder(addonFile: string, isa: string | null): OnednnCase[] {
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: '1' };
  delete env.ONEDNN_MAX_CPU_ISA;
  delete env.DNNL_MAX_CPU_ISA;
  if (isa) env.ONEDNN_MAX_CPU_ISA = isa;
  const script = `process.stdout.write(JSON.stringify(require(${JSON.stringify(addonFile)}).onednnCheck()))`;
  const r = spawnSync(process.execPath, ['-e', script], { env, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) {
    const how = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit status ${r.status}`;
    const said = (r.stderr ?? '')
      .split('\n')
      .find((l) => /error|fault|abort/i.test(l))
      ?.trim()
      .slice(0, 200);
    return [{ name: `the self-check process crashed (${how}${said ? `: ${said}` : ''})`, error: NaN, bound: 0 }];
  }
  const cases = JSON.parse(r.stdout) as OnednnCase[];
  return cases.filter((c) => !(c.error <= c.bound));
}

function readCache(file: string): Record<string, OnednnChoice> {
  try {
    const j = JSON.parse(readFileSync(file, 'utf8')) as { version?: number; entries?: Record<string, OnednnChoice> };
    return j.version === VERSION && j.entries ? j.entries : {};
  } catch {
    return {};
  }
}

function writeCache(file: string, key: string, choice: OnednnChoice): void {
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    const entries = { ...readCache(file), [key]: { ...choice, source: 'cached' } };
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ version: VERSION, entries }, null, 1));
    renameSync(tmp, file);
  } catch {
    // An unwritable home: the check runs again next time.
  }
}

function apply(addon: OnednnGuardAddon, choice: OnednnChoice): OnednnChoice {
  if (choice.isa) process.env.ONEDNN_MAX_CPU_ISA = choice.isa;
  if (!choice.onednn) addon.setMkldnnEnabled(false);
  return choice;
}

export function describeOnednn(choice: OnednnChoice): string {
  if (!choice.onednn) return 'oneDNN off (no ISA cap made its convolutions right on this CPU)';
  if (choice.isa)
    return `oneDNN capped at ${choice.isa}${choice.source === 'user' ? ' (by the user)' : ' (its faster kernels compute wrong convolutions on this CPU)'}`;
  return choice.source === 'off' ? 'oneDNN unchecked (DERMOSYNTH_ONEDNN_CHECK=off)' : 'oneDNN at full ISA';
}

/** Checks (or recalls) and applies the oneDNN cap; call before the first convolution. */
export function guardOnednn(addon: OnednnGuardAddon, addonFile: string): OnednnChoice {
  const user = process.env.ONEDNN_MAX_CPU_ISA || process.env.DNNL_MAX_CPU_ISA;
  if (user) return { isa: user, onednn: true, source: 'user' };
  const info = addon.buildInfo();
  if (!info.mkldnn) return { isa: null, onednn: true, source: 'none' };
  if (process.env.DERMOSYNTH_ONEDNN_CHECK === 'off') return { isa: null, onednn: true, source: 'off' };
  const cpu = cpuIdentity();
  let built = '';
  try {
    const s = statSync(addonFile);
    built = `${s.size} ${s.mtimeMs}`;
  } catch {
    // the key then rests on the version and configuration alone
  }
  const key = createHash('sha256')
    .update([VERSION, addonFile, built, info.version, info.config, cpu].join('\n'))
    .digest('hex')
    .slice(0, 32);
  const file = cacheFile();
  const cached = readCache(file)[key];
  if (cached) return apply(addon, { ...cached, source: 'cached' });

  const tried: { isa: string | null; failed: OnednnCase[] }[] = [];
  let choice: OnednnChoice | null = null;
  for (const isa of candidates(cpu)) {
    const failed = checkUnder(addonFile, isa);
    tried.push({ isa, failed });
    if (failed.length === 0) {
      choice = { isa, onednn: true, source: 'checked', tried };
      break;
    }
  }
  choice ??= { isa: null, onednn: false, source: 'checked', tried };
  writeCache(file, key, choice);
  if (choice.isa || !choice.onednn) {
    const first = tried[0]!.failed[0]!;
    const what = Number.isNaN(first.error)
      ? first.name
      : `${first.name}: off by ${first.error.toPrecision(3)}, allowed ${first.bound.toPrecision(3)}`;
    process.stderr.write(
      `dermosynth: this libtorch's oneDNN computes wrong convolutions on this CPU at full ISA (${what}); ` +
        `${describeOnednn(choice)}. Checked once for this build and CPU (kept in ${file}); set ONEDNN_MAX_CPU_ISA to choose.\n`,
    );
  }
  return apply(addon, choice);
}
