/* bench.c — `cuiql bench`: training throughput per configuration (batch × members ×
 * precision), against the floor measured on the same device in the same run (run/bench.h).
 * Text for people, or --json: one object per configuration per line (README: "cuiql bench"). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/parse.h"
#include "cli/commands.h"
#include "run/bench.h"

#define BENCH_MAX_LIST 16

static void bench_usage(FILE *out) {
    fprintf(out,
            "usage: cuiql bench [--device auto|cpu|cuda] [--batch B,...] [--members P,...]\n"
            "                   [--precision fp32,tf32] [--json] [--seconds S | --steps N] [--phases N]\n"
            "                   [--rho R] [--hidden W,...] [--dims S,A] [--replay auto|device|host]\n"
            "                   [--threads N] [--no-graphs]\n"
            "                   [--gemm-epilogues] [--parallel-nets] [--count-only]\n"
            "\n"
            "Times the IQL training step on random data for every combination of the listed batch\n"
            "sizes, member counts and precisions, and prints per configuration: steps/s, samples/s,\n"
            "member-steps/s, GFLOP/s, the floor (the step's FLOPs at the GEMM rate and its bytes at the\n"
            "copy bandwidth, both measured on the same device in the same run) and measured/floor, the\n"
            "memory per member and where a step's time goes (eager steps, phase by phase).\n"
            "\n"
            "  --device D         auto (GPU when present), cpu or cuda\n"
            "  --batch B,...      batch sizes (default 256)\n"
            "  --members P,...    population sizes (default 1)\n"
            "  --precision X,...  fp32 and/or tf32 GEMMs (CUDA; default fp32)\n"
            "  --json             one JSON object per configuration per line (fields: README)\n"
            "  --seconds S        time about S seconds of steps per configuration (default 2)\n"
            "  --steps N          time exactly N steps instead\n"
            "  --phases N         eager steps timed phase by phase (default 10; 0: none)\n"
            "  --rho R            target_update_rate (default 1: no target network)\n"
            "  --hidden W,...     hidden layer widths (default the seed config's)\n"
            "  --dims S,A         the random data's state and action dimensions (default 17,6)\n"
            "  --replay R         CUDA: the dataset in GPU memory (device) or pinned host memory (host)\n"
            "  --threads N        CPU backend: BLAS threads (default: all cores)\n"
            "  --no-graphs, --gemm-epilogues, --parallel-nets   CUDA backend, as in cuiql train\n"
            "  --count-only       the work and memory of each configuration, without running it\n");
}

/* "1,2,3" into up to BENCH_MAX_LIST positive ints. */
static int parse_list(const char *text, int *out, int *n, const char *what, Error *err) {
    *n = 0;
    const char *p = text;
    while (*p) {
        char item[32];
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof item || *n == BENCH_MAX_LIST)
            return error_set(err, "%s: expected up to %d comma-separated numbers, got '%s'", what, BENCH_MAX_LIST, text);
        memcpy(item, p, len);
        item[len] = 0;
        uint64_t v;
        if (parse_uint64(item, &v) || v < 1 || v > 100000000)
            return error_set(err, "%s: '%s' is not a positive integer", what, item);
        out[(*n)++] = (int)v;
        p += len + (p[len] == ',');
    }
    return *n ? 0 : error_set(err, "%s: empty list", what);
}

static void json_number(FILE *f, const char *name, double x) {
    if (isfinite(x)) fprintf(f, ",\"%s\":%.10g", name, x);
    else fprintf(f, ",\"%s\":null", name);
}

static const char *precision_name(PrecisionKind p) { return p == PRECISION_TF32 ? "tf32" : "fp32"; }

/* A step rate that moved by more than 20 % across the ceiling measurement, on stderr, saying
 * whether the machine was busy meanwhile: busy, the figures are not this machine's own; quiet,
 * the process itself changed speed (a library warming up, denormals setting in: both were found
 * this way, bench/RESULTS.md §2). */
