// dermosynth serve: the web studio for a trained run (draw a lesion, choose a diagnosis, generate).
import { Command, Option } from 'commander';
import { existsSync } from 'node:fs';
import { amp, checkDevice, type Precision } from '../torch/index.js';
import { DEFAULT_HOST, DEFAULT_MAX_BODY, DEFAULT_PORT, DEFAULT_QUEUE, startStudioServer } from '../serve/server.js';
import { BundleMissingError } from '../serve/static_files.js';
import { defaultModel, findModel } from '../synth/pretrained.js';
import { intIn, precisionOption } from './parse.js';

export function serveCommand(): Command {
  return new Command('serve')
    .description(
      "the web studio: draw a lesion mask, choose a diagnosis and see the run's generator's image; a JSON API beside it",
    )
    .option('--run <dir>', "a training run's folder (the --out of 'dermosynth train')")
    .option(
      '--pretrained <name>',
      "a pretrained model that ships with dermosynth ('dermosynth models'); with neither option, the shipped model is served when there is one",
    )
    .addOption(new Option('--port <n>', 'TCP port (0: any free port)').argParser(intIn(0, 65535)).default(DEFAULT_PORT))
    .option(
      '--host <address>',
      'address to listen on; anything but 127.0.0.1/localhost/::1 exposes the studio to the network',
      DEFAULT_HOST,
    )
    .option('--device <device>', 'cpu or cuda:N', 'cpu')
    .addOption(precisionOption())
    .option(
      '--weights <file>',
      "a weights file instead of the run's generator.safetensors (a checkpoint or generator file)",
    )
    .addOption(
      new Option('--threads <n>', "libtorch threads for inference (default: libtorch's, the cores)").argParser(
        intIn(1, 1024),
      ),
    )
    .addOption(
      new Option('--queue <n>', 'generate requests queued or running at most; more are answered 503 at once')
        .argParser(intIn(1, 10_000))
        .default(DEFAULT_QUEUE),
    )
    .addOption(
      new Option('--max-body <bytes>', 'largest request body accepted')
        .argParser(intIn(1024, 256 * 1024 * 1024))
        .default(DEFAULT_MAX_BODY),
    )
    .action(
      async (
        o: {
          run?: string;
          pretrained?: string;
          port: number;
          host: string;
          device: string;
          precision: Precision;
          weights?: string;
          threads?: number;
          queue: number;
          maxBody: number;
        },
        cmd: Command,
      ) => {
        if (o.run !== undefined && o.pretrained !== undefined)
          throw new RangeError('give one of --run DIR or --pretrained NAME, not both');
        let runDir: string;
        if (o.pretrained !== undefined || o.run === undefined) {
          let m;
          if (o.pretrained !== undefined) {
            m = await findModel(o.pretrained);
          } else {
            const d = await defaultModel();
            // Nothing ships: as before there were pretrained models, --run is required.
            if (!d) return cmd.error("error: required option '--run <dir>' not specified");
            m = d.model;
            console.error(
              `no --run or --pretrained given: serving the pretrained model ${m.name} that ships with dermosynth (${m.dir})${d.others.length ? `; others: ${d.others.join(', ')} (--pretrained NAME)` : ''}; --run RUN serves a run of yours`,
            );
          }
          if (o.weights !== undefined)
            throw new RangeError('--weights goes with --run: a pretrained model has its own weights');
          runDir = m.dir;
        } else {
          runDir = o.run;
          if (!existsSync(runDir))
            throw new RangeError(`--run ${runDir}: no such run folder; pass the --out of a 'dermosynth train' run`);
        }
        let device;
        try {
          device = checkDevice(o.device);
        } catch (e) {
          throw new RangeError(`--device ${o.device}: ${(e as Error).message}`);
        }
        const precision = amp.checkPrecision(o.precision, device);
        let studio;
        try {
          studio = await startStudioServer({
            runDir,
            host: o.host,
            port: o.port,
            device,
            precision,
            weights: o.weights,
            threads: o.threads,
            queue: o.queue,
            maxBody: o.maxBody,
            onError: (m) => console.error(`serve: ${m}`),
          });
        } catch (e) {
          if (e instanceof BundleMissingError) throw new RangeError(e.message);
          throw e;
        }
        const i = studio.info;
        console.error(
          `loaded ${runDir}: ${i.model}, ${i.width}x${i.height}, classes ${i.classes.join(', ')}; weights ${i.weights.file} (sha256 ${i.weights.sha256.slice(0, 12)}), ${i.device}${i.precision !== 'fp32' ? ` ${i.precision} autocast` : ''}, ${i.threads} threads`,
        );
        if (!['127.0.0.1', 'localhost', '::1'].includes(studio.host)) {
          console.error(
            `warning: listening on ${studio.host}: anyone who can reach this address can use the studio (there is no authentication)`,
          );
        }
        console.log(`dermosynth studio: ${studio.url}/  (Ctrl-C stops it)`);
        await new Promise<void>((resolve) => {
          const stop = (sig: NodeJS.Signals) => {
            console.error(`${sig}: stopping`);
            process.off('SIGINT', stop);
            process.off('SIGTERM', stop);
            void studio.close().then(resolve);
          };
          process.on('SIGINT', stop);
          process.on('SIGTERM', stop);
        });
      },
    );
}
