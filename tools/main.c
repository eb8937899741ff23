/* tickinfer CLI entry point: dispatches to the subcommands in commands.def. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "tickinfer/version.h"

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} cli_cmd;

static const cli_cmd k_cmds[] = {
#define TI_CMD(name, fn, summary) {name, fn, summary},
#include "commands.def"
#undef TI_CMD
};
#define N_CMDS (sizeof k_cmds / sizeof k_cmds[0])

static void usage(FILE *out)
{
    fprintf(out,
            "tickinfer %s: low-latency inference engine for trading models\n\n"
            "usage: tickinfer <command> [options]\n\ncommands:\n",
            TI_VERSION_STRING);
    for (size_t i = 0; i < N_CMDS; i++) fprintf(out, "  %-10s %s\n", k_cmds[i].name, k_cmds[i].summary);
    fprintf(out, "  %-10s %s\n", "help", "show this list, or `tickinfer help <command>`");
    fprintf(out, "\nRun `tickinfer <command> --help` for a command's options.\n");
}

int cli_fail(const char *cmd, ti_err err)
{
    const char *msg = ti_errmsg();
    fprintf(stderr, "tickinfer %s: error: %s%s(%s)\n", cmd, msg, *msg ? " " : "", ti_err_name(err));
    return 1;
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return 1;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        if (argc >= 3) {
            for (size_t i = 0; i < N_CMDS; i++)
                if (strcmp(k_cmds[i].name, argv[2]) == 0) {
                    char *hargv[] = {argv[2], "--help", NULL};
                    return k_cmds[i].fn(2, hargv);
                }
            fprintf(stderr, "tickinfer: unknown command '%s'\n", argv[2]);
            return 2;
        }
        usage(stdout);
        return 0;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("tickinfer %s\n", TI_VERSION_STRING);
        return 0;
    }
    for (size_t i = 0; i < N_CMDS; i++)
        if (strcmp(k_cmds[i].name, name) == 0) return k_cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "tickinfer: unknown command '%s'\n\n", name);
    usage(stderr);
    return 2;
}
