#!/usr/bin/env bash
# quickstart.sh — the first run on a fresh machine: installs what is missing, builds, generates
# a small offline dataset in the built-in pendulum (a `mixed` blend where good episodes are a
# minority), trains IQL with the seed's settings on it, and evaluates the trained policy
# against the dataset's own behaviour and the scripted expert.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh
mkdir -p runs
build/cuiql gen --env pendulum --behavior mixed --episodes 100 --seed 0 --out runs/pendulum-mixed.h5
build/cuiql info runs/pendulum-mixed.h5
build/cuiql train --config configs/seed.yaml --dataset runs/pendulum-mixed.h5 --out runs/quickstart \
  --set env=pendulum --set steps=20000 --set log_every=2000 --set eval_episodes=20
build/cuiql eval --checkpoint runs/quickstart/checkpoint.h5 --env pendulum --episodes 50
