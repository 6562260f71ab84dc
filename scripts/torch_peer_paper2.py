"""PyTorch peer of the paper-2 (multi-scale WGAN) joint training step, for side-by-side timing.

Same layer tables as docs/SPEC-paper2.md: Table-1 generator (BN+ReLU, sigmoid out),
critics D_l / D_g / D_m1 / D_m2 (5x5 stride-2 convs, LeakyReLU, linear head),
WGAN weight clipping, masked L2 + 0.001 * adversarial terms.
Usage: torch_peer_paper2.py SIZE BATCH STEPS [bf16]  -> prints images/s of the joint step
(bf16: torch.autocast on the CPU with bfloat16).
"""
import contextlib, sys, time
import torch, torch.nn as nn, torch.nn.functional as F

def cbr(i, o, k, s=1, d=1):
    return [nn.Conv2d(i, o, k, s, padding=d * (k - 1) // 2, dilation=d), nn.BatchNorm2d(o), nn.ReLU()]

def generator():
    l = cbr(4, 64, 5) + cbr(64, 128, 3, 2) + cbr(128, 128, 3) + cbr(128, 256, 3, 2) + cbr(256, 256, 3)
    for d in (2, 4, 8, 16):
        l += cbr(256, 256, 3, 1, d)
    l += cbr(256, 256, 3)
    l += [nn.ConvTranspose2d(256, 128, 4, 2, 1), nn.BatchNorm2d(128), nn.ReLU()] + cbr(128, 128, 3)
    l += [nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU()] + cbr(64, 32, 3)
    l += [nn.Conv2d(32, 3, 3, 1, 1), nn.Sigmoid()]
    return nn.Sequential(*l)

def critic(channels, size):
    l, i = [], 3
    for o in channels:
        l += [nn.Conv2d(i, o, 5, 2, 2), nn.LeakyReLU(0.2)]
        i, size = o, size // 2
    return nn.Sequential(*l, nn.Flatten(), nn.Linear(i * max(size, 1) ** 2, 1))

def main():
    size, batch, steps = (int(a) for a in sys.argv[1:4])
    bf16 = "bf16" in sys.argv[4:]
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
    torch.manual_seed(0)
    g = generator()
    critics = {
        "local": (critic([64, 128, 256, 512, 512, 512], size // 2), "local"),
        "global": (critic([64, 128, 256, 512, 512], size), 1),
        "m1": (critic([64, 128, 256, 512, 512], size // 2), 2),
        "m2": (critic([64, 128, 256, 512], size // 4), 4),
    }
    g_opt = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999))
    d_params = [p for d, _ in critics.values() for p in d.parameters()]
    d_opt = torch.optim.Adam(d_params, 2e-4, betas=(0.5, 0.999))
    x = torch.rand(batch, 3, size, size)
    z = torch.zeros(batch, 1, size, size)
    q = size // 4
    z[:, :, q:3 * q, q:3 * q] = 1.0

    def views(img, how):
        if how == "local":
            return img[:, :, q:3 * q, q:3 * q]
        return img if how == 1 else F.avg_pool2d(img, how)

    def step():
        with autocast():
            fake = g(torch.cat([x * (1 - z), z], 1)).float()
            comp = x * (1 - z) + fake * z
            d_opt.zero_grad()
            d_loss = sum(d(views(comp.detach(), h)).float().mean() - d(views(x, h)).float().mean() for d, h in critics.values())
        d_loss.backward()
        d_opt.step()
        with torch.no_grad():
            for p in d_params:
                p.clamp_(-0.01, 0.01)
        g_opt.zero_grad()
        with autocast():
            rec = ((z * (x - fake)) ** 2).mean()
            adv = sum(-d(views(comp, h)).float().mean() for d, h in critics.values())
        (rec + 0.001 * adv).backward()
        g_opt.step()

    step()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    dt = time.perf_counter() - t
    print(f"torch {torch.__version__} threads={torch.get_num_threads()} size={size} batch={batch} bf16={bf16}")
    print(f"images_per_sec {batch * steps / dt:.3f}")

if __name__ == "__main__":
    main()
