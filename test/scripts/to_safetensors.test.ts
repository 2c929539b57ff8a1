// scripts/to_safetensors.py: a state dict written by PyTorch (torch.save, wrapped in a checkpoint's
// 'state_dict', several dtypes, a 0-d and a non-contiguous tensor) converts to a safetensors file
// that dermosynth reads with the same names, dtypes, shapes and values; bad inputs (not a state
// dict, a pickled class that weights_only refuses, a missing file) exit 1 with one message naming
// the file. Skipped when /usr/bin/python3 has no torch.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '../../src/torch/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SCRIPT = path.join(ROOT, 'scripts/to_safetensors.py');
const PYTHON = '/usr/bin/python3';
const HAS_TORCH = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
if (!HAS_TORCH) console.warn(`to_safetensors.test: skipped: ${PYTHON} cannot import torch (apt install python3-torch)`);

let dir = '';
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dermosynth-convert-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

function python(code: string): void {
  execFileSync(PYTHON, ['-c', code], { cwd: dir });
}
function convert(src: string, dst: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(PYTHON, [SCRIPT, src, dst], { cwd: dir, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(!HAS_TORCH)('scripts/to_safetensors.py', () => {
  it('converts a checkpoint state dict: names, dtypes, shapes and values as PyTorch saved them', async () => {
    python(`
import torch
sd = {
  'features.0.weight': torch.arange(24, dtype=torch.float32).reshape(2, 3, 4) / 8,
  'features.0.bias': torch.tensor([1.5, -2.25], dtype=torch.float64),
  'bn.num_batches_tracked': torch.tensor(7),
  'half': torch.tensor([0.5, -1.0, 65504.0], dtype=torch.float16),
  'brain': torch.tensor([1.0, -3.0], dtype=torch.bfloat16),
  'mask': torch.tensor([True, False, True]),
  'bytes': torch.tensor([0, 255, 7], dtype=torch.uint8),
  'transposed': torch.arange(6, dtype=torch.int32).reshape(2, 3).t(),
  'empty': torch.zeros(0, 4),
}
torch.save({'state_dict': sd, 'epoch': 3, 'arch': 'test'}, 'ckpt.pth')
`);
    const r = convert('ckpt.pth', 'ckpt.safetensors');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('ckpt.safetensors: 9 tensors');
    const { tensors, metadata } = await torch.loadSafetensors(path.join(dir, 'ckpt.safetensors'));
    expect(metadata).toEqual({ format: 'pt', source: 'ckpt.pth' });
    const get = (k: string): torch.Tensor => tensors.get(k)!;
    expect([...tensors.keys()].sort()).toEqual([
      'bn.num_batches_tracked',
      'brain',
      'bytes',
      'empty',
      'features.0.bias',
      'features.0.weight',
      'half',
      'mask',
      'transposed',
    ]);
    expect(get('features.0.weight').dtype).toBe('float32');
    expect(get('features.0.weight').shape).toEqual([2, 3, 4]);
    expect(get('features.0.weight').toArray()).toEqual(Array.from({ length: 24 }, (_, i) => i / 8));
    expect(get('features.0.bias').dtype).toBe('float64');
    expect(get('features.0.bias').toArray()).toEqual([1.5, -2.25]);
    expect(get('bn.num_batches_tracked').dtype).toBe('int64');
    expect(get('bn.num_batches_tracked').shape).toEqual([]);
    expect(get('bn.num_batches_tracked').item()).toBe(7);
    expect(get('half').dtype).toBe('float16');
    expect(get('half').toArray()).toEqual([0.5, -1, 65504]);
    expect(get('brain').dtype).toBe('bfloat16');
    expect(get('brain').toArray()).toEqual([1, -3]);
    expect(get('mask').dtype).toBe('bool');
    expect(get('mask').toArray()).toEqual([1, 0, 1]);
    expect(get('bytes').toArray()).toEqual([0, 255, 7]);
    expect(get('transposed').shape).toEqual([3, 2]);
    expect(get('transposed').toArray()).toEqual([0, 3, 1, 4, 2, 5]);
    expect(get('empty').shape).toEqual([0, 4]);
    torch.dispose([...tensors.values()]);
  });

  it('a bare state dict converts as is; the file is laid out with the header padded to 8 bytes', async () => {
    python(`import torch; torch.save({'w': torch.ones(3)}, 'bare.pt')`);
    expect(convert('bare.pt', 'bare.safetensors').status).toBe(0);
    const bytes = await fs.readFile(path.join(dir, 'bare.safetensors'));
    const n = Number(bytes.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    expect(JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'))).toEqual({
      __metadata__: { format: 'pt', source: 'bare.pt' },
      w: { dtype: 'F32', shape: [3], data_offsets: [0, 12] },
    });
    expect(bytes.length).toBe(8 + n + 12);
  });

  it('refuses what is not a state dict, pickled classes, and missing files, with one message naming the file', () => {
    python(`import torch; torch.save({'w': torch.ones(3), 'epoch': 3}, 'mixed.pth')`);
    let r = convert('mixed.pth', 'x.safetensors');
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(
      "to_safetensors: mixed.pth: not a state dict: 1 entries are not named tensors, e.g. 'epoch'",
    );
    python(`
import torch, collections
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__(); self.l = torch.nn.Linear(2, 2)
torch.save(Net(), 'module.pth')
`);
    r = convert('module.pth', 'x.safetensors');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /^to_safetensors: module\.pth: cannot read it as a PyTorch state dict with weights_only=True: /,
    );
    r = convert('nope.pth', 'x.safetensors');
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe('to_safetensors: nope.pth: no such file');
    expect(
      spawnSync(PYTHON, ['-c', 'import os; print(os.path.exists("x.safetensors"))'], {
        cwd: dir,
        encoding: 'utf8',
      }).stdout.trim(),
    ).toBe('False');
  });
});
