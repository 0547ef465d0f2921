/* commands.h — the subcommands of the `cuiql` program. Each returns the process exit code and
 * prints its own one-line error ("cuiql train: ...") on failure. */
#ifndef CUIQL_COMMANDS_H
#define CUIQL_COMMANDS_H

#include <stdint.h>

#include "cuiql/error.h"
#include "env/generate.h"  /* defines: GenData */

int cmd_train(int argc, char **argv);  /* src/cli/train.c */
int cmd_info(int argc, char **argv);   /* src/cli/info.c */
int cmd_gen(int argc, char **argv);    /* src/cli/gen.c */
int cmd_eval(int argc, char **argv);   /* src/cli/eval.c */
int cmd_report(int argc, char **argv); /* src/cli/report.c: `cuiql sweep-report` */
int cmd_bench(int argc, char **argv);  /* src/cli/bench.c */

/* Writes a generated dataset (env/generate.h) as a D4RL flat HDF5 file with the root
 * attributes env, behavior, seed and episodes (`cuiql gen`'s output; src/cli/gen.c). */
int gen_data_write(const char *path, const GenData *d, const char *env_name, const char *behavior, uint64_t seed,
                   Error *err);

/* `cuiql --version`: version, backends compiled in, library versions. */
void print_version(void);

#endif
