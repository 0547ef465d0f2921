/* step_cost.h — the work of one IQL step, counted from the model's layout: the floating-point
 * operations of its GEMMs and the fewest bytes it must move through memory. What `cuiql bench`
 * divides by the device's measured ceilings to give the floor (bench/RESULTS.md §1). */
#ifndef CUIQL_ALGO_STEP_COST_H
#define CUIQL_ALGO_STEP_COST_H

#include "algo/model.h"

/* FLOPs of the layer GEMMs: forward 2·B·in·out per layer and member, backward twice that (dW
 * and dX) except that the first layer needs no dX; V runs forward on s and s', the target
 * critics forward once when ρ < 1. Logical widths: the first layer's zero padding is not
 * counted. Elementwise work is not counted (it is bytes). */
double step_flops(const ModelLayout *layout, int batch_rows, int use_target);

/* The fewest bytes one step must move: AdamW reads and writes params, m and v and reads the
 * gradients (7 floats per parameter), the targets move when ρ < 1 (3 floats per critic
 * parameter), and every activation is written once by its forward pass and read back by the
 * next layer, the ReLU mask and the weight-gradient GEMM (≈ 4 touches). Batch inputs are small
 * beside it. Logical parameters, as step_flops. */
double step_bytes(const ModelLayout *layout, int batch_rows, int use_target);

#endif
