/* gpu_test_util.c — see gpu_test_util.h. */
#include "gpu_test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuiql/philox.h"
#include "test_util.h"

static uint64_t rand_counter = 0;

uint32_t test_rand_u32(void) { return philox_value(0x5eed, 7, rand_counter++); }

float test_rand(float lo, float hi) { return lo + (hi - lo) * philox_uniform01(test_rand_u32()); }

int gpu_available(const char *test_name) {
    char desc[512];
    if (cuda_backend_probe(0, desc, sizeof desc)) {
        printf("%s: on %s\n", test_name, desc);
        return 1;
    }
    printf("%s: skipped: %s\n", test_name, desc);
    return 0;
}

int backends_open(Backends *bk, const BackendOptions *gpu_opt) {
    Error err;
    BackendOptions cpu_opt = {.threads = 1};  /* one BLAS thread: the oracle's sums in one order */
    bk->cpu = cpu_backend_create(&cpu_opt, &err);
    CHECK(bk->cpu != NULL, "cpu_backend_create: %s", err.msg);
    bk->gpu = bk->cpu ? cuda_backend_create(gpu_opt, &err) : NULL;
    CHECK(!bk->cpu || bk->gpu != NULL, "cuda_backend_create: %s", err.msg);
    return bk->cpu && bk->gpu ? 0 : -1;
}

void backends_close(Backends *bk) {
    if (bk->gpu) bk->gpu->ops->destroy(bk->gpu);
    if (bk->cpu) bk->cpu->ops->destroy(bk->cpu);
    bk->cpu = bk->gpu = NULL;
}

static void *must_alloc(Backend *b, size_t bytes) {
    Error err;
    void *p = b->ops->alloc(b, bytes, &err);
    if (!p) {
        fprintf(stderr, "%s alloc of %zu bytes: %s\n", b->ops->name, bytes, err.msg);
        exit(1);
    }
    return p;
}

static void must_upload(Backend *b, void *dst, const void *src, size_t bytes) {
    Error err;
    if (b->ops->upload(b, dst, src, bytes, &err)) {
        fprintf(stderr, "%s upload: %s\n", b->ops->name, err.msg);
        exit(1);
    }
}

Mirror mirror_new(Backends *bk, size_t n, size_t offset) {
    Mirror m;
    m.n = n;
    m.cpu_base = must_alloc(bk->cpu, sizeof(float) * (n + offset + 1));
    m.gpu_base = must_alloc(bk->gpu, sizeof(float) * (n + offset + 1));
    m.cpu = m.cpu_base + offset;
    m.gpu = m.gpu_base + offset;
    return m;
}

void mirror_free(Backends *bk, Mirror *m) {
    bk->cpu->ops->release(bk->cpu, m->cpu_base);
    bk->gpu->ops->release(bk->gpu, m->gpu_base);
    memset(m, 0, sizeof *m);
}

void mirror_set(Backends *bk, Mirror *m, const float *values) {
    if (!m->n) return;
    must_upload(bk->cpu, m->cpu, values, sizeof(float) * m->n);
    must_upload(bk->gpu, m->gpu, values, sizeof(float) * m->n);
}

void mirror_fill(Backends *bk, Mirror *m, float lo, float hi) {
    float *h = malloc(sizeof(float) * (m->n + 1));
    for (size_t i = 0; i < m->n; i++) h[i] = test_rand(lo, hi);
    mirror_set(bk, m, h);
    free(h);
}

void mirror_poison(Backends *bk, Mirror *m) {
    float *h = malloc(sizeof(float) * (m->n + 1));
    for (size_t i = 0; i < m->n; i++) h[i] = NAN;
    mirror_set(bk, m, h);
    free(h);
}

float *mirror_download(Backend *gpu, const Mirror *m) {
    Error err;
    float *h = malloc(sizeof(float) * (m->n + 1));
    if (gpu->ops->synchronize(gpu, &err) || gpu->ops->download(gpu, h, m->gpu, sizeof(float) * m->n, &err)) {
        CHECK(0, "download: %s", err.msg);
        for (size_t i = 0; i < m->n; i++) h[i] = NAN;
    }
    return h;
}

