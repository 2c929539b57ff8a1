// dermosynth export: a trained run's generator as a portable ONNX file.
import { Command, Option } from 'commander';
import path from 'node:path';
import { EXPORT_FORMATS, exportRun } from '../export/export_run.js';
import { EXPORT_INPUTS, EXPORT_PRECISIONS, type ExportInput, type ExportPrecision } from '../export/generator_graph.js';
import { DEFAULT_OPSET, MAX_OPSET, MIN_OPSET } from '../export/onnx_graph.js';
import { intIn, parseSize } from './parse.js';

interface ExportFlags {
  run: string;
  format: string;
  out: string;
  opset: number;
  size?: { width: number; height: number };
  dynamicSize: boolean;
  input: ExportInput;
  precision: ExportPrecision;
  weights?: string;
  overwrite: boolean;
}

export function exportCommand(): Command {
  return new Command('export')
    .description(
      "write a trained run's generator as an ONNX model (onnxruntime, onnxruntime-web), its provenance and the training data's licence in the metadata",
    )
    .requiredOption('--run <dir>', "a 'dermosynth train' run folder (its final generator, else its newest checkpoint)")
    .requiredOption('--out <file>', 'the .onnx file to write')
    .addOption(new Option('--format <f>', `the file format (${EXPORT_FORMATS.join(', ')})`).default('onnx'))
    .addOption(
      new Option('--opset <n>', `the ONNX opset (${MIN_OPSET} to ${MAX_OPSET})`)
        .argParser(intIn(1, 1000))
        .default(DEFAULT_OPSET),
    )
    .addOption(
      new Option('--size <WxH>', "a fixed image size other than the run's (WIDTHxHEIGHT, as train's --size)").argParser(
        parseSize,
      ),
    )
    .option(
      '--dynamic-size',
      'symbolic height and width (any multiple of what the generator needs) instead of a fixed size',
      false,
    )
    .addOption(
      new Option(
        '--input <kind>',
        "the model's input: uint8 label bytes with the one-hot step in the graph, or the one-hot map",
      )
        .choices([...EXPORT_INPUTS])
        .default('labels'),
    )
    .addOption(
      new Option('--precision <p>', 'fp32, or fp16 weights and activations (input and output stay float32)')
        .choices([...EXPORT_PRECISIONS])
        .default('fp32'),
    )
    .option('--weights <file>', "a weights file instead of the run's own (a checkpoint or generator safetensors)")
    .option('--overwrite', 'replace an existing --out file', false)
    .action(async (o: ExportFlags) => {
      const r = await exportRun({
        run: o.run,
        out: o.out,
        format: o.format,
        opset: o.opset,
        size: o.size ?? null,
        dynamicSize: o.dynamicSize,
        input: o.input,
        precision: o.precision,
        weights: o.weights === undefined ? undefined : path.resolve(o.weights),
        overwrite: o.overwrite,
      });
      const ops = Object.entries(r.opCounts)
        .sort((a, b) => b[1] - a[1])
        .map(([op, n]) => `${op} ${n}`)
        .join(', ');
      const shape = (s: (number | string)[]) => `[${s.join(', ')}]`;
      console.error(`${r.model} generator: ${r.nodes} nodes (${ops}), ${r.initializers} initializers`);
      console.error(
        `input ${r.input.name} ${r.input.type} ${shape(r.input.shape)} -> output ${r.output.name} ${r.output.type} ${shape(r.output.shape)}; opset ${o.opset}, ${o.precision}`,
      );
      console.error(`training data: ${r.metadata['dermosynth.attribution']}`);
      console.log(`wrote ${r.file} (${(r.bytes / 2 ** 20).toFixed(2)} MiB, sha256 ${r.sha256})`);
    });
}
