// dermosynth models [list] | models pack: the pretrained models that ship (models/*/config.json of
// the installed package, or $DERMOSYNTH_MODELS_DIR), and packing a trained run into such a folder.
import { Command, Option } from 'commander';
import path from 'node:path';
import { MODEL_WEIGHTS_LIMIT, sizeText } from '../synth/model_folder.js';
import { packModel } from '../synth/pack_model.js';
import { MODELS_DIR_ENV, listModels } from '../synth/pretrained.js';
import { intIn } from './parse.js';
import { table } from './report.js';

export function modelsCommand(): Command {
  const models = new Command('models').description(
    'the pretrained models that ship with dermosynth (list), and packing a trained run into one (pack)',
  );
  models
    .command('list', { isDefault: true })
    .description(
      `list the shipped models: name, model, size, diagnoses, weights file size, folder (from the package's models/ folder, or $${MODELS_DIR_ENV})`,
    )
    .action(async () => {
      const l = await listModels();
      for (const p of l.problems) process.stderr.write(`warning: ${p}\n`);
      if (l.models.length === 0) {
        console.log(
          `no pretrained models ship with this dermosynth yet (none in ${l.dir}). Train one with 'dermosynth train' and use it with --run RUN, or pack it with 'dermosynth models pack'.`,
        );
        return;
      }
      console.log(
        table(
          ['name', 'model', 'size', 'diagnoses', 'weights', 'folder'],
          l.models.map((m) => [
            m.name,
            m.config.model,
            sizeText(m.config.size),
            m.config.diagnoses.join(', '),
            `${(m.weightsBytes / 1e6).toFixed(2)} MB`,
            m.dir,
          ]),
        ),
      );
    });
  models
    .command('pack')
    .description(
      "package a trained run's generator as a model folder that can ship: float16 generator.safetensors (provenance in its metadata, at most 25 MB), config.json, label | generated grids per diagnosis, metrics.json, and a MODEL_CARD.md skeleton",
    )
    .requiredOption('--run <dir>', "the 'dermosynth train' run folder")
    .requiredOption('--name <name>', "the model's name, what --pretrained and train --init take (e.g. isic2017-128)")
    .requiredOption('--out <dir>', 'the model folder to write (e.g. models/isic2017-proposed-128)')
    .option('--weights <file>', "one of the run's checkpoints instead of its final generator.safetensors")
    .addOption(new Option('--examples <n>', 'label maps per grid').argParser(intIn(1, 16)).default(4))
    .option(
      '--overwrite',
      'replace an existing model folder (an existing MODEL_CARD.md is kept; the new skeleton goes beside it)',
      false,
    )
    .action(
      async (o: { run: string; name: string; out: string; weights?: string; examples: number; overwrite: boolean }) => {
        const r = await packModel(
          {
            run: path.resolve(o.run),
            name: o.name,
            out: path.resolve(o.out),
            weights: o.weights,
            examples: o.examples,
            overwrite: o.overwrite,
            limitBytes: MODEL_WEIGHTS_LIMIT,
          },
          (m) => process.stderr.write(`${m}\n`),
        );
        const c = r.config;
        console.log(
          `packed ${c.name}: ${c.model} ${sizeText(c.size)} (${c.diagnoses.join(', ')}), step ${c.source.step ?? '?'}, ${(c.weights.bytes / 1e6).toFixed(2)} MB float16 -> ${r.dir}\n` +
            `grids: ${Object.values(r.grids).join(', ')}\ncard: ${r.card} (write its TO WRITE sections before shipping)`,
        );
      },
    );
  return models;
}
