/* data_checks.h — what the dataset says, held against what the config says, when a run loads
 * its data (trainer.c's load_data), before anything is built from the config.
 *
 * The policy's mean action is max_action · tanh(·), so actions beyond ±max_action are out of its
 * reach: its log-likelihood of them falls without bound (a policy loss near 1e7 for actions far
 * outside) and nothing said why. The action bound therefore comes from the environment when it
 * is known — the config's `env`, or the `env` attribute a `cuiql gen` file carries — and is
 * otherwise checked against the data (docs/algorithm.md, "Data"). */
#ifndef CUIQL_RUN_DATA_CHECKS_H
#define CUIQL_RUN_DATA_CHECKS_H

#include <stddef.h>

#include "algo/config.h"
#include "data/dataset.h"

/* Actions may exceed max_action by this factor with a warning (noise added before clipping,
 * a bound a little off); beyond it the run is refused with the observed range and the key. */
#define DATA_ACTION_REFUSE_FACTOR 1.5

/* Settles cfg->max_action for dataset d (read from cfg->dataset):
 *   - a known environment (cfg->env, else the file's `env` attribute naming a built-in
 *     environment with the data's dimensions): max_action becomes its bound, with a note when
 *     that changes it;
 *   - then the data: actions within ±max_action (to float rounding) pass silently; up to
 *     DATA_ACTION_REFUSE_FACTOR × max_action give a note; beyond that an error naming the
 *     observed range and the key to set.
 * Notes (one line each, without a trailing newline) go to note(ctx, text); note may be NULL. */
int run_check_actions(const Dataset *d, Config *cfg, void (*note)(void *ctx, const char *text), void *ctx,
                      Error *err);

/* The `env` string attribute of an HDF5 file's root (what `cuiql gen` writes) into buf; 0 when
 * present, -1 when the file has none or it is not a string (not an error: most files have none). */
int data_file_env(const char *path, char *buf, size_t len);

#endif
