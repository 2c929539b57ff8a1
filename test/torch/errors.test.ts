// Wrong calls must throw a JavaScript Error with a clear message, never crash the process.
// Errors raised by libtorch are TorchErrors naming the operator and carrying libtorch's text.
import { afterAll, describe, expect, it } from 'vitest';
import * as torch from '../../src/torch/index.js';
import type { DType, Tensor } from '../../src/torch/index.js';

const { F } = torch;

interface Expected {
  /** The error's class (TypeError, RangeError, Error). */
  type?: new (...args: never[]) => Error;
  /** err.name: 'TorchError' for libtorch errors. */
  name?: string;
  /** err.op: the operator that failed (libtorch errors only). */
  op?: string;
  /** What the message must say. */
  message: RegExp;
}

interface Case extends Expected {
  title: string;
  run: () => unknown;
}

const i64 = (v: number[]): Tensor => torch.tensor(v, { dtype: 'int64' });
const torchError = (op: string, message: RegExp): Pick<Expected, 'name' | 'op' | 'message'> => ({
  name: 'TorchError',
  op,
  message,
});

function disposed(shape: number[] = [2]): Tensor {
  const t = torch.ones(shape);
  t.dispose();
  return t;
}

/** A minimal safetensors file with the given header (and `data` bytes after it). */
function safetensorsBytes(header: unknown, dataBytes: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.byteLength + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  return out;
}

function caught(run: () => unknown): unknown {
  try {
    run();
  } catch (err) {
    return err;
  }
  return undefined;
}

function expectError(run: () => unknown, e: Expected): void {
  const err = caught(run);
  expect(err, 'expected the call to throw').toBeInstanceOf(Error);
  const error = err as Error & { op?: unknown };
  if (e.type) expect(error).toBeInstanceOf(e.type);
  if (e.name) expect(error.name).toBe(e.name);
  if (e.op !== undefined) {
    expect(error.op).toBe(e.op);
    // The message starts with the operator's name.
    expect(error.message.startsWith(`${e.op}: `)).toBe(true);
  } else if (e.name !== 'TorchError') {
    expect(error.op).toBeUndefined();
  }
  expect(error.message).toMatch(e.message);
  // Clear: no placeholder text from a failed conversion.
  expect(error.message).not.toMatch(/\[object Object\]|undefined|Unknown error/);
}

