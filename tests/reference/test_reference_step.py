#!/usr/bin/env python3
"""Compare the C trainer's IQL steps with the independent NumPy float64 reference (iql_ref.py).

Two parts, the first always run first:
  1. self-test of the reference itself (needs no trainer): finite-difference checks of every
     analytic gradient, AdamW against closed forms, the cosine schedule against PyTorch's
     recursive rule, and the step's bookkeeping (targets, Q-hat choice, sequential batches);
  2. for several configurations: write a dataset and an initial checkpoint, run
     `$CUIQL_BIN train --init-from ... --set sampling=sequential ...` for a few steps, and compare
     every tensor of RUNDIR/checkpoint.h5 with the reference run from the same weights:
     ||c - ref|| / ||ref|| <= 1e-5 per tensor.

Usage: test_reference_step.py [--self-test]   (--self-test: part 1 only)
Exit status 0 when every check passes, 1 otherwise; the last line is
"reference: N passed, M failed". Set CUIQL_KEEP_TMP=1 to keep the run folders.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iql_ref as R          # noqa: E402
from ref_common import (Tally, attr_str, cuiql_bin, make_dataset, read_attrs, read_tensors,  # noqa: E402
                        rel_err, run_train, write_checkpoint, write_dataset)

TOL_C = 1e-5     # C (float32 checkpoint) vs float64 reference, per tensor
TOL_FD = 1e-6    # analytic vs central-difference gradients, per tensor


# =============================================================================================
# Part 1: self-test of the reference
# =============================================================================================
def random_batch(rng, n, S, A) -> R.Batch:
    return R.Batch(s=rng.standard_normal((n, S)), a=rng.uniform(-0.95, 0.95, (n, A)),
                   r=rng.standard_normal(n), s2=rng.standard_normal((n, S)),
                   d=(rng.random(n) < 0.2).astype(np.float64))


def perturbed_targets(rng, params, scale=0.05):
    t = R.targets_from_critics(params)
    return {k: v + scale * rng.standard_normal(v.shape) for k, v in t.items()}


def relu_patterns(fn):
    """Run fn() and return its loss with every ReLU pattern it went through."""
    R.RELU_PATTERN_LOG = []
    try:
        loss = fn()
        pats = R.RELU_PATTERN_LOG
    finally:
        R.RELU_PATTERN_LOG = None
    return loss, pats


def same_patterns(p, q):
    return len(p) == len(q) and all(np.array_equal(x, y) for x, y in zip(p, q))


def fd_gradient(params, key, loss_of):
    """Central differences of loss_of(params) w.r.t. every element of params[key]. Where a
    perturbation would cross a ReLU kink the step is shrunk until neither side does (a central
    difference across a kink measures neither one-sided slope)."""
    base = params[key]
    g = np.zeros_like(base)
    _, pat0 = relu_patterns(lambda: loss_of(params))
    for idx in np.ndindex(base.shape):
        orig = base[idx]
        for h in (1e-6, 1e-7, 1e-8, 1e-9):
            base[idx] = orig + h
            lp, pp = relu_patterns(lambda: loss_of(params))
            base[idx] = orig - h
            lm, pm = relu_patterns(lambda: loss_of(params))
            base[idx] = orig
            if same_patterns(pp, pat0) and same_patterns(pm, pat0):
                break
        g[idx] = (lp - lm) / (2.0 * h)
    return g


def selftest_gradients(t: Tally):
    rng = np.random.default_rng(20240601)
    S, A, B, hidden = 5, 3, 24, (16, 12)
    base = R.IQLConfig(hidden=hidden, batch_size=B)
    variants = [
        ("gaussian td rho=1 q_loss=mean", base, None),
        ("gaussian q rho=0.5 q_loss=sum beta=3", base.with_(value_target="q", target_update_rate=0.5,
                                                             q_loss="sum", beta=3.0), None),
        ("deterministic td max_action=1.5", base.with_(policy="deterministic", max_action=1.5), None),
        # log_std outside [min, max] in dims 0 and 2 (no gradient there), inside in dim 1;
        # a small adv_clip so that some weights are clipped.
        ("gaussian clamp-active max_action=2 adv_clip=median weight",
         base.with_(max_action=2.0, log_std_min=-1.0, log_std_max=0.5, beta=3.0),
         np.array([-2.0, 0.2, 1.0])),
    ]
    losses = [("L_V", R.value_loss, ("value/",)), ("L_Q", R.q_loss, ("q1/", "q2/")),
              ("L_pi", R.policy_loss, ("policy/",))]
    for vname, cfg, log_std in variants:
        params = R.init_params(rng, S, A, hidden, cfg.policy)
        params["policy/log_std"] = (rng.uniform(-0.8, 0.3, A) if log_std is None else log_std.copy())
        if cfg.policy == "deterministic":
            params["policy/log_std"] = np.zeros(A)
        targets = perturbed_targets(rng, params)
        b = random_batch(rng, B, S, A)
        c = R.step_constants(params, targets, b, cfg)
        if "adv_clip" in vname:
            # put the clip at the median weight, so that about half of the samples are clipped
            cfg = cfg.with_(adv_clip=float(np.median(c.w)))
            c = R.step_constants(params, targets, b, cfg)
            t.check(bool(np.any(c.w >= cfg.adv_clip)) and bool(np.any(c.w < cfg.adv_clip)),
                    f"self-test [{vname}] weight clip is active for some samples only",
                    f"clipped fraction {np.mean(c.w >= cfg.adv_clip):.2f}")
        for lname, fn, prefixes in losses:
            _, g = fn(params, b, c, cfg)
            own = sorted(k for k in params if k.startswith(prefixes))
            t.check(sorted(g) == own, f"self-test [{vname}] {lname} gives a gradient for exactly its own tensors",
                    "" if sorted(g) == own else f"got {sorted(g)}")
            for key in own:
                fd = fd_gradient(params, key, lambda p: fn(p, b, c, cfg, need_grad=False)[0])
                err = rel_err(g[key], fd) if np.linalg.norm(fd) > 0 else float(np.linalg.norm(g[key]))
                t.check(err < TOL_FD, f"self-test [{vname}] d{lname}/d{key}",
                        f"rel err {err:.2e} (|g| {np.linalg.norm(fd):.3e})")
        if log_std is not None:
            _, g = R.policy_loss(params, b, c, cfg)
            gl = g["policy/log_std"]
            t.check(gl[0] == 0.0 and gl[2] == 0.0 and gl[1] != 0.0,
                    f"self-test [{vname}] clamp passes the log_std gradient only inside [min, max]", f"{gl}")


def selftest_forward(t: Tally):
    """The vectorised forward passes against plain per-sample loops, and the step constants
    against a sample-by-sample reading of docs/algorithm.md."""
    rng = np.random.default_rng(7)
    S, A, B = 4, 2, 6
    cfg = R.IQLConfig(hidden=(5, 3), max_action=1.7, log_std_min=-1.0, log_std_max=0.5)
    p = R.init_params(rng, S, A, cfg.hidden)
    p["policy/log_std"] = np.array([-1.5, 0.1])
    b = random_batch(rng, B, S, A)

    def loop_mlp(net, x):
        h = list(x)
        L = R.n_layers(p, net)
        for i in range(L):
            W, bb = p[f"{net}/layer{i}/weight"], p[f"{net}/layer{i}/bias"]
            z = [sum(W[o, j] * h[j] for j in range(len(h))) + bb[o] for o in range(W.shape[0])]
            h = [max(zz, 0.0) for zz in z] if i < L - 1 else z
        return h

    worst = 0.0
    for i in range(B):
        q1 = loop_mlp("q1", list(b.s[i]) + list(b.a[i]))[0]
        v = loop_mlp("value", b.s[i])[0]
        mu = [cfg.max_action * math.tanh(z) for z in loop_mlp("policy", b.s[i])]
        worst = max(worst, abs(q1 - R.critic_forward(p, "q1", b.s[:, :], b.a)[0][i]),
                    abs(v - R.value_forward(p, b.s)[0][i]),
                    max(abs(mu[j] - R.policy_mean(p, b.s, cfg.max_action)[0][i, j]) for j in range(A)))
    t.check(worst < 1e-12, "self-test forward passes match per-sample loops", f"max diff {worst:.1e}")

    # log pi against the textbook density, sigma from the clamped log_std
    c = R.StepConstants(y=None, v_goal=None, adv=None, w=np.ones(B))
    loss, _ = R.policy_loss(p, b, c, cfg, need_grad=False)
    mu = R.policy_mean(p, b.s, cfg.max_action)[0]
    sig = [math.exp(min(max(x, cfg.log_std_min), cfg.log_std_max)) for x in p["policy/log_std"]]
    logp = [sum(math.log(math.exp(-0.5 * ((b.a[i, j] - mu[i, j]) / sig[j]) ** 2) / (sig[j] * math.sqrt(2 * math.pi)))
                for j in range(A)) for i in range(B)]
    t.check(abs(loss - (-np.mean(logp))) < 1e-12, "self-test Gaussian log-density matches the textbook formula")

    # loss values, sample by sample from docs/algorithm.md's formulas (the finite differences only show that
    # gradients match the losses; this shows that the losses are the specified ones)
    goal = rng.standard_normal(B)
    y = rng.standard_normal(B)
    w = rng.uniform(0.1, 3.0, B)
    c = R.StepConstants(y=y, v_goal=goal, adv=None, w=w)
    for tau in (0.7, 0.9):
        lv = R.value_loss(p, b, c, cfg.with_(tau=tau), need_grad=False)[0]
        terms = []
        for i in range(B):
            u = goal[i] - loop_mlp("value", b.s[i])[0]
            terms.append(abs(tau - (1.0 if u < 0 else 0.0)) * u * u)
        t.check(abs(lv - sum(terms) / B) < 1e-12, f"self-test L_V = mean(|tau - 1[u<0]| u^2) (tau={tau})")
    mse = [sum((loop_mlp(net, list(b.s[i]) + list(b.a[i]))[0] - y[i]) ** 2 for i in range(B)) / B for net in ("q1", "q2")]
    lq_mean = R.q_loss(p, b, c, cfg.with_(q_loss="mean"), need_grad=False)[0]
    lq_sum = R.q_loss(p, b, c, cfg.with_(q_loss="sum"), need_grad=False)[0]
    t.check(abs(lq_mean - 0.5 * (mse[0] + mse[1])) < 1e-12 and abs(lq_sum - (mse[0] + mse[1])) < 1e-12,
            "self-test L_Q = 1/2 (MSE1 + MSE2) (mean) and MSE1 + MSE2 (sum)")
    ld = R.policy_loss(p, b, c, cfg.with_(policy="deterministic"), need_grad=False)[0]
    mu = R.policy_mean(p, b.s, cfg.max_action)[0]
    want = sum(w[i] * sum((mu[i, j] - b.a[i, j]) ** 2 for j in range(A)) for i in range(B)) / B
    t.check(abs(ld - want) < 1e-12, "self-test deterministic L_pi = mean(w ||pi(s) - a||^2)")
    lg = R.policy_loss(p, b, c, cfg, need_grad=False)[0]
    want = -sum(w[i] * logp[i] for i in range(B)) / B
    t.check(abs(lg - want) < 1e-12, "self-test Gaussian L_pi = -mean(w log pi(a|s))")

    # step constants, sample by sample
    targets = perturbed_targets(rng, p, 0.3)
    tq = R.as_critic_params(targets)
    for rho, vt in ((1.0, "td"), (0.005, "q")):
        cfg2 = cfg.with_(target_update_rate=rho, value_target=vt, beta=2.5, adv_clip=3.0)
        c = R.step_constants(p, targets, b, cfg2)
        ok = True
        for i in range(B):
            v = loop_mlp("value", b.s[i])[0]
            y = b.r[i] + cfg2.discount * (1 - b.d[i]) * loop_mlp("value", b.s2[i])[0]
            x = list(b.s[i]) + list(b.a[i])
            qbar = min(R.mlp_forward(tq, "q1", np.array([x]))[0][0, 0], R.mlp_forward(tq, "q2", np.array([x]))[0][0, 0])
            qon = min(loop_mlp("q1", x)[0], loop_mlp("q2", x)[0])
            qhat = qbar if rho < 1 else qon
            adv = qhat - v
            w = min(math.exp(cfg2.beta * adv), cfg2.adv_clip)
            goal = y if vt == "td" else qbar
            ok &= all(abs(e) < 1e-12 for e in (c.y[i] - y, c.v_goal[i] - goal, c.adv[i] - adv, c.w[i] - w))
        t.check(ok, f"self-test step constants (rho={rho}, value_target={vt}) match docs/algorithm.md sample by sample")


def selftest_optimiser(t: Tally):
    cfg = R.IQLConfig()
    # Constant gradient g: m_t/bc1 = g and sqrt(v_t/bc2) = |g| exactly, so each step moves by
    # lr g/(|g| + eps) after the decay p *= (1 - lr wd): a geometric series in closed form.
    g = np.array([0.3, -2.0, 1e-3, 0.0])
    p0 = np.array([1.0, -0.5, 0.25, 2.0])
    for wd in (0.0, 0.01):
        lr, n = 1e-2, 25
        opt = R.AdamW(["x"], cfg)
        p = {"x": p0.copy()}
        for _ in range(n):
            opt.step(p, {"x": g}, lr, wd)
        s = lr * g / (np.abs(g) + cfg.adam_eps)
        cdec = 1.0 - lr * wd
        closed = p0 * cdec ** n - s * (n if wd == 0 else (1 - cdec ** n) / (1 - cdec))
        err = float(np.max(np.abs(p["x"] - closed)))
        t.check(err < 1e-13, f"self-test AdamW constant-gradient closed form (wd={wd})", f"max diff {err:.1e}")

    # Two steps with different gradients, unrolled by hand from torch.optim.AdamW's update rule.
    g1, g2, x0, lr, wd = 0.7, -0.2, 0.5, 3e-3, 0.1
    opt = R.AdamW(["x"], cfg)
    p = {"x": np.array([x0])}
    opt.step(p, {"x": np.array([g1])}, lr, wd)
    opt.step(p, {"x": np.array([g2])}, lr, wd)
    m1, v1 = 0.1 * g1, 0.001 * g1 * g1
    x1 = x0 * (1 - lr * wd) - (lr / 0.1) * m1 / (math.sqrt(v1) / math.sqrt(0.001) + 1e-8)
    m2, v2 = 0.9 * m1 + 0.1 * g2, 0.999 * v1 + 0.001 * g2 * g2
    x2 = x1 * (1 - lr * wd) - (lr / (1 - 0.9 ** 2)) * m2 / (math.sqrt(v2) / math.sqrt(1 - 0.999 ** 2) + 1e-8)
    t.check(abs(p["x"][0] - x2) < 1e-15 and abs(opt.m["x"][0] - m2) < 1e-15 and abs(opt.v["x"][0] - v2) < 1e-18,
            "self-test AdamW two steps match the hand-unrolled update", f"{float(p['x'][0])!r} vs {x2!r}")

    # Cosine: the closed form against PyTorch's recursive (chainable) CosineAnnealingLR rule.
    lr0, lmin, tmax = 3e-3, 1e-5, 5
    lr, worst = lr0, 0.0
    for e in range(1, tmax + 1):
        if (e - 1 - tmax) % (2 * tmax) == 0:
            lr = lr + (lr0 - lmin) * (1 - math.cos(math.pi / tmax)) / 2
        else:
            lr = (1 + math.cos(math.pi * e / tmax)) / (1 + math.cos(math.pi * (e - 1) / tmax)) * (lr - lmin) + lmin
        worst = max(worst, abs(lr - R.cosine_lr(lr0, lmin, e, tmax)))
    t.check(worst < 1e-15 and abs(R.cosine_lr(lr0, lmin, tmax, tmax) - lmin) < 1e-18,
            "self-test cosine closed form matches PyTorch's recursive rule", f"max diff {worst:.1e}")

    # Steps -> epochs, groups, lr_t_max = 0, constant.
    c = R.IQLConfig(lr_policy=1e-3, lr_value=2e-3, lr_q=3e-3, lr_min=1e-5, lr_schedule="cosine",
                    lr_schedule_groups=("policy", "q"), lr_t_max=5, steps_per_epoch=2)
    got = [R.group_lr(c, "policy", k, 12) for k in range(12)]
    want = [R.cosine_lr(1e-3, 1e-5, k // 2, 5) for k in range(12)]
    ok = got == want and got[0] == 1e-3 and got[1] == 1e-3 and got[2] < 1e-3 and abs(got[10] - 1e-5) < 1e-18
    ok &= all(R.group_lr(c, "value", k, 12) == 2e-3 for k in range(12))
    c0 = c.with_(lr_t_max=0, steps_per_epoch=1)
    ok &= abs(R.group_lr(c0, "q", 12, 12) - 1e-5) < 1e-18 and abs(R.group_lr(c0, "q", 6, 12) - (1e-5 + (3e-3 - 1e-5) / 2)) < 1e-15
    ok &= all(R.group_lr(c.with_(lr_schedule="constant"), g, 7, 12) == getattr(c, R.GROUP_LR[g]) for g in R.GROUP_LR)
    t.check(ok, "self-test schedule: epochs = floor(step/steps_per_epoch), listed groups only, lr_t_max=0 = whole run")

    # Large batches: LB-SAC's own numbers (docs/algorithm.md): 3e-4 at 256, sqrt to 10,000.
    lb = R.IQLConfig(lr_q=3e-4, lr_schedule="constant", batch_size=10000, lr_scaling="sqrt")
    ok = abs(R.group_lr(lb, "q", 0, 10) - 1.875e-3) < 1e-15
    ok &= abs(R.group_lr(lb.with_(lr_scaling="linear"), "q", 0, 10) - 3e-4 * 10000 / 256) < 1e-15
    ok &= R.group_lr(lb.with_(lr_scaling="none"), "q", 0, 10) == 3e-4
    w = lb.with_(lr_scaling="none", lr_warmup_steps=4)
    ok &= [R.group_lr(w, "q", k, 10) for k in range(6)] == [3e-4 * f for f in (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)]
    t.check(ok, "self-test large-batch rules: sqrt 256 -> 10,000 gives 3e-4 -> 1.875e-3; linear; warm-up (k+1)/W")


def selftest_step(t: Tally):
    rng = np.random.default_rng(99)
    S, A, n = 3, 2, 10
    rows = R.sequential_rows(4, 64, 300)
    t.check(list(rows) == list(range(256, 300)) + list(range(0, 20)), "self-test sequential batch 4 of 64 wraps at N=300")
    for rho in (1.0, 0.25):
        cfg = R.IQLConfig(hidden=(4,), batch_size=n, target_update_rate=rho, lr_policy=1e-2, lr_value=1e-2, lr_q=1e-2)
        p = R.init_params(rng, S, A, cfg.hidden)
        targ = perturbed_targets(rng, p)
        tr = R.Trainer(params={k: v.copy() for k, v in p.items()}, targets={k: v.copy() for k, v in targ.items()},
                       cfg=cfg, total_steps=1)
        tr.train_step(random_batch(rng, n, S, A))
        ok = True
        for k, v in tr.targets.items():
            new = tr.params[k.replace("_target/", "/", 1)]
            ok &= np.allclose(v, (1 - rho) * targ[k] + rho * new, rtol=0, atol=1e-15)
        moved = all(not np.array_equal(tr.params[k], p[k]) for k in p if k != "policy/log_std")
        t.check(ok and moved, f"self-test target update after the optimisers (rho={rho})")


def run_selftest(t: Tally):
    print("== part 1: self-test of the NumPy reference ==", flush=True)
    selftest_forward(t)
    selftest_optimiser(t)
    selftest_step(t)
    selftest_gradients(t)


# =============================================================================================
# Part 2: the C trainer against the reference
# =============================================================================================
N, S, A, STEPS = 300, 5, 3, 12

# The values every case sets explicitly (the reference depends on all of them).
BASE = R.IQLConfig(discount=0.97, tau=0.7, beta=2.0, adv_clip=100.0, value_target="td",
                   target_update_rate=1.0, q_loss="mean", policy="gaussian", hidden=(16, 12),
                   max_action=1.0, log_std_min=-20.0, log_std_max=2.0, lr_policy=1e-4, lr_value=1e-3,
                   lr_q=1e-3, lr_min=0.0, weight_decay=0.0, lr_schedule="cosine",
                   lr_schedule_groups=("policy", "value", "q"), lr_t_max=100, steps_per_epoch=1000,
                   batch_size=64)

# name, config, init options: log_std (None = small random), write_targets (distinct target
# critics in the init file; otherwise absent, which means copies of the critics)
CASES = [
    ("seed td rho=1", BASE, {}),
    ("paper q rho=0.005 cosine policy-only over the whole run",
     BASE.with_(value_target="q", target_update_rate=0.005, discount=0.99, beta=3.0, lr_policy=3e-4,
                lr_value=3e-4, lr_q=3e-4, lr_schedule_groups=("policy",), lr_t_max=0, steps_per_epoch=1),
     {"write_targets": True}),
    ("q rho=0.5 q_loss=sum constant lr",
     BASE.with_(value_target="q", target_update_rate=0.5, q_loss="sum", lr_schedule="constant",
                lr_policy=1e-3), {}),
    # The init file carries target critics that differ from the online ones: with rho = 1 there
    # is no target network, so Q-hat must be the online critics and the targets end as copies.
    ("deterministic policy, rho=1 with distinct init targets",
     BASE.with_(policy="deterministic", lr_policy=1e-3), {"write_targets": True}),
    ("weight_decay 0.01 cosine T_max=5 epochs of 2 steps hidden [32,32]",
     BASE.with_(weight_decay=0.01, lr_t_max=5, steps_per_epoch=2, lr_min=1e-5, hidden=(32, 32),
                lr_policy=3e-3, lr_value=3e-3, lr_q=3e-3), {}),
    # Large-batch rules: sqrt scaling from a base batch of 16 (x2 at batch 64) on a cosine
    # schedule with a floor, and a 5-step warm-up inside the 12 steps.
    ("lr_scaling sqrt base 16, warm-up 5 steps, cosine T_max=5 epochs of 2 steps, lr_min",
     BASE.with_(lr_scaling="sqrt", lr_base_batch=16, lr_warmup_steps=5, lr_t_max=5, steps_per_epoch=2,
                lr_min=1e-5, lr_policy=1e-3), {}),
    ("lr_scaling linear base 128, warm-up 20 steps (longer than the run), constant",
     BASE.with_(lr_scaling="linear", lr_base_batch=128, lr_warmup_steps=20, lr_schedule="constant"), {}),
    ("max_action 2, log_std clamp active, beta 10, adv_clip 1",
     BASE.with_(max_action=2.0, log_std_min=-1.0, log_std_max=0.5, beta=10.0, adv_clip=1.0, lr_policy=1e-3),
     {"log_std": np.array([-2.0, 0.2, 1.0])}),
]


def config_sets(cfg: R.IQLConfig) -> dict:
    """--set keys for the trainer: every key the reference depends on, plus the run's plumbing."""
    keys = ["discount", "tau", "beta", "adv_clip", "value_target", "target_update_rate", "q_loss",
            "policy", "hidden", "max_action", "log_std_min", "log_std_max", "lr_policy", "lr_value",
            "lr_q", "lr_min", "weight_decay", "lr_schedule", "lr_schedule_groups", "lr_t_max",
            "steps_per_epoch", "batch_size", "lr_scaling", "lr_base_batch", "lr_warmup_steps"]
    sets = {k: getattr(cfg, k) for k in keys}
    sets.update({"sampling": "sequential", "seed": 0, "log_every": 1, "checkpoint_every": STEPS})
    return sets


