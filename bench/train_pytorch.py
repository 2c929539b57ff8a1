"""The Python PyTorch side of bench/train.ts: dermosynth's `proposed` model trained the way a
PyTorch user writes pix2pixHD's training step, on the same libtorch.

The networks are written with torch.nn as the SAME networks as dermosynth's src/models (the
global generator with concatenating encoder-decoder skips, no local enhancer, and the 2-scale
pix2pixHD PatchGAN): the same layers in the same order, with the same state-dict names and shapes.
Given --names (dermosynth's state-dict names and shapes as JSON, written by bench/train.ts) it
checks that its own state dicts list exactly those names and shapes, in order, and exits with an
error naming the first difference otherwise. Given --weights-g/--weights-d (safetensors written by
dermosynth) it starts from dermosynth's initial weights, and given --data (raw float32 batches
written by bench/train.ts from dermosynth's DataLoader) it trains on the same batches in the same
order, so its first-step losses must equal dermosynth's (bench/train.ts checks that).

One iteration (--style one-pass, the default, like for like with dermosynth's Trainer): one
generator forward, one discriminator pass on cat(label, fake) serving both the G and the D loss,
one on cat(label, real); LSGAN summed over scales + feature matching 10 (pix2pixHD's weights; no
VGG); then torch.autograd.backward(loss_G, inputs=G params, retain_graph=True) and
torch.autograd.backward(loss_D, inputs=D params) and the two Adam steps (lr 2e-4, betas 0.5,
0.999). --style pix2pixhd runs pix2pixHD's own train.py order instead (a third D pass on
fake.detach(), each backward into every parameter), for reference.

Sizes: the `published` preset of the proposed model with numLocalEnhancers 0: ngf 64, 4
downsamplings, 9 residual blocks (a 189M-parameter generator), ndf 64, 2 scales of 3-layer
PatchGANs, 4 label channels. One iteration at 256x256 takes about 6 s with 2 threads on a quiet
2-core machine (20-35 s while other processes compete for the cores); --ngf 32 (47M parameters,
about 1.5 s) is the quick variant. bench/train.ts passes its --ngf to both sides.

Output, one JSON object per line on stdout: {"ready"} after building, {"step", "seconds",
"losses"} per iteration, then {"maxRssKb"} (getrusage peak RSS of this process) and the process ends.
With --wait it reads a line from stdin before each step: bench/train.ts runs the two sides in turn,
one step each. A step's time covers taking its batch, the step and reading the losses back.
Run alone: /usr/bin/python3 bench/train_pytorch.py --size 256 --steps 3 --threads 2
"""
import argparse
import json
import resource
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def conv_norm(conv, channels):
    return [conv, nn.InstanceNorm2d(channels)]


class ResnetBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), *conv_norm(nn.Conv2d(dim, dim, 3), dim), nn.ReLU(True),
            nn.ReflectionPad2d(1), *conv_norm(nn.Conv2d(dim, dim, 3), dim))

    def forward(self, x):
        return x + self.conv_block(x)


