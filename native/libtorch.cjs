#!/usr/bin/env node
// Finds the libtorch that the native addon builds against and prints what node-gyp needs.
//
//   node native/libtorch.cjs check      explain which libtorch was found, or how to get one (exit 1)
//   node native/libtorch.cjs include    include directories
//   node native/libtorch.cjs cflags     compiler flags (C++ standard, libstdc++ ABI)
//   node native/libtorch.cjs libs       linker flags (libraries and rpath)
//   node native/libtorch.cjs defines    preprocessor definitions (which c10d backends to build)
//
// Order: $LIBTORCH (a libtorch distribution or a pip `torch` package folder, each with include/
// and lib/), then the system libtorch (Debian/Ubuntu `libtorch-dev`).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const HOW_TO_GET =
  'dermosynth needs libtorch (the C++ library of PyTorch) to build its native addon.\n' +
  '  Debian/Ubuntu:  sudo apt-get install -y libtorch-dev libopenblas0-pthread\n' +
  '  Any other libtorch (e.g. CUDA): set LIBTORCH to a folder holding include/ and lib/, such as an\n' +
  '  unpacked libtorch zip from pytorch.org or a pip torch package:\n' +
  '    export LIBTORCH=$(python3 -c "import torch, os; print(os.path.dirname(torch.__file__))")\n' +
  'then run `npm ci` (or `npm run build:native`) again.';

function exists(p) {
  try {
    fs.accessSync(p);
    return true;
  } catch {
    return false;
  }
}

function readVersion(includeDir) {
  const file = path.join(includeDir, 'torch', 'csrc', 'api', 'include', 'torch', 'version.h');
  if (!exists(file)) return null;
  const text = fs.readFileSync(file, 'utf8');
  const major = /TORCH_VERSION_MAJOR\s+(\d+)/.exec(text);
  const minor = /TORCH_VERSION_MINOR\s+(\d+)/.exec(text);
  return major && minor ? { major: Number(major[1]), minor: Number(minor[1]) } : null;
}

function fromRoot(root, source) {
  const include = path.join(root, 'include');
  const lib = path.join(root, 'lib');
  const version = readVersion(include);
  if (!version) {
    return { error: `${source}=${root} has no include/torch/csrc/api/include/torch/version.h` };
  }
  if (!exists(path.join(lib, 'libtorch.so')) && !exists(path.join(lib, 'libtorch_cpu.so'))) {
    return { error: `${source}=${root} has no lib/libtorch.so` };
  }
  const cmake = [
    path.join(root, 'share', 'cmake', 'Torch', 'TorchConfig.cmake'),
    path.join(lib, 'cmake', 'Torch', 'TorchConfig.cmake'),
  ].find(exists);
  return { include, lib, version, cmake, source: `${source}=${root}` };
}

function systemLibtorch() {
  const include = ['/usr/include', '/usr/local/include'].find((d) => readVersion(d));
  if (!include) return null;
  const libDirs = [
    `/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`,
    '/usr/lib',
    '/usr/local/lib',
    '/usr/lib64',
  ];
  const lib = libDirs.find((d) => exists(path.join(d, 'libtorch.so')));
  if (!lib) return null;
  const cmake = path.join(lib, 'cmake', 'Torch', 'TorchConfig.cmake');
  return { include, lib, version: readVersion(include), cmake: exists(cmake) ? cmake : undefined, source: 'system' };
}

function find() {
  const env = process.env.LIBTORCH;
  if (env) return fromRoot(path.resolve(env), 'LIBTORCH');
  return systemLibtorch() ?? { error: 'no system libtorch found (looked for /usr/include/torch and libtorch.so)' };
}

// The libstdc++ ABI libtorch was built with: from TorchConfig.cmake when there is one, else from
// whether libc10's symbols carry the C++11 ABI tag (pip wheels were long built with the old ABI).
function cxxAbi(found) {
  if (found.cmake) {
    const m = /_GLIBCXX_USE_CXX11_ABI=(\d)/.exec(fs.readFileSync(found.cmake, 'utf8'));
    if (m) return m[1];
  }
  const c10 = path.join(found.lib, 'libc10.so');
  if (!exists(c10)) return null;
  return fs.readFileSync(c10).includes('B5cxx11') ? '1' : '0';
}

