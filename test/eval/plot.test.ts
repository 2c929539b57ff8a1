// Charts: vega-lite -> SVG -> PNG, the PNG's size, and the curve data in the SVG.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { plotLines, plotRocCurves, rocLabel, specToSvg, rocChartSpec } from '../../src/eval/plot.js';
import { rocCurve, rocAuc } from '../../src/eval/auc.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-plot-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The pixel width and height an SVG declares. */
function svgSize(svg: string): [number, number] {
  const m = /<svg[^>]*width="([\d.]+)"[^>]*height="([\d.]+)"/.exec(svg)!;
  return [Number(m[1]), Number(m[2])];
}

describe('ROC curves', () => {
  it('writes SVG and PNG with both curves, their AUCs in the legend, the PNG at scale x the SVG size', async () => {
    const labels = [0, 0, 1, 1];
    const a = {
      name: 'real',
      auc: rocAuc([0.1, 0.4, 0.35, 0.8], labels),
      points: rocCurve([0.1, 0.4, 0.35, 0.8], labels),
    };
    const b = { name: 'real + synthetic', auc: 1, points: rocCurve([0.1, 0.2, 0.7, 0.8], labels) };
    const out = await plotRocCurves([a, b], path.join(dir, 'roc'), {
      width: 200,
      height: 200,
      scale: 2,
      title: 'melanoma vs rest',
    });
    expect(out.svg).toBe(path.join(dir, 'roc.svg'));
    expect(out.png).toBe(path.join(dir, 'roc.png'));
    const svg = readFileSync(out.svg, 'utf8');
    expect(svg).toContain('real (AUC 0.750)');
    expect(svg).toContain('real + synthetic (AUC 1.000)');
    expect(svg).toContain('melanoma vs rest');
    // Curve a's points (0,0) (0,.5) (.5,.5) (.5,1) (1,1) on a 200x200 plot (y grows downwards).
    expect(svg).toContain('d="M0,200L0,100L100,100L100,0L200,0"');
    // Curve b: (0,0) (0,.5) (0,1) (.5,1) (1,1).
    expect(svg).toContain('d="M0,200L0,100L0,0L100,0L200,0"');
    const meta = await sharp(out.png).metadata();
    expect(meta.format).toBe('png');
    const [w, h] = svgSize(svg);
    expect([meta.width, meta.height]).toEqual([w, h]);
    expect([out.width, out.height]).toEqual([w, h]);
    // scale 2: twice the SVG's own coordinate system (its viewBox), which holds the 200 px plot and more.
    const vb = /viewBox="0 0 ([\d.]+) ([\d.]+)"/.exec(svg)!;
    expect(w).toBe(2 * Number(vb[1]));
    expect(Number(vb[1])).toBeGreaterThan(200);
    // No temporary files left behind.
    expect(
      readdirSync(dir)
        .filter((f) => f.startsWith('roc'))
        .sort(),
    ).toEqual(['roc.png', 'roc.svg']);
    expect(rocLabel({ name: 'x', auc: 0.12345 })).toBe('x (AUC 0.123)');
  });

  it('refuses an empty chart', () => {
    expect(() => rocChartSpec([])).toThrow(/no curves/);
  });
});

describe('line chart', () => {
  it('plots several series; a log axis drops non-positive values', async () => {
    const series = [
      {
        name: 'train loss',
        points: [
          { x: 0, y: 2 },
          { x: 10, y: 1 },
          { x: 20, y: 0.5 },
        ],
      },
      {
        name: 'val loss',
        points: [
          { x: 0, y: 2.2 },
          { x: 10, y: 1.4 },
          { x: 20, y: 0 },
        ],
      },
    ];
    const out = await plotLines(series, path.join(dir, 'sub', 'loss'), {
      width: 100,
      height: 100,
      scale: 1,
      xTitle: 'step',
      yTitle: 'loss',
      logY: true,
    });
    const svg = readFileSync(out.svg, 'utf8');
    expect(svg).toContain('train loss');
    expect(svg).toContain('val loss');
    expect(svg).toContain("X-axis titled 'step'");
    // train: x 0, 10, 20 -> 0, 50, 100 px; val keeps two points (y = 0 has no logarithm).
    expect(svg).toMatch(/d="M0,[\d.]+L50,[\d.]+L100,[\d.]+"/);
    expect(svg).toMatch(/d="M0,[\d.]+L50,[\d.]+"/);
    const meta = await sharp(out.png).metadata();
    expect([meta.width, meta.height]).toEqual(svgSize(svg));
    const plain = await specToSvg({
      data: { values: [{ x: 1, y: 1 }] },
      mark: 'point',
      encoding: { x: { field: 'x', type: 'quantitative' } },
    });
    expect(plain.startsWith('<svg')).toBe(true);
  });
});
