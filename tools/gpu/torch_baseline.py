#!/usr/bin/env python3
"""PyTorch baseline for `engine bench-kernels`, measured in the same run.

Mirrors, one for one, the full (non-quick) case list of src/cli/bench.rs
(same `kernel` and `shape` strings, same FLOP/byte counts, so rows join on
(kernel, shape)), the device's two ceilings, and the two model steps that
bench-kernels times: a DAMSM training step (`model_lines`) and a full AttnGAN
training step at the birds configuration (`attngan_line` -> `gan_step`).

fp32 throughout with TF32 off; cudnn.benchmark on. Kernels are timed with
CUDA events, the GPU held busy by torch.cuda._sleep while Python queues the
launches, so that the numbers are device time (like our GPU timestamps);
model steps are wall-clock per step with a synchronize on each side.

    python3 tools/gpu/torch_baseline.py --json torch.json          # GPU
    python3 tools/gpu/torch_baseline.py --device cpu --tiny        # smoke test
"""

import argparse
import json
import math
import statistics
import sys
import time
import traceback

import torch
import torch.nn as nn
import torch.nn.functional as F

aten = torch.ops.aten
MIB = float(1 << 20)


# --------------------------------------------------------------------------- timing

class Timer:
    def __init__(self, device):
        self.cuda = device.type == "cuda"
        self.sleep = self.cuda and hasattr(torch.cuda, "_sleep")

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize()

    def kernel(self, fn, warmup, reps):
        """(median, min, max) ms of device time of `fn`."""
        for _ in range(warmup):
            fn()
        self.sync()
        ts = []
        for _ in range(reps):
            if self.cuda:
                if self.sleep:
                    torch.cuda._sleep(2_000_000)  # ~1 ms of GPU busy-wait hides the launch overhead
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                end.record()
                end.synchronize()
                ts.append(start.elapsed_time(end))
            else:
                t0 = time.perf_counter()
                fn()
                ts.append((time.perf_counter() - t0) * 1e3)
        return stats(ts)

    def wall(self, fn, warmup, reps):
        """(median, min, max) ms of wall time of `fn`, synchronised on each side."""
        for _ in range(warmup):
            fn()
        self.sync()
        if self.cuda:
            torch.cuda.reset_peak_memory_stats()
        ts = []
        for _ in range(reps):
            self.sync()
            t0 = time.perf_counter()
            fn()
            self.sync()
            ts.append((time.perf_counter() - t0) * 1e3)
        return stats(ts)


def stats(ts):
    return statistics.median(ts), min(ts), max(ts)


def det(shape, device):
    """Our bench's deterministic input: ((i * 7919) % 1000) / 1000 - 0.5."""
    i = torch.arange(math.prod(shape), device=device, dtype=torch.int64)
    return ((i * 7919) % 1000).to(torch.float32).div_(1000.0).sub_(0.5).reshape(shape)


def rust_list(shape):
    """Rust's `{:?}` of a Vec<usize> / [usize; N]: "[20, 64, 128, 128]"."""
    return "[" + ", ".join(str(s) for s in shape) + "]"


# --------------------------------------------------------------------------- kernel cases
# Each case: (kernel, shape, "flops"|"bytes", work, setup(device) -> fn).

def matmul_case(m, n, k, ta, tb, what):
    name = "matmul" + (f" (ta={str(ta).lower()}, tb={str(tb).lower()})" if ta or tb else "")

    def setup(dev):
        a = det([k, m] if ta else [m, k], dev)  # A is [m, k] (stored [k, m] when ta)
        b = det([n, k] if tb else [k, n], dev)  # B is [k, n] (stored [n, k] when tb)
        A, B = (a.t() if ta else a), (b.t() if tb else b)
        return lambda: torch.mm(A, B)

    return name, f"{m}x{n}x{k} {what}", "flops", 2.0 * m * n * k, setup


CONV_NAMES = {"fwd": "forward", "data": "backward-data", "weight": "backward-weight"}


