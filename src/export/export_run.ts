// dermosynth export: a trained run's generator as an ONNX file, with its provenance in the metadata.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic_file.js';
import { RunGenerator } from '../synth/run_generator.js';
import { ExportError } from './onnx_emit.js';
import { DEFAULT_OPSET, MAX_OPSET, MIN_OPSET } from './onnx_graph.js';
import { encodeModel } from './onnx_proto.js';
import {
  EXPORT_INPUTS,
  EXPORT_PRECISIONS,
  INPUT_NAMES,
  OUTPUT_NAME,
  generatorGraph,
  type ExportInput,
  type ExportPrecision,
} from './generator_graph.js';
import { checkExportSize, generatorSizeRule, sizeRuleText } from './image_size.js';
import { runDataLicence } from './provenance.js';

export const EXPORT_FORMATS = ['onnx'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportRequest {
  run: string;
  out: string;
  format: string;
  opset?: number;
  /** A fixed size other than the run's; null: the run's size (unless dynamic). */
  size?: { width: number; height: number } | null;
  dynamicSize?: boolean;
  input?: ExportInput;
  precision?: ExportPrecision;
  /** A weights file instead of the run's own. */
  weights?: string;
  overwrite?: boolean;
}

export interface ExportResult {
  file: string;
  bytes: number;
  sha256: string;
  model: string;
  nodes: number;
  opCounts: Record<string, number>;
  initializers: number;
  input: { name: string; type: string; shape: (number | string)[] };
  output: { name: string; type: string; shape: (number | string)[] };
  metadata: Record<string, string>;
}

function producerVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string })
      .version;
  } catch {
    return 'unknown';
  }
}

/** Checks the request's flags before anything is loaded; each error names its flag. */
function checkRequest(r: ExportRequest): {
  format: ExportFormat;
  opset: number;
  input: ExportInput;
  precision: ExportPrecision;
} {
  if (!(EXPORT_FORMATS as readonly string[]).includes(r.format))
    throw new ExportError(`--format ${r.format}: unknown format; the formats are ${EXPORT_FORMATS.join(', ')}`);
  const opset = r.opset ?? DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET)
    throw new ExportError(
      `--opset ${opset}: ONNX opsets ${MIN_OPSET} to ${MAX_OPSET} are written (default ${DEFAULT_OPSET})`,
    );
  const input = r.input ?? 'labels';
  if (!EXPORT_INPUTS.includes(input))
    throw new ExportError(`--input ${String(input)}: expected one of ${EXPORT_INPUTS.join(', ')}`);
  const precision = r.precision ?? 'fp32';
  if (!EXPORT_PRECISIONS.includes(precision))
    throw new ExportError(`--precision ${String(precision)}: expected one of ${EXPORT_PRECISIONS.join(', ')}`);
  if (r.size && r.dynamicSize)
    throw new ExportError('--size and --dynamic-size exclude each other: give a fixed size, or symbolic H and W');
  if (!r.run || !existsSync(r.run))
    throw new ExportError(`--run ${r.run}: no such run folder; pass the --out folder of a 'dermosynth train' run`);
  if (r.weights !== undefined && !existsSync(r.weights))
    throw new ExportError(`--weights ${r.weights}: no such weights file`);
  if (!existsSync(path.dirname(path.resolve(r.out))))
    throw new ExportError(`--out ${r.out}: the folder ${path.dirname(path.resolve(r.out))} does not exist`);
  if (existsSync(r.out) && !r.overwrite)
    throw new ExportError(`--out ${r.out}: the file exists; add --overwrite to replace it`);
  return { format: r.format as ExportFormat, opset, input, precision };
}

async function loadRun(r: ExportRequest): Promise<RunGenerator> {
  try {
    return await RunGenerator.load(r.run, { weights: r.weights });
  } catch (e) {
    if ((e as Error).name !== 'RunError') throw e;
    const message = (e as Error).message;
    const rest = message.startsWith(`${r.run}: `) ? message.slice(r.run.length + 2) : message;
    throw new ExportError(`--run ${r.run}: ${rest}`);
  }
}

