/* Khiên — inventory: the machine itself (operating system, host identity,
 * firmware, processor, memory), and kh_inventory_collect() which runs
 * every collector.
 *
 * Sources, all plain files: /etc/os-release (or /usr/lib/os-release) and
 * /etc/debian_version; /proc/sys/kernel/{osrelease,version,arch,hostname};
 * /etc/machine-id; /proc/uptime and /proc/stat's btime (volatile);
 * the files of /sys/class/dmi/id (x86 firmware tables; the serial numbers are
 * readable by root only) or the device-tree model on ARM boards;
 * /proc/cpuinfo and /proc/meminfo. The architecture comes from
 * /proc/sys/kernel/arch, falling back to uname() only for the running host
 * (never for a --root tree, whose files must say everything).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "inventory/inv_int.h"
#include "inventory/rootfs.h"

char *kh_inv__line(kh_inventory *inv, const char *fmt, ...)
{
    char path[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(path))
        return NULL;
    return kh_root_read_line(inv->rootdir, path);
}

/* ---- os-release ------------------------------------------------------------------ */

static void collect_os(kh_inventory *inv)
{
    kh_inv_table *t = kh_inv__table(inv, "os", KH_INV_SOFTWARE);
    kh_inv_row *r = kh_inv__row(inv, t, "os");
    kh_buf b = KH_BUF_INIT(0);
    int rc = kh_root_read(inv->rootdir, "/etc/os-release", 1u << 20, &b);
    if (rc)
        rc = kh_root_read(inv->rootdir, "/usr/lib/os-release", 1u << 20, &b);
    if (!rc) {
        static const char *const keys[][2] = {{"NAME", "name"},         {"VERSION", "version"},
                                              {"VERSION_ID", "version_id"}, {"VERSION_CODENAME", "codename"},
                                              {"ID", "id"},             {"PRETTY_NAME", "pretty_name"}};
        for (size_t i = 0; i < KH_ARRAY_LEN(keys); i++) {
            char *v = kh_osrelease_value(b.data, b.len, keys[i][0]);
            kh_inv__set(inv, r, keys[i][1], v, 0);
            free(v);
        }
    } else {
        kh_inv__warn(inv, "cannot read /etc/os-release: %s", kh_strerror(rc));
    }
    kh_buf_dispose(&b);
    char *v = kh_inv__line(inv, "/etc/debian_version");
    kh_inv__set(inv, r, "debian_version", v, 0);
    free(v);
    v = kh_inv__line(inv, "/proc/sys/kernel/osrelease");
    kh_inv__set(inv, r, "kernel", v, 0);
    free(v);
    v = kh_inv__line(inv, "/proc/sys/kernel/version");
    kh_inv__set(inv, r, "kernel_build", v, 0);
    free(v);
    v = kh_inv__line(inv, "/proc/sys/kernel/arch");
    struct utsname u;
    if (!v && kh_root_is_host(inv->rootdir) && uname(&u) == 0)
        v = kh_strdup(u.machine);
    kh_inv__set(inv, r, "arch", v, 0);
    free(v);
}

/* ---- Host identity and uptime ------------------------------------------------------ */

static void iso_time(char *out, size_t n, time_t t)
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, n, "%lld", (long long)t);
}

static void collect_host(kh_inventory *inv)
{
    kh_inv_table *t = kh_inv__table(inv, "host", KH_INV_HARDWARE);
    kh_inv_row *r = kh_inv__row(inv, t, "host");
    char *v = kh_inv__line(inv, "/proc/sys/kernel/hostname");
    if (!v)
        v = kh_inv__line(inv, "/etc/hostname");
    kh_inv__set(inv, r, "hostname", v, 0);
    free(v);
    v = kh_inv__line(inv, "/etc/machine-id");
    if (!v)
        v = kh_inv__line(inv, "/var/lib/dbus/machine-id");
    kh_inv__set(inv, r, "machine_id", v, 0);
    free(v);
    v = kh_inv__line(inv, "/etc/timezone");
    if (!v) {
        char *l = kh_root_readlink(inv->rootdir, "/etc/localtime");
        const char *z = l ? strstr(l, "zoneinfo/") : NULL;
        v = z ? kh_strdup(z + 9) : NULL;
        free(l);
    }
    kh_inv__set(inv, r, "timezone", v, 0);
    free(v);
    v = kh_inv__line(inv, "/proc/uptime");
    if (v) {
        unsigned long long up = strtoull(v, NULL, 10);
        kh_inv__set_u64(inv, r, "uptime_seconds", up, KH_INV_FIELD_VOLATILE);
        free(v);
    }
    kh_buf b = KH_BUF_INIT(0);
    if (kh_root_read(inv->rootdir, "/proc/stat", 16u << 20, &b) == 0) {
        const char *p = strstr(b.data, "\nbtime ");
        if (p) {
            char ts[64];
            iso_time(ts, sizeof(ts), (time_t)strtoll(p + 7, NULL, 10));
            kh_inv__set(inv, r, "boot_time", ts, KH_INV_FIELD_VOLATILE);
        }
    }
    kh_buf_dispose(&b);
}

