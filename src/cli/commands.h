/* src/cli/commands.h — one entry point per `mhim <command>`, each in its own cmd_<name>.c.
 * Contract: argv[0] is the command name; returns the process exit status
 * (0 success, 2 bad input with a one-line message already printed, 1 internal error). */
#ifndef MHIM_CLI_COMMANDS_H
#define MHIM_CLI_COMMANDS_H

int mhim_cmd_config(int argc, char **argv);
int mhim_cmd_train(int argc, char **argv);
int mhim_cmd_predict(int argc, char **argv);
int mhim_cmd_splits(int argc, char **argv);
int mhim_cmd_synth(int argc, char **argv);
int mhim_cmd_info(int argc, char **argv);
int mhim_cmd_sweep_summary(int argc, char **argv);

/* Print "mhim: error: <mhim_error()>" to stderr and return `status` (for `return cli_report(rc);`). */
int mhim_cli_report(int status);

#endif