def conv_case(job, n, c, h, o, k, s, p, what):
    # x [n, c, h, h], w [o, c, k, k] -> y [n, o, oh, oh]
    oh = (h + 2 * p - k) // s + 1

    def setup(dev):
        x, w, dy = det([n, c, h, h], dev), det([o, c, k, k], dev), det([n, o, oh, oh], dev)
        if job == "fwd":
            return lambda: F.conv2d(x, w, None, s, p)
        mask = [job == "data", job == "weight", False]
        # What autograd runs for conv2d's backward, one gradient at a time.
        return lambda: aten.convolution_backward(dy, x, w, None, [s, s], [p, p], [1, 1], False, [0, 0], 1, mask)

    return (f"conv2d {CONV_NAMES[job]}", f"[{n},{c},{h},{h}] {k}x{k}/{s} -> {o} {what}", "flops",
            2.0 * n * o * oh * oh * c * k * k, setup)


def transpose_case(job, n, c, h, o, what):
    # x [n, c, h, h], w [c, o, 4, 4], stride 2, padding 1 -> y [n, o, 2h, 2h]
    k, s, p = 4, 2, 1
    oh = (h - 1) * s - 2 * p + k

    def setup(dev):
        x, w, dy = det([n, c, h, h], dev), det([c, o, k, k], dev), det([n, o, oh, oh], dev)
        if job == "fwd":
            return lambda: F.conv_transpose2d(x, w, None, s, p)
        mask = [job == "data", job == "weight", False]
        return lambda: aten.convolution_backward(dy, x, w, None, [s, s], [p, p], [1, 1], True, [0, 0], 1, mask)

    return (f"conv_transpose2d {CONV_NAMES[job]}", f"[{n},{c},{h},{h}] 4x4/2 -> [{n},{o},{oh},{oh}] {what}",
            "flops", 2.0 * n * c * h * h * o * k * k, setup)


def elementwise_case(shape, what):
    def setup(dev):
        a, b = det(shape, dev), det(shape, dev)
        return lambda: torch.add(a, b)

    return "elementwise add", f"{rust_list(shape)} {what}", "bytes", 12.0 * math.prod(shape), setup


def adam_case(n, what):
    # Reads param, grad, m, v; writes param, m, v: 28 bytes per parameter.
    def setup(dev):
        p = nn.Parameter(det([n], dev))
        p.grad = det([n], dev)
        kw = {"fused": True} if dev.type == "cuda" else {"foreach": True}
        opt = torch.optim.Adam([p], lr=2e-4, betas=(0.5, 0.999), eps=1e-8, **kw)
        return opt.step

    return "adam", f"{n} parameters {what}", "bytes", 28.0 * n, setup


def batch_norm_case(backward, shape, what):
    # Forward reads x twice and writes y (12 B/elem); backward reads dy, x twice, writes dx (20 B/elem).
    def setup(dev):
        c = shape[1]
        x = det(shape, dev)
        gamma, beta = torch.ones(c, device=dev), torch.zeros(c, device=dev)
        rm, rv = torch.zeros(c, device=dev), torch.ones(c, device=dev)
        if not backward:
            return lambda: F.batch_norm(x, rm, rv, gamma, beta, True, 0.1, 1e-5)
        x.requires_grad_(True)
        gamma.requires_grad_(True)
        beta.requires_grad_(True)
        y = F.batch_norm(x, rm, rv, gamma, beta, True, 0.1, 1e-5)
        dy = det(shape, dev)
        # PyTorch's own batch norm backward: dx, dgamma, dbeta.
        return lambda: torch.autograd.grad(y, (x, gamma, beta), dy, retain_graph=True)

    name = "batch norm backward" if backward else "batch norm forward (train)"
    return name, f"{rust_list(shape)} {what}", "bytes", (20.0 if backward else 12.0) * math.prod(shape), setup


def attention_fwd(q, w, mask=None):
    """AttnGAN's word attention (src/ops/attention.rs).
    q [B, C, P], w [B, C, T], mask [B, T] (True = padding) -> context [B, C, P], attn [B, P, T]."""
    scores = torch.bmm(q.transpose(1, 2), w)  # [B, P, T] = q^T w over channels
    if mask is not None:
        scores = scores.masked_fill(mask[:, None, :], float("-inf"))
    attn = scores.softmax(-1)  # over the T words
    return torch.bmm(w, attn.transpose(1, 2)), attn  # context [B, C, P] = w attn^T