static void guard_report(const BenchResult *r, int threads) {
    double change = r->steps_per_s_after_ceilings / r->steps_per_s - 1;
    if (!(fabs(change) > 0.20)) return;
    double others = fmax(r->load_before.others, r->load_after.others);
    double steal = fmax(r->load_before.steal, r->load_after.steal);
    fprintf(stderr, "cuiql bench: WARNING: the step rate moved %+.0f %% across the ceiling measurement (%.1f -> %.1f "
            "steps/s); ", 100 * change, r->steps_per_s, r->steps_per_s_after_ceilings);
    if (!r->load_before.ok || !r->load_after.ok)
        fprintf(stderr, "whether the machine was busy is unknown (no /proc/stat)\n");
    else if (others >= 0.1 || steal >= 0.1)
        fprintf(stderr, "the machine was busy (other processes took up to %.2f cores, steal %.2f): these figures are not "
                "this machine's own; measure again when it is quiet%s\n", others, steal,
                threads == 1 ? "" : " (several BLAS threads on shared cores wait for each other: --threads 1 suffers less)");
    else
        fprintf(stderr, "the machine was quiet, so the process itself changed speed: report it (bench/RESULTS.md §2)\n");
}

static void print_json(FILE *f, const BenchSpec *sp, const BenchResult *r, int count_only) {
    char device[6 * sizeof r->device + 3]; /* each byte escaped at most as \u00XX, and the quotes */
    fprintf(f, "{\"device\":%s", json_write_string(device, sizeof device, count_only ? "" : r->device) >= 0 ? device : "null");
    fprintf(f, ",\"backend\":\"%s\",\"batch\":%d,\"members\":%d,\"precision\":\"%s\"", count_only ? "none" : r->on_gpu ? "cuda" : "cpu",
            sp->batch, sp->members, precision_name(sp->precision));
    json_number(f, "rho", sp->rho);
    fputs(",\"hidden\":[", f);
    for (int i = 0; i < sp->n_hidden; i++) fprintf(f, "%s%d", i ? "," : "", sp->hidden[i]);
    fprintf(f, "],\"obs_dim\":%d,\"act_dim\":%d,\"graphs\":%s,\"gemm_epilogues\":%s,\"parallel_nets\":%s,\"threads\":%d",
            sp->obs_dim, sp->act_dim, sp->use_graphs ? "true" : "false", sp->gemm_epilogues ? "true" : "false",
            sp->parallel_nets ? "true" : "false", sp->threads);
    static const char *const replay_names[] = {[REPLAY_AUTO] = "auto", [REPLAY_DEVICE] = "device", [REPLAY_HOST] = "host"};
    fprintf(f, ",\"replay\":\"%s\",\"steps\":%d", replay_names[sp->replay], r->steps);
    json_number(f, "steps_per_s", r->steps_per_s);
    json_number(f, "samples_per_s", r->samples_per_s);
    json_number(f, "member_steps_per_s", r->member_steps_per_s);
    json_number(f, "gflop_per_step", r->flops_per_step * 1e-9);
    json_number(f, "mb_per_step", r->bytes_per_step * 1e-6);
    json_number(f, "gflops", r->achieved_flops * 1e-9);
    json_number(f, "ceiling_gemm_gflops", r->ceilings.gemm_flops * 1e-9);
    fprintf(f, ",\"ceiling_gemm_n\":%d", r->ceilings.gemm_n);
    json_number(f, "ceiling_bandwidth_gbs", r->ceilings.bandwidth * 1e-9);
    json_number(f, "floor_steps_per_s", r->floor_steps_per_s);
    fprintf(f, ",\"floor_bound\":\"%s\"", r->memory_bound ? "memory" : "gemm");
    json_number(f, "floor_gemm_us", r->floor_gemm_s * 1e6);
    json_number(f, "floor_bytes_us", r->floor_bytes_s * 1e6);
    json_number(f, "measured_over_floor", r->measured_over_floor);
    json_number(f, "memory_bytes_per_member", (double)r->memory.total / sp->members);
    json_number(f, "memory_state_bytes", (double)r->memory.total);
    json_number(f, "memory_measured_bytes", r->measured_bytes);
    /* null except on the first configuration (and where /proc/stat could not be read) */
    int load_known = r->guarded && r->load_before.ok && r->load_after.ok;
    json_number(f, "guard_steps_per_s_after_ceilings", r->guarded ? r->steps_per_s_after_ceilings : NAN);
    json_number(f, "guard_other_cores", load_known ? fmax(r->load_before.others, r->load_after.others) : NAN);
    json_number(f, "guard_steal_cores", load_known ? fmax(r->load_before.steal, r->load_after.steal) : NAN);
    fprintf(f, ",\"phase_steps\":%d,\"phases_us\":{", r->phase_steps);
    for (int ph = 0; ph < IQL_PHASE_COUNT; ph++) {
        fprintf(f, "%s\"%s\":", ph ? "," : "", iql_phase_names[ph]);
        if (r->phase_steps) fprintf(f, "%.10g", r->phase_s[ph] * 1e6);
        else fputs("null", f);
    }
    fputs("}}\n", f);
}

