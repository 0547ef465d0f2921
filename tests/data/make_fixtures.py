#!/usr/bin/env python3
"""make_fixtures.py — writes the HDF5 files that tests/data checks the readers against.

    python3 make_fixtures.py DIR

For every well-formed file NAME.h5 (one per quirk of what h5py, D4RL and Minari write) it also
writes NAME.expect.h5: what cuiql must make of it, computed here with numpy from docs/algorithm.md's rules
(which rows become transitions, s' rows, episode boundaries, normalisation, reward transforms).
good.txt lists those files; bad.txt lists the malformed ones, one per line, as
    FILE<TAB>SUBSTRING<TAB>SUBSTRING...
with the words the one-line error must contain (besides the file's path).
"""
import os
import sys

try:
    import h5py
    import numpy as np
except ImportError as e:  # the project's Python tests need h5py + numpy (pip install h5py numpy)
    print(f"make_fixtures.py: {e}; cannot write the fixtures", file=sys.stderr)
    sys.exit(1)

OUT = sys.argv[1] if len(sys.argv) > 1 else "fixtures"
RNG = np.random.default_rng(1234)

# What test_dataset.c does with the scale/shift transform (keep the two in step).
SCALE, SHIFT = 2.5, -0.5


# ---------------------------------------------------------------------------------------------
# The oracle: docs/algorithm.md's rules, written out plainly.

def d4rl_transitions(obs, term, tout, next_obs):
    """Rows kept, their s' rows in the state table, and the transition index where each episode
    starts. Without next_observations a timeout row, or the last row, is dropped unless terminal;
    with it, every row is kept and an episode also ends where next_obs[i-1] != obs[i]."""
    n_rows = len(obs)
    keep, nxt, starts = [], [], []
    prev_ended = True
    for i in range(n_rows):
        t = bool(term[i])
        to = bool(tout[i]) if tout is not None else False
        if next_obs is None:
            if not t and (to or i == n_rows - 1):
                prev_ended = True
                continue
            s2 = i + 1 if i + 1 < n_rows else i
        else:
            s2 = n_rows + i
        start = prev_ended
        if not start and next_obs is not None:
            start = np.linalg.norm(next_obs[keep[-1]].astype(np.float64) - obs[i].astype(np.float64)) > 1e-6
        if start:
            starts.append(len(keep))
        keep.append(i)
        nxt.append(s2)
        prev_ended = t or to
    return np.array(keep), np.array(nxt), np.array(starts + [len(keep)])


def f32(x):
    """What cuiql holds in memory: the value as float32, compared in float64."""
    return np.asarray(x).astype(np.float32).astype(np.float64)


def expectations(fmt, table, state_row, next_row, actions, rewards, terminals, starts, rows_in_file,
                 dropped, n_terminals, n_timeouts, had_next):
    table, actions, rewards = f32(table), f32(actions), f32(rewards)
    s, s2 = table[state_row], table[next_row]
    returns = np.array([rewards[a:b].sum() for a, b in zip(starts[:-1], starts[1:])])
    mean = s.mean(axis=0)
    std = s.std(axis=0) + 1e-3  # population std, as numpy's default
    spread = returns.max() - returns.min()
    e = dict(
        format=fmt, n=len(state_row), obs_dim=table.shape[1], act_dim=actions.shape[1],
        n_states=len(table), rows_in_file=rows_in_file, dropped=dropped, n_terminals=n_terminals,
        n_timeouts=n_timeouts, had_next=int(had_next), n_episodes=len(starts) - 1,
        state_row=state_row, next_row=next_row, s=s, s2=s2, actions=actions, rewards=rewards,
        terminals=np.asarray(terminals, dtype=np.float64), episode_start=starts, returns=returns,
        norm_mean=mean, norm_std=std, s_norm=(s - mean) / std, s2_norm=(s2 - mean) / std,
        r_antmaze=rewards - 1.0, r_scaled=rewards * SCALE + SHIFT, iql_error=int(spread == 0))
    if spread != 0:
        e["iql_scale"] = 1000.0 / spread
        e["r_iql"] = rewards * (1000.0 / spread)
    return e


