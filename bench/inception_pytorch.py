"""The Python PyTorch side of bench/inception.ts and of the Inception parity test: the FID
Inception-v3 (pytorch-fid's fid_inception_v3: torchvision's Inception3 with 1008 classes, no
auxiliary classifier, and the FIDInceptionA/C/E pooling patches) written in plain torch.nn, with
torchvision's state-dict names, so it needs neither torchvision nor pytorch-fid.

Modes (one per run):

  --init FILE.pth [--seed S]
      writes a random, variance-preserving state dict with torch.save (convolutions He-normal,
      batch norms near the identity with random running statistics, fc normal(0, 0.01)): the
      random weights both sides share (convert it with scripts/to_safetensors.py).
  --weights W.safetensors --images I.safetensors --out O.safetensors
      runs the network on the 'images' tensor ([N, 3, H, W] float32 in [0, 1]) and writes 'pool3'
      [N, 2048] and 'logits' [N, 1008] (without fc.bias, as dermosynth's default).
  --weights W.safetensors --bench --n N --size S [--batch B --iters K --warmup K --threads T]
      times feature extraction (resize + network, inference mode) on N random images of S x S and
      prints one JSON line {"imagesPerSecond", "secondsPerBatch": [...], "maxRssKb"}.

--resize: bicubic-antialias (default), bilinear-antialias, bilinear or none, as dermosynth's
InceptionV3 option. Safetensors files are read and written without the safetensors package.
"""
import argparse
import json
import os
import resource
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'scripts'))
import to_safetensors  # noqa: E402  (the converter's writer)

to_safetensors.DTYPES = to_safetensors.dtype_table(torch)

FROM_CODE = {'F64': torch.float64, 'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16,
             'I64': torch.int64, 'I32': torch.int32, 'I16': torch.int16, 'I8': torch.int8,
             'U8': torch.uint8, 'BOOL': torch.bool}


def read_safetensors(path):
    with open(path, 'rb') as f:
        data = f.read()
    (n,) = struct.unpack('<Q', data[:8])
    header = json.loads(data[8:8 + n])
    header.pop('__metadata__', None)
    base = 8 + n
    out = {}
    for name, e in header.items():
        a, b = e['data_offsets']
        buf = bytearray(data[base + a:base + b])
        t = torch.frombuffer(buf, dtype=FROM_CODE[e['dtype']]) if b > a else torch.empty(0, dtype=FROM_CODE[e['dtype']])
        out[name] = t.reshape(e['shape']).clone()
    return out


def write_safetensors(path, tensors):
    with open(path, 'wb') as f:
        f.write(to_safetensors.serialize(tensors, {'format': 'pt'}))


class BasicConv2d(nn.Module):
    def __init__(self, cin, cout, **kw):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kw)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)), inplace=True)


class InceptionA(nn.Module):
    def __init__(self, cin, pool_features):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(cin, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, kernel_size=1)

    def forward(self, x):
        a = self.branch1x1(x)
        b = self.branch5x5_2(self.branch5x5_1(x))
        c = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        d = self.branch_pool(F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False))
        return torch.cat([a, b, c, d], 1)


class InceptionB(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x):
        a = self.branch3x3(x)
        b = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([a, b, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionC(nn.Module):
    def __init__(self, cin, c7):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x):
        a = self.branch1x1(x)
        b = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        c = x
        for i in range(1, 6):
            c = getattr(self, f'branch7x7dbl_{i}')(c)
        d = self.branch_pool(F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False))
        return torch.cat([a, b, c, d], 1)