def attention_case(backward, b, c, p, t, what):
    # Scores and context: 2 * (2 B C P T) flops; the backward counts twice that.
    def setup(dev):
        q, w = det([b, c, p], dev), det([b, c, t], dev)
        if not backward:
            return lambda: attention_fwd(q, w)
        q.requires_grad_(True)
        w.requires_grad_(True)
        ctx, _ = attention_fwd(q, w)
        dctx = det([b, c, p], dev)
        # dq, dw from d_context, through the saved attention (no recompute), like ours.
        return lambda: torch.autograd.grad(ctx, (q, w), dctx, retain_graph=True)

    name = "word attention backward" if backward else "word attention forward"
    return (name, f"q [{b},{c},{p}] words [{b},{c},{t}] {what}", "flops",
            4.0 * b * c * p * t * (2.0 if backward else 1.0), setup)


def cases(tiny):
    """src/cli/bench.rs `cases(false)`, in its order; --tiny shrinks every shape (so those rows won't join)."""
    B = 2 if tiny else 20
    ch = (lambda x: x if x <= 3 else x // 4) if tiny else (lambda x: x)
    sp = (lambda x: max(4, x // 4)) if tiny else (lambda x: x)
    v = [matmul_case(ch(1024), ch(1024), ch(1024), False, False, ""),
         matmul_case(B, ch(16384), 200, False, True, "(G stage-1 fc)")]
    for job in ("fwd", "data", "weight"):
        v.append(conv_case(job, B, ch(512), sp(8), ch(512), 3, 1, 1, "(G stage-1 upsample)"))
        v.append(conv_case(job, B, ch(64), sp(64), ch(128), 3, 1, 1, "(G stage-2 residual)"))
        v.append(conv_case(job, B, ch(64), sp(128), ch(64), 3, 1, 1, "(G stage-3 upsample)"))
        v.append(conv_case(job, B, 3, sp(64), ch(64), 4, 2, 1, "(D64 first layer)"))
        v.append(conv_case(job, B, ch(128), sp(16), ch(256), 4, 2, 1, "(D64 third layer)"))
    for job in ("fwd", "data", "weight"):
        v.append(transpose_case(job, B, ch(128), sp(16), ch(64), "(DCGAN upsampler)"))
    v.append(batch_norm_case(False, [B, ch(64), sp(128), sp(128)], "(G stage 3)"))
    v.append(batch_norm_case(True, [B, ch(64), sp(128), sp(128)], "(G stage 3)"))
    p2, p3 = (256, 1024) if tiny else (4096, 16384)
    v.append(attention_case(False, B, 32, p2, 18, "(G stage 2)"))
    v.append(attention_case(True, B, 32, p2, 18, "(G stage 2)"))
    v.append(attention_case(False, B, 32, p3, 18, "(G stage 3)"))
    v.append(attention_case(True, B, 32, p3, 18, "(G stage 3)"))
    v.append(elementwise_case([B, ch(64), sp(128), sp(128)], ""))
    v.append(adam_case((1 << 18) if tiny else (8 << 20), "(G)"))
    return v


def ceilings(dev, timer, tiny, reps):
    """Copy bandwidth (8 bytes per f32 element, read + write, as ours) and the fp32 matmul rate."""
    n = (1 << 20) if tiny else (32 << 20)  # f32 elements per buffer, as ours
    src, dst = det([n], dev), torch.empty(n, device=dev)
    t = timer.kernel(lambda: dst.copy_(src), 3, reps)[0]
    bw = 8.0 * n / (t * 1e-3) / 1e9
    del src, dst
    m = 512 if tiny else 8192
    a, b = det([m, m], dev), det([m, m], dev)
    t = timer.kernel(lambda: torch.mm(a, b), 3, reps)[0]
    return {"memory_gb_s": bw, "memory_note": f"copy of {n} f32, 8 bytes per element",
            "fp32_matmul_gflop_s": 2.0 * m ** 3 / (t * 1e-3) / 1e9,
            "fp32_matmul_note": f"torch.mm {m}^3 fp32, TF32 off: the practical fp32 ceiling (not FMA chains)"}


# --------------------------------------------------------------------------- models
# Mirrors src/models/attngan.rs, src/models/damsm.rs and src/train/attngan.rs.

BIRDS = dict(ngf=32, ndf=64, z_dim=100, cond_dim=100, embed_dim=256, stages=3, res_blocks=2)  # AttnGanConfig::birds()
WORLD = dict(BIRDS, ngf=16, ndf=16, stages=2)  # AttnGanConfig::world() (--tiny)
DAMSM = dict(vocab=1000, word_dim=300, hidden=128, image_size=64, base_channels=16,
             dropout=0.5, gamma1=4.0, gamma2=5.0, gamma3=10.0)  # DamsmConfig::new(1000)
WORDS = 18  # MAX_WORDS


def conv3x3(cin, cout):
    return nn.Conv2d(cin, cout, 3, 1, 1, bias=False)


class UpBlock(nn.Module):
    """nearest x2 -> conv3x3 (cin -> 2 cout) -> BN -> GLU: [N, cin, H, W] -> [N, cout, 2H, 2W]."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv, self.bn = conv3x3(cin, 2 * cout), nn.BatchNorm2d(2 * cout)

    def forward(self, x):
        return F.glu(self.bn(self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))), 1)


class ResBlock(nn.Module):
    """conv3x3 (c -> 2c) -> BN -> GLU -> conv3x3 (c -> c) -> BN, plus the input."""

    def __init__(self, c):
        super().__init__()
        self.conv1, self.bn1 = conv3x3(c, 2 * c), nn.BatchNorm2d(2 * c)
        self.conv2, self.bn2 = conv3x3(c, c), nn.BatchNorm2d(c)

    def forward(self, x):
        return self.bn2(self.conv2(F.glu(self.bn1(self.conv1(x)), 1))) + x


class Generator(nn.Module):
    def __init__(self, c):
        super().__init__()
        g, self.c = c["ngf"], c
        self.ca = nn.Linear(c["embed_dim"], 4 * c["cond_dim"])  # conditioning augmentation, with bias
        self.fc = nn.Linear(c["z_dim"] + c["cond_dim"], 16 * g * 16 * 2, bias=False)
        self.fc_bn = nn.BatchNorm1d(16 * g * 16 * 2)
        chans = [16 * g, 8 * g, 4 * g, 2 * g, g]  # 4x4 -> 64x64
        self.ups = nn.ModuleList(UpBlock(chans[i], chans[i + 1]) for i in range(4))
        r = c["stages"] - 1  # refinement stages
        self.word_proj = nn.ParameterList(nn.Parameter(torch.randn(g, c["embed_dim"]) * 0.05) for _ in range(r))
        self.res = nn.ModuleList(nn.Sequential(*[ResBlock(2 * g) for _ in range(c["res_blocks"])]) for _ in range(r))
        self.next_up = nn.ModuleList(UpBlock(2 * g, g) for _ in range(r))
        self.to_image = nn.ModuleList(conv3x3(g, 3) for _ in range(r + 1))

    def forward(self, noise, eps, sentence, words, mask):
        """noise [B, z], eps [B, cond], sentence [B, E], words [B, E, T], mask [B, T] (True = padding)."""
        c, b, g = self.c, noise.shape[0], self.c["ngf"]
        code = F.glu(self.ca(sentence), 1)  # [B, 2 cond]
        mu, logvar = code[:, :c["cond_dim"]], code[:, c["cond_dim"]:]
        cond = mu + torch.exp(0.5 * logvar) * eps
        h = F.glu(self.fc_bn(self.fc(torch.cat([noise, cond], 1))), 1).view(b, 16 * g, 4, 4)
        for up in self.ups:
            h = up(h)  # -> [B, g, 64, 64]
        images = [torch.tanh(self.to_image[0](h))]
        words_t = words.transpose(1, 2)  # [B, T, E]
        for s in range(c["stages"] - 1):
            hh = h.shape[2]
            proj = (words_t @ self.word_proj[s].t()).transpose(1, 2)  # [B, g, T]
            ctx, _ = attention_fwd(h.reshape(b, g, hh * hh), proj, mask)  # [B, g, P]
            x = self.res[s](torch.cat([h, ctx.view(b, g, hh, hh)], 1))  # [B, 2g, hh, hh]
            h = self.next_up[s](x)  # [B, g, 2hh, 2hh]
            images.append(torch.tanh(self.to_image[s + 1](h)))
        return images, mu, logvar


def leaky():
    return nn.LeakyReLU(0.2, inplace=True)


class Discriminator(nn.Module):
    """4 stride-2 downs (3 -> 8 ndf, 16x smaller), `stage` more downs and 3x3s back to 8 ndf, then
    unconditional and sentence-conditional 4x4/4 logits."""

    def __init__(self, c, stage):
        super().__init__()
        d, e = c["ndf"], c["embed_dim"]
        chans, layers = [3, d, 2 * d, 4 * d, 8 * d], []
        for i in range(4):
            layers.append(nn.Conv2d(chans[i], chans[i + 1], 4, 2, 1, bias=False))
            if i > 0:
                layers.append(nn.BatchNorm2d(chans[i + 1]))
            layers.append(leaky())
        cin = 8 * d
        for _ in range(stage):
            layers += [nn.Conv2d(cin, 2 * cin, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * cin), leaky()]
            cin *= 2
        for _ in range(stage):
            layers += [conv3x3(cin, cin // 2), nn.BatchNorm2d(cin // 2), leaky()]
            cin //= 2
        self.encode = nn.Sequential(*layers)  # [B, 3, S, S] -> [B, 8 ndf, 4, 4]
        self.joint = nn.Sequential(conv3x3(8 * d + e, 8 * d), nn.BatchNorm2d(8 * d), leaky())
        self.uncond = nn.Conv2d(8 * d, 1, 4, 4, 0, bias=True)
        self.cond = nn.Conv2d(8 * d, 1, 4, 4, 0, bias=True)

    def uncond_logits(self, code):
        return self.uncond(code).view(-1)

    def cond_logits(self, code, sentence):
        b, e = sentence.shape
        tiled = sentence.view(b, e, 1, 1).expand(b, e, 4, 4)
        return self.cond(self.joint(torch.cat([code, tiled], 1))).view(-1)


def bce(x, value):
    return F.binary_cross_entropy_with_logits(x, torch.full_like(x, value))


def discriminator_loss(d, real, fake, sentence):
    """(real_u + real_c) / 2 + (fake_u + fake_c + wrong_c) / 3; wrong pairs image i+1 with sentence i."""
    real_code, fake_code = d.encode(real), d.encode(fake.detach())
    real_u, real_c = bce(d.uncond_logits(real_code), 1.0), bce(d.cond_logits(real_code, sentence), 1.0)
    fake_u, fake_c = bce(d.uncond_logits(fake_code), 0.0), bce(d.cond_logits(fake_code, sentence), 0.0)
    wrong_c = bce(d.cond_logits(real_code[1:], sentence[:-1]), 0.0)
    return (real_u + real_c) * 0.5 + (fake_u + fake_c + wrong_c) / 3.0


def generator_adversarial_loss(d, fake, sentence):
    code = d.encode(fake)
    return bce(d.uncond_logits(code), 1.0) + bce(d.cond_logits(code, sentence), 1.0)


def kl_loss(mu, logvar):
    return -0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())


class TextEncoder(nn.Module):
    """RNN_ENCODER: ids [B, T] -> embedding (300) -> dropout -> BiLSTM (128 per direction)
    -> words [B, 256, T] (0 at padding), sentence [B, 256] (final states)."""

    def __init__(self, c):
        super().__init__()
        self.embedding = nn.Embedding(c["vocab"], c["word_dim"])
        self.drop = nn.Dropout(c["dropout"])
        self.rnn = nn.LSTM(c["word_dim"], c["hidden"], batch_first=True, bidirectional=True)

    def forward(self, ids, lengths_cpu):
        x = self.drop(self.embedding(ids))
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths_cpu, batch_first=True, enforce_sorted=False)
        out, (h_n, _) = self.rnn(packed)
        out = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=ids.shape[1])[0]
        return out.transpose(1, 2), torch.cat([h_n[0], h_n[1]], 1)


class ImageEncoder(nn.Module):
    """Our from-scratch CNN (not Inception): conv3x3 3->16, then 3 x (conv4x4/2, x2 channels), each
    BN + leaky; regions = 1x1 conv to 256 [B, 256, (S/8)^2], global = Linear(avg pool) [B, 256]."""

    def __init__(self, c):
        super().__init__()
        ch = c["base_channels"]
        layers, cin = [conv3x3(3, ch), nn.BatchNorm2d(ch), leaky()], ch
        for _ in range(3):
            layers += [nn.Conv2d(cin, 2 * cin, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * cin), leaky()]
            cin *= 2
        self.body = nn.Sequential(*layers)
        self.regions = nn.Conv2d(cin, 2 * c["hidden"], 1, bias=False)
        self.glob = nn.Linear(cin, 2 * c["hidden"])

    def forward(self, images):
        h = self.body(images)
        return self.regions(h).flatten(2), self.glob(h.mean((2, 3)))


def word_loss(words, regions, pad, real, c):
    """words [B, D, T], regions [B, D, R], pad [B, T] (True = padding), real [B, T] float.
    Every (caption, image) pair at once, as src/models/damsm.rs `word_scores`."""
    b, d, t = words.shape
    r = regions.shape[2]
    labels = torch.arange(b, device=words.device)
    regions_t = regions.transpose(1, 2)  # [B_img, R, D]
    attn = regions_t.reshape(b * r, d) @ words  # [B_cap, B_img*R, T]
    attn = attn.masked_fill(pad[:, None, :], float("-inf")).softmax(2)  # over each caption's words
    attn = (attn.view(b, b, r, t) * c["gamma1"]).softmax(2)  # over regions, per word
    context_t = attn.transpose(2, 3) @ regions_t.unsqueeze(0)  # [B_cap, B_img, T, D]
    words_t = words.transpose(1, 2).unsqueeze(1).expand(b, b, t, d)  # [B_cap, B_img, T, D]
    cos = F.cosine_similarity(words_t, context_t, dim=3, eps=1e-8)  # [B_cap, B_img, T]
    sim1 = torch.log((torch.exp(c["gamma2"] * cos) * real[:, None, :]).sum(2)) * c["gamma3"]  # [cap, img]
    return F.cross_entropy(sim1.t(), labels), F.cross_entropy(sim1, labels)


def sentence_loss(image, sentence, gamma3):
    """Cosines of every (image, caption) pair times gamma3, cross-entropy both ways."""
    norm = lambda x: x / torch.sqrt(x.pow(2).sum(1, keepdim=True) + 1e-8)
    i, s = norm(image), norm(sentence)
    labels = torch.arange(image.shape[0], device=image.device)
    return F.cross_entropy(i @ s.t() * gamma3, labels), F.cross_entropy(s @ i.t() * gamma3, labels)


def count(m):
    return sum(p.numel() for p in m.parameters())


def captions(batch, dev):
    """As the bench: ids (i % 997 + 2), lengths 8 + i % 11, 18 words."""
    ids = (torch.arange(batch * WORDS) % 997 + 2).view(batch, WORDS).to(dev)
    lengths = torch.tensor([8 + i % 11 for i in range(batch)], dtype=torch.int64)
    pad = torch.arange(WORDS)[None, :] >= lengths[:, None]  # [B, T] True = padding
    return ids, lengths, pad.to(dev), (~pad).float().to(dev)


def adam(params, lr, dev):
    kw = {"fused": True} if dev.type == "cuda" else {"foreach": True}
    return torch.optim.Adam(params, lr=lr, betas=(0.5, 0.999), eps=1e-8, **kw)


def model_row(name, batch, size, t, timer, extra):
    med, lo, hi = t
    row = {"model": name, "batch": batch, "image_size": size, "median_ms": med, "min_ms": lo, "max_ms": hi,
           "steps_per_s": 1e3 / med, "images_per_s": batch * 1e3 / med,
           "peak_memory_mib": torch.cuda.max_memory_allocated() / MIB if timer.cuda else None}
    row.update(extra)
    return row


def damsm_line(dev, timer, text, image, batch, warmup, reps):
    """model_lines: both encoders forward (training) + backward, text grads clipped to 0.25, two Adams."""
    c, size = DAMSM, DAMSM["image_size"]
    ta, ia = adam(text.parameters(), 2e-3, dev), adam(image.parameters(), 2e-3, dev)
    images = det([batch, 3, size, size], dev)
    ids, lengths, pad, real = captions(batch, dev)
    text.train()
    image.train()

    def step():
        ta.zero_grad()
        ia.zero_grad()
        words, sentence = text(ids, lengths)
        regions, glob = image(images)
        w0, w1 = word_loss(words, regions, pad, real, c)
        s0, s1 = sentence_loss(glob, sentence, c["gamma3"])
        (w0 + w1 + s0 + s1).backward()
        nn.utils.clip_grad_norm_(text.parameters(), 0.25)
        ta.step()
        ia.step()

    t = timer.wall(step, warmup, reps)
    row = model_row("damsm", batch, size, t, timer, {"params": {"text": count(text), "image": count(image)}})
    print(f"model step: DAMSM (text + image encoders, word and sentence losses, Adam), batch {batch} at "
          f"{size}x{size}: {t[0]:.1f} ms [{t[1]:.1f}..{t[2]:.1f}] = {row['steps_per_s']:.2f} steps/s, "
          f"{row['images_per_s']:.1f} images/s, peak memory {fmt_mib(row['peak_memory_mib'])}")
    return row


def attngan_line(dev, timer, text, image, config, batch, warmup, reps):
    """attngan_line -> gan_step: G forward; each D forward + backward + Adam on detached fakes; G's loss
    (KL + adversarial at every stage + 5 x DAMSM on the last image through the frozen image encoder)
    backward through the frozen Ds, G's Adam, G's moving average."""
    c, lam = config, 5.0
    G = Generator(c).to(dev)
    Ds = nn.ModuleList(Discriminator(c, s) for s in range(c["stages"])).to(dev)
    g_opt, d_opts = adam(G.parameters(), 2e-4, dev), [adam(d.parameters(), 2e-4, dev) for d in Ds]
    shadow = [p.detach().clone() for p in G.parameters()]  # Ema, decay 0.999
    ema_updates = [0]
    for p in image.parameters():
        p.requires_grad_(False)
    image.eval()  # frozen, BN on running statistics (training = false)
    text.eval()
    reals = [det([batch, 3, 64 << s, 64 << s], dev) for s in range(c["stages"])]
    ids, lengths, pad, real = captions(batch, dev)
    side = 64 << (c["stages"] - 1)

    def step():
        with torch.no_grad():
            words, sentence = text(ids, lengths)  # [B, E, T], [B, E]
        noise = torch.randn(batch, c["z_dim"], device=dev)
        eps = torch.randn(batch, c["cond_dim"], device=dev)
        images, mu, logvar = G(noise, eps, sentence, words, pad)
        for d, opt, r, fake in zip(Ds, d_opts, reals, images):
            opt.zero_grad()
            discriminator_loss(d, r, fake, sentence).backward()
            opt.step()
        Ds.requires_grad_(False)
        g_opt.zero_grad()
        loss = kl_loss(mu, logvar)
        for d, fake in zip(Ds, images):
            loss = loss + generator_adversarial_loss(d, fake, sentence)
        last = images[-1] if side == DAMSM["image_size"] else F.avg_pool2d(images[-1], side // DAMSM["image_size"])
        regions, glob = image(last)
        w0, w1 = word_loss(words, regions, pad, real, DAMSM)
        s0, s1 = sentence_loss(glob, sentence, DAMSM["gamma3"])
        (loss + lam * (w0 + w1 + s0 + s1)).backward()
        g_opt.step()
        with torch.no_grad():
            n = ema_updates[0]
            decay = min(0.999, (1.0 + n) / (10.0 + n))
            ema_updates[0] += 1
            torch._foreach_lerp_(shadow, list(G.parameters()), 1.0 - decay)  # d * shadow + (1 - d) * p
        Ds.requires_grad_(True)

    params = {"generator": count(G), **{f"disc{64 << s}": count(d) for s, d in enumerate(Ds)},
              "damsm_text": count(text), "damsm_image": count(image)}
    print("params: " + ", ".join(f"{k} {v:,}" for k, v in params.items()))
    t = timer.wall(step, warmup, reps)
    row = model_row("attngan", batch, side, t, timer, {"stages": c["stages"], "params": params})
    print(f"model step: AttnGAN ({c['stages']} stages to {side}x{side}, ngf {c['ngf']}, ndf {c['ndf']}; G, Ds, "
          f"frozen DAMSM loss, Adam, EMA), batch {batch}: {t[0]:.1f} ms [{t[1]:.1f}..{t[2]:.1f}] = "
          f"{row['steps_per_s']:.2f} steps/s, {row['images_per_s']:.1f} images/s, "
          f"peak memory {fmt_mib(row['peak_memory_mib'])}")
    return row


def fmt_mib(v):
    return "n/a" if v is None else f"{v:.0f} MiB"


# --------------------------------------------------------------------------- main

def fail(what, errors):
    print(f"  FAILED {what}: {traceback.format_exc(limit=3).strip().splitlines()[-1]}", flush=True)
    traceback.print_exc(limit=4, file=sys.stderr)
    errors.append({"what": what, "error": traceback.format_exc(limit=1).strip().splitlines()[-1]})


def fp32_only():
    """No TF32 in matmuls or convolutions (the legacy flags; the newer fp32_precision API if they fail)."""
    try:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    except Exception:
        torch.backends.cuda.matmul.fp32_precision = "ieee"
        torch.backends.cudnn.conv.fp32_precision = "ieee"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--tiny", action="store_true", help="small shapes, batch 2, 2 stages (CPU smoke test)")
    ap.add_argument("--json", help="also write the results as JSON to this file")
    ap.add_argument("--reps", type=int, help="timed repetitions per kernel (default 10, 3 with --tiny)")
    ap.add_argument("--filter", help="only the kernels whose name contains this text")
    ap.add_argument("--no-models", action="store_true", help="skip the DAMSM and AttnGAN steps")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads (CPU runs only)")
    args = ap.parse_args()

    dev = torch.device(args.device)
    if dev.type == "cpu":
        torch.set_num_threads(args.threads)
    fp32_only()
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    timer = Timer(dev)
    reps = args.reps or (3 if args.tiny else 10)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    doc = {"device": name, "torch": torch.__version__, "cuda": torch.version.cuda,
           "cudnn": torch.backends.cudnn.version() if dev.type == "cuda" else None,
           "tf32": False, "tiny": args.tiny, "reps": reps,
           "timing": "cuda events around each run (GPU pre-loaded with _sleep)" if timer.cuda else "perf_counter",
           "ceilings": {}, "kernels": [], "models": [], "errors": []}
    errors = doc["errors"]
    print(f"torch {torch.__version__} (CUDA {torch.version.cuda}) on {name}; fp32, TF32 off, "
          f"median of {reps} after 3 warm-ups{', tiny shapes' if args.tiny else ''}")

    fl = bw = None
    try:
        doc["ceilings"] = ceil = ceilings(dev, timer, args.tiny, reps)
        bw, fl = ceil["memory_gb_s"], ceil["fp32_matmul_gflop_s"]
        print(f"ceilings: memory {bw:.1f} GB/s (copy), fp32 {fl:.1f} GFLOP/s (matmul, TF32 off)\n")
    except Exception:
        fail("ceilings", errors)

    print(f"{'kernel':<34} {'shape':<48} {'ms':>22} {'rate':>14} {'of peak':>8}")
    for kname, shape, kind, work, setup in cases(args.tiny):
        if args.filter and args.filter not in kname:
            continue
        try:
            fn = setup(dev)
            med, lo, hi = timer.kernel(fn, 3, reps)
            rate = work / (med * 1e-3) / 1e9
            unit, ceiling = ("GFLOP/s", fl) if kind == "flops" else ("GB/s", bw)
            pct = rate / ceiling * 100.0 if ceiling else None
            print(f"{kname:<34} {shape:<48} {f'{med:.3f} [{lo:.3f}..{hi:.3f}]':>22} {rate:>6.1f} {unit:<7} "
                  f"{'' if pct is None else f'{pct:7.1f}%'}", flush=True)
            doc["kernels"].append({"kernel": kname, "shape": shape, "median_ms": med, "min_ms": lo, "max_ms": hi,
                                   "rate": rate, "unit": unit, "percent_of_ceiling": pct})
        except Exception:
            fail(f"{kname} {shape}", errors)
        fn = None  # free the case's tensors before the next one

    if not args.no_models:
        if timer.cuda:
            torch.cuda.empty_cache()
        mw, mr = (1, 2) if args.tiny else (2, 5)
        print()
        text = image = None
        try:
            text, image = TextEncoder(DAMSM).to(dev), ImageEncoder(DAMSM).to(dev)
            doc["models"].append(damsm_line(dev, timer, text, image, 2 if args.tiny else 48, mw, mr))
        except Exception:
            fail("damsm step", errors)
        try:
            if timer.cuda:
                torch.cuda.empty_cache()
            text = TextEncoder(DAMSM).to(dev) if text is None else text
            image = ImageEncoder(DAMSM).to(dev) if image is None else image
            config, batch = (WORLD, 2) if args.tiny else (BIRDS, 20)
            doc["models"].append(attngan_line(dev, timer, text, image, config, batch, mw, mr))
        except Exception:
            fail("attngan step", errors)

    if errors:
        print(f"\n{len(errors)} section(s) failed: " + "; ".join(e["what"] for e in errors))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2)
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