def write_expect(name, e):
    with h5py.File(os.path.join(OUT, name + ".expect.h5"), "w") as f:
        for k, v in e.items():
            f[k] = np.atleast_1d(np.asarray(v, dtype=np.float64))


def d4rl_expect(obs, act, rew, term, tout=None, next_obs=None):
    keep, nxt, starts = d4rl_transitions(obs, term, tout, next_obs)
    table = obs if next_obs is None else np.concatenate([obs, next_obs])
    n_rows = len(obs)
    return expectations(0, table, keep, nxt, np.asarray(act)[keep], np.ravel(rew)[keep],
                        np.asarray(term)[keep].astype(bool), starts, n_rows, n_rows - len(keep),
                        int(np.sum(np.asarray(term).astype(bool))),
                        0 if tout is None else int(np.sum(np.asarray(tout).astype(bool))), next_obs is not None)


def write_d4rl(name, columns, extra=None):
    with h5py.File(os.path.join(OUT, name), "w") as f:
        for k, v in columns.items():
            if isinstance(v, dict):
                f.create_dataset(k, **v)
            else:
                f[k] = v
        if extra:
            extra(f)


# ---------------------------------------------------------------------------------------------
# Well-formed files

def smooth_states(n, dim, offset=0.0):
    """Random walks: states that change a little each step, like a simulator's."""
    return (offset + np.cumsum(RNG.normal(0, 0.3, size=(n, dim)), axis=0)).astype(np.float32)


def flags(n, rows):
    f = np.zeros(n, dtype=bool)
    f[list(rows)] = True
    return f


def d4rl_infos(f):
    """The groups real D4RL files carry beside the columns; the reader must ignore them."""
    f.attrs["env"] = "hopper-medium-v2"
    g = f.create_group("infos")
    g["qpos"] = RNG.normal(size=(40, 2))
    g["action_log_probs"] = RNG.normal(size=40).astype(np.float32)
    g["names"] = np.array([b"a", b"b"])
    m = f.create_group("metadata")
    m.attrs["algorithm"] = "SAC"
    m["policy"] = np.array([b"hopper-sac"])
    m.create_group("nested")["x"] = np.arange(3)


def good_d4rl_basic():
    """float32, h5py bool flags, rewards [N], no next_observations; timeouts at 9, 25, 30,
    terminals at 15 and 30 (30 is both: kept as terminal), last row 39 not terminal."""
    n = 40
    obs, act = smooth_states(n, 3, 5.0), RNG.normal(size=(n, 2)).astype(np.float32)
    rew = np.concatenate([np.full(10, 1.0), np.full(6, 2.0), np.full(10, 0.5), np.full(5, 3.0),
                          np.full(9, -1.0)]).astype(np.float32) + RNG.uniform(0, 0.1, n).astype(np.float32)
    term, tout = flags(n, [15, 30]), flags(n, [9, 25, 30])
    write_d4rl("d4rl_basic.h5", dict(observations=obs, actions=act, rewards=rew, terminals=term, timeouts=tout),
               d4rl_infos)
    e = d4rl_expect(obs, act, rew, term, tout)
    # The rules by hand, so the oracle above is itself checked once.
    want_rows = list(range(0, 9)) + list(range(10, 25)) + list(range(26, 39))
    assert list(e["state_row"]) == want_rows, e["state_row"]
    assert list(e["next_row"]) == [i + 1 for i in want_rows]
    assert list(e["episode_start"]) == [0, 9, 15, 24, 29, 37], e["episode_start"]
    assert (e["dropped"], e["n_terminals"], e["n_timeouts"]) == (3, 2, 3)
    write_expect("d4rl_basic.h5", e)
    return "d4rl_basic.h5"