def case_init(rng, cfg: R.IQLConfig, opts: dict):
    p = R.init_params(rng, S, A, cfg.hidden, cfg.policy)
    if cfg.policy == "deterministic":
        p["policy/log_std"] = np.zeros(A)
    elif opts.get("log_std") is not None:
        p["policy/log_std"] = opts["log_std"].astype(np.float64)
    else:
        p["policy/log_std"] = rng.uniform(-0.5, 0.2, A)
    targets = perturbed_targets(rng, p, 0.05) if opts.get("write_targets") else None
    return p, targets


def compare_case(t: Tally, name: str, cfg: R.IQLConfig, opts: dict, binary, why_missing, rng, tmp, data, data_path):
    case_dir = os.path.join(tmp, "case_" + "".join(ch if ch.isalnum() else "_" for ch in name)[:40])
    os.makedirs(case_dir)
    p0, t0 = case_init(rng, cfg, opts)
    init_path = os.path.join(case_dir, "init.h5")
    write_checkpoint(init_path, p0, S, A, cfg.hidden, cfg.policy, cfg.max_action, t0)

    # The reference starts from exactly what the trainer reads: the float32 file contents.
    init = read_tensors(init_path)
    params = {k: v for k, v in init.items() if not k.startswith(("q1_target/", "q2_target/", "normalization/"))}
    targets = {k: v for k, v in init.items() if k.startswith(("q1_target/", "q2_target/"))} or R.targets_from_critics(params)
    ds = R.Dataset(obs=data["observations"].astype(np.float64), act=data["actions"].astype(np.float64),
                   rew=data["rewards"].astype(np.float64), next_obs=data["next_observations"].astype(np.float64),
                   term=data["terminals"].astype(np.float64))
    ref = R.train_sequential(params, targets, ds, cfg, STEPS)
    h = ref.history
    print(f"  reference: loss/value {h[0]['loss/value']:.4f} -> {h[-1]['loss/value']:.4f}, "
          f"loss/q {h[0]['loss/q']:.4f} -> {h[-1]['loss/q']:.4f}, loss/policy {h[0]['loss/policy']:.4f} -> "
          f"{h[-1]['loss/policy']:.4f}, clipped fraction up to {max(r['weight/clipped_fraction'] for r in h):.2f}, "
          f"lr/policy {h[0]['lr/policy']:.3g} -> {h[-1]['lr/policy']:.3g}", flush=True)

    what = f"[{name}]"
    if cfg.adv_clip < 100.0:
        # coverage of the case itself: the clip must bind for some samples, not for all
        frac = [r["weight/clipped_fraction"] for r in h]
        t.check(0.0 < np.mean(frac) < 1.0, f"{what} reference: the weight clip binds for part of the batch",
                f"clipped fraction per step {min(frac):.2f}..{max(frac):.2f}")
    if binary is None:
        t.check(False, f"{what} trainer run", why_missing)
        return
    out = os.path.join(case_dir, "run")
    ok, msg = run_train(binary, data_path, out, STEPS, config_sets(cfg), init_from=init_path)
    if not t.check(ok, f"{what} trainer run", msg):
        return
    ck = os.path.join(out, "checkpoint.h5")
    if not t.check(os.path.isfile(ck), f"{what} {ck} written"):
        return
    got = read_tensors(ck)
    attrs = read_attrs(ck)

    # Attributes and preprocessing: the reference assumes identity state normalisation and no
    # reward transform; say so plainly if the trainer did otherwise.
    problems = []
    if int(np.asarray(attrs.get("step", -1))) != STEPS:
        problems.append(f"step={attrs.get('step')} (want {STEPS})")
    if attr_str(attrs.get("policy", "")) != cfg.policy:
        problems.append(f"policy={attr_str(attrs.get('policy', ''))!r}")
    if list(np.atleast_1d(attrs.get("hidden", []))) != list(cfg.hidden):
        problems.append(f"hidden={attrs.get('hidden')}")
    for k, want in (("normalization/state_mean", 0.0), ("normalization/state_std", 1.0)):
        if k not in got or np.max(np.abs(got[k] - want)) != 0.0:
            problems.append(f"{k} is not all {want} (states must not be normalised)")
    for k, want in (("reward_scale", 1.0), ("reward_shift", 0.0)):
        if k in attrs and float(np.asarray(attrs[k])) != want:
            problems.append(f"{k}={attrs[k]} (want {want}: no reward transform)")
    t.check(not problems, f"{what} checkpoint attributes and preprocessing", "; ".join(problems))

    # Every tensor: online networks, log_std, target critics.
    want = {**ref.params, **ref.targets}
    lines, bad = [], []
    for k in sorted(want):
        if k not in got:
            bad.append(k)
            lines.append(f"    {k:36s} MISSING")
            continue
        if got[k].shape != want[k].shape:
            bad.append(k)
            lines.append(f"    {k:36s} shape {got[k].shape} != {want[k].shape}")
            continue
        e = rel_err(got[k], want[k])
        start = init.get(k, init.get(k.replace("_target/", "/", 1)))
        moved = float(np.linalg.norm(want[k] - start)) if start is not None else float("nan")
        frac = float(np.linalg.norm(got[k] - want[k])) / moved if moved > 0 else 0.0
        if not e <= TOL_C:
            bad.append(k)
        lines.append(f"    {k:36s} rel err {e:.2e}   (error/movement {frac:.1e})  {'ok' if e <= TOL_C else 'TOO LARGE'}")
    print("\n".join(lines))
    t.check(not bad, f"{what} all {len(want)} tensors within {TOL_C:g} of the reference",
            ("bad: " + ", ".join(bad)) if bad else "")

    # AdamW moments, when the checkpoint carries them: they catch a wrongly scaled gradient that
    # Adam's normalisation would hide in the weights (e.g. a missing 1/2 or 1/B).
    if not any(k.startswith("optimizer/") for k in got):
        print(f"  NOTE {what} no /optimizer tensors in the checkpoint: AdamW moments not compared")
        return
    mom = ref.optimizer_moments()
    lines, bad = [], []
    for k in sorted(mom):
        if k not in got or got[k].shape != mom[k].shape:
            bad.append(k)
            lines.append(f"    {k:52s} {'MISSING' if k not in got else 'wrong shape'}")
            continue
        e = rel_err(got[k], mom[k])
        if not e <= TOL_C:
            bad.append(k)
        lines.append(f"    {k:52s} rel err {e:.2e}  {'ok' if e <= TOL_C else 'TOO LARGE'}")
    print("\n".join(lines))
    t.check(not bad, f"{what} all {len(mom)} AdamW moments within {TOL_C:g} of the reference",
            ("bad: " + ", ".join(bad)) if bad else "")


def run_trainer_cases(t: Tally):
    print("== part 2: the C trainer against the reference ==", flush=True)
    binary, why = cuiql_bin()
    if binary is None:
        print(f"  {why}", flush=True)
    rng = np.random.default_rng(314159)
    tmp = tempfile.mkdtemp(prefix="cuiql-reference-")
    try:
        data = make_dataset(rng, N, S, A)
        data_path = os.path.join(tmp, "data.h5")
        write_dataset(data_path, data)
        for i, (name, cfg, opts) in enumerate(CASES):
            print(f"-- case: {name}", flush=True)
            # one generator per case, so that adding or changing a case leaves the others alone
            compare_case(t, name, cfg, opts, binary, why, np.random.default_rng([314159, i]), tmp, data, data_path)
    finally:
        if os.environ.get("CUIQL_KEEP_TMP"):
            print(f"  kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv) -> int:
    t = Tally("reference")
    run_selftest(t)
    if "--self-test" not in argv:
        run_trainer_cases(t)
    return t.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
