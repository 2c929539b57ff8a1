// dermosynth's binding to libtorch: one generic path to every ATen operator through the boxed
// dispatcher, plus the few things that are not operators (tensor handles, raw data in and out,
// autograd roots, gradient mode, random generators, threads).
//
// Arguments are converted from JavaScript by the operator's schema, results back by IValue tag,
// so no operator needs a hand-written wrapper. Every libtorch error becomes a JavaScript Error
// that names the operator; nothing here may abort the process on bad input.
#include <napi.h>
#include <cstdlib>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>
#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/cuda.h>
#include <torch/utils.h>
#include <torch/version.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "bridge.h"

namespace {

// A tag that lets us check an object's native type before unwrapping it (never trust JS objects).
const napi_type_tag kGeneratorTag = {0x1b2c3d4e5f607182ULL, 0x93a4b5c6d7e8f901ULL};

std::atomic<int64_t> g_liveTensors{0};

// How a schema argument is converted from JavaScript.
enum class Kind {
  Tensor, Int, Float, Bool, Scalar, String, Device, Generator,
  IntList, FloatList, BoolList, TensorList, OptTensorList, Unsupported
};

struct ArgSpec {
  std::string name;
  Kind kind;
  bool optional;
  int64_t fixedLength;  // for int[N] arguments given as one number; 0 when unknown
  c10::optional<c10::IValue> defaultValue;
  std::string typeName;
};

struct OpEntry {
  c10::OperatorHandle handle;
  std::string name;  // "aten::conv2d" or "aten::add.Tensor"
  std::vector<ArgSpec> args;
};

Kind kindOf(const c10::TypePtr& type) {
  using c10::TypeKind;
  switch (type->kind()) {
    case TypeKind::TensorType: return Kind::Tensor;
    case TypeKind::IntType: return Kind::Int;
    case TypeKind::FloatType: return Kind::Float;
    case TypeKind::BoolType: return Kind::Bool;
    case TypeKind::NumberType: return Kind::Scalar;
    case TypeKind::StringType: return Kind::String;
    case TypeKind::DeviceObjType: return Kind::Device;
    case TypeKind::GeneratorType: return Kind::Generator;
    case TypeKind::ListType: {
      const c10::TypePtr elem = type->containedTypes().at(0);
      if (elem->kind() == TypeKind::OptionalType &&
          elem->containedTypes().at(0)->kind() == TypeKind::TensorType) {
        return Kind::OptTensorList;
      }
      switch (kindOf(elem)) {
        case Kind::Int: return Kind::IntList;
        case Kind::Float: return Kind::FloatList;
        case Kind::Bool: return Kind::BoolList;
        case Kind::Tensor: return Kind::TensorList;
        default: return Kind::Unsupported;
      }
    }
    default: {
      // Enumerations stored as integers, and the symbolic ints of libtorch 2.x, by name so that
      // the same source compiles against versions that do or do not have these type kinds.
      const std::string name = type->str();
      if (name == "SymInt" || name == "ScalarType" || name == "Layout" || name == "MemoryFormat") {
        return Kind::Int;
      }
      return Kind::Unsupported;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Tensor handles: JavaScript holds a number naming a slot of this table; the slot owns one
// at::Tensor reference until it is released. A handle is slot + generation * 2^24 (generation
// >= 1), so that a released or never-issued number is recognised and never aliases another
// tensor. No per-tensor JavaScript object lives on the native side: nothing waits on the
// garbage collector, and releasing is immediate.

constexpr double kSlotSpan = 16777216.0;  // 2^24 slots

struct TensorSlot {
  at::Tensor tensor;
  uint32_t generation = 0;
  bool held = false;
  bool tracked = false;  // a Tensor object owns this handle (see track)
  int64_t externalBytes = 0;
};

// V8 cannot see native memory: it is told about large tensors, so that tensors left to the
// garbage collector's safety net are collected as memory fills up.
constexpr int64_t kExternalThreshold = 64 * 1024;

struct AddonData {
  std::vector<TensorSlot> slots;
  std::vector<uint32_t> freeSlots;
  // Handles whose Tensor objects the garbage collector has collected, released at the next safe
  // point (see drainCollected).
  std::vector<double> collected;
  Napi::FunctionReference generatorCtor;
  std::vector<OpEntry> ops;
  std::unordered_map<std::string, int32_t> opIndex;
  std::vector<std::unique_ptr<c10::InferenceMode>> inferenceGuards;
};

AddonData& data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

std::string errorText(const c10::Error& e) { return e.what_without_backtrace(); }

Napi::Error torchError(Napi::Env env, const std::string& op, const std::string& message) {
  Napi::Error err = Napi::Error::New(env, op.empty() ? message : op + ": " + message);
  err.Set("name", Napi::String::New(env, "TorchError"));
  if (!op.empty()) err.Set("op", Napi::String::New(env, op));
  return err;
}

// Runs body, turning libtorch and standard exceptions into JavaScript errors naming `op`.
template <typename F>
Napi::Value guarded(Napi::Env env, const std::string& op, F&& body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw torchError(env, op, errorText(e));
  } catch (const std::exception& e) {
    throw torchError(env, op, e.what());
  }
}

Napi::Value putTensor(Napi::Env env, at::Tensor tensor);
const at::Tensor& getTensor(Napi::Env env, const Napi::Value& v, const std::string& what);
bool releaseTensor(Napi::Env env, double h);


Napi::Value putTensor(Napi::Env env, at::Tensor tensor) {
  AddonData& d = data(env);
  uint32_t index;
  if (!d.freeSlots.empty()) {
    index = d.freeSlots.back();
    d.freeSlots.pop_back();
  } else {
    if (d.slots.size() >= static_cast<size_t>(kSlotSpan)) {
      throw Napi::RangeError::New(env, "more than 16,777,216 live tensors: dispose tensors (or use tidy) to free handles");
    }
    index = static_cast<uint32_t>(d.slots.size());
    d.slots.emplace_back();
  }
  TensorSlot& slot = d.slots[index];
  slot.generation = slot.generation % 536870911u + 1;  // 1 .. 2^29 - 1, so handles stay exact doubles
  if (tensor.has_storage() && tensor.device().is_cpu()) {
    const int64_t bytes = static_cast<int64_t>(tensor.storage().nbytes());
    if (bytes >= kExternalThreshold) {
      slot.externalBytes = bytes;
      Napi::MemoryManagement::AdjustExternalMemory(env, bytes);
    }
  }
  slot.tensor = std::move(tensor);
  slot.held = true;
  slot.tracked = false;
  g_liveTensors.fetch_add(1, std::memory_order_relaxed);
  return Napi::Number::New(env, double(slot.generation) * kSlotSpan + double(index));
}

// The slot a handle names, or null when the number is not a handle ever issued for that slot.
TensorSlot* slotOf(AddonData& d, double h) {
  if (!(h >= kSlotSpan) || h != std::floor(h) || h > 9.0e15) return nullptr;
  const double generation = std::floor(h / kSlotSpan);
  const size_t index = static_cast<size_t>(h - generation * kSlotSpan);
  if (index >= d.slots.size()) return nullptr;
  TensorSlot& slot = d.slots[index];
  return double(slot.generation) == generation ? &slot : nullptr;
}

TensorSlot* slotOf(Napi::Env env, const Napi::Value& v) {
  return v.IsNumber() ? slotOf(data(env), v.As<Napi::Number>().DoubleValue()) : nullptr;
}

const at::Tensor& getTensor(Napi::Env env, const Napi::Value& v, const std::string& what) {
  TensorSlot* slot = slotOf(env, v);
  if (slot && slot->held) return slot->tensor;
  if (slot || (v.IsNumber() && v.As<Napi::Number>().DoubleValue() >= kSlotSpan)) {
    throw Napi::TypeError::New(env, what + ": the tensor was disposed");
  }
  throw Napi::TypeError::New(env, what + ": expected a Tensor");
}

bool releaseTensor(Napi::Env env, double h) {
  AddonData& d = data(env);
  TensorSlot* slot = slotOf(d, h);
  if (!slot || !slot->held) return false;
  slot->tensor = at::Tensor();
  slot->held = false;
  if (slot->externalBytes) Napi::MemoryManagement::AdjustExternalMemory(env, -slot->externalBytes);
  slot->externalBytes = 0;
  d.freeSlots.push_back(static_cast<uint32_t>(slot - d.slots.data()));
  g_liveTensors.fetch_sub(1, std::memory_order_relaxed);
  return true;
}

// The garbage collector's safety net. track(object, handle) attaches a finalizer to the
// JavaScript Tensor object; it runs during collection (a basic finalizer: no JavaScript may run)
// and only queues the handle. The queue is drained at the end of native calls, never while one is
// reading its arguments, so a handle read just before a call stays valid through that call even
// if its Tensor object is already unreachable. Handles disposed earlier are recognised by their
// generation and left alone.
void onTensorCollected(node_api_basic_env, void* data, void* hint) {
  static_cast<AddonData*>(hint)->collected.push_back(static_cast<double>(reinterpret_cast<uintptr_t>(data)));
}

void drainCollected(Napi::Env env) {
  AddonData& d = data(env);
  if (d.collected.empty()) return;
  std::vector<double> handles;
  handles.swap(d.collected);
  for (double h : handles) releaseTensor(env, h);
}

Napi::Value Track(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "track: expected the Tensor object");
  TensorSlot* slot = slotOf(env, info[1]);
  if (!slot || !slot->held) throw Napi::TypeError::New(env, "track: not a live tensor handle");
  // Two owners would let the first one's collection release the handle under the second.
  if (slot->tracked) throw Napi::TypeError::New(env, "track: this tensor handle already belongs to a Tensor object");
  const double h = info[1].As<Napi::Number>().DoubleValue();
  napi_status status = napi_wrap(env, info[0], reinterpret_cast<void*>(static_cast<uintptr_t>(h)),
                                 onTensorCollected, &data(env), nullptr);
  if (status != napi_ok) throw Napi::TypeError::New(env, "track: this object already tracks a tensor");
  slot->tracked = true;
  drainCollected(env);
  return env.Undefined();
}

// ---------------------------------------------------------------------------------------------
// Tensor metadata and data, by handle.

#define TENSOR_ARG(name) const at::Tensor& name = getTensor(info.Env(), info[0], __func__)

Napi::Value Dispose(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), info[0].IsNumber() && releaseTensor(info.Env(), info[0].As<Napi::Number>().DoubleValue()));
}
Napi::Value IsLive(const Napi::CallbackInfo& info) {
  TensorSlot* slot = slotOf(info.Env(), info[0]);
  return Napi::Boolean::New(info.Env(), slot && slot->held);
}
Napi::Array numberArray(Napi::Env env, c10::IntArrayRef values) {
  Napi::Array out = Napi::Array::New(env, values.size());
  for (size_t i = 0; i < values.size(); ++i) out.Set(i, Napi::Number::New(env, double(values[i])));
  return out;
}
Napi::Value Sizes(const Napi::CallbackInfo& info) {
  TENSOR_ARG(t);
  return numberArray(info.Env(), t.sizes());
}
Napi::Value Strides(const Napi::CallbackInfo& info) {
  TENSOR_ARG(t);
  return numberArray(info.Env(), t.strides());
}
Napi::Value Dtype(const Napi::CallbackInfo& info) {
  TENSOR_ARG(t);
  return Napi::Number::New(info.Env(), double(static_cast<int>(t.scalar_type())));
}
Napi::Value DeviceName(const Napi::CallbackInfo& info) {
  TENSOR_ARG(t);
  return Napi::String::New(info.Env(), t.device().str());
}
Napi::Value RequiresGrad(const Napi::CallbackInfo& info) {
  TENSOR_ARG(t);
  return Napi::Boolean::New(info.Env(), t.requires_grad());
}
Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
  TENSOR_ARG(t);
  const bool flag = info[1].ToBoolean();
  return guarded(info.Env(), "requiresGrad", [&]() -> Napi::Value {
    TORCH_CHECK(t.is_leaf(), "you can only change requiresGrad of leaf tensors; use detach() for a tensor "
                             "outside the graph");
    t.set_requires_grad(flag);
    return info.Env().Undefined();
  });
}
Napi::Value Grad(const Napi::CallbackInfo& info) {
  TENSOR_ARG(t);
  const at::Tensor& g = t.grad();
  return g.defined() ? putTensor(info.Env(), g) : info.Env().Null();
}
Napi::Value SetGrad(const Napi::CallbackInfo& info) {
  TENSOR_ARG(self);
  if (info[1].IsNull() || info[1].IsUndefined()) {
    self.mutable_grad() = at::Tensor();
    return info.Env().Undefined();
  }
  const at::Tensor& g = getTensor(info.Env(), info[1], "setGrad");
  return guarded(info.Env(), "setGrad", [&]() -> Napi::Value {
    TORCH_CHECK(g.sizes() == self.sizes(), "gradient of shape ", g.sizes(), " for a tensor of shape ", self.sizes());
    TORCH_CHECK(g.scalar_type() == self.scalar_type(), "gradient dtype ", g.scalar_type(), " differs from the tensor's ", self.scalar_type());
    TORCH_CHECK(g.device() == self.device(), "gradient on ", g.device(), " for a tensor on ", self.device());
    self.mutable_grad() = g;
    return info.Env().Undefined();
  });
}
Napi::Value IsLeaf(const Napi::CallbackInfo& info) {
  TENSOR_ARG(t);
  return Napi::Boolean::New(info.Env(), t.is_leaf());
}
Napi::Value IsContiguous(const Napi::CallbackInfo& info) {
  TENSOR_ARG(t);
  return Napi::Boolean::New(info.Env(), t.is_contiguous());
}
Napi::Value IsChannelsLast(const Napi::CallbackInfo& info) {
  TENSOR_ARG(t);
  return Napi::Boolean::New(info.Env(), t.dim() == 4 && t.is_contiguous(at::MemoryFormat::ChannelsLast));
}
Napi::Value Item(const Napi::CallbackInfo& info) {
  TENSOR_ARG(t);
  return guarded(info.Env(), "item", [&]() -> Napi::Value {
    const at::Scalar s = t.item();
    if (s.isBoolean()) return Napi::Boolean::New(info.Env(), s.toBool());
    return Napi::Number::New(info.Env(), s.toDouble());
  });
}
// A copy of the tensor's elements in row-major order, as an ArrayBuffer.
Napi::Value ToBuffer(const Napi::CallbackInfo& info) {
  TENSOR_ARG(t);
  return guarded(info.Env(), "toBuffer", [&]() -> Napi::Value {
    at::Tensor c = t.detach().to(at::kCPU).contiguous();
    const size_t bytes = c.numel() * c.element_size();
    Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(info.Env(), bytes);
    if (bytes > 0) std::memcpy(buf.Data(), c.data_ptr(), bytes);
    return buf;
  });
}
// Identifies the underlying storage, so callers can tell views and in-place results apart.
Napi::Value StorageId(const Napi::CallbackInfo& info) {
  TENSOR_ARG(t);
  if (!t.has_storage()) return Napi::String::New(info.Env(), "none");
  return Napi::String::New(info.Env(), std::to_string(reinterpret_cast<uintptr_t>(t.storage().unsafeGetStorageImpl())));
}

