"""A peer for bench_step: the same IQL step in PyTorch on the CPU, structured as CORL's IQL
(twin critics, V, Gaussian policy with a learned log σ, three Adam optimisers, losses at the
pre-step parameters), timed on the same shapes. Written for this comparison, not CORL's code.

    /usr/bin/python3 bench/peer_torch_iql.py [--batch 256] [--steps 300] [--threads 2]

Uses Debian's python3-torch (apt-get install python3-torch)."""
import argparse
import time

import torch
from torch import nn


def mlp(inp, out, hidden=(256, 256)):
    layers, w = [], inp
    for h in hidden:
        layers += [nn.Linear(w, h), nn.ReLU()]
        w = h
    return nn.Sequential(*layers, nn.Linear(w, out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    S, A, N, B = 17, 6, 200000, a.batch
    g = torch.Generator().manual_seed(0)
    states, actions = torch.randn(N + 1, S, generator=g), torch.rand(N, A, generator=g) * 1.8 - 0.9
    rewards, terminals = torch.randn(N, generator=g), torch.zeros(N)

    q1, q2, v, pi = mlp(S + A, 1), mlp(S + A, 1), mlp(S, 1), mlp(S, A)
    log_std = nn.Parameter(torch.zeros(A))
    opt_q = torch.optim.Adam(list(q1.parameters()) + list(q2.parameters()), lr=1e-3)
    opt_v = torch.optim.Adam(v.parameters(), lr=1e-3)
    opt_pi = torch.optim.Adam(list(pi.parameters()) + [log_std], lr=1e-4)
    gamma, tau, beta = 0.97, 0.7, 2.0

    def step():
        idx = torch.randint(0, N, (B,), generator=g)
        s, s2, act, r, d = states[idx], states[idx + 1], actions[idx], rewards[idx], terminals[idx]
        sa = torch.cat([s, act], 1)
        with torch.no_grad():
            y = r + gamma * (1 - d) * v(s2).squeeze(-1)
            q_min = torch.min(q1(sa), q2(sa)).squeeze(-1)
        vs = v(s).squeeze(-1)
        u = y - vs
        loss_v = (torch.abs(tau - (u < 0).float()) * u ** 2).mean()
        loss_q = 0.5 * (((q1(sa).squeeze(-1) - y) ** 2).mean() + ((q2(sa).squeeze(-1) - y) ** 2).mean())
        w = torch.exp(beta * (q_min - vs.detach())).clamp(max=100.0)
        dist = torch.distributions.Normal(torch.tanh(pi(s)), log_std.clamp(-20, 2).exp())
        loss_pi = -(w * dist.log_prob(act).sum(-1)).mean()
        for o in (opt_q, opt_v, opt_pi):
            o.zero_grad(set_to_none=True)
        (loss_v + loss_q + loss_pi).backward()
        for o in (opt_q, opt_v, opt_pi):
            o.step()

    for _ in range(10):
        step()
    t = time.perf_counter()
    for _ in range(a.steps):
        step()
    el = time.perf_counter() - t
    print(f"torch {torch.__version__} CPU, {a.threads} threads, B={B}: {a.steps / el:.1f} steps/s ({a.steps} steps in {el:.2f} s)")


if __name__ == "__main__":
    main()