class InceptionD(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x):
        a = self.branch3x3_2(self.branch3x3_1(x))
        b = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([a, b, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionE(nn.Module):
    def __init__(self, cin, pool):
        super().__init__()
        self.pool = pool
        self.branch1x1 = BasicConv2d(cin, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(cin, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x):
        a = self.branch1x1(x)
        b = self.branch3x3_1(x)
        b = torch.cat([self.branch3x3_2a(b), self.branch3x3_2b(b)], 1)
        c = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        c = torch.cat([self.branch3x3dbl_3a(c), self.branch3x3dbl_3b(c)], 1)
        if self.pool == 'avg':  # FIDInceptionE_1
            p = F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
        else:  # FIDInceptionE_2: max pool
            p = F.max_pool2d(x, 3, stride=1, padding=1)
        return torch.cat([a, b, c, self.branch_pool(p)], 1)


class FIDInceptionV3(nn.Module):
    def __init__(self, resize='bicubic-antialias'):
        super().__init__()
        self.resize = resize
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = InceptionA(192, 32)
        self.Mixed_5c = InceptionA(256, 64)
        self.Mixed_5d = InceptionA(288, 64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, 128)
        self.Mixed_6c = InceptionC(768, 160)
        self.Mixed_6d = InceptionC(768, 160)
        self.Mixed_6e = InceptionC(768, 192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, 'avg')
        self.Mixed_7c = InceptionE(2048, 'max')
        self.fc = nn.Linear(2048, 1008)

    def forward(self, x):
        """x [N, 3, H, W] in [0, 1] -> (pool3 [N, 2048], logits [N, 1008] without fc.bias)."""
        size = (299, 299)
        if self.resize == 'bicubic-antialias':
            x = F.interpolate(x, size=size, mode='bicubic', align_corners=False, antialias=True)
        elif self.resize == 'bilinear-antialias':
            x = F.interpolate(x, size=size, mode='bilinear', align_corners=False, antialias=True)
        elif self.resize == 'bilinear':
            x = F.interpolate(x, size=size, mode='bilinear', align_corners=False)
        x = 2 * x - 1
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, stride=2)
        for name in ('5b', '5c', '5d', '6a', '6b', '6c', '6d', '6e', '7a', '7b', '7c'):
            x = getattr(self, f'Mixed_{name}')(x)
        pool3 = F.adaptive_avg_pool2d(x, (1, 1)).flatten(1)
        return pool3, pool3 @ self.fc.weight.t()


def random_state(seed):
    torch.manual_seed(seed)
    net = FIDInceptionV3()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity='relu')
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.8, 1.2)
                m.bias.uniform_(-0.1, 0.1)
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.8, 1.2)
            elif isinstance(m, nn.Linear):
                m.weight.normal_(0, 0.01)
                m.bias.normal_(0, 0.01)
    return net.state_dict()


def build(weights, resize):
    net = FIDInceptionV3(resize)
    state = read_safetensors(weights)
    net.load_state_dict(state, strict=False)  # num_batches_tracked may be absent
    missing = [k for k in net.state_dict() if k not in state and not k.endswith('num_batches_tracked')]
    if missing:
        raise SystemExit(f'{weights}: missing {missing[0]}')
    return net.eval()


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--init')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--weights')
    p.add_argument('--images')
    p.add_argument('--out')
    p.add_argument('--bench', action='store_true')
    p.add_argument('--n', type=int, default=32)
    p.add_argument('--size', type=int, default=256)
    p.add_argument('--batch', type=int, default=16)
    p.add_argument('--iters', type=int, default=3)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--threads', type=int, default=0)
    p.add_argument('--resize', default='bicubic-antialias')
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.init:
        torch.save(random_state(a.seed), a.init)
        return
    net = build(a.weights, a.resize)
    if a.images:
        images = read_safetensors(a.images)['images'].float()
        with torch.inference_mode():
            pool3, logits = net(images)
        write_safetensors(a.out, {'pool3': pool3.contiguous(), 'logits': logits.contiguous()})
        return
    if a.bench:
        g = torch.Generator().manual_seed(a.seed)
        images = torch.rand(a.n, 3, a.size, a.size, generator=g)
        times = []
        with torch.inference_mode():
            for it in range(a.warmup + a.iters):
                t0 = time.perf_counter()
                for b in range(0, a.n, a.batch):
                    pool3, _ = net(images[b:b + a.batch])
                    pool3.to(torch.float64)  # dermosynth's helper returns a float64 matrix too
                if it >= a.warmup:
                    times.append(time.perf_counter() - t0)
        times.sort()
        median = times[len(times) // 2]
        print(json.dumps({'imagesPerSecond': a.n / median, 'secondsPerRound': times,
                          'maxRssKb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}), flush=True)
        return
    p.error('give --init, --images with --out, or --bench')


if __name__ == '__main__':
    main()