// ---------------------------------------------------------------------------------------------
// Random generator handle (per-call generators; states can be saved and restored).

class GeneratorHandle : public Napi::ObjectWrap<GeneratorHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "GeneratorHandle", {
      InstanceMethod<&GeneratorHandle::Seed>("seed"),
      InstanceMethod<&GeneratorHandle::ManualSeed>("manualSeed"),
      InstanceMethod<&GeneratorHandle::GetState>("getState"),
      InstanceMethod<&GeneratorHandle::SetState>("setState"),
    });
  }
  explicit GeneratorHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<GeneratorHandle>(info) {
    info.This().As<Napi::Object>().TypeTag(&kGeneratorTag);
  }
  static Napi::Object Wrap(Napi::Env env, at::Generator gen) {
    Napi::Object obj = data(env).generatorCtor.New({});
    Unwrap(obj)->gen_ = std::move(gen);
    return obj;
  }
  static at::Generator From(Napi::Env env, const Napi::Value& v, const std::string& what) {
    if (v.IsObject() && v.As<Napi::Object>().CheckTypeTag(&kGeneratorTag)) {
      return Unwrap(v.As<Napi::Object>())->gen_;
    }
    throw Napi::TypeError::New(env, what + ": expected a Generator");
  }

 private:
  Napi::Value Seed(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), double(gen_.current_seed()));
  }
  Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
    std::lock_guard<std::mutex> lock(gen_.mutex());
    gen_.set_current_seed(static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value()));
    return info.Env().Undefined();
  }
  Napi::Value GetState(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), "Generator.getState", [&]() -> Napi::Value {
      std::lock_guard<std::mutex> lock(gen_.mutex());
      return putTensor(info.Env(), gen_.get_state());
    });
  }
  Napi::Value SetState(const Napi::CallbackInfo& info) {
    const at::Tensor& state = getTensor(info.Env(), info[0], "Generator.setState");
    return guarded(info.Env(), "Generator.setState", [&]() -> Napi::Value {
      std::lock_guard<std::mutex> lock(gen_.mutex());
      gen_.set_state(state);
      return info.Env().Undefined();
    });
  }
  at::Generator gen_;
};

