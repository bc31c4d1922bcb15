/* Khiên — cli: the subcommand table and what every command shares.
 *
 * Each subcommand is a main()-like function in its own cmd_*.c file, listed
 * in main.c. Commands use only the public libkhien API (include/khien/) and
 * util; they alone print and choose exit codes.
 */
#ifndef KH_CLI_CMD_H
#define KH_CLI_CMD_H

#include <stdio.h>

/* Exit codes: the contract with scripts (as clamscan). */
#define KH_EXIT_CLEAN 0 /* nothing found */
#define KH_EXIT_FOUND 1 /* something found */
#define KH_EXIT_ERROR 2 /* an error (bad usage, unreadable database, ...) */

typedef struct kh_cmd {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} kh_cmd;

int cmd_scan(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_yara(int argc, char **argv);
int cmd_compile(int argc, char **argv);
int cmd_inventory(int argc, char **argv);
int cmd_vuln(int argc, char **argv);
/* The centre's subcommands, in libkhien-centre.so (centre.c): the program
 * reaches them through kh_centre_main(), the module's one exported name. */
typedef int (*kh_centre_main_fn)(const char *name, int argc, char **argv);
#define KH_CENTRE_MODULE "libkhien-centre.so"
#define KH_CENTRE_ENTRY "kh_centre_main"
int kh_centre_main(const char *name, int argc, char **argv);
int cmd_update(int argc, char **argv);
int cmd_server(int argc, char **argv);
int cmd_bundle(int argc, char **argv);
int cmd_agent(int argc, char **argv);

/* output.c */
void kh_cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kh_cli_warnf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The per-user state directory ($KHIEN_STATE_DIR, $XDG_STATE_HOME/khien or
 * ~/.local/state/khien); NULL if none can be determined. Caller frees. */
char *kh_cli_state_dir(void);
/* Prints the compiler's diagnostics to stderr (errors and warnings). */
struct kh_compiler;
void kh_cli_print_diags(const struct kh_compiler *c, int quiet);

#endif