// c10d's gloo backend needs gloo's headers: a libtorch distribution may carry them, Debian has
// them in libgloo-dev (GLOO_INCLUDE overrides). Without them the addon builds without
// distributed training and says so when asked for it.
function glooInclude(found) {
  return [process.env.GLOO_INCLUDE, found.include, '/usr/include', '/usr/local/include']
    .filter(Boolean)
    .find((d) => exists(path.join(d, 'gloo', 'algorithm.h')));
}

// c10d's NCCL backend (CUDA builds): nccl.h and the CUDA runtime headers, from the environment,
// a pip install's nvidia packages next to torch, or the CUDA toolkit.
function ncclIncludes(found, hasCuda) {
  if (!hasCuda || !exists(path.join(found.include, 'torch', 'csrc', 'distributed', 'c10d', 'ProcessGroupNCCL.hpp')))
    return null;
  const root = path.dirname(found.include);
  const cudaHome = process.env.CUDA_HOME ?? process.env.CUDA_PATH ?? '/usr/local/cuda';
  const candidates = (file, dirs) => dirs.filter(Boolean).find((d) => exists(path.join(d, file)));
  // pip's nvidia packages: nvidia/nccl/include, nvidia/cuda_runtime/include (CUDA 12 wheels) or
  // one nvidia/cu13/include (CUDA 13 wheels).
  const nvidia = path.join(root, '..', 'nvidia');
  const pip = exists(nvidia) ? fs.readdirSync(nvidia).map((d) => path.join(nvidia, d, 'include')) : [];
  const nccl = candidates('nccl.h', [
    process.env.NCCL_INCLUDE,
    found.include,
    ...pip,
    '/usr/include',
    path.join(cudaHome, 'include'),
  ]);
  const cuda = candidates('cuda_runtime_api.h', [
    path.join(cudaHome, 'include'),
    ...pip,
    found.include,
    '/usr/include',
  ]);
  return nccl && cuda ? [...new Set([nccl, cuda])] : null;
}

function main() {
  const mode = process.argv[2] ?? 'check';
  const found = find();
  if (found.error) {
    process.stderr.write(`\ndermosynth: ${found.error}.\n${HOW_TO_GET}\n\n`);
    process.exit(1);
  }
  const { include, lib, version } = found;
  const hasCuda = exists(path.join(lib, 'libtorch_cuda.so'));
  const gloo = glooInclude(found);
  const nccl = gloo ? ncclIncludes(found, hasCuda) : null;
  switch (mode) {
    case 'check':
      process.stderr.write(
        `dermosynth: building against libtorch ${version.major}.${version.minor} (${found.source}, ` +
          `${hasCuda ? 'with CUDA' : 'CPU only'}; distributed: ${gloo ? `gloo${nccl ? ' + NCCL' : ''}` : 'none, no gloo headers (apt-get install libgloo-dev)'})\n`,
      );
      break;
    case 'include':
      console.log(
        [
          ...new Set([
            include,
            path.join(include, 'torch', 'csrc', 'api', 'include'),
            ...(gloo ? [gloo] : []),
            ...(nccl ?? []),
          ]),
        ].join(' '),
      );
      break;
    case 'cflags': {
      const std =
        process.env.LIBTORCH_CXX_STD ??
        (version.major > 2 || (version.major === 2 && version.minor >= 12) ? 'c++20' : 'c++17');
      const flags = [`-std=${std}`];
      const abi = cxxAbi(found);
      if (abi !== null) flags.push(`-D_GLIBCXX_USE_CXX11_ABI=${abi}`);
      console.log(flags.join(' '));
      break;
    }
    case 'libs': {
      const libs = [`-L${lib}`, `-Wl,-rpath,${lib}`, '-Wl,--no-as-needed'];
      if (hasCuda) libs.push('-ltorch_cuda', '-lc10_cuda');
      libs.push('-ltorch', '-ltorch_cpu', '-lc10', '-Wl,--as-needed');
      console.log(libs.join(' '));
      break;
    }
    case 'defines': {
      const defs = [];
      if (gloo) defs.push('DERMOSYNTH_GLOO', 'USE_C10D_GLOO');
      if (nccl) defs.push('DERMOSYNTH_NCCL', 'USE_C10D_NCCL');
      console.log(defs.join(' '));
      break;
    }
    default:
      process.stderr.write(`libtorch.cjs: unknown mode '${mode}' (check|include|cflags|libs|defines)\n`);
      process.exit(2);
  }
}

main();
