"""Independent NumPy (float64) reference for one IQL gradient step, written from docs/algorithm.md only.

This file deliberately shares no code with the C trainer: it is a second reading of the
specification ("Networks", "One gradient step", "Defaults" in docs/algorithm.md and
docs/checkpoint.md), so that the two can be compared tensor by tensor. Every gradient is derived
by hand (analytic backprop) and checked against central finite differences in the self-test of
test_reference_step.py.

Parameters are kept in one flat dict keyed by the checkpoint's tensor paths
("policy/layer0/weight", "policy/log_std", "value/layer1/bias", "q1/layer2/weight", ...), so
that reading and writing a checkpoint and comparing with the C output are plain dict walks.
Linear layers use PyTorch's nn.Linear convention: weight [out, in], bias [out], y = x W^T + b.

Shapes in comments: B batch, S state dim, A action dim.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Dict, List, Tuple

import numpy as np

Params = Dict[str, np.ndarray]

NETS_CRITIC = ("q1", "q2")
LOG_2PI = math.log(2.0 * math.pi)

# When set to a list, mlp_forward appends every hidden layer's ReLU pattern (z > 0) to it. Only the
# finite-difference self-test uses this: it lets it notice when a perturbation crosses a ReLU kink
# (where a central difference is meaningless) and retry with a smaller step.
RELU_PATTERN_LOG = None


# ---------------------------------------------------------------------------------------------
# Configuration: every knob the step depends on. Field names match the config keys given to the
# C trainer with --set, so a test can pass the same values to both.
# ---------------------------------------------------------------------------------------------
@dataclass
class IQLConfig:
    discount: float = 0.97           # gamma
    tau: float = 0.7                 # expectile
    beta: float = 2.0                # inverse temperature of the advantage weights
    adv_clip: float = 100.0          # w = min(exp(beta * adv), adv_clip)
    value_target: str = "td"         # "td": u = y - v (seed);  "q": u = min(Qbar1, Qbar2) - v (paper)
    target_update_rate: float = 1.0  # rho; 1 = no target network (targets follow the critics)
    q_loss: str = "mean"             # "mean": 1/2 (MSE1 + MSE2);  "sum": MSE1 + MSE2
    policy: str = "gaussian"         # or "deterministic"
    hidden: Tuple[int, ...] = (256, 256)
    max_action: float = 1.0
    log_std_min: float = -20.0
    log_std_max: float = 2.0
    lr_policy: float = 1e-4
    lr_value: float = 1e-3
    lr_q: float = 1e-3
    lr_min: float = 0.0
    weight_decay: float = 0.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_eps: float = 1e-8
    lr_schedule: str = "cosine"      # or "constant"
    lr_schedule_groups: Tuple[str, ...] = ("policy", "value", "q")
    lr_t_max: int = 100              # in epochs; 0 = the whole run
    steps_per_epoch: int = 1000
    batch_size: int = 256
    lr_scaling: str = "none"         # large batches: lrs and lr_min x (batch_size / lr_base_batch)^{0, 1/2, 1}
    lr_base_batch: int = 256
    lr_warmup_steps: int = 0         # update k (0-based) takes (k + 1) / W of its lr while k < W

    def with_(self, **kw) -> "IQLConfig":
        return replace(self, **kw)


# ---------------------------------------------------------------------------------------------
# MLP: forward keeps what backward needs; backward turns dL/d(output) into parameter gradients.
# ---------------------------------------------------------------------------------------------
def n_layers(params: Params, net: str) -> int:
    n = 0
    while f"{net}/layer{n}/weight" in params:
        n += 1
    return n


def mlp_forward(params: Params, net: str, x: np.ndarray):
    """x: (B, in) -> out (B, out) and a cache [(layer input, pre-activation)] for backward.
    Hidden layers use ReLU; the last layer is linear."""
    L = n_layers(params, net)
    cache = []
    h = x
    for i in range(L):
        W = params[f"{net}/layer{i}/weight"]   # (out, in)
        b = params[f"{net}/layer{i}/bias"]     # (out,)
        z = h @ W.T + b
        cache.append((h, z))
        if i < L - 1 and RELU_PATTERN_LOG is not None:
            RELU_PATTERN_LOG.append(z > 0.0)
        h = np.maximum(z, 0.0) if i < L - 1 else z
    return h, cache


def mlp_backward(params: Params, net: str, cache, dout: np.ndarray, grads: Params) -> None:
    """dout: dL/d(output) (B, out). Adds dL/dW, dL/db into grads[...] (created if missing).
    ReLU'(0) = 0, as torch's relu backward (grad * (z > 0))."""
    L = len(cache)
    g = dout
    for i in reversed(range(L)):
        h_in, _ = cache[i]
        W = params[f"{net}/layer{i}/weight"]
        _acc(grads, f"{net}/layer{i}/weight", g.T @ h_in)
        _acc(grads, f"{net}/layer{i}/bias", g.sum(axis=0))
        if i > 0:
            _, z_prev = cache[i - 1]
            g = (g @ W) * (z_prev > 0.0)


def _acc(grads: Params, key: str, g: np.ndarray) -> None:
    if key in grads:
        grads[key] = grads[key] + g
    else:
        grads[key] = g.copy()


def critic_forward(params: Params, net: str, s: np.ndarray, a: np.ndarray):
    """Q(s, a): (B,) and cache. Input is concat(s, a) along features, states first."""
    out, cache = mlp_forward(params, net, np.concatenate([s, a], axis=1))
    return out[:, 0], cache


def value_forward(params: Params, s: np.ndarray):
    out, cache = mlp_forward(params, "value", s)
    return out[:, 0], cache


def policy_mean(params: Params, s: np.ndarray, max_action: float):
    """mean = max_action * tanh(MLP(s)); returns (mean (B, A), tanh(MLP(s)), cache)."""
    z, cache = mlp_forward(params, "policy", s)
    t = np.tanh(z)
    return max_action * t, t, cache


# ---------------------------------------------------------------------------------------------
# Initialisation (PyTorch nn.Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for W and b).
# ---------------------------------------------------------------------------------------------
def init_params(rng: np.random.Generator, obs_dim: int, act_dim: int, hidden, policy="gaussian") -> Params:
    p: Params = {}

    def mlp(net, sizes):
        for i in range(len(sizes) - 1):
            bound = 1.0 / math.sqrt(sizes[i])
            p[f"{net}/layer{i}/weight"] = rng.uniform(-bound, bound, (sizes[i + 1], sizes[i]))
            p[f"{net}/layer{i}/bias"] = rng.uniform(-bound, bound, (sizes[i + 1],))

    hidden = list(hidden)
    mlp("policy", [obs_dim] + hidden + [act_dim])
    mlp("value", [obs_dim] + hidden + [1])
    mlp("q1", [obs_dim + act_dim] + hidden + [1])
    mlp("q2", [obs_dim + act_dim] + hidden + [1])
    p["policy/log_std"] = np.zeros(act_dim)
    return p


def critic_keys(params: Params, net: str) -> List[str]:
    return sorted(k for k in params if k.startswith(net + "/"))


def targets_from_critics(params: Params) -> Params:
    """Target critics as copies of the online ones: {'q1_target/...': ..., 'q2_target/...': ...}."""
    t: Params = {}
    for net in NETS_CRITIC:
        for k in critic_keys(params, net):
            t[net + "_target" + k[len(net):]] = params[k].copy()
    return t


def as_critic_params(targets: Params) -> Params:
    """View target tensors under the online names so the critic forward can evaluate them."""
    return {k.replace("_target/", "/", 1): v for k, v in targets.items()}


# ---------------------------------------------------------------------------------------------
# The step's constants: everything that is a "target" in docs/algorithm.md, computed once at the
# pre-step parameters and then held fixed (no gradient flows into it).
# ---------------------------------------------------------------------------------------------
@dataclass
class Batch:
    s: np.ndarray   # (B, S) normalised states
    a: np.ndarray   # (B, A)
    r: np.ndarray   # (B,)   transformed rewards
    s2: np.ndarray  # (B, S) normalised next states
    d: np.ndarray   # (B,)   1.0 where terminal


@dataclass
class StepConstants:
    y: np.ndarray       # TD target of the critics, r + gamma (1 - d) V(s')
    v_goal: np.ndarray  # what V regresses to: y (td) or min(Qbar1, Qbar2)(s, a) (q); u = v_goal - v
    adv: np.ndarray     # min(Qhat1, Qhat2)(s, a) - V(s)
    w: np.ndarray       # min(exp(beta adv), adv_clip)


def step_constants(params: Params, targets: Params, b: Batch, cfg: IQLConfig) -> StepConstants:
    v, _ = value_forward(params, b.s)
    v2, _ = value_forward(params, b.s2)
    y = b.r + cfg.discount * (1.0 - b.d) * v2
    tq = as_critic_params(targets)
    qbar = np.minimum(critic_forward(tq, "q1", b.s, b.a)[0], critic_forward(tq, "q2", b.s, b.a)[0])
    if cfg.value_target == "td":
        v_goal = y
    elif cfg.value_target == "q":
        v_goal = qbar
    else:
        raise ValueError(f"value_target {cfg.value_target!r}")
    # Q-hat: target critics when a target network is in use (rho < 1), online critics when rho = 1.
    if cfg.target_update_rate < 1.0:
        qhat = qbar
    else:
        qhat = np.minimum(critic_forward(params, "q1", b.s, b.a)[0],
                          critic_forward(params, "q2", b.s, b.a)[0])
    adv = qhat - v
    with np.errstate(over="ignore"):
        w = np.minimum(np.exp(cfg.beta * adv), cfg.adv_clip)
    return StepConstants(y=y, v_goal=v_goal, adv=adv, w=w)


# ---------------------------------------------------------------------------------------------
# The three losses, each returning (loss, grads of its own network's tensors). They take the
# constants as arguments, so a finite-difference check can perturb one network while the
# targets stay fixed, exactly as the step defines them.
# ---------------------------------------------------------------------------------------------
def value_loss(params: Params, b: Batch, c: StepConstants, cfg: IQLConfig, need_grad=True):
    """L_V = mean(|tau - 1[u < 0]| u^2), u = v_goal - V(s)."""
    v, cache = value_forward(params, b.s)
    u = c.v_goal - v
    wt = np.where(u < 0.0, 1.0 - cfg.tau, cfg.tau)   # |tau - 1[u<0]|
    B = u.shape[0]
    loss = float(np.mean(wt * u * u))
    grads: Params = {}
    if need_grad:
        dv = -2.0 * wt * u / B                       # dL/dv (du/dv = -1)
        mlp_backward(params, "value", cache, dv[:, None], grads)
    return loss, grads


def q_loss(params: Params, b: Batch, c: StepConstants, cfg: IQLConfig, need_grad=True):
    """L_Q = 1/2 [mean((Q1 - y)^2) + mean((Q2 - y)^2)]  (q_loss=mean) or the plain sum (q_loss=sum)."""
    scale = {"mean": 0.5, "sum": 1.0}[cfg.q_loss]
    loss = 0.0
    grads: Params = {}
    for net in NETS_CRITIC:
        q, cache = critic_forward(params, net, b.s, b.a)
        e = q - c.y
        B = e.shape[0]
        loss += scale * float(np.mean(e * e))
        if need_grad:
            mlp_backward(params, net, cache, (scale * 2.0 * e / B)[:, None], grads)
    return loss, grads


def policy_loss(params: Params, b: Batch, c: StepConstants, cfg: IQLConfig, need_grad=True):
    """Gaussian:      L_pi = -mean(w * log pi(a|s)), log sigma = clamp(log_std, min, max),
                      log pi = sum_j [ -1/2 ((a_j - mu_j)/sigma_j)^2 - log sigma_j - 1/2 log 2pi ].
       Deterministic: L_pi = mean(w * ||pi(s) - a||^2) (squared norm: sum over action dims)."""
    mu, t, cache = policy_mean(params, b.s, cfg.max_action)
    B = mu.shape[0]
    grads: Params = {}
    if cfg.policy == "gaussian":
        raw = params["policy/log_std"]                      # (A,)
        ls = np.clip(raw, cfg.log_std_min, cfg.log_std_max)
        inv_var = np.exp(-2.0 * ls)
        diff = b.a - mu                                     # (B, A)
        logp = np.sum(-0.5 * diff * diff * inv_var - ls - 0.5 * LOG_2PI, axis=1)
        loss = float(-np.mean(c.w * logp))
        if need_grad:
            wB = (c.w / B)[:, None]
            dmu = -wB * diff * inv_var                      # d(-w logp / B)/d mu
            dls = np.sum(-wB * (diff * diff * inv_var - 1.0), axis=0)
            # torch.clamp passes the gradient where min <= x <= max (bounds inclusive).
            inside = (raw >= cfg.log_std_min) & (raw <= cfg.log_std_max)
            grads["policy/log_std"] = dls * inside
    elif cfg.policy == "deterministic":
        diff = mu - b.a
        loss = float(np.mean(c.w * np.sum(diff * diff, axis=1)))
        if need_grad:
            dmu = 2.0 * (c.w / B)[:, None] * diff
            # log_std is not used by this policy: its gradient is zero (AdamW then leaves it alone
            # apart from weight decay, and it is stored as zeros).
            grads["policy/log_std"] = np.zeros_like(params["policy/log_std"])
    else:
        raise ValueError(f"policy {cfg.policy!r}")
    if need_grad:
        dz = dmu * cfg.max_action * (1.0 - t * t)           # through max_action * tanh(z)
        mlp_backward(params, "policy", cache, dz, grads)
    return loss, grads


# ---------------------------------------------------------------------------------------------
# AdamW (torch.optim.AdamW, amsgrad off, maximize off) and the cosine schedule.
# ---------------------------------------------------------------------------------------------
class AdamW:
    def __init__(self, keys, cfg: IQLConfig):
        self.keys = list(keys)
        self.b1, self.b2, self.eps = cfg.adam_beta1, cfg.adam_beta2, cfg.adam_eps
        self.m: Params = {}
        self.v: Params = {}
        self.t = 0

    def step(self, params: Params, grads: Params, lr: float, weight_decay: float) -> None:
        self.t += 1
        bc1 = 1.0 - self.b1 ** self.t
        bc2 = 1.0 - self.b2 ** self.t
        for k in self.keys:
            g = grads[k]
            m = self.m.get(k, np.zeros_like(g))
            v = self.v.get(k, np.zeros_like(g))
            p = params[k] * (1.0 - lr * weight_decay)   # decoupled decay first, as torch does
            m = self.b1 * m + (1.0 - self.b1) * g
            v = self.b2 * v + (1.0 - self.b2) * g * g
            denom = np.sqrt(v) / math.sqrt(bc2) + self.eps
            params[k] = p - (lr / bc1) * m / denom
            self.m[k], self.v[k] = m, v


def cosine_lr(lr0: float, lr_min: float, t: int, t_max: float) -> float:
    """PyTorch CosineAnnealingLR, closed form: lr_min + (lr0 - lr_min)(1 + cos(pi t / T_max)) / 2."""
    return lr_min + (lr0 - lr_min) * (1.0 + math.cos(math.pi * t / t_max)) / 2.0


GROUP_LR = {"policy": "lr_policy", "value": "lr_value", "q": "lr_q"}


def group_lr(cfg: IQLConfig, group: str, step: int, total_steps: int) -> float:
    """Learning rate of `group` for the update that follows `step` completed updates.
    Epochs completed = floor(step / steps_per_epoch); T_max = lr_t_max epochs, or the whole run
    (total_steps / steps_per_epoch epochs) when lr_t_max is 0."""
    ratio = cfg.batch_size / cfg.lr_base_batch
    scale = {"none": 1.0, "sqrt": math.sqrt(ratio), "linear": ratio}[cfg.lr_scaling]
    lr0 = getattr(cfg, GROUP_LR[group]) * scale
    warm = (step + 1) / cfg.lr_warmup_steps if step < cfg.lr_warmup_steps else 1.0
    if cfg.lr_schedule == "constant" or group not in cfg.lr_schedule_groups:
        return lr0 * warm
    if cfg.lr_schedule != "cosine":
        raise ValueError(f"lr_schedule {cfg.lr_schedule!r}")
    t = step // cfg.steps_per_epoch
    t_max = cfg.lr_t_max if cfg.lr_t_max > 0 else total_steps / cfg.steps_per_epoch
    return cosine_lr(lr0, cfg.lr_min * scale, t, t_max) * warm


# ---------------------------------------------------------------------------------------------
# Data: sequential batches (batch k = rows [kB, (k+1)B) mod N, in dataset order).
# ---------------------------------------------------------------------------------------------
@dataclass
class Dataset:
    obs: np.ndarray       # (N, S)
    act: np.ndarray       # (N, A)
    rew: np.ndarray       # (N,)
    next_obs: np.ndarray  # (N, S)
    term: np.ndarray      # (N,) float 0/1
    state_mean: np.ndarray = None
    state_std: np.ndarray = None
    reward_scale: float = 1.0
    reward_shift: float = 0.0

    def batch(self, rows: np.ndarray) -> Batch:
        mean = np.zeros(self.obs.shape[1]) if self.state_mean is None else self.state_mean
        std = np.ones(self.obs.shape[1]) if self.state_std is None else self.state_std
        return Batch(s=(self.obs[rows] - mean) / std, a=self.act[rows],
                     r=self.rew[rows] * self.reward_scale + self.reward_shift,
                     s2=(self.next_obs[rows] - mean) / std, d=self.term[rows])


def sequential_rows(k: int, batch_size: int, n: int) -> np.ndarray:
    return (np.arange(k * batch_size, (k + 1) * batch_size)) % n


# ---------------------------------------------------------------------------------------------
# Training: the whole run, one step at a time, exactly as docs/algorithm.md "One gradient step".
# ---------------------------------------------------------------------------------------------
@dataclass
class Trainer:
    params: Params
    targets: Params
    cfg: IQLConfig
    total_steps: int
    step: int = 0
    opt: Dict[str, AdamW] = field(default_factory=dict)
    history: List[dict] = field(default_factory=list)

    def __post_init__(self):
        groups = {"policy": [k for k in self.params if k.startswith("policy/")],
                  "value": [k for k in self.params if k.startswith("value/")],
                  "q": [k for k in self.params if k.startswith(("q1/", "q2/"))]}
        self.opt = {g: AdamW(keys, self.cfg) for g, keys in groups.items()}

    def train_step(self, b: Batch) -> dict:
        cfg, P = self.cfg, self.params
        # 1) every loss at the pre-step parameters, targets held constant
        c = step_constants(P, self.targets, b, cfg)
        lv, gv = value_loss(P, b, c, cfg)
        lq, gq = q_loss(P, b, c, cfg)
        lp, gp = policy_loss(P, b, c, cfg)
        # 2) the three optimisers (lr from the number of updates completed before this one)
        lrs = {g: group_lr(cfg, g, self.step, self.total_steps) for g in self.opt}
        grads = {**gv, **gq, **gp}
        for g, opt in self.opt.items():
            opt.step(P, grads, lrs[g], cfg.weight_decay)
        # 3) target critics: Qbar <- (1 - rho) Qbar + rho Q (rho = 1: a copy of the new critics)
        rho = cfg.target_update_rate
        for k in self.targets:
            online = P[k.replace("_target/", "/", 1)]
            self.targets[k] = online.copy() if rho == 1.0 else (1.0 - rho) * self.targets[k] + rho * online
        self.step += 1
        rec = {"loss/value": lv, "loss/q": lq, "loss/policy": lp, "adv/mean": float(np.mean(c.adv)),
               "weight/mean": float(np.mean(c.w)),
               "weight/clipped_fraction": float(np.mean(c.w >= cfg.adv_clip)),
               **{f"lr/{g}": v for g, v in lrs.items()}}
        self.history.append(rec)
        return rec

    def optimizer_moments(self) -> Params:
        """exp_avg / exp_avg_sq under the checkpoint's tree (optimizer/exp_avg/policy/layer0/weight ...)."""
        out: Params = {}
        for opt in self.opt.values():
            for k in opt.keys:
                out["optimizer/exp_avg/" + k] = opt.m[k]
                out["optimizer/exp_avg_sq/" + k] = opt.v[k]
        return out


def train_sequential(params: Params, targets: Params, data: Dataset, cfg: IQLConfig, steps: int) -> Trainer:
    """Run `steps` updates from a copy of (params, targets) with sequential sampling."""
    tr = Trainer(params={k: np.array(v, dtype=np.float64) for k, v in params.items()},
                 targets={k: np.array(v, dtype=np.float64) for k, v in targets.items()},
                 cfg=cfg, total_steps=steps)
    n = data.obs.shape[0]
    for k in range(steps):
        tr.train_step(data.batch(sequential_rows(k, cfg.batch_size, n)))
    return tr