// ---------------------------------------------------------------------------------------------
// JavaScript -> IValue by schema argument.

[[noreturn]] void badArg(Napi::Env env, const OpEntry& op, const ArgSpec& a, const std::string& expected) {
  throw Napi::TypeError::New(env, op.name + ": argument '" + a.name + "' (" + a.typeName + ") expected " + expected);
}

int64_t toInt(Napi::Env env, const OpEntry& op, const ArgSpec& a, const Napi::Value& v) {
  if (v.IsNumber()) {
    const double d = v.As<Napi::Number>().DoubleValue();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.2e18) return static_cast<int64_t>(d);
  } else if (v.IsBigInt()) {
    bool lossless = false;
    const int64_t i = v.As<Napi::BigInt>().Int64Value(&lossless);
    if (lossless) return i;
  }
  badArg(env, op, a, "an integer");
}

c10::IValue toIValue(Napi::Env env, const OpEntry& op, const ArgSpec& a, const Napi::Value& v) {
  if (a.optional && (v.IsNull() || v.IsUndefined())) return c10::IValue();
  switch (a.kind) {
    case Kind::Tensor:
      return getTensor(env, v, op.name + ": argument '" + a.name + "'");
    case Kind::Int:
      return toInt(env, op, a, v);
    case Kind::Float:
      if (!v.IsNumber()) badArg(env, op, a, "a number");
      return v.As<Napi::Number>().DoubleValue();
    case Kind::Bool:
      if (!v.IsBoolean()) badArg(env, op, a, "a boolean");
      return v.As<Napi::Boolean>().Value();
    case Kind::Scalar: {
      if (v.IsBoolean()) return c10::Scalar(v.As<Napi::Boolean>().Value());
      if (!v.IsNumber()) badArg(env, op, a, "a number");
      const double d = v.As<Napi::Number>().DoubleValue();
      // Integral values are integer scalars, so that int tensors keep their dtype (as in Python).
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) return c10::Scalar(static_cast<int64_t>(d));
      return c10::Scalar(d);
    }
    case Kind::String:
      if (!v.IsString()) badArg(env, op, a, "a string");
      return v.As<Napi::String>().Utf8Value();
    case Kind::Device:
      if (!v.IsString()) badArg(env, op, a, "a device name such as 'cpu' or 'cuda:0'");
      return c10::Device(v.As<Napi::String>().Utf8Value());
    case Kind::Generator:
      return GeneratorHandle::From(env, v, op.name + ": argument '" + a.name + "'");
    case Kind::IntList: {
      std::vector<int64_t> out;
      if (v.IsNumber() && a.fixedLength > 0) {
        out.assign(a.fixedLength, toInt(env, op, a, v));
      } else {
        if (!v.IsArray()) badArg(env, op, a, "an array of integers");
        Napi::Array arr = v.As<Napi::Array>();
        out.reserve(arr.Length());
        for (uint32_t i = 0; i < arr.Length(); ++i) out.push_back(toInt(env, op, a, arr.Get(i)));
      }
      return out;
    }
    case Kind::FloatList: {
      if (!v.IsArray()) badArg(env, op, a, "an array of numbers");
      Napi::Array arr = v.As<Napi::Array>();
      std::vector<double> out;
      for (uint32_t i = 0; i < arr.Length(); ++i) {
        Napi::Value e = arr.Get(i);
        if (!e.IsNumber()) badArg(env, op, a, "an array of numbers");
        out.push_back(e.As<Napi::Number>().DoubleValue());
      }
      return out;
    }
    case Kind::BoolList: {
      if (!v.IsArray()) badArg(env, op, a, "an array of booleans");
      Napi::Array arr = v.As<Napi::Array>();
      c10::List<bool> out;
      for (uint32_t i = 0; i < arr.Length(); ++i) {
        Napi::Value e = arr.Get(i);
        if (!e.IsBoolean()) badArg(env, op, a, "an array of booleans");
        out.push_back(e.As<Napi::Boolean>().Value());
      }
      if (a.fixedLength > 0 && static_cast<int64_t>(out.size()) != a.fixedLength) {
        badArg(env, op, a, "an array of " + std::to_string(a.fixedLength) + " booleans");
      }
      return out;
    }
    case Kind::TensorList: {
      if (!v.IsArray()) badArg(env, op, a, "an array of Tensors");
      Napi::Array arr = v.As<Napi::Array>();
      c10::List<at::Tensor> out;
      out.reserve(arr.Length());
      for (uint32_t i = 0; i < arr.Length(); ++i) {
        out.push_back(getTensor(env, arr.Get(i), op.name + ": argument '" + a.name + "'[" + std::to_string(i) + "]"));
      }
      return out;
    }
    case Kind::OptTensorList: {
      if (!v.IsArray()) badArg(env, op, a, "an array of Tensors or nulls");
      Napi::Array arr = v.As<Napi::Array>();
      c10::List<c10::optional<at::Tensor>> out;
      for (uint32_t i = 0; i < arr.Length(); ++i) {
        Napi::Value e = arr.Get(i);
        if (e.IsNull() || e.IsUndefined()) {
          out.push_back(c10::nullopt);
        } else {
          out.push_back(getTensor(env, e, op.name + ": argument '" + a.name + "'[" + std::to_string(i) + "]"));
        }
      }
      return out;
    }
    case Kind::Unsupported:
      break;
  }
  throw Napi::TypeError::New(env, op.name + ": argument '" + a.name + "' has type " + a.typeName +
                                      ", which dermosynth's binding cannot pass; use another overload");
}

