/* Khiên — inventory/os_name: the system's display name for programs above
 * libkhien (the agent's heartbeat and enrollment), read as the inventory
 * reads it (os-release in /etc, else /usr/lib, quoting and escapes). */
#include <stdio.h>
#include <stdlib.h>

#include "inventory/rootfs.h"
#include "khien/inventory.h"

KH_API void kh_inventory_os_name(char *out, size_t n, const char *root)
{
    if (!out || n == 0)
        return;
    out[0] = 0;
    char *v = kh_osrelease_get(root, "PRETTY_NAME");
    if (v)
        snprintf(out, n, "%s", v);
    free(v);
}