class GlobalGenerator(nn.Module):
    """pix2pixHD's global generator with concatenating skips (dermosynth's `proposed`, skip 'concat')."""

    def __init__(self, input_nc, ngf, n_down, n_blocks, output_nc=3):
        super().__init__()
        self.n_down = n_down
        self.front = nn.Sequential(nn.ReflectionPad2d(3), *conv_norm(nn.Conv2d(input_nc, ngf, 7), ngf), nn.ReLU(True))
        for i in range(n_down):
            ch = ngf * 2 ** i
            self.add_module(f'down{i}', nn.Sequential(*conv_norm(nn.Conv2d(ch, 2 * ch, 3, stride=2, padding=1), 2 * ch), nn.ReLU(True)))
        deep = ngf * 2 ** n_down
        self.blocks = nn.Sequential(*[ResnetBlock(deep) for _ in range(n_blocks)])
        for i in range(n_down):
            ch = ngf * 2 ** (n_down - i)
            self.add_module(f'up{i}', nn.Sequential(
                *conv_norm(nn.ConvTranspose2d(2 * ch, ch // 2, 3, stride=2, padding=1, output_padding=1), ch // 2), nn.ReLU(True)))
        self.head = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(2 * ngf, output_nc, 7), nn.Tanh())

    def forward(self, x):
        enc = []
        h = self.front(x)
        for i in range(self.n_down):
            enc.append(h)
            h = getattr(self, f'down{i}')(h)
        enc.append(h)
        d = self.blocks(h)
        for i in range(self.n_down):
            d = getattr(self, f'up{i}')(torch.cat([d, enc[self.n_down - i]], 1))
        return self.head(torch.cat([d, enc[0]], 1))


class NLayerDiscriminator(nn.Module):
    """pix2pixHD's PatchGAN (getIntermFeat): groups model0..model{n_layers+1}, each group's output returned."""

    def __init__(self, input_nc, ndf, n_layers):
        super().__init__()
        kw, padw = 4, 2
        groups = [[nn.Conv2d(input_nc, ndf, kw, stride=2, padding=padw), nn.LeakyReLU(0.2, True)]]
        nf = ndf
        for _ in range(1, n_layers):
            prev, nf = nf, min(nf * 2, 512)
            groups.append([*conv_norm(nn.Conv2d(prev, nf, kw, stride=2, padding=padw), nf), nn.LeakyReLU(0.2, True)])
        prev, nf = nf, min(nf * 2, 512)
        groups.append([*conv_norm(nn.Conv2d(prev, nf, kw, stride=1, padding=padw), nf), nn.LeakyReLU(0.2, True)])
        groups.append([nn.Conv2d(nf, 1, kw, stride=1, padding=padw)])
        self.n_groups = len(groups)
        for i, g in enumerate(groups):
            self.add_module(f'model{i}', nn.Sequential(*g))

    def forward(self, x):
        feats = []
        for i in range(self.n_groups):
            x = getattr(self, f'model{i}')(x)
            feats.append(x)
        return feats


class MultiscaleDiscriminator(nn.Module):
    def __init__(self, input_nc, ndf, n_layers, num_d):
        super().__init__()
        self.num_d = num_d
        for i in range(num_d):
            self.add_module(f'scale{i}', NLayerDiscriminator(input_nc, ndf, n_layers))
        self.downsample = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)

    def forward(self, x):
        out = []
        for i in range(self.num_d):
            out.append(getattr(self, f'scale{i}')(x))
            if i != self.num_d - 1:
                x = self.downsample(x)
        return out


def weights_init(m):
    """pix2pixHD's weights_init (convolution weights from N(0, 0.02); instance norm has no parameters)."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        m.weight.data.normal_(0.0, 0.02)


def check_names(module, expected, what):
    """Fails loudly unless module's state dict has exactly the expected [name, shape] list, in order."""
    ours = [[k, list(v.shape)] for k, v in module.state_dict().items()]
    if ours == expected:
        return
    for i in range(max(len(ours), len(expected))):
        a = ours[i] if i < len(ours) else None
        b = expected[i] if i < len(expected) else None
        if a != b:
            sys.exit(f'train_pytorch.py: the {what} is not dermosynth\'s: state-dict entry {i} is {a} here but {b} in dermosynth '
                     f'({len(ours)} entries here, {len(expected)} there)')


def load_safetensors(module, path, what):
    """Copies a safetensors file's tensors into module (read by hand: no safetensors package needed)."""
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        header.pop('__metadata__', None)
        state = module.state_dict()
        if set(header) != set(state):
            sys.exit(f'train_pytorch.py: {path} names differ from the {what}\'s: '
                     f'only in the file {sorted(set(header) - set(state))[:5]}, only here {sorted(set(state) - set(header))[:5]}')
        for name, t in state.items():
            h = header[name]
            if h['dtype'] != 'F32' or h['shape'] != list(t.shape):
                sys.exit(f'train_pytorch.py: {path}: {name} is {h["dtype"]} {h["shape"]}, the {what} has float32 {list(t.shape)}')
            a, b = h['data_offsets']
            f.seek(8 + n + a)
            with torch.no_grad():
                t.copy_(torch.from_numpy(np.fromfile(f, dtype='<f4', count=(b - a) // 4)).view(t.shape))


def lsgan(preds, target_is_real):
    """pix2pixHD's GANLoss(use_lsgan): MSE of each scale's prediction to 1 or 0, summed over the scales."""
    loss = 0
    for p in preds:
        pred = p[-1]
        target = torch.ones_like(pred) if target_is_real else torch.zeros_like(pred)
        loss = loss + F.mse_loss(pred, target)
    return loss


def feature_matching(pred_fake, pred_real, n_layers, num_d, lambda_feat):
    feat_weights = 4.0 / (n_layers + 1)
    d_weights = 1.0 / num_d
    loss = 0
    for i in range(num_d):
        for j in range(len(pred_fake[i]) - 1):
            loss = loss + d_weights * feat_weights * F.l1_loss(pred_fake[i][j], pred_real[i][j].detach()) * lambda_feat
    return loss


def emit(obj):
    print(json.dumps(obj), flush=True)


# The `published` sizes of dermosynth's proposed model without the local enhancer (ngf is a flag),
# and pix2pixHD's feature-matching weight.
N_DOWN, N_BLOCKS, NDF, N_LAYERS_D, NUM_D, LAMBDA_FEAT = 4, 9, 64, 3, 2, 10.0


def build_networks(label_nc, ngf):
    """The generator and discriminator at the published sizes, with pix2pixHD's initialisation."""
    G = GlobalGenerator(label_nc, ngf, N_DOWN, N_BLOCKS)
    D = MultiscaleDiscriminator(label_nc + 3, NDF, N_LAYERS_D, NUM_D)
    G.apply(weights_init)
    D.apply(weights_init)
    return G, D


def one_pass_step(G, D, opt_g, opt_d, g_params, d_params, label, real, backward=torch.autograd.backward):
    """One iteration in dermosynth's order (see --style one-pass above); returns the four losses.
    G and D may be wrappers (DistributedDataParallel); `backward` is called as torch.autograd.backward."""
    fake = G(label)
    pred_fake = D(torch.cat([label, fake], 1))
    pred_real = D(torch.cat([label, real], 1))
    loss_g_gan = lsgan(pred_fake, True)
    loss_g_feat = feature_matching(pred_fake, pred_real, N_LAYERS_D, NUM_D, LAMBDA_FEAT)
    loss_d_real = lsgan(pred_real, True)
    loss_d_fake = lsgan(pred_fake, False)
    loss_g = loss_g_gan + loss_g_feat
    loss_d = (loss_d_real + loss_d_fake) * 0.5
    opt_g.zero_grad(set_to_none=True)
    opt_d.zero_grad(set_to_none=True)
    backward(loss_g, inputs=g_params, retain_graph=True)
    backward(loss_d, inputs=d_params)
    opt_g.step()
    opt_d.step()
    return loss_g_gan, loss_g_feat, loss_d_real, loss_d_fake


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--size', type=int, default=256)
    ap.add_argument('--steps', type=int, default=3)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--ngf', type=int, default=64)
    ap.add_argument('--label-nc', type=int, default=4)
    ap.add_argument('--style', choices=['one-pass', 'pix2pixhd'], default='one-pass')
    ap.add_argument('--names', help="dermosynth's state-dict names and shapes (JSON {generator, discriminator})")
    ap.add_argument('--weights-g', help="dermosynth's initial generator weights (safetensors)")
    ap.add_argument('--weights-d', help="dermosynth's initial discriminator weights (safetensors)")
    ap.add_argument('--data', help='raw float32 batches: per step label [1, C, H, W] then image [1, 3, H, W]')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--batch', type=int, default=1)
    ap.add_argument('--device', default='cpu', help="cpu or cuda:N: the networks, batches and step there")
    ap.add_argument('--precision', choices=['fp32', 'bf16'], default='fp32', help='bf16: the forward passes and losses under torch.autocast')
    ap.add_argument('--wait', action='store_true', help='read a line from stdin before each step (bench/train.ts takes turns)')
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    n_layers_d, num_d, lambda_feat = N_LAYERS_D, NUM_D, LAMBDA_FEAT
    label_nc, s = args.label_nc, args.size
    G, D = build_networks(label_nc, args.ngf)
    if args.names:
        with open(args.names) as f:
            names = json.load(f)
        check_names(G, names['generator'], 'generator')
        check_names(D, names['discriminator'], 'discriminator')
    if args.weights_g:
        load_safetensors(G, args.weights_g, 'generator')
    if args.weights_d:
        load_safetensors(D, args.weights_d, 'discriminator')
    G.train()
    D.train()
    dev = torch.device(args.device)
    G.to(dev)
    D.to(dev)
    nb = args.batch

    if args.data:
        raw = torch.from_numpy(np.fromfile(args.data, dtype='<f4'))
        per = (label_nc + 3) * s * s * nb
        if raw.numel() < per * args.steps:
            sys.exit(f'train_pytorch.py: {args.data} holds {raw.numel() // per} steps of data, {args.steps} asked')
        batches = []
        for k in range(args.steps):
            chunk = raw[k * per:(k + 1) * per]
            n_label = label_nc * s * s * nb
            batches.append((chunk[:n_label].view(nb, label_nc, s, s).clone().to(dev), chunk[n_label:].view(nb, 3, s, s).clone().to(dev)))
        del raw, chunk
    else:
        label = torch.zeros(nb, label_nc, s, s)
        label[:, 0] = 1
        label[:, 0, s // 4: 3 * s // 4, s // 4: 3 * s // 4] = 0
        label[:, 2, s // 4: 3 * s // 4, s // 4: 3 * s // 4] = 1
        batches = [(label.to(dev), (torch.rand(nb, 3, s, s) * 2 - 1).to(dev))] * args.steps

    g_params = list(G.parameters())
    d_params = list(D.parameters())
    opt_g = torch.optim.Adam(g_params, lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d_params, lr=2e-4, betas=(0.5, 0.999))

    amp_dtype = torch.bfloat16 if args.precision == 'bf16' else None

    def step_one_pass(label, real):
        if amp_dtype is None:
            return one_pass_step(G, D, opt_g, opt_d, g_params, d_params, label, real)
        with torch.autocast(device_type=dev.type, dtype=amp_dtype):
            return one_pass_step(G, D, opt_g, opt_d, g_params, d_params, label, real)

    def step_pix2pixhd(label, real):
        fake = G(label)
        loss_d_fake = lsgan(D(torch.cat([label, fake.detach()], 1)), False)
        pred_real = D(torch.cat([label, real], 1))
        loss_d_real = lsgan(pred_real, True)
        pred_fake = D(torch.cat([label, fake], 1))
        loss_g_gan = lsgan(pred_fake, True)
        loss_g_feat = feature_matching(pred_fake, pred_real, n_layers_d, num_d, lambda_feat)
        opt_g.zero_grad(set_to_none=True)
        (loss_g_gan + loss_g_feat).backward()
        opt_g.step()
        opt_d.zero_grad(set_to_none=True)
        ((loss_d_fake + loss_d_real) * 0.5).backward()
        opt_d.step()
        return loss_g_gan, loss_g_feat, loss_d_real, loss_d_fake

    step = step_one_pass if args.style == 'one-pass' else step_pix2pixhd
    emit({'ready': True, 'threads': torch.get_num_threads(), 'ngf': args.ngf, 'style': args.style,
          'parameters': {'generator': sum(p.numel() for p in g_params), 'discriminator': sum(p.numel() for p in d_params)}})
    for k in range(args.steps):
        if args.wait and not sys.stdin.readline():
            sys.exit(1)  # the driver is gone
        t0, c0 = time.perf_counter(), time.process_time()
        label, real = batches[k]
        parts = step(label, real)
        values = torch.stack([p.detach().float() for p in parts]).tolist()  # waits for the device
        seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
        emit({'step': k + 1, 'seconds': seconds, 'cpuSeconds': cpu_seconds,
              'losses': dict(zip(['G_GAN', 'G_GAN_Feat', 'D_real', 'D_fake'], values))})
    emit({'maxRssKb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss})


if __name__ == '__main__':
    main()
