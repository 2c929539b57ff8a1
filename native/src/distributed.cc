// torch.distributed's engine from JavaScript: a c10d process group (gloo on CPU, NCCL on CUDA
// where the build has it) over a TCPStore rendezvous, its collectives, and a gradient reducer
// that all-reduces parameter gradients in buckets while the backward pass is still running.
//
// Every collective has a timeout (gloo and NCCL options, and every wait), so a worker whose peer
// died gets an error naming the collective instead of hanging.
#include "bridge.h"

#include <torch/version.h>

#ifdef DERMOSYNTH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif
#ifdef DERMOSYNTH_NCCL
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace dermosynth {

#ifdef DERMOSYNTH_GLOO
namespace {

const napi_type_tag kGroupTag = {0x6c10d0a1b2c3d4e5ULL, 0x0f1e2d3c4b5a6978ULL};
const napi_type_tag kReducerTag = {0x7d21e1b2c3d4e5f6ULL, 0x1f2e3d4c5b6a7988ULL};

#if TORCH_VERSION_MAJOR >= 2
using GroupBase = c10d::Backend;
#else
using GroupBase = c10d::ProcessGroup;
#endif
using WorkPtr = c10::intrusive_ptr<c10d::Work>;
using Millis = std::chrono::milliseconds;

template <typename F>
auto guardedCall(Napi::Env env, const std::string& what, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw torchError(env, what, e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw torchError(env, what, e.what());
  }
}

std::vector<at::Tensor> tensorList(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (!v.IsArray()) throw Napi::TypeError::New(env, what + ": expected an array of tensors");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) out.push_back(getTensor(env, a.Get(i), what));
  return out;
}

c10d::ReduceOp reduceOp(Napi::Env env, const Napi::Value& v) {
  const std::string op = v.IsString() ? v.As<Napi::String>().Utf8Value() : "sum";
  if (op == "sum") return c10d::ReduceOp::SUM;
  if (op == "max") return c10d::ReduceOp::MAX;
  if (op == "min") return c10d::ReduceOp::MIN;
  throw Napi::TypeError::New(env, "allreduce: op must be 'sum', 'max' or 'min', got '" + op + "'");
}

// Waits for a collective; a timeout or a failed peer becomes an error naming it.
void waitFor(const WorkPtr& work, Millis timeout, const char* what) {
  if (!work->wait(timeout)) {
    TORCH_CHECK(false, what, " did not complete within ", timeout.count(), " ms (a worker is gone or stuck)");
  }
}

struct Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<GroupBase> pg;
  std::string backend;
  int rank = 0;
  int size = 1;
  Millis timeout{1800000};
};

// ---------------------------------------------------------------------------------------------
// The reducer: parameters are laid out in buckets of about `bucketBytes` in reverse order (the
// order in which backward produces their gradients). A hook on each parameter copies its
// gradient into its bucket as backward produces it; a full bucket is all-reduced at once,
// asynchronously, in bucket order (the same order on every rank), while backward goes on.
// finish() sends what is left, waits, and writes the averaged gradients back into .grad.
struct ReducerState {
  std::shared_ptr<Group> group;
  std::vector<at::Tensor> params;
  struct Slot { size_t bucket; int64_t offset; int64_t numel; };
  std::vector<Slot> slots;
  std::vector<bool> ready;
  struct Bucket {
    at::Tensor flat;
    std::vector<size_t> members;
    size_t pending = 0;
    WorkPtr work;
  };
  std::vector<Bucket> buckets;
  size_t nextLaunch = 0;
  bool armed = false;
  std::mutex mu;
  std::vector<unsigned> hookIds;
  bool hooked = false;
  int64_t bucketBytes = 25 << 20;
  // The order gradients were ready in during the first backward; the buckets are laid out again
  // in that order after it (as PyTorch's DDP does), so that each fills, and goes, as early as it can.
  std::vector<size_t> readyOrder;
  bool rebuilt = false;

