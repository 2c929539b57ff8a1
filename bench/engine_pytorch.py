"""The Python PyTorch peer of bench/engine.ts: the identical pix2pixHD-style training iteration.

Driven over stdin/stdout by bench/engine.ts so that both sides run interleaved on the same machine
and the same libtorch. Commands (one per line): "step" runs one iteration and prints {"ms": t};
"rss" prints {"maxRssKb": n}; "quit" exits.
Run: /usr/bin/python3 bench/engine_pytorch.py --size 256 --threads 2 [--channels-last]
"""
import argparse
import json
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class ResnetBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), nn.InstanceNorm2d(dim), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), nn.InstanceNorm2d(dim))

    def forward(self, x):
        return x + self.block(x)


def global_generator(input_nc, output_nc, ngf, n_down, n_blocks):
    layers = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7), nn.InstanceNorm2d(ngf), nn.ReLU(True)]
    for i in range(n_down):
        m = 2 ** i
        layers += [nn.Conv2d(ngf * m, ngf * m * 2, 3, stride=2, padding=1), nn.InstanceNorm2d(ngf * m * 2), nn.ReLU(True)]
    m = 2 ** n_down
    layers += [ResnetBlock(ngf * m) for _ in range(n_blocks)]
    for i in range(n_down):
        m = 2 ** (n_down - i)
        layers += [nn.ConvTranspose2d(ngf * m, ngf * m // 2, 3, stride=2, padding=1, output_padding=1),
                   nn.InstanceNorm2d(ngf * m // 2), nn.ReLU(True)]
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
    return nn.Sequential(*layers)


class NLayerDiscriminator(nn.Module):
    def __init__(self, input_nc, ndf, n_layers):
        super().__init__()
        kw, padw = 4, 2
        groups = [[nn.Conv2d(input_nc, ndf, kw, stride=2, padding=padw), nn.LeakyReLU(0.2, True)]]
        nf = ndf
        for _ in range(1, n_layers):
            prev, nf = nf, min(nf * 2, 512)
            groups.append([nn.Conv2d(prev, nf, kw, stride=2, padding=padw), nn.InstanceNorm2d(nf), nn.LeakyReLU(0.2, True)])
        prev, nf = nf, min(nf * 2, 512)
        groups.append([nn.Conv2d(prev, nf, kw, stride=1, padding=padw), nn.InstanceNorm2d(nf), nn.LeakyReLU(0.2, True)])
        groups.append([nn.Conv2d(nf, 1, kw, stride=1, padding=padw)])
        self.groups = nn.ModuleList([nn.Sequential(*g) for g in groups])

    def forward(self, x):
        feats = []
        for g in self.groups:
            x = g(x)
            feats.append(x)
        return feats


class MultiscaleDiscriminator(nn.Module):
    def __init__(self, input_nc, ndf, n_layers, num_d):
        super().__init__()
        self.ds = nn.ModuleList([NLayerDiscriminator(input_nc, ndf, n_layers) for _ in range(num_d)])
        self.down = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)

    def forward(self, x):
        out = []
        for i, d in enumerate(self.ds):
            out.append(d(x))
            if i != len(self.ds) - 1:
                x = self.down(x)
        return out


def lsgan(preds, real):
    return sum(F.mse_loss(p[-1], torch.ones_like(p[-1]) if real else torch.zeros_like(p[-1])) for p in preds)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--size', type=int, default=256)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--channels-last', action='store_true')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    label_nc, n_layers, num_d, lambda_feat = 4, 3, 2, 10.0
    G = global_generator(label_nc, 3, 32, 3, 6)
    D = MultiscaleDiscriminator(label_nc + 3, 32, n_layers, num_d)
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    G.to(memory_format=fmt)
    D.to(memory_format=fmt)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    s = args.size
    label = torch.zeros(1, label_nc, s, s)
    label[:, 0] = 1
    label[:, 0, s // 4: 3 * s // 4, s // 4: 3 * s // 4] = 0
    label[:, 2, s // 4: 3 * s // 4, s // 4: 3 * s // 4] = 1
    label = label.contiguous(memory_format=fmt)
    real = (torch.rand(1, 3, s, s) * 2 - 1).contiguous(memory_format=fmt)
    feat_w, d_w = 4.0 / (n_layers + 1), 1.0 / num_d

    def iteration():
        fake = G(label)
        pred_fake_pool = D(torch.cat([label, fake.detach()], 1))
        loss_d_fake = lsgan(pred_fake_pool, False)
        pred_real = D(torch.cat([label, real], 1))
        loss_d_real = lsgan(pred_real, True)
        pred_fake = D(torch.cat([label, fake], 1))
        loss_g_gan = lsgan(pred_fake, True)
        loss_g_feat = 0
        for i in range(num_d):
            for j in range(len(pred_fake[i]) - 1):
                loss_g_feat = loss_g_feat + d_w * feat_w * F.l1_loss(pred_fake[i][j], pred_real[i][j].detach()) * lambda_feat
        loss_g = loss_g_gan + loss_g_feat
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        loss_d = (loss_d_fake + loss_d_real) * 0.5
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        return float(loss_g), float(loss_d)

    print(json.dumps({'ready': True, 'threads': torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == 'step':
            t0 = time.perf_counter()
            lg, ld = iteration()
            print(json.dumps({'ms': (time.perf_counter() - t0) * 1000, 'lossG': lg, 'lossD': ld}), flush=True)
        elif cmd == 'rss':
            print(json.dumps({'maxRssKb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}), flush=True)
        elif cmd == 'quit':
            break


if __name__ == '__main__':
    main()