static void print_text(FILE *f, const BenchSpec *sp, const BenchResult *r, int count_only) {
    fprintf(f, "%s B=%d P=%d %s hidden=", count_only ? "count" : r->on_gpu ? "cuda" : "cpu", sp->batch, sp->members,
            precision_name(sp->precision));
    for (int i = 0; i < sp->n_hidden; i++) fprintf(f, "%s%d", i ? "," : "", sp->hidden[i]);
    fprintf(f, " S=%d A=%d rho=%g%s%s%s%s\n", sp->obs_dim, sp->act_dim, sp->rho, sp->use_graphs ? "" : " no-graphs",
            sp->gemm_epilogues ? " gemm-epilogues" : "", sp->parallel_nets ? " parallel-nets" : "",
            sp->replay == REPLAY_HOST ? " replay=host" : sp->replay == REPLAY_DEVICE ? " replay=device" : "");
    double per_member = (double)r->memory.total / sp->members / (1 << 20);
    if (count_only) {
        fprintf(f, "  work        %.4f GFLOP/step, %.3f MB/step\n", r->flops_per_step * 1e-9, r->bytes_per_step * 1e-6);
        fprintf(f, "  memory      %.1f MiB per member (state %.1f MiB: parameters & optimiser %.1f, activations %.1f, "
                   "gradients %.1f, batch %.1f, heads %.1f)\n",
                per_member, (double)r->memory.total / (1 << 20), (double)r->memory.model / (1 << 20),
                (double)r->memory.activations / (1 << 20), (double)r->memory.gradients / (1 << 20),
                (double)r->memory.batch / (1 << 20), (double)r->memory.heads / (1 << 20));
        return;
    }
    fprintf(f, "  device      %s\n", r->device);
    fprintf(f, "  rate        %.1f steps/s, %.4g samples/s, %.1f member-steps/s (%d steps)\n", r->steps_per_s,
            r->samples_per_s, r->member_steps_per_s, r->steps);
    fprintf(f, "  work        %.4f GFLOP/step, %.3f MB/step: %.1f GFLOP/s achieved\n", r->flops_per_step * 1e-9,
            r->bytes_per_step * 1e-6, r->achieved_flops * 1e-9);
    fprintf(f, "  ceilings    GEMM %.1f GFLOP/s (%d^3), copy %.1f GB/s (read + write), measured here\n",
            r->ceilings.gemm_flops * 1e-9, r->ceilings.gemm_n, r->ceilings.bandwidth * 1e-9);
    fprintf(f, "  floor       %.1f steps/s (%s-bound: %.1f us GEMM, %.1f us bytes)   measured/floor = %.3f\n",
            r->floor_steps_per_s, r->memory_bound ? "memory" : "GEMM", r->floor_gemm_s * 1e6, r->floor_bytes_s * 1e6,
            r->measured_over_floor);
    if (r->guarded)
        fprintf(f, "  load check  %.1f steps/s before the ceilings, %.1f after (%+.0f %%); other processes %.2f / %.2f "
                   "cores, steal %.2f / %.2f\n", r->steps_per_s, r->steps_per_s_after_ceilings,
                100 * (r->steps_per_s_after_ceilings / r->steps_per_s - 1), r->load_before.others, r->load_after.others,
                r->load_before.steal, r->load_after.steal);
    fprintf(f, "  memory      %.1f MiB per member (state %.1f MiB", per_member, (double)r->memory.total / (1 << 20));
    if (isfinite(r->measured_bytes))
        fprintf(f, "; measured %.1f MiB: state, dataset, graphs, workspaces", r->measured_bytes / (1 << 20));
    fprintf(f, ")\n");
    if (r->phase_steps) {
        double total = 0;
        for (int ph = 0; ph < IQL_PHASE_COUNT; ph++) total += r->phase_s[ph];
        fprintf(f, "  phases      (%d eager steps, %s: %.1f us/step)", r->phase_steps,
                r->on_gpu ? "CUDA events" : "clock", total * 1e6);
        for (int ph = 0; ph < IQL_PHASE_COUNT; ph++)
            fprintf(f, "  %s %.1f us (%.0f%%)", iql_phase_names[ph], r->phase_s[ph] * 1e6,
                    total > 0 ? 100 * r->phase_s[ph] / total : 0.0);
        fprintf(f, "\n");
    }
}

