"""The Python PyTorch side of bench/synth.ts: eager inference of dermosynth's `proposed` generator
(the same torch.nn network as bench/train_pytorch.py: a global generator with concatenating skips,
no local enhancer), written the way a PyTorch user writes it: NCHW float input, `model.eval()`,
`torch.inference_mode()`, then the images back to uint8 HWC.

It loads dermosynth's weights (--weights, safetensors, names checked against --names), reads the
label bytes bench/synth.ts wrote (--labels: uint8 [N, H, W], the class index per pixel), and for each
batch times: one-hot encoding, the generator, and conversion to uint8 RGB. Output, one JSON object
per line: {"ready"}, then {"batch", "seconds"} per batch, then {"maxRssKb"}. With --out it writes
the first batch's images (uint8 [B, H, W, 3]) for the parity check. With --wait it reads a line
from stdin before each batch (the two sides take turns).
"""
import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_pytorch import GlobalGenerator, check_names, load_safetensors  # noqa: E402


def emit(obj):
    print(json.dumps(obj), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--size', type=int, required=True)
    ap.add_argument('--batch', type=int, required=True)
    ap.add_argument('--batches', type=int, required=True)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--ngf', type=int, default=64)
    ap.add_argument('--label-nc', type=int, default=4)
    ap.add_argument('--names', required=True)
    ap.add_argument('--weights', required=True)
    ap.add_argument('--labels', required=True)
    ap.add_argument('--out')
    ap.add_argument('--wait', action='store_true')
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--precision', choices=['fp32', 'bf16', 'fp16'], default='fp32')
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    G = GlobalGenerator(args.label_nc, args.ngf, 4, 9)
    with open(args.names) as f:
        check_names(G, json.load(f), 'generator')
    load_safetensors(G, args.weights, 'generator')
    G.eval()
    dev = torch.device(args.device)
    G.to(dev)
    amp = {'bf16': torch.bfloat16, 'fp16': torch.float16}.get(args.precision)
    s = args.size
    labels = torch.from_numpy(np.fromfile(args.labels, dtype=np.uint8)).view(-1, s, s)
    n = labels.shape[0]
    emit({'ready': True})
    for b in range(args.batches):
        if args.wait:
            sys.stdin.readline()
        idx = [(b * args.batch + i) % n for i in range(args.batch)]
        t0 = time.perf_counter()
        with torch.inference_mode(), torch.autocast(device_type=dev.type, dtype=amp or torch.bfloat16, enabled=amp is not None):
            x = F.one_hot(labels[idx].to(dev).long(), args.label_nc).permute(0, 3, 1, 2).float()
            y = G(x).float()
            rgb = ((y + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().cpu().numpy()
        dt = time.perf_counter() - t0
        if b == 0 and args.out:
            rgb.tofile(args.out)
        emit({'batch': b, 'seconds': dt})
    emit({'maxRssKb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss})


if __name__ == '__main__':
    main()