static void collect_dmi(kh_inventory *inv)
{
    static const char *const names[] = {"sys_vendor",   "product_name",   "product_version", "product_serial",
                                        "product_uuid", "board_vendor",   "board_name",      "board_serial",
                                        "bios_vendor",  "bios_version",   "bios_date",       "chassis_vendor",
                                        "chassis_type", "chassis_serial"};
    kh_inv_table *t = kh_inv__table(inv, "dmi", KH_INV_HARDWARE);
    kh_inv_row *r = NULL;
    for (size_t i = 0; i < KH_ARRAY_LEN(names); i++) {
        char *v = kh_inv__line(inv, "/sys/class/dmi/id/%s", names[i]);
        if (v && !r)
            r = kh_inv__row(inv, t, "dmi");
        kh_inv__set(inv, r, names[i], v, 0);
        free(v);
    }
    /* ARM boards: the device tree names the model */
    char *m = kh_inv__line(inv, "/proc/device-tree/model");
    if (!m)
        m = kh_inv__line(inv, "/sys/firmware/devicetree/base/model");
    if (m) {
        size_t n = strlen(m); /* device-tree strings end with NUL */
        while (n && m[n - 1] == 0)
            n--;
        if (!r)
            r = kh_inv__row(inv, t, "dmi");
        kh_inv__setn(inv, r, "model", m, n, 0);
        free(m);
    }
}

/* ---- Processor and memory -------------------------------------------------------------- */

static const char *cpuinfo_value(const char *line, size_t n, const char *key, size_t *vn)
{
    size_t kl = strlen(key);
    if (n < kl || memcmp(line, key, kl) != 0)
        return NULL;
    size_t i = kl;
    while (i < n && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i >= n || line[i] != ':')
        return NULL;
    *vn = n - i - 1;
    return kh_trim(line + i + 1, vn);
}

static void collect_cpu(kh_inventory *inv)
{
    kh_buf b = KH_BUF_INIT(0);
    int rc = kh_root_read(inv->rootdir, "/proc/cpuinfo", 64u << 20, &b);
    if (rc) {
        kh_inv__warn(inv, "cannot read /proc/cpuinfo: %s", kh_strerror(rc));
        kh_buf_dispose(&b);
        return;
    }
    char *model = NULL, *vendor = NULL;
    uint64_t logical = 0, phys = UINT64_MAX;
    KH_VEC(uint64_t) pairs = {0}; /* physical id << 32 | core id, unique */
    KH_VEC(uint64_t) sockets = {0};
    size_t pos = 0, n, vn;
    const char *line, *v;
    while ((line = kh_next_line(b.data, b.len, &pos, &n)) != NULL) {
        if ((v = cpuinfo_value(line, n, "processor", &vn)) != NULL && vn && v[0] >= '0' && v[0] <= '9') {
            logical++;
        } else if (!model && ((v = cpuinfo_value(line, n, "model name", &vn)) != NULL ||
                              (v = cpuinfo_value(line, n, "Model", &vn)) != NULL ||
                              (v = cpuinfo_value(line, n, "Hardware", &vn)) != NULL ||
                              (v = cpuinfo_value(line, n, "cpu model", &vn)) != NULL ||
                              (v = cpuinfo_value(line, n, "cpu", &vn)) != NULL)) {
            model = kh_strndup(v, vn);
        } else if (!vendor && (v = cpuinfo_value(line, n, "vendor_id", &vn)) != NULL) {
            vendor = kh_strndup(v, vn);
        } else if ((v = cpuinfo_value(line, n, "physical id", &vn)) != NULL) {
            phys = strtoull(v, NULL, 10);
            size_t k = 0;
            while (k < sockets.n && sockets.v[k] != phys)
                k++;
            if (k == sockets.n && KH_VEC_RESERVE(sockets, 1, 4096) == 0)
                sockets.v[sockets.n++] = phys;
        } else if ((v = cpuinfo_value(line, n, "core id", &vn)) != NULL && phys != UINT64_MAX) {
            uint64_t key = phys << 32 | (strtoull(v, NULL, 10) & 0xffffffffu);
            size_t k = 0;
            while (k < pairs.n && pairs.v[k] != key)
                k++;
            if (k == pairs.n && KH_VEC_RESERVE(pairs, 1, 1u << 16) == 0)
                pairs.v[pairs.n++] = key;
        }
    }
    kh_inv_table *t = kh_inv__table(inv, "cpu", KH_INV_HARDWARE);
    kh_inv_row *r = kh_inv__row(inv, t, "cpu");
    kh_inv__set(inv, r, "model", model, 0);
    kh_inv__set(inv, r, "vendor", vendor, 0);
    kh_inv__set_u64(inv, r, "logical_cpus", logical, 0);
    kh_inv__set_u64(inv, r, "cores", pairs.n ? pairs.n : logical, 0);
    kh_inv__set_u64(inv, r, "sockets", sockets.n ? sockets.n : 1, 0);
    free(model);
    free(vendor);
    KH_VEC_FREE(pairs);
    KH_VEC_FREE(sockets);
    kh_buf_dispose(&b);
}

