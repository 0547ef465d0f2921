/* data_checks.c — the dataset's action range against max_action (see data_checks.h). */
#include "run/data_checks.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/h5.h"
#include "env/env.h"

/* Float rounding: a file written as float64 and read as float32, or a bound stored as 1.0000001,
 * is at the bound, not beyond it. */
#define AT_BOUND_SLACK 1e-4

int data_file_env(const char *path, char *buf, size_t len) {
    h5_silence();
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), attr = H5I_INVALID_HID, type = H5I_INVALID_HID,
          mem = H5I_INVALID_HID;
    int rc = -1;
    if (file < 0 || H5Aexists(file, "env") <= 0) goto done;
    if ((attr = H5Aopen(file, "env", H5P_DEFAULT)) < 0 || (type = H5Aget_type(attr)) < 0 ||
        H5Tget_class(type) != H5T_STRING)
        goto done;
    /* HDF5 converts strings only within one character set: read in the file's (h5py and
     * `cuiql gen` write UTF-8). */
    if (H5Tis_variable_str(type) > 0) {
        char *s = NULL;
        mem = H5Tcopy(H5T_C_S1);
        if (mem < 0 || H5Tset_size(mem, H5T_VARIABLE) < 0 || H5Tset_cset(mem, H5Tget_cset(type)) < 0 ||
            H5Aread(attr, mem, &s) < 0 || !s)
            goto done;
        rc = snprintf(buf, len, "%s", s) < (int)len ? 0 : -1;
        H5free_memory(s);
    } else {
        size_t size = H5Tget_size(type);
        char *s = calloc(size + 1, 1);
        mem = H5Tcopy(H5T_C_S1);
        if (s && mem >= 0 && H5Tset_size(mem, size + 1) >= 0 && H5Tset_cset(mem, H5Tget_cset(type)) >= 0 &&
            H5Aread(attr, mem, s) >= 0)
            rc = snprintf(buf, len, "%s", s) < (int)len ? 0 : -1;
        free(s);
    }
done:
    h5_close(&mem);
    h5_close(&type);
    h5_close(&attr);
    h5_close(&file);
    char ignored[8];
    h5_error_detail(ignored, sizeof ignored); /* a missing attribute is an answer, not an error */
    return rc;
}

/* The built-in environment the run's data comes from, if it is known. One whose dimensions
 * differ from the data's is not it (a config's env that does not fit is refused, with both
 * shapes, by run_check_eval_env). */
static const Env *known_env(const Dataset *d, const Config *cfg, const char **how) {
    char name[64];
    const Env *env = NULL;
    if (cfg->env[0]) {
        *how = "the config's env";
        env = env_lookup(cfg->env);
    } else if (data_file_env(cfg->dataset, name, sizeof name) == 0) {
        *how = "the dataset's env attribute";
        env = env_lookup(name);
    }
    return env && env->obs_dim == d->obs_dim && env->act_dim == d->act_dim ? env : NULL;
}

/* "2" for 1.93, "0.25" for 0.241: a value to suggest for max_action that covers m (a float:
 * 1.2f is 1.2000000477, which should still suggest 1.2). */
static double round_up_2sig(double m) {
    double scale = pow(10.0, floor(log10(m)) - 1);
    return ceil(m / scale - 1e-4) * scale;
}

int run_check_actions(const Dataset *d, Config *cfg, void (*note)(void *ctx, const char *text), void *ctx,
                      Error *err) {
    char text[CONFIG_PATH_MAX + 512];
    const char *how = "";
    const Env *env = known_env(d, cfg, &how);
    if (env && cfg->max_action != env->max_action) {
        snprintf(text, sizeof text, "max_action %g, %s's action bound (from %s; the config said %g)",
                 (double)env->max_action, env->name, how, cfg->max_action);
        cfg->max_action = env->max_action;
        if (note) note(ctx, text);
    }

    size_t n = (size_t)d->n * (size_t)d->act_dim;
    if (n == 0) return 0;
    float lo = d->actions[0], hi = d->actions[0];
    for (size_t i = 1; i < n; i++) {
        if (d->actions[i] < lo) lo = d->actions[i];
        if (d->actions[i] > hi) hi = d->actions[i];
    }
    double reach = fmax(fabs(lo), fabs(hi)), bound = cfg->max_action;
    if (reach <= bound * (1 + AT_BOUND_SLACK)) return 0;
    if (reach > bound * DATA_ACTION_REFUSE_FACTOR)
        return error_set(err,
                         "%s: actions lie in [%g, %g], far beyond max_action %g: the policy (max_action * tanh) "
                         "cannot reach them and its loss would explode; set max_action to the environment's "
                         "action bound (e.g. --set max_action=%g)%s",
                         cfg->dataset, lo, hi, bound, round_up_2sig(reach),
                         env ? "" : ", or env to the built-in environment the data comes from");
    snprintf(text, sizeof text,
             "%s: actions lie in [%g, %g], beyond max_action %g: the policy cannot reach the outer ones "
             "(set max_action, e.g. --set max_action=%g, if the environment's bound is larger)",
             cfg->dataset, lo, hi, bound, round_up_2sig(reach));
    if (note) note(ctx, text);
    return 0;
}