// IValue -> JavaScript, recursively; tensors become handles (or null when undefined).
Napi::Value fromIValue(Napi::Env env, const c10::IValue& v) {
  if (v.isTensor()) {
    const at::Tensor& t = v.toTensor();
    return t.defined() ? putTensor(env, t) : env.Null();
  }
  if (v.isNone()) return env.Null();
  if (v.isInt()) return Napi::Number::New(env, double(v.toInt()));
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isScalar()) return Napi::Number::New(env, v.toScalar().toDouble());
  if (v.isString()) return Napi::String::New(env, v.toStringRef());
  if (v.isTuple()) {
    const auto& elems = v.toTupleRef().elements();
    Napi::Array out = Napi::Array::New(env, elems.size());
    for (size_t i = 0; i < elems.size(); ++i) out.Set(i, fromIValue(env, elems[i]));
    return out;
  }
  if (v.isList()) {
    const auto list = v.toListRef();
    Napi::Array out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) out.Set(i, fromIValue(env, list[i]));
    return out;
  }
  if (v.isDevice()) return Napi::String::New(env, v.toDevice().str());
  throw Napi::TypeError::New(env, std::string("result of type ") + v.tagKind() + " cannot be returned to JavaScript");
}

// ---------------------------------------------------------------------------------------------
// Module functions.

