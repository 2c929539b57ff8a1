"""Checks the oneDNN that this machine's PyTorch uses for two of the faults dermosynth guards against
(src/torch/onednn_guard.ts, which also checks float32 transposed convolutions and input gradients
against float64): wrong bf16 convolutions and intermittently non-finite input gradients of float32
convolutions on several threads. Python PyTorch alone, no dermosynth.

    /usr/bin/python3 scripts/onednn-check.py [--reps 400]
    ONEDNN_MAX_CPU_ISA=AVX2 /usr/bin/python3 scripts/onednn-check.py     # the same under a cap

Prints the oneDNN version, the largest error of a bf16 3x3 convolution against float32 next to the
bound bf16 allows (28 products x 2^-8 of sum |x w|), and in how many of --reps backward passes of a
3x3, 8-channel float32 convolution on 2 threads the input gradient was not finite. Exit status 1
when either is wrong.
"""
import argparse
import re

import torch
import torch.nn as nn
import torch.nn.functional as F


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--reps', type=int, default=400)
    args = ap.parse_args()
    m = re.search(r'MKL-DNN v([\d.]+)', torch.__config__.show())
    print(f'torch {torch.__version__}, oneDNN {m.group(1) if m else "unknown"}')

    torch.set_num_threads(1)
    torch.manual_seed(1)
    x, w, b = torch.randn(2, 3, 9, 9), torch.randn(5, 3, 3, 3), torch.randn(5)
    ref = F.conv2d(x, w, b, padding=1)
    y = F.conv2d(x.bfloat16(), w.bfloat16(), b.bfloat16(), padding=1).float()
    bound = F.conv2d(x.abs(), w.abs(), b.abs(), padding=1) * 28 * 2 ** -8
    err = (y - ref).abs()
    bf16_ok = bool((err <= bound).all())
    print(f'bf16 conv2d: largest error {err.max().item():.4g} (outputs up to {ref.abs().max().item():.3g}); '
          f'{"within" if bf16_ok else "OUTSIDE"} the bf16 bound')

    torch.set_num_threads(2)
    bad = 0
    for rep in range(args.reps):
        torch.manual_seed(rep)
        c = nn.Conv2d(8, 8, 3, 1, 1)
        xi = torch.rand(2, 8, 32, 32, requires_grad=True)
        c(xi).pow(2).mean().backward()
        bad += not bool(torch.isfinite(xi.grad).all())
    print(f'float32 conv2d backward, 2 threads: non-finite input gradients in {bad} of {args.reps} passes')
    raise SystemExit(0 if bf16_ok and bad == 0 else 1)


if __name__ == '__main__':
    main()
