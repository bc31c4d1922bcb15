/* Khiên — cli: the centre's subcommands, built into libkhien-centre.so.
 *
 * `khien server`, `khien agent`, `khien update` and `khien bundle` need
 * HTTP, TLS, SQLite, PostgreSQL, curl and the PDF and QR-code libraries;
 * the other subcommands need none of them. They live in this module beside
 * the program, which main.c loads only when one of them is asked for, so
 * that `khien scan` and `khien yara` do not load 35 libraries at every
 * start. This file is the module's one entry point.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cmd.h"

static const kh_cmd centre_cmds[] = {
    {"server", cmd_server, NULL},
    {"bundle", cmd_bundle, NULL},
    {"update", cmd_update, NULL},
    {"agent", cmd_agent, NULL},
};

__attribute__((visibility("default"))) int kh_centre_main(const char *name, int argc, char **argv)
{
    for (size_t i = 0; i < sizeof(centre_cmds) / sizeof(centre_cmds[0]); i++)
        if (strcmp(name, centre_cmds[i].name) == 0)
            return centre_cmds[i].run(argc, argv);
    /* main.c's table names a command this module does not have: a module
     * from another build. */
    fprintf(stderr, "khien: mô-đun trung tâm không có lệnh / the centre module has no command '%s'\n", name);
    return KH_EXIT_ERROR;
}
