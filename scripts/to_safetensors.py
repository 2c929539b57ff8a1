"""Converts a PyTorch state-dict file (.pth / .pt) to safetensors, for dermosynth's loaders.

    /usr/bin/python3 scripts/to_safetensors.py pt_inception-2015-12-05-6726825d.pth inception.safetensors

The input is read with torch.load(..., weights_only=True): only tensors, dicts, lists and plain
values are accepted, nothing else is ever unpickled (a file that needs more is refused by torch
with its reason). A top-level 'state_dict' entry (training checkpoints) is unwrapped. Every other
value must be a tensor; the names stay as they are (torchvision's / pytorch-fid's). Needs only
torch and the standard library (json, struct, ctypes): the `safetensors` package is not used.
The output is laid out as the reference implementation writes it (8-byte little-endian header
length, compact JSON header with __metadata__ first, tensors by dtype size descending then name,
header padded with spaces to a multiple of 8, contiguous little-endian data) and is written
atomically (a temporary file renamed into place).

Exit status 0 on success, 1 on bad input (one message on stderr naming the file).
"""
import ctypes
import json
import os
import struct
import sys

DTYPES = None  # filled in main() once torch is imported


def fail(message):
    print(f'to_safetensors: {message}', file=sys.stderr)
    sys.exit(1)


def dtype_table(torch):
    return {
        torch.float64: ('F64', 8), torch.float32: ('F32', 4), torch.float16: ('F16', 2),
        torch.bfloat16: ('BF16', 2), torch.int64: ('I64', 8), torch.int32: ('I32', 4),
        torch.int16: ('I16', 2), torch.int8: ('I8', 1), torch.uint8: ('U8', 1), torch.bool: ('BOOL', 1),
    }


def tensor_bytes(t):
    """The raw little-endian bytes of a contiguous CPU tensor (read straight from its memory)."""
    t = t.detach().to('cpu').contiguous()
    n = t.numel() * t.element_size()
    return ctypes.string_at(t.data_ptr(), n) if n else b''


def serialize(tensors, metadata):
    """bytes of a safetensors file holding `tensors` (name -> torch.Tensor)."""
    items = []
    for name, t in tensors.items():
        code, size = DTYPES[t.dtype]
        items.append((size, name, code, list(t.shape), tensor_bytes(t)))
    # The reference orders by alignment (dtype size) descending, then by name.
    items.sort(key=lambda it: (-it[0], it[1]))
    header = {'__metadata__': metadata} if metadata else {}
    offset = 0
    for _, name, code, shape, data in items:
        header[name] = {'dtype': code, 'shape': shape, 'data_offsets': [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(',', ':'), ensure_ascii=False).encode('utf-8')
    text += b' ' * (-len(text) % 8)
    return struct.pack('<Q', len(text)) + text + b''.join(it[4] for it in items)


def load_state_dict(torch, path):
    try:
        obj = torch.load(path, map_location='cpu', weights_only=True)
    except FileNotFoundError:
        fail(f'{path}: no such file')
    except Exception as err:  # torch names the reason (e.g. a pickled class weights_only refuses)
        fail(f'{path}: cannot read it as a PyTorch state dict with weights_only=True: {err}')
    if isinstance(obj, dict) and 'state_dict' in obj and isinstance(obj['state_dict'], dict):
        obj = obj['state_dict']
    if not isinstance(obj, dict):
        fail(f'{path}: expected a state dict (a dict of tensors), got {type(obj).__name__}')
    bad = [str(k) for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        fail(f'{path}: not a state dict: {len(bad)} entries are not named tensors, e.g. {bad[0]!r}')
    unsupported = [k for k, v in obj.items() if v.dtype not in DTYPES]
    if unsupported:
        fail(f"{path}: tensor '{unsupported[0]}' has dtype {obj[unsupported[0]].dtype}, which safetensors cannot hold here")
    if not obj:
        fail(f'{path}: the state dict is empty')
    return obj


def main(argv):
    global DTYPES
    if len(argv) != 3 or argv[1] in ('-h', '--help'):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        print('usage: to_safetensors.py IN.pth OUT.safetensors', file=sys.stderr)
        return 2 if len(argv) != 3 else 0
    src, dst = argv[1], argv[2]
    if sys.byteorder != 'little':
        fail('this converter writes raw memory and needs a little-endian machine')
    try:
        import torch
    except ImportError:
        fail('needs PyTorch: run it with a Python that has torch (e.g. apt install python3-torch)')
    DTYPES = dtype_table(torch)
    state = load_state_dict(torch, src)
    data = serialize(state, {'format': 'pt', 'source': os.path.basename(src)})
    tmp = f'{dst}.tmp-{os.getpid()}'
    try:
        with open(tmp, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dst)
    except OSError as err:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        fail(f'{dst}: cannot write: {err}')
    total = sum(t.numel() for t in state.values())
    print(f'{dst}: {len(state)} tensors, {total} values')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
