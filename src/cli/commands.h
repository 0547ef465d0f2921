/* commands.h — the subcommands of the `cuiql` program. Each returns the process exit code and
 * prints its own one-line error ("cuiql train: ...") on failure. */
#ifndef CUIQL_COMMANDS_H
#define CUIQL_COMMANDS_H

int cmd_train(int argc, char **argv);  /* src/cli/train.c */
int cmd_info(int argc, char **argv);   /* src/cli/info.c */
int cmd_gen(int argc, char **argv);    /* src/cli/gen.c */
int cmd_eval(int argc, char **argv);   /* src/cli/eval.c */

/* `cuiql --version`: version, backends compiled in, library versions. */
void print_version(void);

#endif