const cases: Case[] = [
  // ---- shape mismatches ----
  {
    title: 'add with non-broadcastable shapes',
    run: () => torch.ones([2, 3]).add(torch.ones([4])),
    ...torchError(
      'aten::add.Tensor',
      /size of tensor a \(3\) must match the size of tensor b \(4\) at non-singleton dimension 1/,
    ),
  },
  {
    title: 'matmul with inner dimensions that differ',
    run: () => torch.ones([2, 3]).matmul(torch.ones([4, 2])),
    ...torchError('aten::matmul', /shapes cannot be multiplied \(2x3 and 4x2\)/),
  },
  {
    title: 'conv2d with a kernel larger than the padded input',
    run: () => F.conv2d(torch.ones([1, 1, 2, 2]), torch.ones([1, 1, 3, 3])),
    ...torchError('aten::conv2d', /Kernel size can't be greater than actual input size/),
  },
  {
    title: 'conv2d with a 3-D weight for a 4-D input',
    run: () => F.conv2d(torch.ones([1, 3, 8, 8]), torch.ones([4, 3, 3])),
    ...torchError('aten::conv2d', /stride/),
  },
  {
    title: 'cat of tensors whose other dimensions differ',
    run: () => torch.cat([torch.ones([2, 2]), torch.ones([3, 3])]),
    ...torchError('aten::cat', /Sizes of tensors must match except in dimension 0\. Expected size 2 but got size 3/),
  },
  {
    title: 'cat of an empty list',
    run: () => torch.cat([]),
    ...torchError('aten::cat', /non-empty list of Tensors/),
  },
  {
    title: 'stack of tensors of different sizes',
    run: () => torch.stack([torch.ones([2]), torch.ones([3])]),
    ...torchError('aten::stack', /stack expects each tensor to be equal size/),
  },
  {
    title: 'linear with the wrong in_features',
    run: () => F.linear(torch.ones([2, 3]), torch.ones([4, 5])),
    ...torchError('aten::linear', /cannot be multiplied \(2x3 and 5x4\)/),
  },
  {
    title: 'mseLoss with non-broadcastable shapes',
    run: () => F.mseLoss(torch.ones([2, 3]), torch.ones([4])),
    ...torchError('aten::mse_loss', /must match the size of tensor b/),
  },
  {
    title: 'mv with a vector of the wrong length',
    run: () => F.mv(torch.ones([2, 3]), torch.ones([2])),
    ...torchError('aten::mv', /size mismatch/),
  },
  {
    title: 'dot of vectors of different lengths',
    run: () => F.dot(torch.ones([2]), torch.ones([3])),
    ...torchError('aten::dot', /inconsistent tensor size/),
  },
  {
    title: 'expand to an incompatible size',
    run: () => torch.ones([3]).expand(2, 4),
    ...torchError('aten::expand', /expanded size of the tensor \(4\) must match the existing size \(3\)/),
  },
  // ---- channels ----
  {
    title: 'conv2d with the wrong input channel count',
    run: () => F.conv2d(torch.ones([1, 3, 8, 8]), torch.ones([4, 2, 3, 3])),
    ...torchError('aten::conv2d', /expected input\[1, 3, 8, 8\] to have 2 channels, but got 3 channels instead/),
  },
  {
    title: 'groupNorm with channels not divisible by the groups',
    run: () => F.groupNorm(torch.ones([2, 3, 2, 2]), 2),
    ...torchError('aten::group_norm', /channels in input to be divisible by num_groups/),
  },
  {
    title: 'batchNorm with running statistics of the wrong size',
    run: () =>
      F.batchNorm(torch.ones([2, 4, 2, 2]), {
        runningMean: torch.zeros([3]),
        runningVar: torch.ones([3]),
        training: true,
      }),
    ...torchError('aten::batch_norm', /running_mean should contain 4 elements not 3/),
  },
  // ---- dtypes ----
  {
    title: 'conv2d with an int64 input and a float32 weight',
    run: () => F.conv2d(torch.ones([1, 3, 8, 8], { dtype: 'int64' }), torch.ones([4, 3, 3, 3])),
    ...torchError('aten::conv2d', /expected scalar type Long but found Float/),
  },
  {
    title: 'conv2d of bool tensors',
    run: () => F.conv2d(torch.ones([1, 3, 4, 4], { dtype: 'bool' }), torch.ones([1, 3, 3, 3], { dtype: 'bool' })),
    ...torchError('aten::conv2d', /not implemented for 'Bool'/),
  },
  {
    title: 'crossEntropy with float targets of class-index shape',
    run: () => F.crossEntropy(torch.ones([2, 3]), torch.ones([2])),
    ...torchError('aten::cross_entropy_loss', /expected scalar type Long but found Float/),
  },
  {
    title: 'crossEntropy with a class index out of range',
    run: () => F.crossEntropy(torch.ones([2, 3]), i64([0, 5])),
    ...torchError('aten::cross_entropy_loss', /Target 5 is out of bounds/),
  },
  {
    title: 'mm of float32 and float64',
    run: () => torch.ones([2, 2]).mm(torch.ones([2, 2], { dtype: 'float64' })),
    // libtorch 1.13's wording, then 2.x's.
    ...torchError(
      'aten::mm',
      /expected scalar type Float but found Double|expected m1 and m2 to have the same dtype, but got: float != double/,
    ),
  },
  {
    title: 'mean of an int64 tensor',
    run: () => torch.arange(6).mean(),
    ...torchError('aten::mean', /could not infer output dtype.*Long/),
  },
  {
    title: 'where with a float condition',
    run: () => torch.where(torch.ones([2]), torch.ones([2]), torch.zeros([2])),
    ...torchError('aten::where.self', /condition to be a boolean tensor/),
  },
  {
    title: 'eigh of an int64 matrix',
    run: () => torch.eigh(torch.ones([2, 2], { dtype: 'int64' })),
    ...torchError('aten::linalg_eigh', /not implemented for 'Long'/),
  },
  {
    title: 'an unknown dtype name',
    run: () => torch.ones([2], { dtype: 'float128' as DType }),
    type: TypeError,
    message: /unknown dtype 'float128' \(expected one of uint8, .*bfloat16\)/,
  },
  {
    title: 'an unknown dtype name in to()',
    run: () => torch.ones([2]).to({ dtype: 'complex64' as DType }),
    type: TypeError,
    message: /unknown dtype 'complex64'/,
  },
  {
    title: 'a Uint16Array without a 16-bit float dtype',
    run: () => torch.tensor(new Uint16Array([1, 2]), { dtype: 'float32' }),
    type: TypeError,
    message:
      /a Uint16Array holds raw float16 or bfloat16 bits; pass \{ dtype: 'float16' \} or \{ dtype: 'bfloat16' \}, not 'float32'/,
  },
  // ---- dims and indices ----
  {
    title: 'a negative dimension in a shape',
    run: () => torch.zeros([2, -1]),
    type: TypeError,
    message: /zeros: shape must be an array of non-negative integers, got \[2,-1\]/,
  },
  {
    title: 'a negative dimension reaching libtorch through a raw call',
    run: () => torch.aten('zeros')([[-1]]),
    ...torchError('aten::zeros', /negative dimension -1/),
  },
  {
    title: 'reshape with an invalid negative size',
    run: () => torch.ones([6]).reshape(-2, 3),
    ...torchError('aten::reshape', /invalid shape dimension -2/),
  },
  {
    title: 'sum over an out-of-range dim',
    run: () => torch.ones([2, 2]).sum(5),
    ...torchError(
      'aten::sum.dim_IntList',
      /Dimension out of range \(expected to be in range of \[-2, 1\], but got 5\)/,
    ),
  },
  {
    title: 'mean over an out-of-range negative dim',
    run: () => torch.ones([2, 2]).mean(-3),
    ...torchError('aten::mean.dim', /Dimension out of range .* but got -3/),
  },
  {
    title: 'select along an out-of-range dim',
    run: () => torch.ones([2, 2]).select(3, 0),
    ...torchError('aten::select.int', /Dimension out of range .* but got 3/),
  },
  {
    title: 'select with an out-of-range index',
    run: () => torch.ones([2, 2]).select(0, 5),
    ...torchError('aten::select.int', /index 5 out of range for tensor of size \[2, 2\] at dimension 0/),
  },
  {
    title: 'slice along an out-of-range dim',
    run: () => torch.ones([2, 2]).slice(3, 0, 1),
    ...torchError('aten::slice.Tensor', /Dimension out of range .* but got 3/),
  },
  {
    title: 'slice with a non-positive step',
    run: () => torch.ones([4]).slice(0, 0, 4, 0),
    ...torchError('aten::slice.Tensor', /slice step must be positive/),
  },
  {
    title: 'permute with an out-of-range dim',
    run: () => torch.ones([2, 2]).permute(0, 2),
    ...torchError('aten::permute', /Dimension out of range .* but got 2/),
  },
  {
    title: 'permute with a repeated dim',
    run: () => torch.ones([2, 2]).permute(0, 0),
    ...torchError('aten::permute', /duplicate dims are not allowed/),
  },
  {
    title: 'permute with too few dims',
    run: () => torch.ones([2, 2]).permute(0),
    ...torchError('aten::permute', /does not match the length of the desired ordering/),
  },
  {
    title: 'indexSelect with an out-of-range index',
    run: () => torch.ones([2, 2]).indexSelect(0, i64([5])),
    ...torchError('aten::index_select', /index out of range in self/),
  },
  {
    title: 'advanced indexing with an out-of-range index',
    run: () => torch.ones([3]).index([i64([10])]),
    ...torchError('aten::index.Tensor', /index 10 is out of bounds for dimension 0 with size 3/),
  },
  {
    title: 'oneHot with a class index >= numClasses',
    run: () => torch.oneHot(i64([0, 5]), 3),
    ...torchError('aten::one_hot', /Class values must be smaller than num_classes/),
  },
  {
    title: 'size() of an out-of-range dim',
    run: () => torch.ones([2, 2]).size(2),
    type: RangeError,
    message: /size\(2\): tensor has 2 dimensions/,
  },
  // ---- disposed tensors ----
  {
    title: 'a disposed tensor as self of an operator',
    run: () => disposed().add(1),
    type: TypeError,
    message: /aten::add\.Scalar: argument 'self': the tensor was disposed/,
  },
  {
    title: 'a disposed tensor as another argument',
    run: () => torch.ones([2]).add(disposed()),
    type: TypeError,
    message: /aten::add\.Tensor: argument 'other': the tensor was disposed/,
  },
  {
    title: 'a disposed tensor inside a tensor list',
    run: () => torch.cat([torch.ones([2]), disposed()]),
    type: TypeError,
    message: /aten::cat: argument 'tensors'\[1\]: the tensor was disposed/,
  },
  {
    title: '.shape of a disposed tensor',
    run: () => disposed().shape,
    type: TypeError,
    message: /the tensor was disposed/,
  },
  {
    title: 'data() of a disposed tensor',
    run: () => disposed().data(),
    type: TypeError,
    message: /the tensor was disposed/,
  },
  {
    title: 'backward from a disposed tensor',
    run: () => {
      const y = torch.ones([1], { requiresGrad: true }).mul(2);
      y.dispose();
      y.backward();
    },
    type: TypeError,
    message: /backward: the tensor was disposed/,
  },
  // ---- raw operator calls ----
  {
    title: "a number where a Tensor is needed (aten('add.Tensor'))",
    run: () => torch.aten('add.Tensor')([1, 2]),
    type: TypeError,
    message: /aten::add\.Tensor: argument 'self': expected a Tensor/,
  },
  {
    title: 'a number as the second Tensor of a raw call',
    run: () => torch.aten('add.Tensor')([torch.ones([1]).handle, 2]),
    type: TypeError,
    message: /aten::add\.Tensor: argument 'other': expected a Tensor/,
  },
  {
    title: 'a plain object pretending to be a tensor handle',
    run: () => torch.aten('neg')([{ sizes: () => [1] } as never]),
    type: TypeError,
    message: /aten::neg: argument 'self': expected a Tensor/,
  },
  {
    title: 'too many arguments',
    run: () => torch.aten('add.Tensor')([torch.ones([1]).handle, torch.ones([1]).handle, 1, 5]),
    type: TypeError,
    message:
      /aten::add\.Tensor: takes 3 arguments, got 4 \(aten::add\.Tensor\(Tensor self, Tensor other, \*, Scalar alpha=1\) -> Tensor\)/,
  },
  {
    title: 'a missing required argument',
    run: () => torch.aten('add.Tensor')([torch.ones([1]).handle]),
    type: TypeError,
    message: /aten::add\.Tensor: missing argument 'other'/,
  },
  {
    title: 'a string where an int list is needed',
    run: () => torch.aten('sum.dim_IntList')([torch.ones([1]).handle, 'x']),
    type: TypeError,
    message: /aten::sum\.dim_IntList: argument 'dim' \(int\[\]\?\) expected an array of integers/,
  },
  {
    title: 'a fraction where an integer is needed',
    run: () => torch.aten('select.int')([torch.ones([1]).handle, 0, 1.5]),
    type: TypeError,
    message: /aten::select\.int: argument 'index' \(int\) expected an integer/,
  },
  {
    title: 'a string where a boolean is needed',
    run: () => torch.aten('sum.dim_IntList')([torch.ones([1]).handle, [0], 'yes']),
    type: TypeError,
    message: /argument 'keepdim' \(bool\) expected a boolean/,
  },
  {
    title: 'arguments that are not an array',
    run: () => torch.aten('add.Tensor')(5 as never),
    type: TypeError,
    message: /aten::add\.Tensor: arguments must be an array/,
  },
  {
    title: 'an unknown operator name',
    run: () => torch.op('aten::no_such_op')([]),
    ...torchError('aten::no_such_op', /no such operator in this libtorch/),
  },
  {
    title: 'an unknown overload of a known operator',
    run: () => torch.aten('add.NoSuchOverload')([]),
    ...torchError('aten::add.NoSuchOverload', /no such operator/),
  },
  {
    title: 'schemaOf an unknown operator',
    run: () => torch.schemaOf('aten::nope'),
    ...torchError('aten::nope', /no such operator/),
  },
  // ---- devices ----
  {
    title: 'a bad device string',
    run: () => torch.zeros([1], { device: 'gpu' as never }),
    type: TypeError,
    message: /unknown device 'gpu' \(expected 'cpu', 'cuda' or 'cuda:N'\)/,
  },
  {
    title: 'checkDevice with an unknown device name',
    run: () => torch.checkDevice('tpu'),
    type: TypeError,
    message: /unknown device 'tpu' \(expected 'cpu', 'cuda' or 'cuda:N'\)/,
  },
  // ---- shapes and views ----
  {
    title: 'reshape to an incompatible number of elements',
    run: () => torch.ones([2, 3]).reshape(4),
    ...torchError('aten::reshape', /shape '\[4\]' is invalid for input of size 6/),
  },
  {
    title: 'view of a non-contiguous tensor',
    run: () => torch.ones([2, 3]).t().view(6),
    ...torchError('aten::view', /view size is not compatible with input tensor's size and stride.*Use \.reshape/),
  },
  {
    title: 'tensor() from ragged nested arrays',
    run: () => torch.tensor([[1, 2], [3]]),
    type: TypeError,
    message: /tensor: ragged nested array at depth 1/,
  },
  {
    title: 'tensor() from non-numeric data',
    run: () => torch.tensor(['a'] as never),
    type: TypeError,
    message: /nested arrays must hold only numbers or only booleans, found "a"/,
  },
  {
    title: 'tensor() from booleans mixed with numbers',
    run: () => torch.tensor([true, 2] as never),
    type: TypeError,
    message: /only numbers or only booleans, found 2/,
  },
  {
    title: 'tensor() with a shape that does not match the typed array',
    run: () => torch.tensor(new Float32Array(4), { shape: [2, 3] }),
    ...torchError('fromBuffer', /shape \[2, 3\] of Float needs 24 bytes, got 16/),
  },
  // ---- functional argument checks ----
  {
    title: 'interpolate with neither size nor scaleFactor',
    run: () => F.interpolate(torch.ones([1, 1, 4, 4]), {}),
    type: TypeError,
    message: /interpolate: give exactly one of size and scaleFactor/,
  },
  {
    title: 'interpolate of a 3-D input',
    run: () => F.interpolate(torch.ones([1, 4, 4]), { size: [2, 2] }),
    type: TypeError,
    message: /expected a 4-D \[N, C, H, W\] input, got shape \[1, 4, 4\]/,
  },
  {
    title: 'interpolate to a zero size',
    run: () => F.interpolate(torch.ones([1, 1, 4, 4]), { size: [0, 2] }),
    ...torchError('aten::upsample_nearest2d.vec', /sizes should be greater than 0/),
  },
  {
    title: 'pad with an unknown mode',
    run: () => F.pad(torch.ones([1, 1, 4, 4]), [1, 1, 1, 1], 'circular' as never),
    type: TypeError,
    message: /pad: unknown mode 'circular'/,
  },
  {
    title: 'reflect pad with padding as large as the input',
    run: () => F.pad(torch.ones([1, 1, 2, 2]), [3, 3, 3, 3], 'reflect'),
    ...torchError('aten::reflection_pad2d', /Padding size should be less than the corresponding input dimension/),
  },
  {
    title: 'conv2d with stride 0',
    run: () => F.conv2d(torch.ones([1, 1, 4, 4]), torch.ones([1, 1, 3, 3]), null, { stride: 0 }),
    ...torchError('aten::conv2d', /non-positive stride is not supported/),
  },
  {
    title: 'conv2d with a stride of three numbers',
    run: () => F.conv2d(torch.ones([1, 1, 4, 4]), torch.ones([1, 1, 3, 3]), null, { stride: [1, 2, 3] as never }),
    type: TypeError,
    message: /stride must be an integer or a pair of integers/,
  },
  {
    title: 'avgPool2d whose output would be empty',
    run: () => F.avgPool2d(torch.ones([1, 1, 2, 2]), 3),
    ...torchError('aten::avg_pool2d', /Output size is too small/),
  },
  {
    title: 'maxPool2d with padding over half the kernel',
    run: () => F.maxPool2d(torch.ones([1, 1, 4, 4]), 2, { padding: 2 }),
    ...torchError('aten::max_pool2d', /pad should be at most half of (effective )?kernel size/),
  },
  {
    title: 'dropout with p = 2',
    run: () => F.dropout(torch.ones([2]), 2),
    type: RangeError,
    message: /dropout: p must be in \[0, 1\], got 2/,
  },
  {
    title: 'eigh of a non-square matrix',
    run: () => torch.eigh(torch.ones([2, 3])),
    ...torchError('aten::linalg_eigh', /must be batches of square matrices, but they are 2 by 3 matrices/),
  },
  {
    title: 'randint with an empty range',
    run: () => torch.randint(5, 5, [2]),
    ...torchError('aten::randint.low_generator', /expects 'from' to be less than 'to'/),
  },
  // ---- autograd ----
  {
    title: 'backward on a non-scalar without a gradient',
    run: () => torch.ones([2], { requiresGrad: true }).mul(2).backward(),
    ...torchError('backward', /a gradient must be given for a non-scalar output of shape \[2\]/),
  },
  {
    title: 'backward on a tensor that does not require grad',
    run: () => torch.ones([1]).backward(),
    ...torchError('backward', /does not require grad and does not have a grad_fn/),
  },
  {
    title: 'backward with a gradient of the wrong shape',
    run: () =>
      torch
        .ones([2], { requiresGrad: true })
        .mul(2)
        .backward(torch.ones([3])),
    ...torchError('backward', /got \[3\] but expected shape compatible with \[2\]/),
  },
  {
    title: 'a second backward without retainGraph',
    run: () => {
      const y = torch.ones([2], { requiresGrad: true }).exp().sum();
      y.backward();
      y.backward();
    },
    ...torchError('backward', /backward through the graph a second time/),
  },
  {
    title: 'requiresGrad on an int64 tensor',
    run: () => {
      torch.ones([1], { dtype: 'int64' }).requiresGrad = true;
    },
    ...torchError('requiresGrad', /Only Tensors of floating point and complex dtype can require gradients/),
  },
  {
    title: 'an in-place operation on a leaf that requires grad',
    run: () => torch.ones([2], { requiresGrad: true }).add_(1),
    ...torchError('aten::add_.Scalar', /a leaf Variable that requires grad is being used in an in-place operation/),
  },
  {
    title: 'an in-place write to an expanded tensor',
    run: () => torch.ones([1]).expand(3).add_(1),
    ...torchError(
      'aten::add_.Scalar',
      /more than one element of the written-to tensor refers to a single memory location/,
    ),
  },
  {
    title: 'setting a gradient of the wrong shape via t.grad = ...',
    run: () => {
      torch.ones([2]).grad = torch.ones([3]);
    },
    ...torchError('setGrad', /gradient of shape \[3\] for a tensor of shape \[2\]/),
  },
  {
    title: 'setting a gradient of the wrong dtype',
    run: () => {
      torch.ones([2]).grad = torch.ones([2], { dtype: 'float64' });
    },
    ...torchError('setGrad', /gradient dtype Double differs from the tensor's Float/),
  },
  {
    title: 'tidy with an async function',
    run: () => torch.tidy(() => Promise.resolve(1)),
    type: TypeError,
    message: /tidy\(fn\): fn must be synchronous/,
  },
  {
    title: 'noGrad with an async function',
    run: () => torch.noGrad(() => Promise.resolve(1)),
    type: TypeError,
    message: /synchronous/,
  },
  // ---- scalars ----
  {
    title: 'item() of a multi-element tensor',
    run: () => torch.ones([2]).item(),
    ...torchError('item', /a Tensor with 2 elements cannot be converted to Scalar/),
  },
  // ---- safetensors ----
  {
    title: 'readSafetensors of garbage bytes',
    run: () => torch.readSafetensors(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), 'garbage.safetensors'),
    name: 'SafetensorsError',
    message: /^garbage\.safetensors: not a valid safetensors file: header length \d+ exceeds the file \(10 bytes\)/,
  },
  {
    title: 'readSafetensors of fewer than 8 bytes',
    run: () => torch.readSafetensors(new Uint8Array(4), 'short.safetensors'),
    name: 'SafetensorsError',
    message: /^short\.safetensors: .*file is 4 bytes, shorter than the 8-byte header length/,
  },
  {
    title: 'readSafetensors of a truncated file',
    run: () => {
      const bytes = torch.writeSafetensors({ a: torch.ones([4]) });
      torch.readSafetensors(bytes.subarray(0, bytes.byteLength - 4), 'truncated.safetensors');
    },
    name: 'SafetensorsError',
    message: /^truncated\.safetensors: .*tensor 'a' ends at byte 16, past the data \(12 bytes\); the file is truncated/,
  },
  {
    title: 'readSafetensors with overlapping offsets',
    run: () =>
      torch.readSafetensors(
        safetensorsBytes(
          {
            a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
            b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
          },
          12,
        ),
        'overlap.safetensors',
      ),
    name: 'SafetensorsError',
    message: /^overlap\.safetensors: .*tensor 'b' starts at byte 4, expected 8 \(overlapping or gapped data\)/,
  },
  {
    title: 'readSafetensors with offsets that do not match the shape',
    run: () =>
      torch.readSafetensors(
        safetensorsBytes({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8),
        'span.safetensors',
      ),
    name: 'SafetensorsError',
    message: /^span\.safetensors: .*tensor 'a' spans 8 bytes but shape \[3\] of float32 needs 12/,
  },
  {
    title: 'readSafetensors with a header that is not JSON',
    run: () => {
      const b = new Uint8Array(12);
      new DataView(b.buffer).setBigUint64(0, 4n, true);
      b.set([0x7b, 0x7b, 0x7b, 0x7b], 8);
      torch.readSafetensors(b, 'nojson.safetensors');
    },
    name: 'SafetensorsError',
    message: /^nojson\.safetensors: .*header is not UTF-8 JSON/,
  },
  {
    title: 'readSafetensors with an unsupported dtype',
    run: () =>
      torch.readSafetensors(
        safetensorsBytes({ a: { dtype: 'C64', shape: [1], data_offsets: [0, 8] } }, 8),
        'c64.safetensors',
      ),
    name: 'SafetensorsError',
    message: /^c64\.safetensors: .*tensor 'a' has unsupported dtype "C64"/,
  },
  {
    title: "writeSafetensors with the reserved name '__metadata__'",
    run: () => torch.writeSafetensors({ __metadata__: torch.ones([1]) }),
    type: TypeError,
    message: /'__metadata__' is reserved/,
  },
  // ---- random numbers and threads ----
  {
    title: 'a Generator with a negative seed',
    run: () => new torch.Generator(-1),
    type: RangeError,
    message: /Generator: seed must be a non-negative integer, got -1/,
  },
  {
    title: 'a Generator with a fractional seed',
    run: () => new torch.Generator(1.5),
    type: RangeError,
    message: /got 1\.5/,
  },
  {
    title: 'manualSeed with a negative seed',
    run: () => torch.manualSeed(-1),
    type: RangeError,
    message: /manualSeed: seed must be a non-negative integer, got -1/,
  },
  {
    title: 'setRngState with a state of the wrong size',
    run: () => torch.setRngState(torch.zeros([3], { dtype: 'uint8' })),
    ...torchError('Generator.setState', /RNG state size to be 3/),
  },
  {
    title: 'setRngState with a float tensor',
    run: () => torch.setRngState(torch.zeros([4])),
    ...torchError('Generator.setState', /RNG state must be a torch\.ByteTensor/),
  },
  {
    title: 'setNumThreads(0)',
    run: () => torch.setNumThreads(0),
    type: RangeError,
    message: /setNumThreads: expected an integer >= 1, got 0/,
  },
  {
    title: 'setNumThreads with a fraction',
    run: () => torch.setNumThreads(1.5),
    type: RangeError,
    message: /got 1\.5/,
  },
];

describe('wrong calls throw clear JavaScript errors', () => {
  it('covers at least 40 distinct wrong calls', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
    expect(new Set(cases.map((c) => c.title)).size).toBe(cases.length);
  });

  for (const c of cases) {
    it(c.title, () => {
      expectError(c.run, c);
    });
  }

  // Only meaningful on a CPU-only libtorch (or a machine without a GPU).
  it.skipIf(torch.cudaIsAvailable())('CUDA asked for without CUDA (creation, to(), checkDevice, generators)', () => {
    expectError(() => torch.zeros([1], { device: 'cuda' }), {
      type: Error,
      message: /device 'cuda' asked for, but this libtorch has no CUDA/,
    });
    expectError(() => torch.ones([1]).to('cuda'), {
      type: Error,
      message: /device 'cuda' asked for, but this libtorch has no CUDA/,
    });
    expectError(() => torch.checkDevice('cuda'), {
      type: Error,
      message: /device 'cuda' asked for, but this libtorch has no CUDA/,
    });
    expectError(() => torch.checkDevice('cuda:1'), { type: Error, message: /no CUDA/ });
    expectError(() => new torch.Generator(0, 'cuda'), { name: 'TorchError', op: 'Generator', message: /CUDA/ });
  });

  it('loadSafetensors of a missing file names the file', async () => {
    await expect(torch.loadSafetensors('/nonexistent/dir/model.safetensors')).rejects.toThrow(
      /cannot read safetensors file \/nonexistent\/dir\/model\.safetensors: ENOENT/,
    );
  });

  it('gradient mode and scopes are intact after the failures', () => {
    expect(torch.isGradEnabled()).toBe(true);
    expect(torch.scopeDepth()).toBe(0);
  });
});

it('.shape of a disposed tensor throws even if it was read before disposal', () => {
  const t = torch.ones([2, 3]);
  expect(t.shape).toEqual([2, 3]);
  t.dispose();
  expect(() => t.shape).toThrow(/disposed/);
});

// libtorch's C++ set_requires_grad on a non-leaf is silently ignored; the binding refuses it, as
// PyTorch's Python binding does.
it('setting requiresGrad = false on a non-leaf throws', () => {
  const y = torch.ones([2], { requiresGrad: true }).mul(2);
  expect(() => {
    y.requiresGrad = false;
  }).toThrow(/leaf/);
});

it('Generator.manualSeed with a negative seed throws a RangeError', () => {
  expect(() => new torch.Generator(0).manualSeed(-1)).toThrow(RangeError);
});

afterAll(() => {
  // After all the failures the process still computes, with gradients.
  const x = torch.tensor([1, 2, 3], { requiresGrad: true });
  const y = F.conv2d(torch.ones([1, 1, 3, 3]), torch.ones([1, 1, 3, 3]))
    .sum()
    .add(x.mul(x).sum());
  y.backward();
  if (y.item() !== 9 + 14 || x.grad!.toArray().join() !== '2,4,6')
    throw new Error('the engine no longer works after the error tests');
});

describe('the process still works after every failure', () => {
  it('a normal op succeeds', () => {
    for (const c of cases) caught(c.run);
    expect(
      torch
        .ones([2, 2])
        .matmul(torch.full([2, 2], 3))
        .toArray(),
    ).toEqual([6, 6, 6, 6]);
    expect(F.conv2d(torch.ones([1, 1, 3, 3]), torch.ones([1, 1, 3, 3])).item()).toBe(9);
  });
});

it('a handle can belong to one Tensor object only (its collection would free it under another)', () => {
  const t = torch.ones([2]);
  expect(() => new torch.Tensor(t.handle)).toThrow(/already belongs to a Tensor object/);
  expect(t.toArray()).toEqual([1, 1]);
});