  // Buckets over the parameters in `order`: one per (dtype, device) run, about bucketBytes each,
  // the first at most 1 MiB (as DDP), so that sending starts early in backward. Gloo reduces host
  // memory, NCCL device memory.
  void layout(const std::vector<size_t>& order) {
    std::vector<std::vector<size_t>> groups;
    int64_t bytes = 0;
    const int64_t firstBytes = std::min<int64_t>(bucketBytes, 1 << 20);
    for (size_t k : order) {
      const at::Tensor& p = params[k];
      const at::Tensor* last = groups.empty() ? nullptr : &params[groups.back().back()];
      const bool sameKind = last && last->scalar_type() == p.scalar_type() && last->device() == p.device();
      const int64_t pb = p.numel() * static_cast<int64_t>(p.element_size());
      const int64_t cap = groups.size() == 1 ? firstBytes : bucketBytes;  // filling the first bucket, or a later one
      if (groups.empty() || !sameKind || (bytes > 0 && bytes + pb > cap)) {
        groups.emplace_back();
        bytes = 0;
      }
      groups.back().push_back(k);
      bytes += pb;
    }
    const bool onHost = group->backend == "gloo";
    buckets.clear();
    slots.assign(params.size(), Slot{0, 0, 0});
    for (auto& members : groups) {
      Bucket b;
      int64_t total = 0;
      for (size_t k : members) {
        slots[k] = {buckets.size(), total, params[k].numel()};
        total += params[k].numel();
      }
      const at::Tensor& first = params[members.front()];
      auto options = first.options().requires_grad(false);
      if (onHost) options = options.device(at::kCPU).pinned_memory(first.is_cuda());
      b.flat = at::zeros({total}, options);
      b.members = std::move(members);
      b.pending = b.members.size();
      buckets.push_back(std::move(b));
    }
  }

  // After the first backward: rank 0's ready order (the parameters backward did not reach last),
  // shared so that every rank lays out the same buckets. A collective, at the same point on all ranks.
  void rebuildFromReadyOrder() {
    const int64_t n = static_cast<int64_t>(params.size());
    at::Tensor order = at::empty({n}, at::TensorOptions().dtype(at::kLong));
    auto* o = order.data_ptr<int64_t>();
    std::vector<bool> seen(params.size(), false);
    int64_t m = 0;
    for (size_t k : readyOrder) {
      if (!seen[k]) o[m++] = static_cast<int64_t>(k), seen[k] = true;
    }
    for (size_t k = params.size(); k-- > 0;) {
      if (!seen[k]) o[m++] = static_cast<int64_t>(k);
    }
    if (group->size > 1) {
      std::vector<at::Tensor> one{group->backend == "gloo" ? order : order.to(params.front().device())};
      c10d::BroadcastOptions opts;
      opts.rootRank = 0;
      opts.timeout = group->timeout;
      waitFor(group->pg->broadcast(one, opts), group->timeout, "reducer bucket order");
      order = one[0].to(at::kCPU);
      o = order.data_ptr<int64_t>();
    }
    std::vector<size_t> sorted(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      TORCH_CHECK(o[i] >= 0 && o[i] < n, "reducer: bad bucket order from rank 0");
      sorted[static_cast<size_t>(i)] = static_cast<size_t>(o[i]);
    }
    layout(sorted);
    rebuilt = true;
    readyOrder.clear();
  }

  void launchReadyLocked() {
    while (nextLaunch < buckets.size() && buckets[nextLaunch].pending == 0) launchLocked(nextLaunch++);
  }
  void launchLocked(size_t b) {
    std::vector<at::Tensor> t{buckets[b].flat};
    c10d::AllreduceOptions opts;
    opts.reduceOp = c10d::ReduceOp::SUM;
    opts.timeout = group->timeout;
    buckets[b].work = group->pg->allreduce(t, opts);
  }
  void onGrad(size_t i, const at::Tensor& grad) {
    std::lock_guard<std::mutex> lock(mu);
    if (!armed) return;
    const Slot& s = slots[i];
    Bucket& b = buckets[s.bucket];
    at::Tensor dst = b.flat.narrow(0, s.offset, s.numel);
    if (ready[i]) {
      // A second gradient for the same parameter in one backward (retain_graph, or inputs
      // reached twice): only possible before its bucket was sent.
      TORCH_CHECK(!b.work, "reducer: parameter ", i, " received a second gradient after its bucket was sent");
      dst.add_(grad.reshape({-1}));
      return;
    }
    dst.copy_(grad.reshape({-1}));
    ready[i] = true;
    if (!rebuilt) readyOrder.push_back(i);
    if (--b.pending == 0) launchReadyLocked();
  }
};

