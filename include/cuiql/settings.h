/* settings.h — the settings that cross a layer boundary: the config (src/algo/config.h) stores
 * them, and the backends and the data layer receive them in their own narrow argument structs
 * (BackendOptions, ReplaySource, DataPrep), never the whole Config. Enums only grow at the
 * end: config files name them by the strings of src/algo/config_keys.c, in this order. */
#ifndef CUIQL_SETTINGS_H
#define CUIQL_SETTINGS_H

/* Where a CUDA run keeps the dataset: auto (device memory when it fits), device, or pinned host
 * memory gathered from each step. */
typedef enum { REPLAY_AUTO, REPLAY_DEVICE, REPLAY_HOST } ReplayKind;

/* Arithmetic of the layer GEMMs on CUDA: fp32, or tf32 tensor cores. */
typedef enum { PRECISION_FP32, PRECISION_TF32 } PrecisionKind;

/* Learning-rate groups, in the order their parameters lie in the parameter buffer
 * (src/algo/model.h): each has its own learning rate and schedule. */
typedef enum { LR_GROUP_POLICY, LR_GROUP_VALUE, LR_GROUP_Q, LR_GROUP_COUNT } LrGroup;

/* The dataset's reward transform (docs/algorithm.md, "Data"). */
typedef enum { REWARD_NONE, REWARD_IQL_LOCOMOTION, REWARD_ANTMAZE, REWARD_SCALE_SHIFT } RewardTransform;

#endif
