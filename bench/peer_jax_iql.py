"""A peer for bench_step: the same IQL step in JAX + optax, timed on the same shapes (S = 17,
A = 6, hidden 256x256, a random dataset of N = 200000 rows held on the device, next state =
row + 1). Written for this comparison (not taken from any JAX IQL implementation): twin critics
Q1, Q2 (s, a -> 256 -> 256 -> 1), V (s -> 256 -> 256 -> 1), a Gaussian policy (s -> 256 -> 256 -> A,
tanh mean, one learned log σ per action clamped to [-20, 2]), expectile τ 0.7, β 3, weights
exp(β (min Q - V)) clipped at 100, γ 0.99, V's target r + γ V(s') as the torch peer's, three Adam
optimisers, all losses at the pre-step parameters, optional target critics (--rho R < 1: used
for the advantage's min Q, moved by Polyak averaging after each step; --rho 1: none).

    python3 bench/peer_jax_iql.py [--backend gpu] [--batch 256] [--steps 2000] [--scan 1] [--rho 1]

The whole step (sampling with jax.random.randint on the device, forward, backward, three Adam
updates, Polyak) is one jax.jit with the state donated; --scan K runs K steps in one jitted
jax.lax.scan per call, and steps/s counts every step. --backend cpu|gpu: run on that backend
or fail (jax falls back to the CPU quietly when its CUDA plugin does not load: on the GPU
machine pass --backend gpu). --precision fp32 (the default, as bench_step's) asks XLA for
full-float32 matmuls; tf32 allows TF32. --check prints the losses of the first and last
steps. The last line is
    peer jax <version> <backend> scan=<K> B=<B> rho=<rho>: <x> steps/s (<n> steps in <t> s)

To try it on a CPU: python3 -m venv /tmp/jaxenv && /tmp/jaxenv/bin/pip install jax optax numpy"""
import argparse
import math
import sys
import time
import warnings

import numpy as np

S, A, N = 17, 6, 200000
GAMMA, TAU, BETA, LR = 0.99, 0.7, 3.0, 3e-4
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def fail(msg, code=1):
    print(f"peer jax: {msg}", file=sys.stderr)
    sys.exit(code)


def first_line(e):
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:300] if text else ''}"


