// dermosynth studio build: the web studio as a static site (the page, the run's generator as ONNX,
// onnxruntime-web, a few dataset masks, the run's grids, log and metrics) for any static file server.
import { Command, Option } from 'commander';
import path from 'node:path';
import { EXPORT_PRECISIONS, type ExportPrecision } from '../export/generator_graph.js';
import { BundleMissingError } from '../serve/static_files.js';
import { DEFAULT_SITE_MASKS, DEFAULT_SITE_SAMPLES, buildStaticSite } from '../serve/static_site.js';
import { findModel } from '../synth/pretrained.js';
import { intIn } from './parse.js';

interface BuildFlags {
  run?: string;
  pretrained?: string;
  out: string;
  masks: number;
  samples: number;
  precision: ExportPrecision;
  weights?: string;
  overwrite: boolean;
}

export function studioCommand(): Command {
  const build = new Command('build')
    .description(
      'write the studio as a static site that generates in the browser (onnxruntime-web: WebGPU, else WebAssembly); no dermosynth server needed',
    )
    .option('--run <dir>', "a training run's folder (the --out of 'dermosynth train')")
    .option('--pretrained <name>', "a pretrained model that ships with dermosynth ('dermosynth models')")
    .requiredOption('--out <dir>', 'the folder to write (served as it is by any static file server)')
    .addOption(
      new Option('--masks <n>', "the run's dataset masks to include as starting points")
        .argParser(intIn(0, 1000))
        .default(DEFAULT_SITE_MASKS),
    )
    .addOption(
      new Option('--samples <n>', "the run's newest sample grids to include")
        .argParser(intIn(0, 10_000))
        .default(DEFAULT_SITE_SAMPLES),
    )
    .addOption(
      new Option('--precision <p>', 'the exported generator: fp32, or fp16 (half the download)')
        .choices([...EXPORT_PRECISIONS])
        .default('fp32'),
    )
    .option('--weights <file>', "a weights file instead of the run's own (a checkpoint or generator safetensors)")
    .option('--overwrite', 'replace an existing --out folder (only one written by studio build)', false)
    .action(async (o: BuildFlags) => {
      if ((o.run === undefined) === (o.pretrained === undefined))
        throw new RangeError('give one of --run DIR or --pretrained NAME');
      if (o.pretrained !== undefined && o.weights !== undefined)
        throw new RangeError('--weights goes with --run: a pretrained model has its own weights');
      const runDir = o.run ?? (await findModel(o.pretrained!)).dir;
      let r;
      try {
        r = await buildStaticSite({
          runDir,
          out: o.out,
          masks: o.masks,
          samples: o.samples,
          precision: o.precision,
          weights: o.weights === undefined ? undefined : path.resolve(o.weights),
          overwrite: o.overwrite,
        });
      } catch (e) {
        if (e instanceof BundleMissingError) throw new RangeError(e.message);
        throw e;
      }
      const mib = (b: number) => (b / 2 ** 20).toFixed(1);
      console.error(
        `${r.model} ${r.width}x${r.height}: generator ${mib(r.modelBytes)} MiB (${o.precision}), ${r.masks} dataset masks, ${r.samples} sample grids`,
      );
      console.error(`training data: ${r.attribution}`);
      console.error(
        'serve the folder with any static file server that sends .wasm as application/wasm (no COOP/COEP headers needed), e.g. python3 -m http.server -d ' +
          o.out,
      );
      console.log(`wrote ${r.out} (${mib(r.bytes)} MiB)`);
    });
  return new Command('studio').description('the web studio as a static site (studio build)').addCommand(build);
}
