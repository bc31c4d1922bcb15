/* Khiên — server/ui_none: the web UI hook when no web UI is built in.
 *
 * kh_server_create() calls kh_ui_register() once; a web UI (src/server/ui_*.c)
 * replaces this file with its own definition that registers its pages and
 * assets with kh_server_route_add() (see server.h).
 */
#include "server/server.h"

int kh_ui_register(kh_server *s)
{
    (void)s;
    return 0;
}
