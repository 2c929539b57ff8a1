// Builds an ONNX graph node by node: unique value and node names, initializers (float ones stored in
// the graph's float type, float32 or float16), typed attributes, inputs and outputs with fixed or
// symbolic dimensions, and the model around the graph (IR version for the opset, metadata).
import { float16Bytes } from './float16.js';
import {
  AttributeType,
  DataType,
  type AttributeProto,
  type DataTypeCode,
  type Dimension,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from './onnx_proto.js';

/** An attribute value: a number is an INT unless wrapped by `float()`, arrays likewise. */
export type AttributeValue = number | string | number[] | { float: number } | { floats: number[] } | TensorProto;
export const float = (v: number): { float: number } => ({ float: v });
export const floats = (v: number[]): { floats: number[] } => ({ floats: v });

/** The opsets written (13: Resize/Pad/Squeeze in their current form, up to what onnxruntime 1.2x reads). */
export const MIN_OPSET = 13;
export const MAX_OPSET = 21;
export const DEFAULT_OPSET = 17;

/** The IR version each opset came with (onnx/docs/Versioning.md): what a reader of that opset reads. */
export function irVersionFor(opset: number): number {
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET)
    throw new RangeError(`opset ${opset} is not supported: ${MIN_OPSET} to ${MAX_OPSET}`);
  if (opset <= 14) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

export type Dim = number | string;

export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  readonly inputs: ValueInfoProto[] = [];
  readonly outputs: ValueInfoProto[] = [];
  private readonly names = new Set<string>();
  private readonly constants = new Map<string, string>();

  /**
   * `floatType`: the element type of activations and float weights (FLOAT or FLOAT16); weights
   * given as float32 are rounded to it.
   */
  constructor(
    readonly opset: number,
    readonly floatType: typeof DataType.FLOAT | typeof DataType.FLOAT16 = DataType.FLOAT,
  ) {
    irVersionFor(opset);
  }

  /** A fresh name: `hint`, or `hint_2`, `hint_3`, ... when taken. */
  unique(hint: string): string {
    let name = hint;
    for (let i = 2; this.names.has(name); i++) name = `${hint}_${i}`;
    this.names.add(name);
    return name;
  }

  input(name: string, elemType: DataTypeCode, dims: Dim[], doc?: string): string {
    if (this.names.has(name)) throw new Error(`ONNX graph: the input name '${name}' is taken`);
    this.names.add(name);
    this.inputs.push(valueInfo(name, elemType, dims, doc));
    return name;
  }

  /**
   * Makes `value` a graph output named `name`: the node that makes it is renamed (and its readers
   * follow), or, for a graph input or initializer, an Identity node makes the output.
   */
  output(value: string, name: string, elemType: DataTypeCode, dims: Dim[], doc?: string): void {
    if (value !== name) {
      if (this.names.has(name)) throw new Error(`ONNX graph: the output name '${name}' is taken`);
      this.names.add(name);
      const producer = this.nodes.find((n) => n.output.includes(value));
      if (producer && !this.outputs.some((o) => o.name === value)) {
        producer.output = producer.output.map((o) => (o === value ? name : o));
        for (const n of this.nodes) n.input = n.input.map((i) => (i === value ? name : i));
      } else {
        this.nodes.push({
          input: [value],
          output: [name],
          name: this.unique(`${name}/Identity`),
          opType: 'Identity',
          attribute: [],
        });
      }
    }
    this.outputs.push(valueInfo(name, elemType, dims, doc));
  }

  /** A float initializer (stored in the graph's float type) of the given shape. */
  weight(name: string, dims: number[], values: Float32Array): string {
    checkCount(name, dims, values.length);
    const raw =
      this.floatType === DataType.FLOAT16
        ? float16Bytes(values)
        : new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
    return this.tensor(name, dims, this.floatType, raw);
  }

  /** An int64 initializer (shapes, axes, pads). */
  int64s(name: string, values: readonly number[], dims: number[] = [values.length]): string {
    checkCount(name, dims, values.length);
    const raw = new Uint8Array(new BigInt64Array(values.map((v) => BigInt(v))).buffer);
    return this.tensor(name, dims, DataType.INT64, raw);
  }

  /** A shared float constant of the graph's float type (deduplicated by value and shape). */
  floatConstant(values: readonly number[], dims: number[] = [values.length]): string {
    return this.shared(`f:${dims.join('x')}:${values.join(',')}`, () => {
      const label = values.length <= 4 ? values.join('_') : `${values[0]}_n${values.length}`;
      return this.weight(`const_${label.replace(/[^\w.-]/g, '_')}`, dims, Float32Array.from(values));
    });
  }

  /** A shared float32 constant whatever the graph's float type (Resize's scales). */
  float32Constant(values: readonly number[]): string {
    return this.shared(`f32:${values.join(',')}`, () =>
      this.tensor(
        `const_f32_${values.join('_').replace(/[^\w.-]/g, '_')}`,
        [values.length],
        DataType.FLOAT,
        new Uint8Array(Float32Array.from(values).buffer),
      ),
    );
  }

  /** A shared int64 constant (deduplicated by value). */
  int64Constant(values: readonly number[]): string {
    return this.shared(`i:${values.join(',')}`, () =>
      this.int64s(`const_i64_${values.join('_').replace(/-/g, 'm')}`, values),
    );
  }

  /** The constant made once per key: later asks get the first one's name. */
  private shared(key: string, make: () => string): string {
    let name = this.constants.get(key);
    if (!name) {
      name = make();
      this.constants.set(key, name);
    }
    return name;
  }

  private tensor(name: string, dims: number[], dataType: number, raw: Uint8Array): string {
    const unique = this.unique(name);
    this.initializers.push({ name: unique, dims, dataType, rawData: raw });
    return unique;
  }

  /**
   * Adds a node and returns its (first) output's name. `inputs` may hold '' for an omitted
   * optional input. `name` names the node; its outputs are `name` (and `name:1`, ...).
   */
  node(
    opType: string,
    inputs: readonly string[],
    attributes: Record<string, AttributeValue | undefined> = {},
    o: { name?: string; outputs?: number } = {},
  ): string {
    return this.nodeOutputs(opType, inputs, attributes, o)[0]!;
  }

  nodeOutputs(
    opType: string,
    inputs: readonly string[],
    attributes: Record<string, AttributeValue | undefined> = {},
    o: { name?: string; outputs?: number } = {},
  ): string[] {
    const name = this.unique(o.name ?? opType);
    const outputs = Array.from({ length: o.outputs ?? 1 }, (_, i) => (i === 0 ? name : this.unique(`${name}:${i}`)));
    const attribute = Object.entries(attributes)
      .filter((e): e is [string, AttributeValue] => e[1] !== undefined)
      .map(([k, v]) => attr(k, v));
    this.nodes.push({ input: [...inputs], output: outputs, name, opType, attribute });
    return outputs;
  }

  /** How many nodes of each operator type the graph has. */
  opCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const n of this.nodes) counts[n.opType] = (counts[n.opType] ?? 0) + 1;
    return counts;
  }

  /** The model: this graph, the default-domain opset, and metadata (key order kept). */
  model(o: {
    graphName: string;
    producerVersion: string;
    docString?: string;
    metadata: Record<string, string>;
  }): ModelProto {
    return {
      irVersion: irVersionFor(this.opset),
      opsetImport: [{ domain: '', version: this.opset }],
      producerName: 'dermosynth',
      producerVersion: o.producerVersion,
      docString: o.docString,
      graph: {
        name: o.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
      metadataProps: Object.entries(o.metadata).map(([key, value]) => ({ key, value })),
    };
  }
}

