/* Khiên — engine/modules: the `hash` module (declaration placeholder; being written). */
#include "engine/modules/module.h"

static const kh_ymember members[] = {
    {NULL, 0, 0, NULL, NULL},
};

static int load(kh_yobj *root, const uint8_t *data, size_t len, kh_yarena *a)
{
    KH_UNUSED(root);
    KH_UNUSED(data);
    KH_UNUSED(len);
    KH_UNUSED(a);
    return 0;
}

const kh_ymodule kh_ymod_hash = {"hash", {"hash", KH_YT_STRUCT, 0, members, NULL}, load};
