/* Khiên — engine/modules: the registry of YARA modules.
 *
 * One line per module. The index of a module in this table is its number
 * in rule bit masks and compiled sets, so new modules go at the end.
 */
#include <string.h>

#include "engine/modules/module.h"

extern const kh_ymodule kh_ymod_pe, kh_ymod_elf, kh_ymod_math, kh_ymod_hash, kh_ymod_console, kh_ymod_cuckoo;

const kh_ymodule *const kh_ymodules[] = {
    &kh_ymod_pe, &kh_ymod_elf, &kh_ymod_math, &kh_ymod_hash, &kh_ymod_console, &kh_ymod_cuckoo,
};

const unsigned kh_nymodules = sizeof(kh_ymodules) / sizeof(kh_ymodules[0]);

int kh_ymodule_find(const char *name)
{
    for (unsigned i = 0; i < kh_nymodules; i++)
        if (strcmp(kh_ymodules[i]->name, name) == 0)
            return (int)i;
    return -1;
}