class ReducerHandle : public Napi::ObjectWrap<ReducerHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Reducer", {
      InstanceMethod<&ReducerHandle::Prepare>("prepare"),
      InstanceMethod<&ReducerHandle::Finish>("finish"),
      InstanceMethod<&ReducerHandle::Dispose>("dispose"),
      InstanceMethod<&ReducerHandle::Buckets>("buckets"),
    });
  }
  explicit ReducerHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ReducerHandle>(info) {
    info.This().As<Napi::Object>().TypeTag(&kReducerTag);
  }
  ~ReducerHandle() override { removeHooks(); }

  void init(std::shared_ptr<Group> group, std::vector<at::Tensor> params, int64_t bucketBytes) {
    auto s = std::make_shared<ReducerState>();
    s->group = std::move(group);
    s->params = std::move(params);
    s->bucketBytes = bucketBytes;
    const size_t n = s->params.size();
    s->ready.assign(n, false);
    for (size_t k = 0; k < n; ++k) TORCH_CHECK(s->params[k].requires_grad(), "reducer: parameter ", k, " does not require grad");
    // Until the first backward has shown the order gradients come in: reverse registration order.
    std::vector<size_t> reverse(n);
    for (size_t k = 0; k < n; ++k) reverse[k] = n - 1 - k;
    s->layout(reverse);
    std::weak_ptr<ReducerState> weak = s;
    for (size_t k = 0; k < n; ++k) {
      s->hookIds.push_back(s->params[k].register_hook([weak, k](const at::Tensor& grad) {
        if (auto st = weak.lock()) st->onGrad(k, grad);
      }));
    }
    s->hooked = true;
    state_ = std::move(s);
  }

 private:
  void removeHooks() {
    if (!state_ || !state_->hooked) return;
    for (size_t k = 0; k < state_->params.size(); ++k) state_->params[k].remove_hook(state_->hookIds[k]);
    state_->hooked = false;
  }
  ReducerState& state(Napi::Env env) {
    if (!state_ || !state_->hooked) throw Napi::Error::New(env, "reducer: disposed");
    return *state_;
  }
  Napi::Value Prepare(const Napi::CallbackInfo& info) {
    ReducerState& s = state(info.Env());
    std::lock_guard<std::mutex> lock(s.mu);
    TORCH_CHECK(!s.armed, "reducer: prepare() twice without finish()");
    std::fill(s.ready.begin(), s.ready.end(), false);
    for (auto& b : s.buckets) {
      b.pending = b.members.size();
      b.work.reset();
    }
    s.nextLaunch = 0;
    s.armed = true;
    return info.Env().Undefined();
  }
  // finish() -> seconds spent waiting for the collectives after backward returned.
  Napi::Value Finish(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ReducerState& s = state(env);
    return guardedCall(env, "reducer.finish", [&]() -> Napi::Value {
      {
        std::lock_guard<std::mutex> lock(s.mu);
        TORCH_CHECK(s.armed, "reducer: finish() without prepare()");
        // Parameters backward did not reach (the same ones on every rank) are sent as zeros.
        for (size_t k = 0; k < s.params.size(); ++k) {
          if (s.ready[k]) continue;
          const auto& slot = s.slots[k];
          auto& b = s.buckets[slot.bucket];
          b.flat.narrow(0, slot.offset, slot.numel).zero_();
        }
        for (auto& b : s.buckets) b.pending = 0;
        s.launchReadyLocked();
        s.armed = false;
      }
      const auto t0 = std::chrono::steady_clock::now();
      for (auto& b : s.buckets) waitFor(b.work, s.group->timeout, "gradient all-reduce");
      const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      // The mean, written straight into each gradient (one pass over the bucket).
      const double scale = 1.0 / s.group->size;
      for (auto& b : s.buckets) {
        for (size_t k : b.members) {
          if (!s.ready[k]) continue;
          at::Tensor& p = s.params[k];
          const auto& slot = s.slots[k];
          at::Tensor sum = b.flat.narrow(0, slot.offset, slot.numel).view(p.sizes());
          at::Tensor g = p.grad();
          if (g.defined() && g.device() == sum.device()) {
            at::mul_out(g, sum, at::scalar_tensor(scale, sum.options()));
          } else if (g.defined()) {
            g.copy_(sum.mul(scale));
          } else {
            p.mutable_grad() = sum.mul(scale).to(p.device());
          }
        }
        b.work.reset();
      }
      if (!s.rebuilt) {
        std::lock_guard<std::mutex> lock(s.mu);
        s.rebuildFromReadyOrder();
      }
      return Napi::Number::New(env, waited);
    });
  }
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    removeHooks();
    state_.reset();
    return info.Env().Undefined();
  }
  Napi::Value Buckets(const Napi::CallbackInfo& info) {
    ReducerState& s = state(info.Env());
    Napi::Array out = Napi::Array::New(info.Env(), s.buckets.size());
    for (size_t b = 0; b < s.buckets.size(); ++b) {
      out.Set(static_cast<uint32_t>(b), Napi::Number::New(info.Env(), double(s.buckets[b].flat.numel() * s.buckets[b].flat.element_size())));
    }
    return out;
  }
  std::shared_ptr<ReducerState> state_;
};

