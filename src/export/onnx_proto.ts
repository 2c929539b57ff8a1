// The ONNX file format: the messages of onnx/onnx.proto3 that an inference model uses (field numbers
// and names as there), encoded and decoded with protobufjs. Only the subset below is written;
// decoding skips fields it does not know, so any ONNX file decodes to these messages.
import protobuf from 'protobufjs';

/** onnx.proto3's TensorProto.DataType values dermosynth writes or reads. */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10, DOUBLE: 11 } as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

/** onnx.proto3's AttributeProto.AttributeType values. */
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;

// The subset of https://github.com/onnx/onnx/blob/main/onnx/onnx.proto3 (same numbers and names).
const SCHEMA = `
syntax = "proto3";
package onnx;

message AttributeProto {
  string name = 1;
  string ref_attr_name = 21;
  string doc_string = 13;
  int32 type = 20;
  float f = 2;
  int64 i = 3;
  bytes s = 4;
  TensorProto t = 5;
  repeated float floats = 7;
  repeated int64 ints = 8;
  repeated bytes strings = 9;
  repeated TensorProto tensors = 10;
}

message ValueInfoProto {
  string name = 1;
  TypeProto type = 2;
  string doc_string = 3;
}

message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  string name = 3;
  string op_type = 4;
  string domain = 7;
  repeated AttributeProto attribute = 5;
  string doc_string = 6;
}

message StringStringEntryProto {
  string key = 1;
  string value = 2;
}

message OperatorSetIdProto {
  string domain = 1;
  int64 version = 2;
}

message ModelProto {
  int64 ir_version = 1;
  repeated OperatorSetIdProto opset_import = 8;
  string producer_name = 2;
  string producer_version = 3;
  string domain = 4;
  int64 model_version = 5;
  string doc_string = 6;
  GraphProto graph = 7;
  repeated StringStringEntryProto metadata_props = 14;
}

message GraphProto {
  repeated NodeProto node = 1;
  string name = 2;
  repeated TensorProto initializer = 5;
  string doc_string = 10;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
  repeated ValueInfoProto value_info = 13;
}

message TensorProto {
  repeated int64 dims = 1;
  int32 data_type = 2;
  repeated float float_data = 4;
  repeated int32 int32_data = 5;
  repeated int64 int64_data = 7;
  string name = 8;
  string doc_string = 12;
  bytes raw_data = 9;
}

message TensorShapeProto {
  message Dimension {
    oneof value {
      int64 dim_value = 1;
      string dim_param = 2;
    }
    string denotation = 3;
  }
  repeated Dimension dim = 1;
}

message TypeProto {
  message Tensor {
    int32 elem_type = 1;
    TensorShapeProto shape = 2;
  }
  oneof value {
    Tensor tensor_type = 1;
  }
  string denotation = 6;
}
`;

// ---- the messages as plain objects (protobufjs's camelCase field names) -------------------------

export interface TensorProto {
  name: string;
  dims: number[];
  dataType: number;
  /** Little-endian element bytes. */
  rawData?: Uint8Array;
  floatData?: number[];
  int32Data?: number[];
  int64Data?: number[];
  docString?: string;
}

export interface AttributeProto {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorProto;
  floats?: number[];
  ints?: number[];
  strings?: Uint8Array[];
}

export interface NodeProto {
  input: string[];
  output: string[];
  name: string;
  opType: string;
  domain?: string;
  attribute: AttributeProto[];
  docString?: string;
}

/** A dimension: a fixed size or a symbolic name. */
export type Dimension = { dimValue: number } | { dimParam: string };

export interface ValueInfoProto {
  name: string;
  type: { tensorType: { elemType: number; shape: { dim: Dimension[] } } };
  docString?: string;
}

export interface GraphProto {
  name: string;
  node: NodeProto[];
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  docString?: string;
}

export interface ModelProto {
  irVersion: number;
  opsetImport: { domain: string; version: number }[];
  producerName: string;
  producerVersion: string;
  domain?: string;
  modelVersion?: number;
  docString?: string;
  graph: GraphProto;
  metadataProps: { key: string; value: string }[];
}

let modelType: protobuf.Type | null = null;
function model(): protobuf.Type {
  modelType ??= protobuf.parse(SCHEMA).root.lookupType('onnx.ModelProto');
  return modelType;
}

/** The largest file a protobuf message can be (2 GiB - 1): larger models need ONNX's external data. */
export const MAX_MODEL_BYTES = 2 ** 31 - 1;

/** The binary .onnx file of a model. */
export function encodeModel(m: ModelProto): Uint8Array {
  const weights = m.graph.initializer.reduce((n, t) => n + (t.rawData?.length ?? 0), 0);
  if (weights > MAX_MODEL_BYTES) {
    throw new RangeError(
      `the model's weights are ${(weights / 2 ** 30).toFixed(2)} GiB: an ONNX file stops at 2 GiB (its external-data form is not written); --precision fp16 halves them`,
    );
  }
  const type = model();
  const problem = type.verify(m);
  if (problem) throw new TypeError(`ONNX model: ${problem}`);
  const bytes = type.encode(type.fromObject(m)).finish();
  if (bytes.length > MAX_MODEL_BYTES)
    throw new RangeError(
      `the ONNX model is ${bytes.length} bytes: an ONNX file stops at 2 GiB (its external-data form is not written)`,
    );
  return bytes;
}

/** A .onnx file's model (fields outside the subset above are dropped; 64-bit integers as numbers). */
export function decodeModel(bytes: Uint8Array): ModelProto {
  const type = model();
  const decoded = type.decode(bytes);
  return type.toObject(decoded, { longs: Number, arrays: true }) as ModelProto;
}
