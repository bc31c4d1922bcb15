/* Khiên — engine/modules: the `cuckoo` module (declaration only).
 *
 * yara's cuckoo module answers questions about a Cuckoo sandbox report
 * given on the command line (yara -x cuckoo=report.json). Khiên scans files,
 * not sandbox reports, so — exactly like yara without a report — every
 * function is defined and returns false. Declaring the module lets rule
 * sets that import it compile and evaluate the rest of their conditions.
 */
#include "engine/modules/module.h"

static int no_report(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    KH_UNUSED(c);
    KH_UNUSED(a);
    out->type = KH_YT_INT;
    out->defined = 1;
    out->v.i = 0;
    return 0;
}

static const kh_yfunc f_r[] = {{"r", KH_YT_BOOL, no_report}, {0, 0, 0}};
static const kh_yfunc f_ri[] = {{"ri", KH_YT_BOOL, no_report}, {0, 0, 0}};

static const kh_ymember network[] = {
    {"dns_lookup", KH_YT_FUNC, 0, NULL, f_r},      {"http_get", KH_YT_FUNC, 0, NULL, f_r},
    {"http_post", KH_YT_FUNC, 0, NULL, f_r},       {"http_request", KH_YT_FUNC, 0, NULL, f_r},
    {"http_user_agent", KH_YT_FUNC, 0, NULL, f_r}, {"host", KH_YT_FUNC, 0, NULL, f_r},
    {"tcp", KH_YT_FUNC, 0, NULL, f_ri},            {"udp", KH_YT_FUNC, 0, NULL, f_ri},
    {NULL, 0, 0, NULL, NULL},
};
static const kh_ymember registry[] = {{"key_access", KH_YT_FUNC, 0, NULL, f_r}, {NULL, 0, 0, NULL, NULL}};
static const kh_ymember filesystem[] = {{"file_access", KH_YT_FUNC, 0, NULL, f_r}, {NULL, 0, 0, NULL, NULL}};
static const kh_ymember sync[] = {{"mutex", KH_YT_FUNC, 0, NULL, f_r}, {NULL, 0, 0, NULL, NULL}};
static const kh_ymember process[] = {{"executed_command", KH_YT_FUNC, 0, NULL, f_r}, {NULL, 0, 0, NULL, NULL}};

static const kh_ymember members[] = {
    {"network", KH_YT_STRUCT, 0, network, NULL},       {"registry", KH_YT_STRUCT, 0, registry, NULL},
    {"filesystem", KH_YT_STRUCT, 0, filesystem, NULL}, {"sync", KH_YT_STRUCT, 0, sync, NULL},
    {"process", KH_YT_STRUCT, 0, process, NULL},       {NULL, 0, 0, NULL, NULL},
};

static int load(kh_yobj *root, const uint8_t *data, size_t len, kh_yarena *a)
{
    KH_UNUSED(root);
    KH_UNUSED(data);
    KH_UNUSED(len);
    KH_UNUSED(a);
    return 0;
}

const kh_ymodule kh_ymod_cuckoo = {"cuckoo", {"cuckoo", KH_YT_STRUCT, 0, members, NULL}, load};
