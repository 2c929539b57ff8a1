// Plain-text tables and problem lists for the terminal.
import { formatProblem, type Problem } from '../data/problems.js';

/** A table with a header row; numbers right-aligned. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? String(c) : c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number'));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [fmt(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(fmt)].join('\n');
}

/**
 * Every error on its own line; warnings of one kind beyond `maxPerKind` are summarised (they are all
 * in the cache manifest and skipped.csv).
 */
export function problemList(problems: Problem[], maxPerKind = 10): string {
  const lines: string[] = [];
  const shown = new Map<string, number>();
  const hidden = new Map<string, number>();
  for (const p of problems) {
    if (p.severity === 'warning') {
      const n = shown.get(p.kind) ?? 0;
      if (n >= maxPerKind) {
        hidden.set(p.kind, (hidden.get(p.kind) ?? 0) + 1);
        continue;
      }
      shown.set(p.kind, n + 1);
    }
    lines.push(`  ${formatProblem(p)}`);
  }
  for (const [kind, n] of hidden) lines.push(`  ... and ${n} more warning(s) of kind ${kind}`);
  return lines.join('\n');
}

export function percent(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}