// The classes' constructors, per JavaScript environment (the addon may load in worker threads).
struct Constructors {
  Napi::FunctionReference group;
  Napi::FunctionReference reducer;
};

class GroupHandle : public Napi::ObjectWrap<GroupHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ProcessGroup", {
      InstanceMethod<&GroupHandle::Allreduce>("allreduce"),
      InstanceMethod<&GroupHandle::Broadcast>("broadcast"),
      InstanceMethod<&GroupHandle::Barrier>("barrier"),
      InstanceMethod<&GroupHandle::NewReducer>("reducer"),
      InstanceMethod<&GroupHandle::GradientSumHook>("sumGradientAcrossRanks"),
      InstanceMethod<&GroupHandle::StoreSet>("storeSet"),
      InstanceMethod<&GroupHandle::StoreGet>("storeGet"),
      InstanceMethod<&GroupHandle::Close>("close"),
    });
  }
  explicit GroupHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<GroupHandle>(info) {
    info.This().As<Napi::Object>().TypeTag(&kGroupTag);
  }
  std::shared_ptr<Group> group_;
  Constructors* ctors_ = nullptr;

 private:
  Group& group(Napi::Env env) {
    if (!group_) throw Napi::Error::New(env, "process group: closed");
    return *group_;
  }
  // One collective per tensor of the JavaScript array `list`, in order, each waited for.
  template <typename Launch>
  Napi::Value eachTensor(Napi::Env env, Group& g, const Napi::Value& list, const char* what, Launch launch) {
    auto tensors = tensorList(env, list, what);
    return guardedCall(env, what, [&]() -> Napi::Value {
      for (auto& t : tensors) {
        std::vector<at::Tensor> one{t};
        waitFor(launch(one), g.timeout, what);
      }
      return env.Undefined();
    });
  }
  // allreduce(tensors, op): in place, waits.
  Napi::Value Allreduce(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Group& g = group(env);
    c10d::AllreduceOptions opts;
    opts.reduceOp = reduceOp(env, info[1]);
    opts.timeout = g.timeout;
    return eachTensor(env, g, info[0], "allreduce", [&](std::vector<at::Tensor>& one) { return g.pg->allreduce(one, opts); });
  }
  // broadcast(tensors, root): rank root's values into every rank's tensors, in place.
  Napi::Value Broadcast(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Group& g = group(env);
    c10d::BroadcastOptions opts;
    opts.rootRank = info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 0;
    opts.timeout = g.timeout;
    return eachTensor(env, g, info[0], "broadcast", [&](std::vector<at::Tensor>& one) { return g.pg->broadcast(one, opts); });
  }
  Napi::Value Barrier(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Group& g = group(env);
    return guardedCall(env, "barrier", [&]() -> Napi::Value {
      c10d::BarrierOptions opts;
      opts.timeout = g.timeout;
      waitFor(g.pg->barrier(opts), g.timeout, "barrier");
      return env.Undefined();
    });
  }
  // reducer(params, bucketBytes) -> a Reducer for these parameters.
  Napi::Value NewReducer(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    group(env);  // throws when closed
    auto params = tensorList(env, info[0], "reducer");
    const int64_t bucketBytes = info[1].IsNumber() ? info[1].As<Napi::Number>().Int64Value() : (25 << 20);
    if (bucketBytes < 1) throw Napi::RangeError::New(env, "reducer: bucketBytes must be positive");
    Napi::Object obj = ctors_->reducer.New({});
    ReducerHandle* r = Napi::ObjectWrap<ReducerHandle>::Unwrap(obj);
    guardedCall(env, "reducer", [&]() {
      r->init(group_, std::move(params), bucketBytes);
      return 0;
    });
    return obj;
  }
  // sumGradientAcrossRanks(t): t's gradient, when backward reaches it, is summed over all ranks
  // before it flows on (synchronized batch norm's statistics). t must require grad.
  Napi::Value GradientSumHook(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    group(env);  // throws when closed
    const at::Tensor& t = getTensor(env, info[0], "sumGradientAcrossRanks");
    return guardedCall(env, "sumGradientAcrossRanks", [&]() -> Napi::Value {
      TORCH_CHECK(t.requires_grad(), "the tensor does not require grad");
      std::weak_ptr<Group> weak = group_;
      t.register_hook([weak](const at::Tensor& grad) -> at::Tensor {
        auto gr = weak.lock();
        TORCH_CHECK(gr, "process group closed before backward");
        at::Tensor host = gr->backend == "gloo" ? grad.to(at::kCPU, /*non_blocking=*/false, /*copy=*/true).contiguous() : grad.clone().contiguous();
        std::vector<at::Tensor> one{host};
        c10d::AllreduceOptions opts;
        opts.timeout = gr->timeout;
        waitFor(gr->pg->allreduce(one, opts), gr->timeout, "gradient all-reduce (synchronized batch norm)");
        return host.to(grad.device());
      });
      return env.Undefined();
    });
  }
  // storeSet(key, string) / storeGet(key) -> string: small messages through the rendezvous store.
  Napi::Value StoreSet(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Group& g = group(env);
    const std::string key = info[0].As<Napi::String>().Utf8Value();
    const std::string value = info[1].As<Napi::String>().Utf8Value();
    return guardedCall(env, "store.set", [&]() -> Napi::Value {
      g.store->set(key, std::vector<uint8_t>(value.begin(), value.end()));
      return env.Undefined();
    });
  }
  Napi::Value StoreGet(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Group& g = group(env);
    const std::string key = info[0].As<Napi::String>().Utf8Value();
    return guardedCall(env, "store.get", [&]() -> Napi::Value {
      g.store->wait({key}, g.timeout);
      std::vector<uint8_t> v = g.store->get(key);
      return Napi::String::New(env, std::string(v.begin(), v.end()));
    });
  }
  Napi::Value Close(const Napi::CallbackInfo& info) {
    group_.reset();
    return info.Env().Undefined();
  }
};