// opHandle(name, overload) -> id: resolves an operator once; later calls use the id.
Napi::Value OpHandle(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "opHandle: name must be a string like 'aten::add'");
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  const std::string overload = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  const std::string full = overload.empty() ? name : name + "." + overload;
  AddonData& d = data(env);
  auto it = d.opIndex.find(full);
  if (it != d.opIndex.end()) return Napi::Number::New(env, it->second);
  auto handle = c10::Dispatcher::singleton().findSchema({name, overload});
  if (!handle) throw torchError(env, full, "no such operator in this libtorch (" TORCH_VERSION ")");
  OpEntry entry{*handle, full, {}};
  for (const c10::Argument& arg : handle->schema().arguments()) {
    c10::TypePtr type = arg.type();
    const bool optional = type->kind() == c10::TypeKind::OptionalType;
    if (optional) type = type->containedTypes().at(0);
    entry.args.push_back(ArgSpec{arg.name(), kindOf(type), optional, arg.N() ? int64_t(*arg.N()) : 0,
                                 arg.default_value(), arg.type()->str()});
  }
  const int32_t id = static_cast<int32_t>(d.ops.size());
  d.ops.push_back(std::move(entry));
  d.opIndex.emplace(full, id);
  return Napi::Number::New(env, id);
}

// callOp(id, args[, discard]) -> result. Missing or undefined trailing arguments take the schema's
// defaults. With discard, results are dropped (for in-place operators that return self).
Napi::Value CallOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonData& d = data(env);
  const uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  if (id >= d.ops.size()) throw Napi::RangeError::New(env, "callOp: unknown operator id");
  const OpEntry& op = d.ops[id];
  if (!info[1].IsArray()) throw Napi::TypeError::New(env, op.name + ": arguments must be an array");
  Napi::Array args = info[1].As<Napi::Array>();
  const bool discard = info.Length() > 2 && info[2].ToBoolean();
  const uint32_t given = args.Length();
  if (given > op.args.size()) {
    throw Napi::TypeError::New(env, op.name + ": takes " + std::to_string(op.args.size()) + " arguments, got " +
                                        std::to_string(given) + " (" + c10::toString(op.handle.schema()) + ")");
  }
  return guarded(env, op.name, [&]() -> Napi::Value {
  torch::jit::Stack stack;
  stack.reserve(op.args.size());
  for (uint32_t i = 0; i < op.args.size(); ++i) {
    const ArgSpec& a = op.args[i];
    Napi::Value v = i < given ? args.Get(i) : env.Undefined();
    if (v.IsUndefined() && !(a.optional && !a.defaultValue)) {
      if (!a.defaultValue) {
        throw Napi::TypeError::New(env, op.name + ": missing argument '" + a.name + "' (" + c10::toString(op.handle.schema()) + ")");
      }
      stack.push_back(*a.defaultValue);
    } else {
      stack.push_back(toIValue(env, op, a, v));
    }
  }
    op.handle.callBoxed(&stack);
    Napi::Value result = env.Undefined();
    if (!discard && stack.size() == 1) {
      result = fromIValue(env, stack[0]);
    } else if (!discard && !stack.empty()) {
      Napi::Array out = Napi::Array::New(env, stack.size());
      for (size_t i = 0; i < stack.size(); ++i) out.Set(i, fromIValue(env, stack[i]));
      result = out;
    }
    drainCollected(env);
    return result;
  });
}

Napi::Value OpSchema(const Napi::CallbackInfo& info) {
  AddonData& d = data(info.Env());
  const uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  if (id >= d.ops.size()) throw Napi::RangeError::New(info.Env(), "opSchema: unknown operator id");
  return Napi::String::New(info.Env(), c10::toString(d.ops[id].handle.schema()));
}

// opReturns(id) -> the return types, e.g. ["Tensor", "Tensor"] or ["int"].
Napi::Value OpReturns(const Napi::CallbackInfo& info) {
  AddonData& d = data(info.Env());
  const uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  if (id >= d.ops.size()) throw Napi::RangeError::New(info.Env(), "opReturns: unknown operator id");
  const auto& returns = d.ops[id].handle.schema().returns();
  Napi::Array out = Napi::Array::New(info.Env(), returns.size());
  for (size_t i = 0; i < returns.size(); ++i) out.Set(i, Napi::String::New(info.Env(), returns[i].type()->str()));
  return out;
}

Napi::Value ListOps(const Napi::CallbackInfo& info) {
  const auto names = c10::Dispatcher::singleton().getAllOpNames();
  Napi::Array out = Napi::Array::New(info.Env(), names.size());
  uint32_t i = 0;
  for (const auto& n : names) {
    out.Set(i++, Napi::String::New(info.Env(), n.overload_name.empty() ? n.name : n.name + "." + n.overload_name));
  }
  return out;
}