void mirror_check(Backend *ran, const Mirror *m, double tol, const char *what) {
    float *g = mirror_download(ran, m);
    const float *c = m->cpu;
    size_t unwritten = 0, stray = 0, first_unwritten = 0, first_stray = 0;
    double diff2 = 0, norm2 = 0;
    size_t counted = 0;
    for (size_t i = 0; i < m->n; i++) {
        int gn = isnan(g[i]), cn = isnan(c[i]);
        if (gn && !cn && !unwritten++) first_unwritten = i;
        if (!gn && cn && !stray++) first_stray = i;
        if (gn || cn) continue;
        double d = (double)g[i] - c[i];
        diff2 += d * d;
        norm2 += (double)c[i] * c[i];
        counted++;
    }
    CHECK(unwritten == 0, "%s: %zu of %zu elements never written (first at %zu)", what, unwritten, m->n, first_unwritten);
    CHECK(stray == 0, "%s: %zu elements written that the CPU leaves alone (first at %zu: %g)", what, stray, first_stray,
          stray ? g[first_stray] : 0.0);
    if (tol == 0) {
        size_t bad = 0, first = 0;
        for (size_t i = 0; i < m->n; i++)
            if (!isnan(c[i]) && memcmp(&g[i], &c[i], sizeof(float)) != 0 && !bad++) first = i;
        CHECK(bad == 0, "%s: %zu of %zu elements differ bit for bit (first at %zu: gpu %.9g, cpu %.9g)", what, bad, m->n,
              first, bad ? g[first] : 0.0, bad ? c[first] : 0.0);
    } else {
        double rel = sqrt(diff2) / fmax(sqrt(norm2), 1e-30);
        double rms = counted ? sqrt(norm2 / counted) : 0;
        size_t bad = 0, worst = 0;
        double worst_ratio = 0;
        for (size_t i = 0; i < m->n; i++) {
            if (isnan(c[i]) || isnan(g[i])) continue;
            double allowed = 10 * tol * (fabs(c[i]) + rms) + 1e-30;
            double ratio = fabs((double)g[i] - c[i]) / allowed;
            if (ratio > 1) bad++;
            if (ratio > worst_ratio) {
                worst_ratio = ratio;
                worst = i;
            }
        }
        CHECK(rel <= tol, "%s: relative error %.3g > %.3g (n = %zu)", what, rel, tol, m->n);
        CHECK(bad == 0, "%s: %zu elements off by more than their share (worst at %zu: gpu %.9g, cpu %.9g)", what, bad,
              worst, bad ? g[worst] : 0.0, bad ? c[worst] : 0.0);
    }
    free(g);
}

double gamma_n(double n, double u) { return n * u / (1 - n * u); }

int gemm_exact(void) {
    const char *env = getenv("CUIQL_EMU_EXACT");
    return env && strcmp(env, "1") == 0;
}

void mirror_check_bound(Backend *ran, const Mirror *m, const double *bound, const char *what) {
    float *g = mirror_download(ran, m);
    const float *c = m->cpu;
    size_t unwritten = 0, stray = 0, bad = 0, worst = 0;
    double worst_ratio = 0;
    for (size_t i = 0; i < m->n; i++) {
        int gn = isnan(g[i]), cn = isnan(c[i]);
        unwritten += gn && !cn;
        stray += !gn && cn;
        if (gn || cn) continue;
        double d = fabs((double)g[i] - c[i]), ratio = d / (bound[i] + 1e-300);
        if (d > bound[i]) bad++;
        if (ratio > worst_ratio || (d > 0 && bound[i] == 0 && worst_ratio < INFINITY)) {
            worst_ratio = bound[i] > 0 ? ratio : INFINITY;
            worst = i;
        }
    }
    CHECK(unwritten == 0, "%s: %zu of %zu elements never written", what, unwritten, m->n);
    CHECK(stray == 0, "%s: %zu elements written that the CPU leaves alone", what, stray);
    CHECK(bad == 0, "%s: %zu of %zu elements outside their bound (worst at %zu: gpu %.9g, cpu %.9g, bound %.3g)", what,
          bad, m->n, worst, bad ? g[worst] : 0.0, bad ? c[worst] : 0.0, bad ? bound[worst] : 0.0);
    free(g);
}
