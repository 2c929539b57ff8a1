// Stage 6, report: OUT/report.html and OUT/report.md (report.ts), redone on every run of the demo.
import os from 'node:os';
import path from 'node:path';
import { writeDemoReport } from '../report.js';
import type { StageRunner } from '../stage.js';

export const reportStage: StageRunner<'report'> = async ({ state: s, record: rec, ui, commandLine }) => {
  rec.detail.loadAverage = os.loadavg().map((x) => Number(x.toFixed(2)));
  const r = await writeDemoReport(s, commandLine);
  ui.say(`report: ${r.html} (and ${path.basename(r.markdown)})`);
  return true;
};
