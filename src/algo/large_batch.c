/* large_batch.c — the learning-rate scaling rule (see large_batch.h). */
#include "algo/large_batch.h"

#include <math.h>

double large_batch_lr_factor(const Config *cfg) {
    double ratio = (double)cfg->batch_size / (double)(cfg->lr_base_batch > 0 ? cfg->lr_base_batch : 1);
    switch (cfg->lr_scaling) {
    case LR_SCALING_SQRT: return sqrt(ratio);
    case LR_SCALING_LINEAR: return ratio;
    case LR_SCALING_NONE: break;
    }
    return 1.0;
}
