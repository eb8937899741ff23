/* tickinfer CLI: shared declarations.  Each subcommand lives in tools/cmd_<name>.c and
 * is listed once in tools/commands.def.  Subcommands are thin: parse flags, call the
 * library, print.  They return a process exit code (0 ok, 1 error, 2 usage). */
#ifndef TICKINFER_TOOLS_CLI_H
#define TICKINFER_TOOLS_CLI_H

#include "tickinfer/err.h"

#define TI_CMD(name, fn, summary) int fn(int argc, char **argv);
#include "commands.def"
#undef TI_CMD

/* Print "tickinfer <cmd>: error: <message of err>" to stderr and return 1. */
int cli_fail(const char *cmd, ti_err err);

/* True if argv has -h or --help. */
int cli_wants_help(int argc, char **argv);

#endif
