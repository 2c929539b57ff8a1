// Charts as files: a vega-lite spec is compiled to vega, rendered headless (vega's View with
// renderer 'none', toSVG) to SVG, and the SVG rasterised by sharp to PNG; both written atomically.
// Two charts: ROC curves (several, each with its AUC in the legend, and the chance diagonal) and a
// generic line chart (e.g. loss curves: several named series of (x, y) points).
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { writeFileAtomic } from '../util/atomic_file.js';
import type { RocPoint } from './auc.js';

export interface ChartSize {
  /** Plot area in CSS pixels (the legend and axes add to it). */
  width?: number;
  height?: number;
}

export interface RenderedChart {
  svg: string;
  png: string;
  /** The PNG's size in pixels. */
  width: number;
  height: number;
}

/** Renders a vega-lite spec to SVG text. `scale` multiplies the SVG's width and height attributes. */
export async function specToSvg(spec: TopLevelSpec, scale = 1): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG(scale);
  } finally {
    view.finalize();
  }
}

/**
 * Writes `<base>.svg` and `<base>.png` (the PNG rasterised at `scale` x the chart's CSS size,
 * default 2 for sharp text). Returns their paths and the PNG's size.
 */
export async function renderChart(
  spec: TopLevelSpec,
  base: string,
  o: { scale?: number } = {},
): Promise<RenderedChart> {
  const scale = o.scale ?? 2;
  if (!(scale > 0 && scale <= 8)) throw new RangeError(`renderChart: scale must be in (0, 8], got ${scale}`);
  const svgText = await specToSvg(spec, scale);
  const png = await sharp(Buffer.from(svgText)).png().toBuffer();
  const meta = await sharp(png).metadata();
  await mkdir(path.dirname(path.resolve(base)), { recursive: true });
  const files = { svg: `${base}.svg`, png: `${base}.png` };
  await writeFileAtomic(files.svg, new TextEncoder().encode(svgText));
  await writeFileAtomic(files.png, png);
  return { ...files, width: meta.width!, height: meta.height! };
}

export interface RocSeries {
  name: string;
  auc: number;
  points: readonly RocPoint[];
}

/** The legend label of a curve: its name and AUC to three decimals. */
export function rocLabel(c: { name: string; auc: number }): string {
  return `${c.name} (AUC ${c.auc.toFixed(3)})`;
}

/** ROC curves (false-positive rate vs sensitivity), one colour per curve, AUCs in the legend. */
export function rocChartSpec(curves: readonly RocSeries[], o: ChartSize & { title?: string } = {}): TopLevelSpec {
  if (curves.length === 0) throw new RangeError('rocChartSpec: no curves to plot');
  const values = curves.flatMap((c, k) =>
    c.points.map((p, i) => ({ curve: rocLabel(c), order: k, i, fpr: p.fpr, tpr: p.tpr })),
  );
  const axis = (title: string) => ({
    type: 'quantitative' as const,
    title,
    scale: { domain: [0, 1] },
    axis: { tickCount: 5 },
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: o.title,
    width: o.width ?? 360,
    height: o.height ?? 360,
    background: 'white',
    layer: [
      {
        data: {
          values: [
            { fpr: 0, tpr: 0 },
            { fpr: 1, tpr: 1 },
          ],
        },
        mark: { type: 'line', strokeDash: [4, 4], color: '#999', strokeWidth: 1 },
        encoding: { x: { field: 'fpr', ...axis('1 - specificity') }, y: { field: 'tpr', ...axis('sensitivity') } },
      },
      {
        data: { values },
        mark: { type: 'line', strokeWidth: 2, interpolate: 'linear' },
        encoding: {
          x: { field: 'fpr', ...axis('1 - specificity') },
          y: { field: 'tpr', ...axis('sensitivity') },
          color: {
            field: 'curve',
            type: 'nominal',
            title: null,
            sort: curves.map(rocLabel),
            legend: { orient: 'bottom-right', labelLimit: 400 },
          },
          order: { field: 'i', type: 'quantitative' },
        },
      },
    ],
  } as TopLevelSpec;
}

export interface LineSeries {
  name: string;
  points: readonly { x: number; y: number }[];
}

/** Several named series of (x, y) points (e.g. loss per step), optionally with a log y axis. */
export function lineChartSpec(
  series: readonly LineSeries[],
  o: ChartSize & { title?: string; xTitle?: string; yTitle?: string; logY?: boolean; points?: boolean } = {},
): TopLevelSpec {
  if (series.length === 0) throw new RangeError('lineChartSpec: no series to plot');
  const values = series.flatMap((s) =>
    s.points
      .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!o.logY || p.y > 0))
      .map((p) => ({ series: s.name, x: p.x, y: p.y })),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: o.title,
    width: o.width ?? 480,
    height: o.height ?? 300,
    background: 'white',
    data: { values },
    // points: a dot on every value, so that a series of one value shows too.
    mark: { type: 'line', strokeWidth: 1.5, ...(o.points ? { point: true } : {}) },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: o.xTitle ?? 'x' },
      y: {
        field: 'y',
        type: 'quantitative',
        title: o.yTitle ?? 'y',
        scale: o.logY ? { type: 'log' } : { zero: false },
      },
      color: {
        field: 'series',
        type: 'nominal',
        title: null,
        sort: series.map((s) => s.name),
        legend: series.length > 1 ? { orient: 'right', labelLimit: 400 } : null,
      },
    },
  } as TopLevelSpec;
}

/** Writes ROC curves to `<base>.svg` and `<base>.png`. */
export function plotRocCurves(
  curves: readonly RocSeries[],
  base: string,
  o: ChartSize & { title?: string; scale?: number } = {},
): Promise<RenderedChart> {
  return renderChart(rocChartSpec(curves, o), base, { scale: o.scale });
}

/** Writes a line chart to `<base>.svg` and `<base>.png`. */
export function plotLines(
  series: readonly LineSeries[],
  base: string,
  o: ChartSize & {
    title?: string;
    xTitle?: string;
    yTitle?: string;
    logY?: boolean;
    points?: boolean;
    scale?: number;
  } = {},
): Promise<RenderedChart> {
  return renderChart(lineChartSpec(series, o), base, { scale: o.scale });
}