// fromBuffer(typedArray, dtype, shape[, device]) -> handle holding a copy of the bytes.
Napi::Value FromBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() && !info[0].IsArrayBuffer()) {
    throw Napi::TypeError::New(env, "fromBuffer: expected a typed array or ArrayBuffer");
  }
  const uint8_t* src;
  size_t bytes;
  if (info[0].IsArrayBuffer()) {
    Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
    src = static_cast<const uint8_t*>(ab.Data());
    bytes = ab.ByteLength();
  } else {
    Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
    src = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    bytes = ta.ByteLength();
  }
  const int dtype = info[1].As<Napi::Number>().Int32Value();
  Napi::Array shapeArr = info[2].As<Napi::Array>();
  std::vector<int64_t> shape;
  for (uint32_t i = 0; i < shapeArr.Length(); ++i) shape.push_back(shapeArr.Get(i).As<Napi::Number>().Int64Value());
  const std::string device = info.Length() > 3 && info[3].IsString() ? info[3].As<Napi::String>().Utf8Value() : "cpu";
  return guarded(env, "fromBuffer", [&]() -> Napi::Value {
    TORCH_CHECK(dtype >= 0 && dtype < static_cast<int>(c10::ScalarType::NumOptions), "unknown dtype code ", dtype);
    at::Tensor t = at::empty(shape, at::TensorOptions().dtype(static_cast<c10::ScalarType>(dtype)));
    const size_t need = t.numel() * t.element_size();
    TORCH_CHECK(need == bytes, "shape ", t.sizes(), " of ", t.scalar_type(), " needs ", need, " bytes, got ", bytes);
    if (bytes > 0) std::memcpy(t.data_ptr(), src, bytes);
    if (device != "cpu") t = t.to(c10::Device(device));
    return putTensor(env, std::move(t));
  });
}

// backward(roots[], grads[] (entries may be null), retainGraph, createGraph[, inputs[]]): with
// inputs, gradients accumulate into those leaves only, and only the graph leading to them runs.
Napi::Value Backward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array roots = info[0].As<Napi::Array>();
  Napi::Array grads = info[1].As<Napi::Array>();
  std::vector<at::Tensor> rootList, gradList;
  for (uint32_t i = 0; i < roots.Length(); ++i) {
    rootList.push_back(getTensor(env, roots.Get(i), "backward"));
    Napi::Value g = i < grads.Length() ? grads.Get(i) : env.Null();
    gradList.push_back(g.IsNull() || g.IsUndefined() ? at::Tensor() : getTensor(env, g, "backward: gradient"));
  }
  const bool retain = info[2].ToBoolean();
  const bool create = info[3].ToBoolean();
  std::vector<at::Tensor> inputList;
  if (info.Length() > 4 && info[4].IsArray()) {
    Napi::Array inputs = info[4].As<Napi::Array>();
    for (uint32_t i = 0; i < inputs.Length(); ++i) inputList.push_back(getTensor(env, inputs.Get(i), "backward: inputs"));
  }
  return guarded(env, "backward", [&]() -> Napi::Value {
    for (size_t i = 0; i < rootList.size(); ++i) {
      if (!gradList[i].defined()) {
        TORCH_CHECK(rootList[i].numel() == 1, "a gradient must be given for a non-scalar output of shape ", rootList[i].sizes());
        gradList[i] = at::ones_like(rootList[i], at::MemoryFormat::Preserve);
      }
    }
    torch::autograd::backward(rootList, gradList, retain, create, inputList);
    return env.Undefined();
  });
}

Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  const bool previous = c10::GradMode::is_enabled();
  c10::GradMode::set_enabled(info[0].ToBoolean());
  return Napi::Boolean::New(info.Env(), previous);
}
Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), c10::GradMode::is_enabled());
}
// Inference mode nests like a stack: enter and exit must pair (the TypeScript scope does this).
Napi::Value EnterInferenceMode(const Napi::CallbackInfo& info) {
  data(info.Env()).inferenceGuards.push_back(std::make_unique<c10::InferenceMode>(true));
  return info.Env().Undefined();
}
Napi::Value ExitInferenceMode(const Napi::CallbackInfo& info) {
  auto& guards = data(info.Env()).inferenceGuards;
  if (guards.empty()) throw Napi::Error::New(info.Env(), "exitInferenceMode without enterInferenceMode");
  guards.pop_back();
  return info.Env().Undefined();
}

Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  const uint64_t seed = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
  return guarded(info.Env(), "manualSeed", [&]() -> Napi::Value {
    torch::manual_seed(seed);
    return info.Env().Undefined();
  });
}
// newGenerator(seed, device) -> a generator of the device's kind, independent of the global one.
Napi::Value NewGenerator(const Napi::CallbackInfo& info) {
  const uint64_t seed = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
  const std::string device = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "cpu";
  return guarded(info.Env(), "Generator", [&]() -> Napi::Value {
    at::Generator base = at::globalContext().defaultGenerator(c10::Device(device));
    at::Generator gen;
    {
      std::lock_guard<std::mutex> lock(base.mutex());
      gen = base.clone();
    }
    gen.set_current_seed(seed);
    return GeneratorHandle::Wrap(info.Env(), gen);
  });
}
Napi::Value DefaultGenerator(const Napi::CallbackInfo& info) {
  const std::string device = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "cpu";
  return guarded(info.Env(), "defaultGenerator", [&]() -> Napi::Value {
    return GeneratorHandle::Wrap(info.Env(), at::globalContext().defaultGenerator(c10::Device(device)));
  });
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), at::get_num_threads()); }
Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  const int n = info[0].As<Napi::Number>().Int32Value();
  if (n < 1) throw Napi::RangeError::New(info.Env(), "setNumThreads: the thread count must be at least 1");
  at::set_num_threads(n);
  return info.Env().Undefined();
}
Napi::Value LiveTensors(const Napi::CallbackInfo& info) {
  drainCollected(info.Env());
  return Napi::Number::New(info.Env(), double(g_liveTensors.load(std::memory_order_relaxed)));
}
Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(torch::cuda::is_available() ? torch::cuda::device_count() : 0));
}
Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("version", TORCH_VERSION);
  o.Set("parallel", at::get_parallel_info());
  o.Set("config", at::show_config());
  o.Set("mkldnn", at::hasMKLDNN());
  return o;
}