def good_d4rl_f64():
    """float64 columns, rewards [N,1], uint8 terminals, int64 timeouts; the last row is terminal
    (kept; its s' points at itself)."""
    n = 25
    obs = RNG.normal(size=(n, 4)) * 3.0  # float64, not exactly representable in float32
    act = RNG.uniform(-1, 1, size=(n, 3))
    rew = RNG.normal(size=(n, 1))
    term = np.zeros(n, dtype=np.uint8)
    term[[12, 24]] = 1
    tout = np.zeros(n, dtype=np.int64)
    tout[[7, 16]] = 1
    write_d4rl("d4rl_f64.h5", dict(observations=obs, actions=act, rewards=rew, terminals=term, timeouts=tout),
               lambda f: f.create_group("metadata").attrs.create("version", 2))
    e = d4rl_expect(obs, act, rew, term, tout)
    assert e["next_row"][-1] == 24 and e["state_row"][-1] == 24
    assert list(e["episode_start"]) == [0, 7, 12, 15, 23], e["episode_start"]
    write_expect("d4rl_f64.h5", e)
    return "d4rl_f64.h5"


def good_d4rl_next():
    """next_observations present (every row kept; the table is obs then next_obs), float32 0/1
    flags for terminals, bool timeouts. Timeout at 5, terminal at 12, and at 16 a break in
    continuity (next_obs[15] != obs[16]) with no flag: three ends, four episodes."""
    n = 20
    obs = smooth_states(n + 1, 3)
    next_obs = obs[1:].copy()
    obs = obs[:-1].copy()
    # Only the break at 15 is visible in the states; 5 and 12 end episodes by their flags alone.
    next_obs[15] = next_obs[15] + 7.0
    act = RNG.normal(size=(n, 2)).astype(np.float32)
    rew = RNG.normal(size=n).astype(np.float32)
    term = np.zeros(n, dtype=np.float32)
    term[12] = 1.0
    tout = flags(n, [5])
    write_d4rl("d4rl_next.h5", dict(observations=obs, actions=act, rewards=rew, terminals=term, timeouts=tout,
                                    next_observations=next_obs))
    e = d4rl_expect(obs, act, rew, term, tout, next_obs)
    assert list(e["episode_start"]) == [0, 6, 13, 16, 20], e["episode_start"]
    assert e["n_states"] == 40 and e["dropped"] == 0
    write_expect("d4rl_next.h5", e)
    return "d4rl_next.h5"


def good_d4rl_no_timeouts():
    """No timeouts dataset (old D4RL v0 files), int32 terminals: only the last row is dropped."""
    n = 15
    obs, act = smooth_states(n, 2), RNG.normal(size=(n, 1)).astype(np.float32)
    rew = RNG.normal(size=n).astype(np.float32)
    term = np.zeros(n, dtype=np.int32)
    term[6] = 1
    write_d4rl("d4rl_no_timeouts.h5", dict(observations=obs, actions=act, rewards=rew, terminals=term))
    e = d4rl_expect(obs, act, rew, term)
    assert list(e["episode_start"]) == [0, 7, 14] and e["dropped"] == 1
    write_expect("d4rl_no_timeouts.h5", e)
    return "d4rl_no_timeouts.h5"


def good_d4rl_chunked():
    """Chunked, gzip- and shuffle-compressed columns (as real D4RL files are), chunks that cut
    both rows and columns; timeouts every 200 rows, random terminals."""
    n = 3000
    obs, act = smooth_states(n, 11), RNG.normal(size=(n, 3)).astype(np.float32)
    rew = RNG.normal(size=n).astype(np.float32)
    term = RNG.random(n) < 0.004
    tout = np.zeros(n, dtype=bool)
    tout[199::200] = True

    def col(data, chunks):
        return dict(data=data, chunks=chunks, compression="gzip", compression_opts=4, shuffle=True)

    write_d4rl("d4rl_chunked.h5", dict(observations=col(obs, (64, 5)), actions=col(act, (100, 2)),
                                       rewards=col(rew, (128,)), terminals=col(term, (256,)),
                                       timeouts=col(tout, (256,))))
    write_expect("d4rl_chunked.h5", d4rl_expect(obs, act, rew, term, tout))
    return "d4rl_chunked.h5"