bool isLoopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

// initProcessGroup({backend, host, port, rank, worldSize, timeoutMs, ifname, device}) -> ProcessGroup.
// TCPStoreOptions::useLibUV exists from libtorch 2.2 (default true from 2.4); builds without
// libuv (Debian's 2.6) refuse it. Set it where the field exists, a no-op on 1.13.
template <typename T>
auto setUseLibUV(T& o, bool v, int) -> decltype(o.useLibUV = v, void()) {
  o.useLibUV = v;
}
template <typename T>
void setUseLibUV(T&, bool, long) {}

// Rank 0 serves the TCPStore at host:port; every rank connects to it; returns when all are in.
Napi::Value InitProcessGroup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "initProcessGroup: expected an options object");
  Napi::Object o = info[0].As<Napi::Object>();
  auto str = [&](const char* k, const std::string& dflt) {
    Napi::Value v = o.Get(k);
    return v.IsString() ? v.As<Napi::String>().Utf8Value() : dflt;
  };
  auto num = [&](const char* k, double dflt) {
    Napi::Value v = o.Get(k);
    return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : dflt;
  };
  auto g = std::make_shared<Group>();
  g->backend = str("backend", "gloo");
  const std::string host = str("host", "127.0.0.1");
  const std::string ifname = str("ifname", "");
  const std::string device = str("device", "");
  g->rank = static_cast<int>(num("rank", 0));
  g->size = static_cast<int>(num("worldSize", 1));
  const double port = num("port", 29500);
  g->timeout = Millis(static_cast<int64_t>(num("timeoutMs", 1800000)));
  if (g->size < 1 || g->rank < 0 || g->rank >= g->size) throw Napi::RangeError::New(env, "initProcessGroup: need 0 <= rank < worldSize");
  if (!(port >= 1 && port <= 65535)) throw Napi::RangeError::New(env, "initProcessGroup: port must be in 1..65535");
  return guardedCall(env, "initProcessGroup", [&]() -> Napi::Value {
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(port);
    so.isServer = g->rank == 0;
    so.numWorkers = static_cast<std::size_t>(g->size);
    so.waitWorkers = true;
    so.timeout = g->timeout;
    try {
      g->store = c10::make_intrusive<c10d::TCPStore>(host, so);
    } catch (const c10::Error& e) {
      // A libtorch built without libuv: its classic TCPStore backend.
      if (std::string(e.what()).find("libuv") == std::string::npos) throw;
      setUseLibUV(so, false, 0);
      g->store = c10::make_intrusive<c10d::TCPStore>(host, so);
    }
    if (g->backend == "gloo") {
      auto opts = c10d::ProcessGroupGloo::Options::create(g->timeout);
      if (!ifname.empty()) {
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
      } else if (isLoopback(host)) {
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      } else {
        opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      }
      opts->threads = 2;
      g->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(g->store, g->rank, g->size, opts);
    } else if (g->backend == "nccl") {
#ifdef DERMOSYNTH_NCCL
      if (!device.empty()) c10::cuda::set_device(static_cast<c10::DeviceIndex>(c10::Device(device).index()));
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = g->timeout;
      g->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(g->store, g->rank, g->size, opts);
#else
      TORCH_CHECK(false, "this addon was built without NCCL (it needs a CUDA libtorch with c10d's NCCL headers and nccl.h); use the gloo backend");
#endif
    } else {
      TORCH_CHECK(false, "unknown backend '", g->backend, "' (expected gloo or nccl)");
    }
    auto* ctors = static_cast<Constructors*>(info.Data());
    Napi::Object obj = ctors->group.New({});
    GroupHandle* handle = Napi::ObjectWrap<GroupHandle>::Unwrap(obj);
    handle->group_ = g;
    handle->ctors_ = ctors;
    return obj;
  });
}

}  // namespace

void initDistributed(Napi::Env env, Napi::Object exports) {
  auto* ctors = new Constructors();
  ctors->group = Napi::Persistent(GroupHandle::Define(env));
  ctors->reducer = Napi::Persistent(ReducerHandle::Define(env));
  env.AddCleanupHook([ctors]() { delete ctors; });
  exports.Set("initProcessGroup", Napi::Function::New(env, InitProcessGroup, "initProcessGroup", ctors));
  Napi::Array backends = Napi::Array::New(env);
  backends.Set(0u, Napi::String::New(env, "gloo"));
#ifdef DERMOSYNTH_NCCL
  backends.Set(1u, Napi::String::New(env, "nccl"));
#endif
  exports.Set("distributedBackends", backends);
}

#else  // no gloo headers at build time: the addon works, distributed training says why it cannot.

void initDistributed(Napi::Env env, Napi::Object exports) {
  exports.Set("distributedBackends", Napi::Array::New(env));
}

#endif

}  // namespace dermosynth