// A self-check of the convolutions libtorch hands to oneDNN (src/torch/onednn_guard.ts runs it in
// a child process under each candidate ONEDNN_MAX_CPU_ISA). Each case computes a float32
// convolution (or a transposed one: the kernel oneDNN also runs for a convolution's input
// gradient) and compares it with the same convolution in float64, which libtorch never sends to
// oneDNN. The bound is relative to the reference's largest magnitude, 1e-4: float32 rounding over
// these sums (at most 1,176 products) stays below 1e-5 of it, and a wrong kernel misses by O(1).
// The bf16 case compares with float32 under the bound bf16 allows: 28 products x 2^-8 of
// sum |x| |w| (as scripts/onednn-check.py). Inputs are deterministic (sines of a ramp): the global
// random generator is not touched. Returns [{name, error, bound}].
Napi::Value OnednnCheck(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, "onednnCheck", [&]() -> Napi::Value {
    c10::InferenceMode guard;
    auto ramp = [](std::vector<int64_t> shape, double phase) {
      int64_t n = 1;
      for (int64_t s : shape) n *= s;
      return (at::arange(n, at::kDouble) * 0.7311 + phase).sin().reshape(shape);
    };
    struct Case {
      const char* name;
      std::function<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&)> f;
      std::vector<int64_t> x, w, b;
    };
    std::vector<Case> cases = {
        {"conv_transpose2d 4->3, 3x3, 5x6", [](auto& x, auto& w, auto& b) { return at::conv_transpose2d(x, w, b); }, {2, 4, 5, 6}, {4, 3, 3, 3}, {3}},
        {"conv_transpose2d 8->3, 7x7 padding 3 (a 7x7 convolution's input gradient), 20x20",
         [](auto& x, auto& w, auto& b) { return at::conv_transpose2d(x, w, b, 1, 3); }, {1, 8, 20, 20}, {8, 3, 7, 7}, {3}},
        {"conv_transpose2d 64->3, 7x7 padding 3, 20x20", [](auto& x, auto& w, auto& b) { return at::conv_transpose2d(x, w, b, 1, 3); }, {1, 64, 20, 20}, {64, 3, 7, 7}, {3}},
        {"conv2d 24->8, 4x4 stride 2 padding 2, 20x20", [](auto& x, auto& w, auto& b) { return at::conv2d(x, w, b, 2, 2); }, {1, 24, 20, 20}, {8, 24, 4, 4}, {8}},
        {"conv2d 24->64, 7x7 padding 3, 20x20", [](auto& x, auto& w, auto& b) { return at::conv2d(x, w, b, 1, 3); }, {1, 24, 20, 20}, {64, 24, 7, 7}, {64}},
        {"conv2d 16->32, 3x3 stride 2 padding 1, 32x32", [](auto& x, auto& w, auto& b) { return at::conv2d(x, w, b, 2, 1); }, {2, 16, 32, 32}, {32, 16, 3, 3}, {32}},
    };
    Napi::Array out = Napi::Array::New(env);
    uint32_t i = 0;
    for (const Case& c : cases) {
      const at::Tensor x = ramp(c.x, 0.1), w = ramp(c.w, 0.2) * 0.3, b = ramp(c.b, 0.3);
      const at::Tensor ref = c.f(x, w, b);
      const at::Tensor y = c.f(x.to(at::kFloat), w.to(at::kFloat), b.to(at::kFloat)).to(at::kDouble);
      Napi::Object r = Napi::Object::New(env);
      r.Set("name", c.name);
      r.Set("error", (y - ref).abs().max().item<double>());
      r.Set("bound", 1e-4 * ref.abs().max().item<double>());
      out.Set(i++, r);
    }
    if (at::hasMKLDNN()) {
      const at::Tensor x = ramp({2, 3, 9, 9}, 0.4).to(at::kFloat), w = ramp({5, 3, 3, 3}, 0.5).to(at::kFloat), b = ramp({5}, 0.6).to(at::kFloat);
      Napi::Object r = Napi::Object::New(env);
      r.Set("name", "conv2d bf16 3->5, 3x3 padding 1, 9x9");
      try {
        const at::Tensor ref = at::conv2d(x, w, b, 1, 1);
        const at::Tensor y = at::conv2d(x.to(at::kBFloat16), w.to(at::kBFloat16), b.to(at::kBFloat16), 1, 1).to(at::kFloat);
        const at::Tensor bound = at::conv2d(x.abs(), w.abs(), b.abs(), 1, 1) * (28.0 / 256.0);
        // The error relative to each element's own bound: within means at most 1.
        r.Set("error", ((y - ref).abs() / bound).max().item<double>());
        r.Set("bound", 1.0);
      } catch (const c10::Error&) {
        r.Set("error", 0.0);  // no bf16 convolution on this CPU: nothing to check
        r.Set("bound", 1.0);
      }
      out.Set(i++, r);
    }
    return out;
  });
}

// Whether libtorch may send operations to oneDNN (at::globalContext().setUserEnabledMkldnn): the
// last resort of src/torch/onednn_guard.ts when no ISA cap makes oneDNN's convolutions right.
Napi::Value SetMkldnnEnabled(const Napi::CallbackInfo& info) {
  at::globalContext().setUserEnabledMkldnn(info[0].ToBoolean());
  return info.Env().Undefined();
}