def good_d4rl_flat_returns():
    """Every episode has the same return: iql-locomotion must refuse (1000 / 0)."""
    n = 12
    obs, act = smooth_states(n, 2), RNG.normal(size=(n, 2)).astype(np.float32)
    rew = np.ones(n, dtype=np.float32)
    term, tout = flags(n, []), flags(n, [3, 7, 11])
    write_d4rl("d4rl_flat_returns.h5", dict(observations=obs, actions=act, rewards=rew, terminals=term,
                                            timeouts=tout))
    e = d4rl_expect(obs, act, rew, term, tout)
    assert e["iql_error"] == 1 and list(e["returns"]) == [3.0, 3.0, 3.0]
    write_expect("d4rl_flat_returns.h5", e)
    return "d4rl_flat_returns.h5"


def minari_episode(f, ep_id, steps, obs_dim=3, act_dim=2, end=None):
    """One Minari episode group as Minari writes it (float64 observations and rewards, bool
    flags, an infos subgroup). end: 'term', 'trunc' or None (unfinished)."""
    g = f.create_group(f"episode_{ep_id}")
    g.attrs["id"] = ep_id
    g.attrs["total_steps"] = steps
    obs = RNG.normal(size=(steps + 1, obs_dim))
    act = RNG.uniform(-1, 1, size=(steps, act_dim)).astype(np.float32)
    rew = RNG.normal(size=steps) + ep_id
    term, trunc = np.zeros(steps, dtype=bool), np.zeros(steps, dtype=bool)
    if end == "term":
        term[-1] = True
    elif end == "trunc":
        trunc[-1] = True
    g["observations"], g["actions"], g["rewards"] = obs, act, rew
    g["terminations"], g["truncations"] = term, trunc
    g.create_group("infos")["success"] = np.zeros(steps + 1, dtype=bool)
    return g, obs, act, rew, term, trunc


def good_minari():
    """Episodes 0, 1, 2, 5 (no steps) and 10: id order, not name order (which puts 10 before 2)."""
    path = os.path.join(OUT, "minari.h5")
    eps = []
    with h5py.File(path, "w") as f:
        f.attrs["dataset_id"] = "pointmaze/test-v0"
        f.attrs["total_episodes"] = 5
        for ep_id, steps, end in ((10, 6, "term"), (2, 4, None), (0, 5, "term"), (1, 3, "trunc")):
            eps.append((ep_id, minari_episode(f, ep_id, steps, end=end)[1:]))
        minari_episode(f, 5, 0)
        f.create_group("not_an_episode")["x"] = np.arange(4)
    eps.sort(key=lambda t: t[0])
    table, row_s, row_n, acts, rews, terms, starts = [], [], [], [], [], [], []
    n_states = n = n_trunc = 0
    for _, (obs, act, rew, term, trunc) in eps:
        steps = len(act)
        starts.append(n)
        table.append(obs)
        row_s += range(n_states, n_states + steps)
        row_n += range(n_states + 1, n_states + steps + 1)
        acts.append(act)
        rews.append(rew)
        terms.append(term)
        n_trunc += int(trunc.sum())
        n += steps
        n_states += steps + 1
    starts.append(n)
    terms = np.concatenate(terms)
    e = expectations(1, np.concatenate(table), np.array(row_s), np.array(row_n), np.concatenate(acts),
                     np.concatenate(rews), terms, np.array(starts), n, 0, int(terms.sum()), n_trunc, False)
    assert e["n"] == 18 and e["n_states"] == 22 and list(starts) == [0, 5, 8, 12, 18]
    write_expect("minari.h5", e)
    return "minari.h5"


