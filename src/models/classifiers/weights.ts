// Loads torchvision ImageNet weights, converted to safetensors (scripts/to_safetensors.py turns a
// torchvision .pth state dict into one), into a classifier, strictly: every tensor must be there
// with torchvision's name and shape, or the error names the file and the first mismatch. The final
// layer is the exception: when the file's class count differs from the model's (1000 ImageNet
// classes vs 3 diagnoses) its tensors are skipped, with a notice, and the head keeps its fresh
// initialisation. Also accepted, as PyTorch and torchvision accept them: state dicts without
// batch norms' num_batches_tracked (older files; set to 0) and DenseNet's pre-0.4 names
// ('denselayer1.norm.1.weight' for 'denselayer1.norm1.weight').
import { loadSafetensors, noGrad, type Tensor } from '../../torch/index.js';
import type { ImageClassifier } from './common.js';

export interface LoadWeightsResult {
  /** Tensors copied into the model. */
  loaded: number;
  /** Head tensors left out (class count differs), empty otherwise. */
  skippedHead: string[];
  /** One-line notes for the user (skipped head, renamed legacy keys). */
  notices: string[];
}

const LEGACY_DENSENET =
  /^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var|num_batches_tracked))$/;

export async function loadClassifierWeights(model: ImageClassifier, file: string): Promise<LoadWeightsResult> {
  const { tensors } = await loadSafetensors(file);
  try {
    const notices: string[] = [];
    // DenseNet's old names: 'norm.1' -> 'norm1' (as torchvision's _load_state_dict does).
    let renamed = 0;
    for (const [k, t] of [...tensors]) {
      const m = LEGACY_DENSENET.exec(k);
      if (!m) continue;
      tensors.delete(k);
      tensors.set(`${m[1]}${m[2]}`, t);
      renamed++;
    }
    if (renamed)
      notices.push(
        `${file}: renamed ${renamed} DenseNet keys of the pre-0.4 form ('norm.1' -> 'norm1'), as torchvision does`,
      );

    const own = model.stateDict();
    const headKeys = [...own.keys()].filter((k) => k.startsWith(`${model.headPrefix}.`));
    const headShape = tensors.get(`${model.headPrefix}.weight`)?.shape;
    const skippedHead: string[] = [];
    if (headShape && headShape.length === 2 && headShape[0] !== model.numClasses) {
      for (const k of headKeys) {
        tensors.get(k)?.dispose();
        if (tensors.delete(k)) skippedHead.push(k);
      }
      notices.push(
        `${file}: skipped ${skippedHead.join(', ')} (${headShape[0]} classes in the file, the model has ${model.numClasses}); the final layer starts from its fresh initialisation`,
      );
    }
    const problems: string[] = [];
    for (const [k, t] of own) {
      if (skippedHead.includes(k)) continue;
      const src = tensors.get(k);
      if (!src) {
        if (k.endsWith('.num_batches_tracked')) continue; // older state dicts: PyTorch counts from 0
        problems.push(`'${k}' is missing (expected [${t.shape.join(', ')}])`);
      } else if (src.shape.join(',') !== t.shape.join(',')) {
        problems.push(`'${k}' is [${src.shape.join(', ')}], expected [${t.shape.join(', ')}]`);
      }
    }
    for (const k of tensors.keys()) if (!own.has(k)) problems.push(`'${k}' is not a tensor of ${model.arch}`);
    if (problems.length) {
      throw new Error(
        `${file} does not hold torchvision's ${model.arch} weights: ${problems[0]}` +
          `${problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : ''}; ` +
          `convert torchvision's ${model.arch} state dict with scripts/to_safetensors.py`,
      );
    }
    let loaded = 0;
    noGrad(() => {
      for (const [k, t] of own) {
        const src = tensors.get(k);
        if (src) {
          t.copy_(src);
          loaded++;
        } else if (k.endsWith('.num_batches_tracked')) t.zero_();
      }
    });
    return { loaded, skippedHead, notices };
  } finally {
    for (const t of tensors.values()) (t as Tensor).dispose();
  }
}