def main():
    ap = argparse.ArgumentParser(description="JAX IQL step, a speed peer for bench_step")
    ap.add_argument("--backend", default=None, help="cpu or gpu (default: jax's choice)")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=0, help="timed steps (default 300 on cpu, 2000 otherwise)")
    ap.add_argument("--scan", type=int, default=1, help="steps per jitted call (lax.scan)")
    ap.add_argument("--rho", type=float, default=1.0, help="Polyak rate of the target critics; 1: none")
    ap.add_argument("--precision", choices=["fp32", "tf32"], default="fp32", help="matmul precision")
    ap.add_argument("--check", action="store_true", help="print the losses of the first and last steps")
    a = ap.parse_args()
    if not 0 < a.rho <= 1 or a.batch < 1 or a.steps < 0 or a.scan < 1:
        fail("need 0 < --rho <= 1, --batch >= 1, --steps >= 0, --scan >= 1", 2)
    try:
        import jax
        import jax.numpy as jnp
        import optax
        if a.backend == "cpu":
            jax.config.update("jax_platforms", "cpu")
        jax.config.update("jax_default_matmul_precision", "float32" if a.precision == "fp32" else "tensorfloat32")
        device = jax.devices()[0]
        backend = jax.default_backend()
    except Exception as e:  # noqa: BLE001 — one line, not a traceback
        fail(f"jax is not usable: {first_line(e)}")
    if a.backend and backend != {"cuda": "gpu"}.get(a.backend, a.backend):  # jax falls back to the CPU quietly
        fail(f"jax {jax.__version__} runs on {backend} ({device.device_kind}), not {a.backend}")
    warnings.filterwarnings("ignore", message="Some donated buffers were not usable")
    tree_map, stop = jax.tree_util.tree_map, jax.lax.stop_gradient
    B, K, rho, targets = a.batch, a.scan, a.rho, a.rho < 1

    def init_mlp(key, sizes):  # PyTorch's nn.Linear initialisation: U(±1/√fan_in); weights [in, out]
        layers = []
        for k, n_in, n_out in zip(jax.random.split(key, len(sizes) - 1), sizes[:-1], sizes[1:]):
            kw, kb, bound = *jax.random.split(k), 1 / math.sqrt(n_in)
            layers.append((jax.random.uniform(kw, (n_in, n_out), jnp.float32, -bound, bound),
                           jax.random.uniform(kb, (n_out,), jnp.float32, -bound, bound)))
        return layers

    def mlp(layers, x):
        for w, b in layers[:-1]:
            x = jax.nn.relu(x @ w + b)
        w, b = layers[-1]
        return (x @ w + b)

    def losses(nets, tq, batch):  # every loss at the pre-step parameters; targets are constants
        s, s2, act, r, d = batch
        sa = jnp.concatenate([s, act], 1)
        q1, q2 = mlp(nets["q"][0], sa)[:, 0], mlp(nets["q"][1], sa)[:, 0]
        y = stop(r + GAMMA * (1 - d) * mlp(nets["v"], s2)[:, 0])
        q_min = stop(jnp.minimum(mlp(tq[0], sa), mlp(tq[1], sa))[:, 0] if targets else jnp.minimum(q1, q2))
        vs = mlp(nets["v"], s)[:, 0]
        u = y - vs
        loss_v = jnp.mean(jnp.abs(TAU - (u < 0).astype(jnp.float32)) * u ** 2)
        loss_q = 0.5 * (jnp.mean((q1 - y) ** 2) + jnp.mean((q2 - y) ** 2))
        w = jnp.minimum(jnp.exp(BETA * (q_min - stop(vs))), 100.0)
        log_sd = jnp.clip(nets["pi"]["log_std"], -20.0, 2.0)
        z = (act - jnp.tanh(mlp(nets["pi"]["mlp"], s))) * jnp.exp(-log_sd)
        loss_pi = -jnp.mean(w * jnp.sum(-0.5 * z ** 2 - log_sd - HALF_LOG_2PI, -1))
        return loss_q + loss_v + loss_pi, jnp.stack([loss_q, loss_v, loss_pi])

    opt = optax.adam(LR)  # one transformation, three optimisers (one state per network)

    def step(state, data):
        key, sub = jax.random.split(state["key"])
        idx = jax.random.randint(sub, (B,), 0, N)
        batch = (data["states"][idx], data["states"][idx + 1], data["actions"][idx], data["rewards"][idx],
                 data["terminals"][idx])
        grads, out = jax.grad(losses, has_aux=True)(state["nets"], state.get("tq"), batch)
        nets, opt_state = {}, {}
        for name in ("q", "v", "pi"):
            updates, opt_state[name] = opt.update(grads[name], state["opt"][name], state["nets"][name])
            nets[name] = optax.apply_updates(state["nets"][name], updates)
        new = {"key": key, "nets": nets, "opt": opt_state}
        if targets:  # Q̄ ← (1 − ρ) Q̄ + ρ Q, after the step
            new["tq"] = tree_map(lambda t, p: (1 - rho) * t + rho * p, state["tq"], nets["q"])
        return new, out

    def steps_k(state, data):  # K steps in one call; the losses of every step come back
        if K == 1:
            state, out = step(state, data)
            return state, out[None]
        return jax.lax.scan(lambda st, _: step(st, data), state, None, length=K)

    run = jax.jit(steps_k, donate_argnums=0)
    block = getattr(jax, "block_until_ready", None) or (lambda x: tree_map(lambda y: y.block_until_ready(), x))

    try:
        rng = np.random.default_rng(0)
        data = {"states": rng.standard_normal((N + 1, S), np.float32),
                "actions": rng.uniform(-0.9, 0.9, (N, A)).astype(np.float32),
                "rewards": rng.standard_normal(N, np.float32), "terminals": np.zeros(N, np.float32)}
        data = jax.device_put(data, device)
        key = jax.random.PRNGKey(0) if hasattr(jax.random, "PRNGKey") else jax.random.key(0)
        key, kq1, kq2, kv, kpi = jax.random.split(key, 5)
        nets = {"q": [init_mlp(kq1, [S + A, 256, 256, 1]), init_mlp(kq2, [S + A, 256, 256, 1])],
                "v": init_mlp(kv, [S, 256, 256, 1]),
                "pi": {"mlp": init_mlp(kpi, [S, 256, 256, A]), "log_std": jnp.zeros(A, jnp.float32)}}
        state = {"key": key, "nets": nets, "opt": {n: opt.init(nets[n]) for n in ("q", "v", "pi")}}
        if targets:
            state["tq"] = tree_map(jnp.array, nets["q"])  # a copy, not an alias (the state is donated)
        state = jax.device_put(state, device)

        calls = -(-(a.steps or (300 if backend == "cpu" else 2000)) // K)
        warm_calls = max(3, -(-20 // K))  # the first compiles
        state, out = run(state, data)
        first = np.asarray(out[0])
        for _ in range(warm_calls - 1):
            state, out = run(state, data)
        block(state)
        t = time.perf_counter()
        for _ in range(calls):
            state, out = run(state, data)
        block((state, out))
        el = time.perf_counter() - t
        last = np.asarray(out[-1])
    except Exception as e:  # noqa: BLE001
        fail(f"{backend} step failed: {first_line(e)}")

    n = calls * K
    if a.check:
        ok = bool(np.all(np.isfinite(first)) and np.all(np.isfinite(last)))
        print(f"check: first step loss_q {first[0]:.4f} loss_v {first[1]:.4f} loss_pi {first[2]:.4f}; after "
              f"{(warm_calls + calls) * K} steps loss_q {last[0]:.4f} loss_v {last[1]:.4f} loss_pi {last[2]:.4f}; "
              f"finite {ok}")
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    peak = stats.get("peak_bytes_in_use") if stats else None
    peak = f", peak memory in use {peak / 2**20:.1f} MiB" if peak is not None else ""
    print(f"peer jax: {device.device_kind}, precision {a.precision}{peak}")
    print(f"peer jax {jax.__version__} {backend} scan={K} B={B} rho={rho:g}: {n / el:.1f} steps/s "
          f"({n} steps in {el:.3f} s)")


if __name__ == "__main__":
    main()
