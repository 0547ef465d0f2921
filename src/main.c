/* main.c — `cuiql COMMAND ...`: dispatches to the subcommands in src/cli/. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

static void print_usage(FILE *out) {
    fprintf(out,
            "usage: cuiql COMMAND [options]\n"
            "\n"
            "Implicit Q-Learning (offline RL) on the CPU or an NVIDIA GPU.\n"
            "\n"
            "commands:\n"
            "  train   train IQL on an HDF5 dataset (D4RL or Minari layout)\n"
            "  info    summarise a dataset file\n"
            "  gen     generate a dataset in a built-in environment\n"
            "  eval    run a checkpoint's policy in a built-in environment\n"
            "  sweep-report  rank a sweep's (tau, beta) pairs over seeds (also: report)\n"
            "  bench   time the training step against the device's measured floor\n"
            "\n"
            "  cuiql COMMAND --help   options of one command\n"
            "  cuiql --version        version, backends and libraries\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        print_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        print_version();
        return 0;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "train")) return cmd_train(argc - 1, argv + 1);
    if (!strcmp(cmd, "info")) return cmd_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "gen")) return cmd_gen(argc - 1, argv + 1);
    if (!strcmp(cmd, "eval")) return cmd_eval(argc - 1, argv + 1);
    if (!strcmp(cmd, "sweep-report") || !strcmp(cmd, "report")) return cmd_report(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return cmd_bench(argc - 1, argv + 1);
    fprintf(stderr, "cuiql: unknown command '%s' (try 'cuiql --help')\n", cmd);
    return 2;
}
