// What addon.cc shares with the binding's other translation units: tensor handles (the same
// table and rules as every other tensor), libtorch errors as JavaScript errors, and the
// registration of the distributed part.
#pragma once
#include <napi.h>
#include <ATen/ATen.h>
#include <string>

namespace dermosynth {
Napi::Value putTensor(Napi::Env env, at::Tensor tensor);
const at::Tensor& getTensor(Napi::Env env, const Napi::Value& v, const std::string& what);
Napi::Error torchError(Napi::Env env, const std::string& op, const std::string& message);
// distributed.cc: process groups (c10d gloo/NCCL over a TCPStore) and the gradient reducer.
void initDistributed(Napi::Env env, Napi::Object exports);
}  // namespace dermosynth