export async function exportRun(r: ExportRequest): Promise<ExportResult> {
  const { opset, input, precision } = checkRequest(r);
  const rg = await loadRun(r);
  try {
    const options = rg.config.model.options as unknown as Parameters<typeof generatorSizeRule>[0];
    const rule = generatorSizeRule(options);
    const size = r.dynamicSize ? ('dynamic' as const) : (r.size ?? { width: rg.width, height: rg.height });
    if (size !== 'dynamic') checkExportSize('--size', rule, size.width, size.height);

    const graph = generatorGraph(rg.generator, { spec: rg.spec, input, precision, opset, size });
    const licence = await runDataLicence(rg.dir, rg.config.data.cache);
    const sizeText = size === 'dynamic' ? `dynamic (${sizeRuleText(rule)})` : `${size.width}x${size.height}`;
    const metadata: Record<string, string> = {
      'dermosynth.format': 'dermosynth-onnx-generator/1',
      'dermosynth.run': path.basename(path.resolve(rg.dir)),
      'dermosynth.model': rg.model,
      'dermosynth.model_options': JSON.stringify(rg.config.model.options),
      'dermosynth.weights_file': path.basename(rg.weights.file),
      'dermosynth.weights_sha256': rg.weights.sha256,
      'dermosynth.weights_step': rg.weights.step === null ? 'final' : String(rg.weights.step),
      'dermosynth.classes': JSON.stringify(rg.classes),
      'dermosynth.label_channels': JSON.stringify(rg.spec.channels),
      'dermosynth.label_map': JSON.stringify({
        version: rg.spec.version,
        classes: rg.spec.classes,
        frame: rg.spec.frame,
        boundary: rg.spec.boundary,
        channels: rg.spec.channels,
        bytes:
          'bits 0-6: class (0 skin, 1 + k diagnosis k, 1 + K frame when present, 127 no segmentation); bit 7: boundary flag',
      }),
      'dermosynth.size': `${rg.width}x${rg.height}`,
      'dermosynth.export_size': sizeText,
      'dermosynth.size_rule': sizeRuleText(rule),
      'dermosynth.input': `${INPUT_NAMES[input]}: ${input === 'labels' ? 'uint8 [N, 1, H, W] label bytes' : `float32 [N, ${rg.spec.channels.length}, H, W] one-hot`}`,
      'dermosynth.output': `${OUTPUT_NAME}: float32 [N, 3, H, W], RGB in [-1, 1]`,
      'dermosynth.precision':
        precision === 'fp16' ? 'fp16 (weights and activations float16; input and output float32)' : 'fp32',
      'dermosynth.training_data': licence.source,
      'dermosynth.licence': licence.licence,
      'dermosynth.attribution': licence.attribution,
    };
    const doc = [
      `dermosynth ${rg.model} generator from run '${metadata['dermosynth.run']}' (weights sha256 ${rg.weights.sha256}), trained at ${rg.width}x${rg.height} on ${JSON.stringify(rg.classes)}.`,
      licence.isic ? `Training data: ${licence.attribution}` : '',
    ]
      .filter(Boolean)
      .join(' ');
    const bytes = encodeModel(
      graph.model({
        graphName: `dermosynth_${rg.model}_generator`,
        producerVersion: producerVersion(),
        docString: doc,
        metadata,
      }),
    );
    await writeFileAtomic(r.out, bytes);
    const shape = (v: (typeof graph.inputs)[number]) =>
      v.type.tensorType.shape.dim.map((d) => ('dimValue' in d ? d.dimValue : d.dimParam));
    return {
      file: r.out,
      bytes: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      model: rg.model,
      nodes: graph.nodes.length,
      opCounts: graph.opCounts(),
      initializers: graph.initializers.length,
      input: {
        name: graph.inputs[0]!.name,
        type: input === 'labels' ? 'uint8' : 'float32',
        shape: shape(graph.inputs[0]!),
      },
      output: { name: graph.outputs[0]!.name, type: 'float32', shape: shape(graph.outputs[0]!) },
      metadata,
    };
  } finally {
    rg.dispose();
  }
}
