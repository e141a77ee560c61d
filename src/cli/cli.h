/* cli.h: the subcommands of bin/featrd. Each lives in cmd_<name>.c, takes
 * argv from the subcommand name on, and returns the process exit status
 * (0 ok, 1 runtime failure, 2 bad usage or input). The CLI includes only the
 * public header featrd.h. */
#ifndef FEATRD_CLI_H
#define FEATRD_CLI_H

#include "featrd.h"

int fr_cmd_run(int argc, char **argv);
int fr_cmd_layers(int argc, char **argv);
int fr_cmd_encode(int argc, char **argv);
int fr_cmd_decode(int argc, char **argv);
int fr_cmd_bd(int argc, char **argv);
int fr_cmd_plot(int argc, char **argv);
int fr_cmd_merge(int argc, char **argv);
int fr_cmd_train(int argc, char **argv);
int fr_cmd_invert(int argc, char **argv);
int fr_cmd_data(int argc, char **argv);
int fr_cmd_version(int argc, char **argv);
int fr_cmd_weights(int argc, char **argv);
int fr_cmd_frd(int argc, char **argv);
int fr_cmd_features(int argc, char **argv);
int fr_cmd_score(int argc, char **argv);
int fr_cmd_submit(int argc, char **argv);
int fr_cmd_status(int argc, char **argv);

/* Writes the HEVC Annex-B stream of each cut tensor of the container
 * frd[len] (named src in messages) to out (then out.1.hevc, ...) and prints
 * the geometry; a container of another codec is FR_E_USAGE. In cmd_frd.c. */
int fr_cli_write_hevc(const uint8_t *frd, size_t len, const char *src, const char *out,
                      FrError *err);

/* Prints "featrd <cmd>: <message>" to stderr and returns fr_exit_status(code). */
int fr_cli_fail(const char *cmd, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* True when argv[i] is -h or --help. */
int fr_cli_is_help(const char *arg);
/* --device cpu|gpu: 0 and *d set, or -1 for anything else. */
int fr_cli_device(const char *v, FrDevice *d);
/* A comma-separated list of QPs (0..255, at most cap) into qps: 0 and *n
 * set (an empty list gives 0 entries), or -1 on a bad entry. */
int fr_cli_qp_list(const char *v, int *qps, int cap, int *n);

#endif