static int meminfo_kib(const char *text, const char *key, uint64_t *out)
{
    size_t kl = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, key, kl) == 0 && p[kl] == ':') {
            *out = strtoull(p + kl + 1, NULL, 10);
            return 1;
        }
    return 0;
}

static void collect_memory(kh_inventory *inv)
{
    kh_buf b = KH_BUF_INIT(0);
    int rc = kh_root_read(inv->rootdir, "/proc/meminfo", 1u << 20, &b);
    if (rc) {
        kh_inv__warn(inv, "cannot read /proc/meminfo: %s", kh_strerror(rc));
        kh_buf_dispose(&b);
        return;
    }
    kh_inv_table *t = kh_inv__table(inv, "memory", KH_INV_HARDWARE);
    kh_inv_row *r = kh_inv__row(inv, t, "memory");
    uint64_t v;
    if (meminfo_kib(b.data, "MemTotal", &v))
        kh_inv__set_u64(inv, r, "total_bytes", v * 1024, 0);
    if (meminfo_kib(b.data, "SwapTotal", &v))
        kh_inv__set_u64(inv, r, "swap_total_bytes", v * 1024, 0);
    if (meminfo_kib(b.data, "MemAvailable", &v))
        kh_inv__set_u64(inv, r, "available_bytes", v * 1024, KH_INV_FIELD_VOLATILE);
    if (meminfo_kib(b.data, "SwapFree", &v))
        kh_inv__set_u64(inv, r, "swap_free_bytes", v * 1024, KH_INV_FIELD_VOLATILE);
    kh_buf_dispose(&b);
}

/* ---- Everything -------------------------------------------------------------------- */

int kh_inventory_collect(kh_inventory **out, const kh_inventory_options *opts)
{
    kh_inventory_options def = KH_INVENTORY_OPTIONS_INIT;
    if (!opts)
        opts = &def;
    if (!out || opts->version != KH_INVENTORY_OPTIONS_VERSION)
        return KH_EINVAL;
    if (!kh_root_is_host(opts->root) && kh_root_kind(opts->root, "/") != KH_ROOT_DIR)
        return KH_ENOENT;
    kh_inventory *inv = kh_inv__new();
    if (!inv)
        return KH_ENOMEM;
    inv->rootdir = kh_root_is_host(opts->root) ? NULL : opts->root;
    char ts[64];
    iso_time(ts, sizeof(ts), time(NULL));
    inv->collected_at = kh_strdup(ts);
    inv->root = kh_strdup(inv->rootdir ? inv->rootdir : "/");
    inv->generator = kh_strdup("khien " KH_VERSION_STRING);
    if (!inv->collected_at || !inv->root || !inv->generator)
        inv->err = KH_ENOMEM;
    collect_os(inv);
    collect_host(inv);
    collect_dmi(inv);
    collect_cpu(inv);
    collect_memory(inv);
    kh_inv__collect_storage(inv);
    kh_inv__collect_network(inv);
    kh_inv__collect_packages(inv);
    kh_inv__collect_accounts(inv);
    kh_inv__collect_services(inv);
    kh_inv__finish(inv);
    inv->rootdir = NULL;
    int rc = inv->err;
    if (rc) {
        kh_inventory_destroy(inv);
        return rc;
    }
    *out = inv;
    return 0;
}