function checkCount(name: string, dims: number[], n: number): void {
  const want = dims.reduce((a, b) => a * b, 1);
  if (want !== n)
    throw new Error(`ONNX initializer '${name}': shape [${dims.join(', ')}] needs ${want} values, got ${n}`);
}

function valueInfo(name: string, elemType: DataTypeCode, dims: Dim[], doc?: string): ValueInfoProto {
  const dim: Dimension[] = dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  return { name, type: { tensorType: { elemType, shape: { dim } } }, ...(doc ? { docString: doc } : {}) };
}

function attr(name: string, v: AttributeValue): AttributeProto {
  if (typeof v === 'number') {
    if (!Number.isInteger(v))
      throw new TypeError(`ONNX attribute '${name}': ${v} is not an integer (wrap floats with float())`);
    return { name, type: AttributeType.INT, i: v };
  }
  if (typeof v === 'string') return { name, type: AttributeType.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) {
    if (!v.every(Number.isInteger))
      throw new TypeError(
        `ONNX attribute '${name}': [${v.join(', ')}] are not all integers (wrap floats with floats())`,
      );
    return { name, type: AttributeType.INTS, ints: v };
  }
  if ('float' in v) return { name, type: AttributeType.FLOAT, f: v.float };
  if ('floats' in v) return { name, type: AttributeType.FLOATS, floats: v.floats };
  return { name, type: AttributeType.TENSOR, t: v };
}
