// `dermosynth compare RUN...`: the paper-style table, one row per evaluated run (proposed,
// pix2pixHD, pix2pix, SPADE...), one column per metric, the best of each column in bold; written as
// Markdown and HTML. Runs evaluated on other data, splits or auxiliary networks are pointed out:
// their numbers are not comparable.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic_file.js';
import type { Metrics } from './evaluate.js';
import { metricTableBlock, readMetrics } from './run_report.js';
import { toHtml, toMarkdown, type Block } from './report_document.js';

export interface Comparison {
  blocks: Block[];
  markdown: string;
  /** Reasons the rows may not be comparable (empty when they are). */
  warnings: string[];
}

export async function compareRuns(runDirs: readonly string[]): Promise<Comparison> {
  if (runDirs.length === 0) throw new RangeError('compare: give one or more run folders');
  const runs = await Promise.all(runDirs.map(async (dir) => ({ dir, m: await readMetrics(dir) })));
  const first = runs[0]!.m;
  const warnings: string[] = [];
  const differ = (what: string, get: (m: Metrics) => string) => {
    const values = new Set(runs.map((r) => get(r.m)));
    if (values.size > 1)
      warnings.push(
        `the runs were evaluated on different ${what} (${[...values].join(' / ')}): compare their numbers with care`,
      );
  };
  differ('data', (m) => `${path.basename(m.data.cache)} ${m.data.contentKey.slice(0, 12)}`);
  differ('splits', (m) => `${m.data.split} (${m.data.lesions} lesions)`);
  differ('sizes', (m) => m.size.join('x'));
  differ('generator precisions', (m) => m.precision ?? 'fp32');
  for (const net of ['inception', 'classifier', 'segmenter'])
    differ(`${net} networks`, (m) => m.networks[net]?.sha256.slice(0, 12) ?? 'none');
  // Rows are named by model; two runs of one model get their folder names too.
  const counts = new Map<string, number>();
  for (const r of runs) counts.set(r.m.model, (counts.get(r.m.model) ?? 0) + 1);
  const label = (r: { dir: string; m: Metrics }) =>
    counts.get(r.m.model)! > 1 ? `${r.m.model} (${path.basename(path.resolve(r.dir))})` : r.m.model;
  const classes =
    Object.keys(first.files.grids).length > 0 ? Object.keys(first.files.grids) : Object.keys(first.data.perClass);
  const blocks: Block[] = [
    { kind: 'heading', level: 1, text: 'Comparison' },
    {
      kind: 'paragraph',
      text: `${runs.length} runs, each generating the ${first.data.split} split's ${first.data.lesions} label maps at ${first.size.join('x')}; the best value of each column in bold (↑ higher is better, ↓ lower).`,
    },
    metricTableBlock(
      runs.map((r) => ({ label: label(r), metrics: r.m.metrics })),
      classes,
      true,
    ),
    {
      kind: 'list',
      items: runs.map(
        (r) =>
          `${label(r)}: \`${path.resolve(r.dir)}\`, weights sha256 ${r.m.weights.sha256.slice(0, 16)}${r.m.weights.step !== null ? ` (step ${r.m.weights.step})` : ''}`,
      ),
    },
  ];
  if (warnings.length > 0)
    blocks.push({ kind: 'heading', level: 2, text: 'Warnings' }, { kind: 'list', items: warnings });
  return { blocks, markdown: toMarkdown(blocks), warnings };
}

export async function writeComparison(
  runDirs: readonly string[],
  out: string,
): Promise<Comparison & { files: { html: string; markdown: string } }> {
  const c = await compareRuns(runDirs);
  await mkdir(out, { recursive: true });
  const files = { html: path.join(out, 'comparison.html'), markdown: path.join(out, 'comparison.md') };
  await writeFileAtomic(files.markdown, new TextEncoder().encode(c.markdown));
  await writeFileAtomic(files.html, new TextEncoder().encode(toHtml('dermosynth: comparison', c.blocks)));
  return { ...c, files };
}