typedef struct {
    BenchSpec base;
    int batches[BENCH_MAX_LIST], n_batches;
    int members[BENCH_MAX_LIST], n_members;
    PrecisionKind precisions[2];
    int n_precisions;
    int steps, phases, json, count_only;
    double seconds;
} BenchOptions;

static int parse_options(int argc, char **argv, BenchOptions *o, int *help, Error *err) {
    memset(o, 0, sizeof *o);
    bench_spec_defaults(&o->base);
    o->batches[0] = 256, o->n_batches = 1;
    o->members[0] = 1, o->n_members = 1;
    o->precisions[0] = PRECISION_FP32, o->n_precisions = 1;
    o->seconds = 2;
    o->phases = 10;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            *help = 1;
            return 0;
        }
        if (!strcmp(a, "--json")) { o->json = 1; continue; }
        if (!strcmp(a, "--count-only")) { o->count_only = 1; continue; }
        if (!strcmp(a, "--no-graphs")) { o->base.use_graphs = 0; continue; }
        if (!strcmp(a, "--gemm-epilogues")) { o->base.gemm_epilogues = 1; continue; }
        if (!strcmp(a, "--parallel-nets")) { o->base.parallel_nets = 1; continue; }
        static const char *const with_value[] = {"--device", "--batch", "--members", "--precision", "--hidden", "--dims",
                                                 "--steps", "--phases", "--threads", "--seconds", "--rho", "--replay"};
        int known = 0;
        for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++) known |= !strcmp(a, with_value[k]);
        if (!known) return error_set(err, "unknown option '%s' (see cuiql bench --help)", a);
        if (i + 1 >= argc) return error_set(err, "%s needs a value (see cuiql bench --help)", a);
        const char *v = argv[++i];
        int list[BENCH_MAX_LIST], n;
        uint64_t u;
        double d;
        if (!strcmp(a, "--device")) {
            if (!strcmp(v, "auto")) o->base.device = DEVICE_AUTO;
            else if (!strcmp(v, "cpu")) o->base.device = DEVICE_CPU;
            else if (!strcmp(v, "cuda")) o->base.device = DEVICE_CUDA;
            else return error_set(err, "--device: expected auto, cpu or cuda, got '%s'", v);
        } else if (!strcmp(a, "--replay")) {
            if (!strcmp(v, "auto")) o->base.replay = REPLAY_AUTO;
            else if (!strcmp(v, "device")) o->base.replay = REPLAY_DEVICE;
            else if (!strcmp(v, "host")) o->base.replay = REPLAY_HOST;
            else return error_set(err, "--replay: expected auto, device or host, got '%s'", v);
        } else if (!strcmp(a, "--batch")) {
            if (parse_list(v, o->batches, &o->n_batches, a, err)) return -1;
        } else if (!strcmp(a, "--members")) {
            if (parse_list(v, o->members, &o->n_members, a, err)) return -1;
        } else if (!strcmp(a, "--precision")) {
            o->n_precisions = 0;
            char copy[64];
            snprintf(copy, sizeof copy, "%s", v);
            for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) {
                if (o->n_precisions == 2) return error_set(err, "--precision: at most fp32,tf32");
                if (!strcmp(tok, "fp32")) o->precisions[o->n_precisions++] = PRECISION_FP32;
                else if (!strcmp(tok, "tf32")) o->precisions[o->n_precisions++] = PRECISION_TF32;
                else return error_set(err, "--precision: expected fp32 or tf32, got '%s'", tok);
            }
            if (!o->n_precisions) return error_set(err, "--precision: empty list");
        } else if (!strcmp(a, "--hidden")) {
            if (parse_list(v, list, &n, a, err)) return -1;
            if (n > CONFIG_MAX_HIDDEN) return error_set(err, "--hidden: at most %d layers", CONFIG_MAX_HIDDEN);
            memcpy(o->base.hidden, list, sizeof(int) * (size_t)n);
            o->base.n_hidden = n;
        } else if (!strcmp(a, "--dims")) {
            if (parse_list(v, list, &n, a, err)) return -1;
            if (n != 2) return error_set(err, "--dims: expected S,A, got '%s'", v);
            o->base.obs_dim = list[0], o->base.act_dim = list[1];
        } else if (!strcmp(a, "--steps") || !strcmp(a, "--phases") || !strcmp(a, "--threads")) {
            if (parse_uint64(v, &u) || u > 100000000) return error_set(err, "%s: expected a count, got '%s'", a, v);
            if (!strcmp(a, "--steps")) o->steps = (int)u;
            else if (!strcmp(a, "--phases")) o->phases = (int)u;
            else o->base.threads = (int)u;
        } else if (!strcmp(a, "--seconds") || !strcmp(a, "--rho")) {
            if (parse_double(v, &d) || !(d > 0) || (!strcmp(a, "--rho") && d > 1))
                return error_set(err, "%s: expected a positive number%s, got '%s'", a,
                                 !strcmp(a, "--rho") ? " up to 1" : "", v);
            if (!strcmp(a, "--seconds")) o->seconds = d;
            else o->base.rho = d;
        } else {
            return error_set(err, "unknown option '%s' (see cuiql bench --help)", a);
        }
    }
    return 0;
}