# ---------------------------------------------------------------------------------------------
# Malformed files: (file, words the error must contain)

def d4rl_columns(n=10, obs_dim=3, act_dim=2):
    return dict(observations=smooth_states(n, obs_dim), actions=RNG.normal(size=(n, act_dim)).astype(np.float32),
                rewards=RNG.normal(size=n).astype(np.float32), terminals=flags(n, []), timeouts=flags(n, [4, 9]))


def bad_d4rl(name, words, change):
    cols = d4rl_columns()
    change(cols)
    write_d4rl(name, {k: v for k, v in cols.items() if v is not None})
    return name, words


def set_value(key, index, value, dtype=None):
    def change(cols):
        a = cols[key].astype(dtype) if dtype else cols[key].copy()
        a[index] = value
        cols[key] = a
    return change


def bad_minari(name, words, change):
    with h5py.File(os.path.join(OUT, name), "w") as f:
        for ep_id in range(3):
            minari_episode(f, ep_id, 4, end="term")
        change(f)
    return name, words


def replace(f, key, value):
    del f[key]
    f[key] = value


def dict_observations(f):
    """A Dict observation space: Minari writes a subgroup with one dataset per key."""
    del f["episode_0/observations"]
    f.create_group("episode_0/observations")["position"] = np.zeros((5, 2))


def declared_d4rl(name, rows, obs_cols, act_cols=1, minari=False):
    """A file of a few KB that declares huge arrays: chunked, never written, with a fill value.
    rows x cols x 4 bytes can wrap past 2^64, which an unchecked multiplication turns into a
    small buffer that HDF5 then fills far beyond its end."""
    with h5py.File(os.path.join(OUT, name), "w") as f:
        g = f.create_group("episode_0") if minari else f
        t = rows - 1 if minari else rows
        g.create_dataset("observations", shape=(rows, obs_cols), dtype="f4", chunks=(1, 1), fillvalue=0.5)
        g.create_dataset("actions", shape=(t, act_cols), dtype="f4", chunks=(1, 1), fillvalue=0.1)
        g.create_dataset("rewards", shape=(t,), dtype="f4", chunks=(1,), fillvalue=0.0)
        g.create_dataset("terminations" if minari else "terminals", shape=(t,), dtype="u1", chunks=(1,), fillvalue=0)
        if minari:
            g.create_dataset("truncations", shape=(t,), dtype="u1", chunks=(1,), fillvalue=0)
    return name


def lzf_rewards(c):
    """h5py's own LZF filter, which the HDF5 C library does not have."""
    # zeros: LZF shrinks them, so the chunk is stored filtered (h5py stores a chunk that does
    # not shrink unfiltered, and the C library reads that one fine)
    c["rewards"] = dict(data=np.zeros(len(c["rewards"]), np.float32), compression="lzf")


def hostile_reader_files():
    """Inputs a hostile tester found crashing or misreported (tests/hostile/ has the whole list)."""
    return [
        # rows x cols x 4 wraps to 240 bytes: a heap overflow before sizes were checked
        (declared_d4rl("bad_wrap_obs.h5", 3892776002, 1184677982), ["'observations'", "too large to address"]),
        # the actions' size wraps (2^31 x 2^31 - 1 x 4 is just below 2^64 x 2: wraps)
        (declared_d4rl("bad_wrap_actions.h5", 2**32 - 1, 3, act_cols=2**31 - 1), ["'actions'", "too large"]),
        (declared_d4rl("bad_wrap_minari.h5", 3892776002, 1184677982, minari=True),
         ["'episode_0/observations'", "too large to address"]),
        # does not wrap, but needs 16 TB: refused with the numbers, not left to the OOM killer
        (declared_d4rl("bad_huge_fill.h5", 4000000000, 1000), ["TB of memory"]),
        bad_d4rl("bad_lzf_rewards.h5", ["'rewards'", "LZF", "32000", "gzip"], lzf_rewards),
        bad_d4rl("bad_f64_overflow.h5", ["'rewards'", "row 5", "-5e+300", "overflows float32"],
                 set_value("rewards", 5, -5e300, np.float64)),
    ]


