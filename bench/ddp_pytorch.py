"""The Python PyTorch side of bench/ddp.ts: data-parallel training of dermosynth's `proposed`
networks with torch.nn.parallel.DistributedDataParallel over gloo, and gloo's all-reduce alone.

One process per rank, started by bench/ddp.ts with torch.distributed's env:// variables (RANK,
WORLD_SIZE, MASTER_ADDR, MASTER_PORT; GLOO_SOCKET_IFNAME=lo, so gloo talks over loopback as
dermosynth's group does) and OMP_NUM_THREADS = cores / processes; each also calls
torch.set_num_threads(--threads). With WORLD_SIZE 1 (or no RANK) it runs alone, without a group.

--mode train: the networks and the training step are bench/train_pytorch.py's (imported, not
copied): the published sizes without the local enhancer (ngf from --ngf, 4 downsamplings, 9
residual blocks; 2 scales of 3-layer PatchGANs, ndf 64), 4 label channels, one_pass_step
(LSGAN + feature matching 10, one D pass on the fake image serving both losses,
torch.autograd.backward(loss_G, inputs=G params, retain_graph=True) then (loss_D, inputs=D
params), Adam lr 2e-4 betas 0.5/0.999). With 2 or more processes G and D are each wrapped in
DistributedDataParallel (gloo, default buckets: 25 MB, the first 1 MB; find_unused_parameters
off: every parameter gets a gradient), so each backward all-reduces (and averages) its
parameters' gradients in buckets while it runs, and returns once they are done. The global
--batch is split evenly: each rank trains on its own --batch / WORLD_SIZE random inputs (a
one-hot label map of random classes per pixel, an image uniform in [-1, 1]), the same every step.
After each step the four losses are averaged over the ranks (one small all-reduce, as
dermosynth's trainer does) and read back. Rank 0 prints, one JSON object per line: {"ready"}
with the parameter counts, then {"step", "seconds", "comm", "losses"} per step and {"done"}.
`seconds` is the step's wall time (the step, the loss all-reduce and reading the losses back);
`comm` (data parallel only) is, summed over the two backward calls, the time from the last
parameter gradient being produced (a tensor hook on every parameter) to backward returning: the
wait for the gradient all-reduce after the backward computation, as dermosynth's `comm`.

--mode allreduce (2 or more processes): for each of --sizes (float32 elements), --warmup then
--repeats times: a barrier, then dist.all_reduce (sum) of one float32 tensor of that size, timed
on rank 0. Rank 0 prints {"size", "bytes", "ms": [...]} per size, then {"done"}.

Run by hand (two shells, or with &):
  RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=29511 /usr/bin/python3 bench/ddp_pytorch.py --threads 1 --size 64 --ngf 8 --steps 3
  RANK=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=29511 /usr/bin/python3 bench/ddp_pytorch.py --threads 1 --size 64 --ngf 8 --steps 3
"""
import argparse
import datetime
import os
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.nn.parallel import DistributedDataParallel  # noqa: E402

from train_pytorch import build_networks, emit, one_pass_step  # noqa: E402


def train(args, rank, world):
    if args.batch % world != 0:
        sys.exit(f'ddp_pytorch.py: --batch {args.batch} cannot be split evenly over {world} processes')
    torch.manual_seed(args.seed)  # the same initial weights on every rank (DDP also broadcasts rank 0's)
    G, D = build_networks(args.label_nc, args.ngf)
    G.train()
    D.train()
    g_params = list(G.parameters())
    d_params = list(D.parameters())
    opt_g = torch.optim.Adam(g_params, lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d_params, lr=2e-4, betas=(0.5, 0.999))

    per, s, nc = args.batch // world, args.size, args.label_nc
    gen = torch.Generator().manual_seed(1000 + rank)  # each rank its own part of the batch
    label = F.one_hot(torch.randint(0, nc, (per, s, s), generator=gen), nc).permute(0, 3, 1, 2).float().contiguous()
    real = torch.rand(per, 3, s, s, generator=gen) * 2 - 1

    comm = [0.0]
    backward = torch.autograd.backward
    if world > 1:
        last_grad = [0.0]

        def mark(grad):
            last_grad[0] = time.perf_counter()
            return None

        for p in g_params + d_params:
            p.register_hook(mark)
        G = DistributedDataParallel(G)
        D = DistributedDataParallel(D)

        def backward(loss, inputs, retain_graph=False):
            torch.autograd.backward(loss, inputs=inputs, retain_graph=retain_graph)
            comm[0] += time.perf_counter() - last_grad[0]

    if rank == 0:
        emit({'ready': True, 'threads': torch.get_num_threads(), 'world': world,
              'parameters': {'generator': sum(p.numel() for p in g_params), 'discriminator': sum(p.numel() for p in d_params)}})
    for k in range(args.steps):
        comm[0] = 0.0
        t0 = time.perf_counter()
        parts = torch.stack([p.detach() for p in one_pass_step(G, D, opt_g, opt_d, g_params, d_params, label, real, backward)])
        if world > 1:
            dist.all_reduce(parts)
            parts /= world
        values = parts.tolist()
        seconds = time.perf_counter() - t0
        if rank == 0:
            line = {'step': k + 1, 'seconds': seconds, 'losses': dict(zip(['G_GAN', 'G_GAN_Feat', 'D_real', 'D_fake'], values))}
            if world > 1:
                line['comm'] = comm[0]
            emit(line)


def allreduce(args, rank, world):
    if world < 2:
        sys.exit('ddp_pytorch.py: --mode allreduce needs WORLD_SIZE >= 2')
    for n in [int(x) for x in args.sizes.split(',')]:
        t = torch.ones(n)
        times = []
        for i in range(args.warmup + args.repeats):
            t.fill_(1.0)
            dist.barrier()
            t0 = time.perf_counter()
            dist.all_reduce(t)
            dt = time.perf_counter() - t0
            if i >= args.warmup:
                times.append(dt * 1000)
        if t[0].item() != world:
            sys.exit(f'ddp_pytorch.py: the all-reduce summed to {t[0].item()}, expected {world}')
        if rank == 0:
            emit({'size': n, 'bytes': 4 * n, 'ms': times})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--mode', choices=['train', 'allreduce'], default='train')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--size', type=int, default=128)
    ap.add_argument('--ngf', type=int, default=32)
    ap.add_argument('--label-nc', type=int, default=4)
    ap.add_argument('--batch', type=int, default=2, help='the global batch, split over the processes')
    ap.add_argument('--steps', type=int, default=8)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--sizes', default='250000', help='allreduce: comma-separated float32 element counts')
    ap.add_argument('--repeats', type=int, default=10)
    ap.add_argument('--warmup', type=int, default=3)
    ap.add_argument('--timeout', type=int, default=300, help='seconds any collective may wait')
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    rank = int(os.environ.get('RANK', '0'))
    world = int(os.environ.get('WORLD_SIZE', '1'))
    if world > 1:
        dist.init_process_group('gloo', init_method='env://', rank=rank, world_size=world,
                                timeout=datetime.timedelta(seconds=args.timeout))
    try:
        (train if args.mode == 'train' else allreduce)(args, rank, world)
        if world > 1:
            dist.barrier()
    finally:
        if world > 1:
            dist.destroy_process_group()
    if rank == 0:
        emit({'done': True})


if __name__ == '__main__':
    main()