/* Every configuration of one precision on one backend; the ceilings measured once, after the
 * first configuration's timing. */
static int run_precision(const BenchOptions *o, PrecisionKind precision, FILE *out, Error *err) {
    BenchSpec spec = o->base;
    spec.precision = precision;
    if (o->count_only) {
        for (int bi = 0; bi < o->n_batches; bi++)
            for (int mi = 0; mi < o->n_members; mi++) {
                spec.batch = o->batches[bi], spec.members = o->members[mi];
                BenchResult r;
                memset(&r, 0, sizeof r);
                r.measured_bytes = NAN;
                r.steps_per_s = r.samples_per_s = r.member_steps_per_s = r.achieved_flops = NAN;
                r.ceilings.gemm_flops = r.ceilings.bandwidth = r.floor_steps_per_s = r.measured_over_floor = NAN;
                r.floor_gemm_s = r.floor_bytes_s = NAN;
                if (bench_count(&spec, &r.flops_per_step, &r.bytes_per_step, &r.memory, err)) return -1;
                if (o->json) print_json(out, &spec, &r, 1);
                else print_text(out, &spec, &r, 1);
            }
        return 0;
    }
    Backend *b = bench_backend(&spec, err);
    if (!b) return -1;
    BenchCeilings ceilings;
    int have_ceilings = 0, rc = 0;
    for (int bi = 0; bi < o->n_batches && !rc; bi++)
        for (int mi = 0; mi < o->n_members && !rc; mi++) {
            spec.batch = o->batches[bi], spec.members = o->members[mi];
            BenchRun *run = bench_setup(b, &spec, err);
            double rate = 0, rate_after = NAN, phase_s[IQL_PHASE_COUNT] = {0};
            int steps = 0, guarded = !have_ceilings, steps_again = 0;
            LoadShare load = {0}, load_after = {0};
            /* The guard: the first configuration is timed again after the ceilings (a large GEMM
             * and copy), with what the rest of the machine took meanwhile (guard_report). */
            rc = !run || bench_time_steps(run, o->steps, o->seconds, &rate, &steps, &load, err) ||
                 (!have_ceilings && bench_ceilings(b, &ceilings, err)) ||
                 (guarded && bench_time_steps(run, steps, o->seconds, &rate_after, &steps_again, &load_after, err)) ||
                 bench_phases(run, o->phases, phase_s, err);
            if (!rc) {
                have_ceilings = 1;
                BenchResult r;
                bench_result(run, &ceilings, rate, steps, phase_s, o->phases, &r);
                r.guarded = guarded;
                r.steps_per_s_after_ceilings = rate_after;
                r.load_before = load;
                r.load_after = load_after;
                if (guarded) guard_report(&r, spec.threads);
                if (o->json) print_json(out, &spec, &r, 0);
                else print_text(out, &spec, &r, 0);
                fflush(out);
            } else {
                error_prefix(err, "B=%d P=%d %s", spec.batch, spec.members, precision_name(precision));
            }
            bench_free(run);
        }
    b->ops->destroy(b);
    return rc ? -1 : 0;
}

int cmd_bench(int argc, char **argv) {
    BenchOptions o;
    Error err = {{0}};
    int help = 0;
    if (parse_options(argc, argv, &o, &help, &err)) {
        fprintf(stderr, "cuiql bench: %s\n", err.msg);
        return 2;
    }
    if (help) {
        bench_usage(stdout);
        return 0;
    }
    for (int p = 0; p < o.n_precisions; p++)
        if (run_precision(&o, o.precisions[p], stdout, &err)) {
            fprintf(stderr, "cuiql bench: %s\n", err.msg);
            return 1;
        }
    return 0;
}
