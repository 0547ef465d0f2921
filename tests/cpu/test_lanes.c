/* test_lanes.c — the CPU lanes' worker pool (src/cpu/lanes.c): lanes_split runs its job once on
 * each of the workers it settled on, however many threads are asked for. More than
 * BACKEND_MAX_LANES once ran past the pool's thread array (a hang at 10, a crash at 16). */
#include <stdatomic.h>
#include <string.h>

#include "cpu/lanes.h"
#include "test_util.h"

typedef struct {
    atomic_int runs[BACKEND_MAX_LANES + 1];
    atomic_int workers_seen; /* the `workers` every call received, all equal */
    atomic_int out_of_range;
} Tally;

static void count(void *ctx, int worker, int workers) {
    Tally *t = ctx;
    if (worker < 0 || worker >= workers || workers > BACKEND_MAX_LANES) atomic_fetch_add(&t->out_of_range, 1);
    else atomic_fetch_add(&t->runs[worker], 1);
    atomic_store(&t->workers_seen, workers);
}

int main(void) {
    int checks = 0;
    Lanes lanes;
    memset(&lanes, 0, sizeof lanes);
    for (int asked = 1; asked <= 64; asked = asked < 8 ? asked + 1 : asked * 2) {
        for (int round = 0; round < 3; round++) { /* the pool is reused */
            Tally t;
            memset(&t, 0, sizeof t);
            lanes_split(&lanes, asked, count, &t);
            int workers = atomic_load(&t.workers_seen), once = 1;
            for (int w = 0; w < workers; w++) once &= atomic_load(&t.runs[w]) == 1;
            CHECK(atomic_load(&t.out_of_range) == 0, "asked %d: a worker index out of range", asked);
            CHECK(workers >= 1 && workers <= (asked < BACKEND_MAX_LANES ? asked : BACKEND_MAX_LANES),
                  "asked %d: %d workers", asked, workers);
            CHECK(once, "asked %d: each of the %d workers ran the job once", asked, workers);
            checks += 3;
        }
    }
    lanes_destroy(&lanes);
    CHECK(lanes.pool == NULL, "lanes_destroy ends the pool");
    return test_finish("lanes", checks + 1);
}