def bad_files():
    nan, inf = float("nan"), float("inf")
    out = [
        bad_d4rl("bad_missing_actions.h5", ["'actions'", "missing"], lambda c: c.update(actions=None)),
        bad_d4rl("bad_missing_terminals.h5", ["'terminals'", "missing"], lambda c: c.update(terminals=None)),
        bad_d4rl("bad_len_rewards.h5", ["'rewards'", "9 rows", "expected 10"],
                 lambda c: c.update(rewards=c["rewards"][:9])),
        bad_d4rl("bad_len_timeouts.h5", ["'timeouts'", "11 rows"],
                 lambda c: c.update(timeouts=np.zeros(11, dtype=bool))),
        bad_d4rl("bad_next_obs_cols.h5", ["'next_observations'", "columns"],
                 lambda c: c.update(next_observations=np.zeros((10, 4), dtype=np.float32))),
        bad_d4rl("bad_len_next_obs.h5", ["'next_observations'", "rows"],
                 lambda c: c.update(next_observations=np.zeros((8, 3), dtype=np.float32))),
        bad_d4rl("bad_rank_obs.h5", ["'observations'", "rank 1"],
                 lambda c: c.update(observations=np.zeros(10, dtype=np.float32))),
        bad_d4rl("bad_rank_actions.h5", ["'actions'", "rank 3"],
                 lambda c: c.update(actions=np.zeros((10, 2, 2), dtype=np.float32))),
        bad_d4rl("bad_rewards_2col.h5", ["'rewards'", "(10, 2)"],
                 lambda c: c.update(rewards=np.zeros((10, 2), dtype=np.float32))),
        bad_d4rl("bad_obs_zero_cols.h5", ["'observations'", "zero columns"],
                 lambda c: c.update(observations=np.zeros((10, 0), dtype=np.float32))),
        bad_d4rl("bad_string_terminals.h5", ["'terminals'", "string"],
                 lambda c: c.update(terminals=np.array([b"no"] * 10))),
        bad_d4rl("bad_compound_rewards.h5", ["'rewards'", "compound"],
                 lambda c: c.update(rewards=np.zeros(10, dtype=[("r", "f4"), ("w", "f4")]))),
        bad_d4rl("bad_nan_obs.h5", ["'observations'", "NaN", "row 3", "column 1"],
                 set_value("observations", (3, 1), nan)),
        bad_d4rl("bad_inf_rewards.h5", ["'rewards'", "Inf", "row 5"], set_value("rewards", 5, inf, np.float64)),
        bad_d4rl("bad_nan_actions_f64.h5", ["'actions'", "NaN", "row 7"],
                 set_value("actions", (7, 0), nan, np.float64)),
        bad_d4rl("bad_nan_next_obs.h5", ["'next_observations'", "NaN", "row 2"],
                 lambda c: c.update(next_observations=np.where(np.arange(30).reshape(10, 3) == 7, nan, 0.0))),
        bad_d4rl("bad_flag_value.h5", ["'terminals'", "value 2", "row 4"],
                 set_value("terminals", 4, 2, np.uint8)),
        bad_d4rl("bad_flag_negative.h5", ["'terminals'", "value -1", "row 6"],
                 set_value("terminals", 6, -1, np.int8)),
        bad_d4rl("bad_flag_large.h5", ["'terminals'", "value 256", "row 2"],
                 set_value("terminals", 2, 256, np.int64)),
        bad_d4rl("bad_flag_float.h5", ["'timeouts'", "0.5", "row 1"], set_value("timeouts", 1, 0.5, np.float32)),
        bad_d4rl("bad_zero_rows.h5", ["'observations'", "0 rows"],
                 lambda c: c.update({k: v[:0] for k, v in c.items()})),
        bad_d4rl("bad_all_dropped.h5", ["no usable transitions"],
                 lambda c: c.update({k: v[:2] for k, v in c.items()}, timeouts=flags(2, [0]))),
        bad_d4rl("bad_obs_group.h5", ["'observations'", "group"], lambda c: c.update(observations=None)),
        bad_minari("bad_minari_dict_obs.h5", ["'episode_0/observations'", "group", "dict"], dict_observations),
        bad_minari("bad_minari_obs_len.h5", ["'episode_1/observations'", "4 rows", "expected 5"],
                   lambda f: replace(f, "episode_1/observations", np.zeros((4, 3)))),
        bad_minari("bad_minari_dims.h5", ["'episode_1/observations'", "4 columns", "'episode_0/observations' has 3"],
                   lambda f: replace(f, "episode_1/observations", np.zeros((5, 4)))),
        bad_minari("bad_minari_nan.h5", ["'episode_2/rewards'", "NaN", "row 1"],
                   lambda f: replace(f, "episode_2/rewards", np.array([0.0, nan, 0.0, 0.0]))),
        bad_minari("bad_minari_missing_trunc.h5", ["'episode_0/truncations'", "missing"],
                   lambda f: f["episode_0"].pop("truncations")),
        bad_minari("bad_minari_actions_rank1.h5", ["'episode_0/actions'", "rank 1"],
                   lambda f: replace(f, "episode_0/actions", np.zeros(4, dtype=np.int64))),
        bad_minari("bad_minari_flag.h5", ["'episode_1/terminations'", "value 3", "row 0"],
                   lambda f: replace(f, "episode_1/terminations", np.array([3, 0, 0, 0], dtype=np.int16))),
    ]
    # A D4RL file whose 'observations' is a group.
    with h5py.File(os.path.join(OUT, "bad_obs_group.h5"), "a") as f:
        f.create_group("observations")["x"] = np.zeros((10, 3), dtype=np.float32)

    with h5py.File(os.path.join(OUT, "bad_empty.h5"), "w") as f:
        f.attrs["note"] = "an HDF5 file with nothing in it"
    out.append(("bad_empty.h5", ["'observations'", "neither"]))
    with open(os.path.join(OUT, "bad_not_hdf5.h5"), "w") as f:
        f.write("observations,actions,rewards\n1,2,3\n")
    out.append(("bad_not_hdf5.h5", ["not an HDF5 file"]))
    open(os.path.join(OUT, "bad_zero_bytes.h5"), "w").close()
    out.append(("bad_zero_bytes.h5", ["empty file"]))
    out.append(("bad_nonexistent.h5", ["No such file"]))
    # A real file cut short: HDF5 opens it or not, but the one line still names the file.
    with open(os.path.join(OUT, "d4rl_chunked.h5"), "rb") as f:
        head = f.read(20000)
    with open(os.path.join(OUT, "bad_truncated.h5"), "wb") as f:
        f.write(head)
    out.append(("bad_truncated.h5", []))
    out += hostile_reader_files()
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    stale = os.path.join(OUT, "bad_nonexistent.h5")
    if os.path.exists(stale):
        os.remove(stale)
    good = [good_d4rl_basic(), good_d4rl_f64(), good_d4rl_next(), good_d4rl_no_timeouts(), good_d4rl_chunked(),
            good_d4rl_flat_returns(), good_minari()]
    bad = bad_files()
    with open(os.path.join(OUT, "good.txt"), "w") as f:
        f.writelines(name + "\n" for name in good)
    with open(os.path.join(OUT, "bad.txt"), "w") as f:
        f.writelines("\t".join([name] + words) + "\n" for name, words in bad)
    print(f"make_fixtures.py: {len(good)} good and {len(bad)} bad files in {OUT}")


if __name__ == "__main__":
    main()
