// The plan as the demo prints it when it starts (or continues): the data, the size, and each
// stage's budget.
import path from 'node:path';
import { formatSeconds } from './format_seconds.js';
import type { DemoState } from './state.js';

export function planSummary(s: DemoState): string {
  const st = s.settings;
  const r = s.request;
  const b = s.budgets;
  const data =
    r.data === null
      ? `the built-in sample data (${st.sampleLesions} procedural lesions)`
      : `${r.dataArg} (${st.maxTrain === null ? 'every' : `at most ${st.maxTrain}`} training lesions; val and test whole)`;
  return [
    `dermosynth demo -> ${r.out}${r.tiny ? ' (tiny test configuration)' : ''}`,
    `data: ${data}, at ${st.width}x${st.height}`,
    `plan for ${r.minutes} minute(s) on ${s.machine.cores} cores (load average ${s.machine.loadAverage.join(' ')} when planned):`,
    `  1 data        the dataset, label maps and the cache                 seconds`,
    `  2 train       proposed GAN (cpu preset${Object.keys(st.modelOverrides).length > 0 ? ', tiny' : ''}), batch 1   ${formatSeconds(b.train).padStart(7)}  (steps from the first ${st.calibrationSteps}, measured)`,
    `  3 synthesize  a class-balanced set from deformed training masks      ${formatSeconds(b.synthesize).padStart(7)}`,
    `  4 evaluate    paired, distribution, semantic and class metrics       ${formatSeconds(b.evaluate).padStart(7)}  (auxiliary networks: few epochs)`,
    `  5 experiment  resnet18, 1 seed: real vs real + synthetic             ${formatSeconds(b.experiment).padStart(7)}`,
    `  6 report      ${path.join(r.out, 'report.html')} and report.md`,
  ].join('\n');
}
