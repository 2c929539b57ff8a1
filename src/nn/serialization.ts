// Saving and loading a module's state dict as safetensors, with PyTorch's names and dtypes, so
// weights move between dermosynth and PyTorch (`load_state_dict(safetensors.torch.load_file(f))`).
import { dispose, loadSafetensors, saveSafetensors } from '../torch/index.js';
import type { Module } from './module.js';

export async function saveModule(
  file: string,
  module: Module<any, any>,
  metadata?: Record<string, string>,
): Promise<void> {
  await saveSafetensors(file, module.stateDict(), metadata);
}

/** Loads weights into `module`; strict by default (missing or unexpected names are errors naming the file). */
export async function loadModule(
  file: string,
  module: Module<any, any>,
  opts: { strict?: boolean } = {},
): Promise<Record<string, string>> {
  const { tensors, metadata } = await loadSafetensors(file);
  try {
    module.loadStateDict(tensors, { strict: opts.strict, source: file });
  } finally {
    dispose(tensors);
  }
  return metadata;
}
