"""A peer for bench_step: the same IQL step in PyTorch, structured as CORL's IQL (twin critics,
V, Gaussian policy with a learned log σ, three Adam optimisers, losses at the pre-step
parameters, optional target critics with a Polyak update), timed on the same shapes (S = 17,
A = 6, hidden 256x256, a random dataset of N = 200000 rows). Written for this comparison, not
CORL's code.

    /usr/bin/python3 bench/peer_torch_iql.py [--batch 256] [--steps 300] [--threads 2]
    python3 bench/peer_torch_iql.py --device cuda [--mode eager|graph|compile] [--rho 0.005]

Modes (graph and compile need --device cuda):
  eager    the step as written: data on the device, indices from torch.randint on the device;
  graph    the whole step (sampling, forward, backward, three capturable Adam steps, Polyak)
           captured once in a torch.cuda.CUDAGraph and replayed;
  compile  torch.compile with mode --compile-mode, default "reduce-overhead" (Inductor's fused
           kernels replayed through CUDA graphs): sampling+forward+losses as one full graph, the
           three optimiser steps and Polyak as PyTorch's compiled-optimizer recipe has it,
           backward() between them; exits 3 if compilation fails.
--rho 1 (the default) uses no target critics (the advantage's min Q reuses the critics' forward,
so Q runs forward once, as bench_step counts it); --rho R < 1 adds target critics (used for the
advantage's min Q) and moves them by Polyak averaging after each step. --precision fp32 (the default, as
bench_step's) keeps TF32 off for matmuls on the GPU. --check prints the losses of the first
and last steps. The last line is
    peer torch <version> <device> <mode> B=<B> rho=<rho>: <x> steps/s (<n> steps in <t> s)

On the CPU it works with Debian's python3-torch 1.13 (apt-get install python3-torch)."""
import argparse
import copy
import math
import sys
import time

import torch
from torch import nn

S, A, N = 17, 6, 200000
GAMMA, TAU, BETA = 0.97, 0.7, 2.0  # the seed's settings (docs/algorithm.md, Defaults)
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def fail(msg, code):
    print(f"peer torch: {msg}", file=sys.stderr)
    sys.exit(code)


def mlp(inp, out, hidden=(256, 256)):
    layers, w = [], inp
    for h in hidden:
        layers += [nn.Linear(w, h), nn.ReLU()]
        w = h
    return nn.Sequential(*layers, nn.Linear(w, out))


def first_line(e):
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:300] if text else ''}"