// glibc's mallopt(param, value), for the allocation policy chosen in src/torch/native.ts; false
// where the C library is not glibc or refuses the value.
Napi::Value Mallopt(const Napi::CallbackInfo& info) {
#if defined(__GLIBC__)
  int ok = mallopt(info[0].As<Napi::Number>().Int32Value(), info[1].As<Napi::Number>().Int32Value());
  return Napi::Boolean::New(info.Env(), ok == 1);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

// Automatic mixed precision: libtorch's autocast dispatch keys, on for one device type at a time.
// setAutocast(deviceType, enabled, dtype) -> [wasEnabled, previousDtype]. Ops called through the
// dispatcher while it is on run at the lower precision where autocast's op lists say so.
Napi::Value SetAutocast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string type = info[0].As<Napi::String>().Utf8Value();
  const bool enabled = info[1].ToBoolean();
  const auto dtype = static_cast<at::ScalarType>(info[2].As<Napi::Number>().Int32Value());
  return guarded(env, "autocast", [&]() -> Napi::Value {
    TORCH_CHECK(type == "cpu" || type == "cuda", "autocast: device type must be 'cpu' or 'cuda', got '", type, "'");
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    // libtorch 2.4 and later: one API for every device type (the per-device one warns as deprecated).
    const c10::DeviceType dev = type == "cpu" ? c10::DeviceType::CPU : c10::DeviceType::CUDA;
    const bool was = at::autocast::is_autocast_enabled(dev);
    const at::ScalarType previous = at::autocast::get_autocast_dtype(dev);
    at::autocast::set_autocast_enabled(dev, enabled);
    at::autocast::set_autocast_dtype(dev, dtype);
#else
    bool was;
    at::ScalarType previous;
    if (type == "cpu") {
      was = at::autocast::is_cpu_enabled();
      previous = at::autocast::get_autocast_cpu_dtype();
      at::autocast::set_cpu_enabled(enabled);
      at::autocast::set_autocast_cpu_dtype(dtype);
    } else {
      was = at::autocast::is_enabled();
      previous = at::autocast::get_autocast_gpu_dtype();
      at::autocast::set_enabled(enabled);
      at::autocast::set_autocast_gpu_dtype(dtype);
    }
#endif
    Napi::Array out = Napi::Array::New(env, 2);
    out.Set(0u, Napi::Boolean::New(env, was));
    out.Set(1u, Napi::Number::New(env, static_cast<int>(previous)));
    return out;
  });
}
// Autocast caches the lower-precision copies of weights while a region is open; the outermost
// exit clears them (as torch.autocast's __exit__).
Napi::Value AutocastEnter(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::autocast::increment_nesting());
}
Napi::Value AutocastExit(const Napi::CallbackInfo& info) {
  const int depth = at::autocast::decrement_nesting();
  if (depth == 0) at::autocast::clear_cache();
  return Napi::Number::New(info.Env(), depth);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* d = new AddonData();
  d->generatorCtor = Napi::Persistent(GeneratorHandle::Define(env));
  env.SetInstanceData<AddonData>(d);
  exports.Set("opHandle", Napi::Function::New(env, OpHandle));
  exports.Set("dispose", Napi::Function::New(env, Dispose));
  exports.Set("track", Napi::Function::New(env, Track));
  exports.Set("isLive", Napi::Function::New(env, IsLive));
  exports.Set("sizes", Napi::Function::New(env, Sizes));
  exports.Set("strides", Napi::Function::New(env, Strides));
  exports.Set("dtype", Napi::Function::New(env, Dtype));
  exports.Set("device", Napi::Function::New(env, DeviceName));
  exports.Set("requiresGrad", Napi::Function::New(env, RequiresGrad));
  exports.Set("setRequiresGrad", Napi::Function::New(env, SetRequiresGrad));
  exports.Set("grad", Napi::Function::New(env, Grad));
  exports.Set("setGrad", Napi::Function::New(env, SetGrad));
  exports.Set("isLeaf", Napi::Function::New(env, IsLeaf));
  exports.Set("isContiguous", Napi::Function::New(env, IsContiguous));
  exports.Set("isChannelsLast", Napi::Function::New(env, IsChannelsLast));
  exports.Set("item", Napi::Function::New(env, Item));
  exports.Set("toBuffer", Napi::Function::New(env, ToBuffer));
  exports.Set("storageId", Napi::Function::New(env, StorageId));
  exports.Set("callOp", Napi::Function::New(env, CallOp));
  exports.Set("opSchema", Napi::Function::New(env, OpSchema));
  exports.Set("listOps", Napi::Function::New(env, ListOps));
  exports.Set("opReturns", Napi::Function::New(env, OpReturns));
  exports.Set("fromBuffer", Napi::Function::New(env, FromBuffer));
  exports.Set("backward", Napi::Function::New(env, Backward));
  exports.Set("setGradEnabled", Napi::Function::New(env, SetGradEnabled));
  exports.Set("isGradEnabled", Napi::Function::New(env, IsGradEnabled));
  exports.Set("enterInferenceMode", Napi::Function::New(env, EnterInferenceMode));
  exports.Set("exitInferenceMode", Napi::Function::New(env, ExitInferenceMode));
  exports.Set("manualSeed", Napi::Function::New(env, ManualSeed));
  exports.Set("newGenerator", Napi::Function::New(env, NewGenerator));
  exports.Set("defaultGenerator", Napi::Function::New(env, DefaultGenerator));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads));
  exports.Set("liveTensors", Napi::Function::New(env, LiveTensors));
  exports.Set("cudaDeviceCount", Napi::Function::New(env, CudaDeviceCount));
  exports.Set("buildInfo", Napi::Function::New(env, BuildInfo));
  exports.Set("mallopt", Napi::Function::New(env, Mallopt));
  exports.Set("onednnCheck", Napi::Function::New(env, OnednnCheck));
  exports.Set("setMkldnnEnabled", Napi::Function::New(env, SetMkldnnEnabled));
  exports.Set("setAutocast", Napi::Function::New(env, SetAutocast));
  exports.Set("autocastEnter", Napi::Function::New(env, AutocastEnter));
  exports.Set("autocastExit", Napi::Function::New(env, AutocastExit));
  dermosynth::initDistributed(env, exports);
  return exports;
}

}  // namespace

// The bridge to the other translation units (bridge.h).
namespace dermosynth {
Napi::Value putTensor(Napi::Env env, at::Tensor tensor) { return ::putTensor(env, std::move(tensor)); }
const at::Tensor& getTensor(Napi::Env env, const Napi::Value& v, const std::string& what) { return ::getTensor(env, v, what); }
Napi::Error torchError(Napi::Env env, const std::string& op, const std::string& message) { return ::torchError(env, op, message); }
}  // namespace dermosynth

NODE_API_MODULE(dermosynth_torch, Init)