def main():
    ap = argparse.ArgumentParser(description="PyTorch IQL step, a speed peer for bench_step")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--mode", choices=["eager", "graph", "compile"], default="eager")
    ap.add_argument("--compile-mode", default="reduce-overhead",
                    help="torch.compile mode for --mode compile (also: default, max-autotune-no-cudagraphs)")
    ap.add_argument("--rho", type=float, default=1.0, help="Polyak rate of the target critics; 1: none")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=0, help="timed steps (default 300 on cpu, 2000 on cuda)")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads")
    ap.add_argument("--precision", choices=["fp32", "tf32"], default="fp32", help="matmul precision on cuda")
    ap.add_argument("--check", action="store_true", help="print the losses of the first and last steps")
    a = ap.parse_args()
    cuda = a.device == "cuda"
    if not 0 < a.rho <= 1 or a.batch < 1 or a.steps < 0:
        fail("need 0 < --rho <= 1, --batch >= 1, --steps >= 0", 2)
    if a.mode != "eager" and not cuda:
        fail(f"--mode {a.mode} needs --device cuda", 2)
    if cuda and not torch.cuda.is_available():
        fail(f"CUDA is not available to torch {torch.__version__} (built for CUDA {torch.version.cuda})", 1)
    if a.mode == "compile" and not hasattr(torch, "compile"):
        fail(f"torch.compile is not in torch {torch.__version__} (needs 2.0 or later)", 3)
    steps = a.steps or (2000 if cuda else 300)
    warmup = 10 if not cuda else 100 if a.mode == "compile" else 50
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    if cuda and hasattr(torch.backends.cuda.matmul, "fp32_precision"):  # torch 2.9 and later
        torch.backends.cuda.matmul.fp32_precision = "tf32" if a.precision == "tf32" else "ieee"
    elif cuda:
        torch.backends.cuda.matmul.allow_tf32 = a.precision == "tf32"
    torch.manual_seed(0)

    B, rho, targets = a.batch, a.rho, a.rho < 1
    g = torch.Generator().manual_seed(0)
    states, actions = torch.randn(N + 1, S, generator=g), torch.rand(N, A, generator=g) * 1.8 - 0.9
    rewards, terminals = torch.randn(N, generator=g), torch.zeros(N)
    states, actions, rewards, terminals = (t.to(dev) for t in (states, actions, rewards, terminals))
    rgen = None if cuda else g  # on cuda the default generator, which CUDA graphs can capture

    q1, q2, v, pi = (m.to(dev) for m in (mlp(S + A, 1), mlp(S + A, 1), mlp(S, 1), mlp(S, A)))
    log_std = nn.Parameter(torch.zeros(A, device=dev))
    q_params = list(q1.parameters()) + list(q2.parameters())
    if targets:
        tq1, tq2 = copy.deepcopy(q1).requires_grad_(False), copy.deepcopy(q2).requires_grad_(False)
        t_params = list(tq1.parameters()) + list(tq2.parameters())
    kw = {"capturable": True} if a.mode != "eager" else {}  # optimiser state on the device
    opts = (torch.optim.Adam(q_params, lr=1e-3, **kw), torch.optim.Adam(v.parameters(), lr=1e-3, **kw),
            torch.optim.Adam(list(pi.parameters()) + [log_std], lr=1e-4, **kw))

    opt_q, opt_v, opt_pi = opts

    def losses():  # sampling, forward and the three losses, at the pre-step parameters
        idx = torch.randint(0, N, (B,), device=dev, generator=rgen)
        s, s2, act, r, d = states[idx], states[idx + 1], actions[idx], rewards[idx], terminals[idx]
        sa = torch.cat([s, act], 1)
        q1o, q2o = q1(sa).squeeze(-1), q2(sa).squeeze(-1)
        with torch.no_grad():
            y = r + GAMMA * (1 - d) * v(s2).squeeze(-1)
            q_min = torch.min(tq1(sa), tq2(sa)).squeeze(-1) if targets else torch.min(q1o, q2o)
        vs = v(s).squeeze(-1)
        u = y - vs
        loss_v = (torch.abs(TAU - (u < 0).float()) * u ** 2).mean()
        loss_q = 0.5 * (((q1o - y) ** 2).mean() + ((q2o - y) ** 2).mean())
        w = torch.exp(BETA * (q_min - vs.detach())).clamp(max=100.0)
        log_sd = log_std.clamp(-20, 2)  # Normal log-density, written out (no validation syncs)
        log_p = (-0.5 * ((act - torch.tanh(pi(s))) * torch.exp(-log_sd)) ** 2 - log_sd - HALF_LOG_2PI).sum(-1)
        loss_pi = -(w * log_p).mean()
        return loss_v + loss_q + loss_pi, torch.stack([loss_q.detach(), loss_v.detach(), loss_pi.detach()])

    def update():  # no loop: torch.compile resumes after each optimiser's own graph break
        opt_q.step()
        opt_v.step()
        opt_pi.step()
        if targets:  # Q̄ ← (1 − ρ) Q̄ + ρ Q, after the step
            with torch.no_grad():
                torch._foreach_mul_(t_params, 1 - rho)
                torch._foreach_add_(t_params, q_params, alpha=rho)

    def step(losses=losses, update=update):
        for o in opts:
            o.zero_grad(set_to_none=True)
        total, out = losses()
        total.backward()
        update()
        return out

    def capture():  # PyTorch's whole-network capture recipe: warm up on a side stream, then capture
        nonlocal first
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for i in range(warmup):
                out = step()
                first = out.clone() if i == 0 else first
        torch.cuda.current_stream().wait_stream(side)
        for o in opts:
            o.zero_grad(set_to_none=True)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_out = step()
        return lambda: (graph.replay(), static_out)[1]

    run, first = step, None
    if a.mode == "compile":
        # The forward and the update compiled apart, as PyTorch's compiled-optimizer recipe has it:
        # backward() and zero_grad() break graphs (a break inside the step would leave it eager).
        c_losses = torch.compile(losses, mode=a.compile_mode, fullgraph=True)  # a break here fails
        c_update = torch.compile(update, mode=a.compile_mode)
        mark = getattr(getattr(torch, "compiler", None), "cudagraph_mark_step_begin", lambda: None)
        run = lambda: (mark(), step(c_losses, c_update))[1]  # noqa: E731
    try:
        if a.mode == "graph":
            run = capture()
        else:
            for i in range(warmup):
                out = run()
                first = out.clone() if i == 0 else first
        if cuda:
            torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(steps):
            out = run()
        if cuda:
            torch.cuda.synchronize()
        el = time.perf_counter() - t
        last = out.tolist()
    except Exception as e:  # noqa: BLE001 — one line, not a traceback
        if a.mode == "compile":
            fail(f"torch.compile (mode {a.compile_mode}) failed: {first_line(e)}", 3)
        fail(f"{a.device} {a.mode} step failed: {first_line(e)}", 1)

    if a.check:
        f = first.tolist()
        ok = all(math.isfinite(x) for x in f + last)
        print(f"check: first step loss_q {f[0]:.4f} loss_v {f[1]:.4f} loss_pi {f[2]:.4f}; after {warmup + steps} "
              f"steps loss_q {last[0]:.4f} loss_v {last[1]:.4f} loss_pi {last[2]:.4f}; finite {ok}")
    if cuda:
        print(f"peer torch: {torch.cuda.get_device_name()}, precision {a.precision}, max memory allocated "
              f"{torch.cuda.max_memory_allocated() / 2**20:.1f} MiB")
    else:
        print(f"peer torch: CPU, {a.threads} threads")
    print(f"peer torch {torch.__version__} {a.device} {a.mode} B={B} rho={rho:g}: {steps / el:.1f} steps/s "
          f"({steps} steps in {el:.3f} s)")


if __name__ == "__main__":
    main()
