/* Khiên — inventory: disks, partitions and USB devices, from /sys.
 *
 * /sys/block lists block devices; each has a size in 512-byte sectors and,
 * when the driver provides them, a model, vendor and serial number (SATA
 * and SCSI disks: device/model, device/vendor, and the serial in the VPD
 * page 0x80; NVMe: device/serial; virtio: serial). A partition is a
 * subfolder with a "partition" file. Where a disk or partition is mounted
 * comes from /proc/mounts. Loop, RAM and zram devices are left out: they
 * come and go with software, not with hardware.
 *
 * USB devices are the entries of /sys/bus/usb/devices that have an
 * idVendor file (interfaces, "1-1:1.0", do not). Their key is
 * vendor:product plus the serial number, or the port when there is none,
 * so that the same stick seen twice is the same row.
 */
#include <stdlib.h>
#include <string.h>

#include "inventory/inv_int.h"
#include "inventory/rootfs.h"

typedef struct mount_ent {
    char *dev, *dir, *type;
} mount_ent;

typedef KH_VEC(mount_ent) mount_vec;

static void mounts_free(mount_vec *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->v[i].dev);
        free(m->v[i].dir);
        free(m->v[i].type);
    }
    KH_VEC_FREE(*m);
}

/* /proc/mounts escapes blanks as \040 etc.; decode octal escapes in place. */
static void unescape_octal(char *s)
{
    char *w = s;
    for (char *p = s; *p; p++) {
        if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' &&
            p[3] <= '7') {
            *w++ = (char)((p[1] - '0') << 6 | (p[2] - '0') << 3 | (p[3] - '0'));
            p += 3;
        } else {
            *w++ = *p;
        }
    }
    *w = 0;
}

static void load_mounts(kh_inventory *inv, mount_vec *m)
{
    kh_buf b = KH_BUF_INIT(0);
    if (kh_root_read(inv->rootdir, "/proc/mounts", 16u << 20, &b) != 0) {
        kh_buf_dispose(&b);
        return;
    }
    size_t pos = 0, n;
    const char *line;
    while ((line = kh_next_line(b.data, b.len, &pos, &n)) != NULL) {
        char *l = kh_strndup(line, n), *save = NULL;
        if (!l)
            break;
        char *dev = strtok_r(l, " \t", &save), *dir = strtok_r(NULL, " \t", &save),
             *type = strtok_r(NULL, " \t", &save);
        if (dev && dir && type && strncmp(dev, "/dev/", 5) == 0 && KH_VEC_RESERVE(*m, 1, 100000) == 0) {
            unescape_octal(dir);
            mount_ent *e = &m->v[m->n];
            e->dev = kh_strdup(dev + 5);
            e->dir = kh_strdup(dir);
            e->type = kh_strdup(type);
            if (e->dev && e->dir && e->type)
                m->n++;
            else
                free(e->dev), free(e->dir), free(e->type);
        }
        free(l);
    }
    kh_buf_dispose(&b);
}

/* Sets mountpoint and fstype of device name (the lexically first mount point). */
static void set_mount(kh_inventory *inv, kh_inv_row *r, const mount_vec *m, const char *name)
{
    const mount_ent *best = NULL;
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->v[i].dev, name) == 0 && (!best || strcmp(m->v[i].dir, best->dir) < 0))
            best = &m->v[i];
    if (best) {
        kh_inv__set(inv, r, "mountpoint", best->dir, 0);
        kh_inv__set(inv, r, "fstype", best->type, 0);
    }
}

static uint64_t read_u64(kh_inventory *inv, const char *path, int *ok)
{
    char *v = kh_root_read_line(inv->rootdir, path);
    uint64_t x = 0;
    *ok = v && kh_parse_u64(v, strlen(v), &x) == 0;
    free(v);
    return x;
}

/* Serial number from a SCSI VPD page 0x80 (unit serial number). */
static char *vpd_serial(kh_inventory *inv, const char *path)
{
    kh_buf b = KH_BUF_INIT(0);
    char *s = NULL;
    if (kh_root_read(inv->rootdir, path, 4096, &b) == 0 && b.len > 4 && (unsigned char)b.data[1] == 0x80) {
        size_t n = (size_t)((unsigned char)b.data[2] << 8 | (unsigned char)b.data[3]);
        if (n > b.len - 4)
            n = b.len - 4;
        const char *t = kh_trim(b.data + 4, &n);
        size_t k = 0;
        while (k < n && t[k] >= 0x20 && t[k] < 0x7f)
            k++;
        if (k)
            s = kh_strndup(t, k);
    }
    kh_buf_dispose(&b);
    return s;
}

static void set_line(kh_inventory *inv, kh_inv_row *r, const char *field, const char *path)
{
    char *v = kh_root_read_line(inv->rootdir, path);
    kh_inv__set(inv, r, field, v, 0);
    free(v);
}

static int skip_block(const char *name)
{
    return strncmp(name, "loop", 4) == 0 || strncmp(name, "ram", 3) == 0 || strncmp(name, "zram", 4) == 0;
}

static void collect_disks(kh_inventory *inv, const mount_vec *m)
{
    char **names = NULL, **parts = NULL;
    size_t n = 0, np = 0;
    int rc = kh_root_list(inv->rootdir, "/sys/block", &names, &n);
    if (rc) {
        kh_inv__warn(inv, "cannot list /sys/block: %s", kh_strerror(rc));
        return;
    }
    kh_inv_table *td = kh_inv__table(inv, "disks", KH_INV_HARDWARE);
    kh_buf p = KH_BUF_INIT(0);
    for (size_t i = 0; i < n; i++) {
        const char *d = names[i];
        int ok;
        if (skip_block(d))
            continue;
        kh_buf_clear(&p);
        kh_buf_printf(&p, "/sys/block/%s/size", d);
        uint64_t sectors = read_u64(inv, p.data, &ok);
        if (!ok || sectors == 0)
            continue;
        kh_inv_row *r = kh_inv__row(inv, td, d);
        kh_inv__set_u64(inv, r, "size_bytes", sectors * 512, 0);
        static const char *const files[][2] = {
            {"model", "device/model"}, {"vendor", "device/vendor"}, {"serial", "device/serial"},
            {"serial", "serial"},      {"wwid", "device/wwid"},     {"wwid", "wwid"},
        };
        for (size_t k = 0; k < KH_ARRAY_LEN(files); k++) {
            if (kh_inv_row_get(r, files[k][0]))
                continue;
            kh_buf_clear(&p);
            kh_buf_printf(&p, "/sys/block/%s/%s", d, files[k][1]);
            set_line(inv, r, files[k][0], p.data);
        }
        if (!kh_inv_row_get(r, "serial")) {
            kh_buf_clear(&p);
            kh_buf_printf(&p, "/sys/block/%s/device/vpd_pg80", d);
            char *s = vpd_serial(inv, p.data);
            kh_inv__set(inv, r, "serial", s, 0);
            free(s);
        }
        kh_buf_clear(&p);
        kh_buf_printf(&p, "/sys/block/%s/removable", d);
        uint64_t v = read_u64(inv, p.data, &ok);
        if (ok)
            kh_inv__set(inv, r, "removable", v ? "yes" : "no", 0);
        kh_buf_clear(&p);
        kh_buf_printf(&p, "/sys/block/%s/queue/rotational", d);
        v = read_u64(inv, p.data, &ok);
        if (ok)
            kh_inv__set(inv, r, "rotational", v ? "yes" : "no", 0);
        set_mount(inv, r, m, d);

        kh_buf_clear(&p);
        kh_buf_printf(&p, "/sys/block/%s", d);
        if (kh_root_list(inv->rootdir, p.data, &parts, &np) != 0)
            continue;
        kh_inv_table *tp = kh_inv__table(inv, "partitions", KH_INV_HARDWARE);
        for (size_t k = 0; k < np; k++) {
            kh_buf_clear(&p);
            kh_buf_printf(&p, "/sys/block/%s/%s/partition", d, parts[k]);
            if (kh_root_kind(inv->rootdir, p.data) != KH_ROOT_FILE)
                continue;
            kh_inv_row *pr = kh_inv__row(inv, tp, parts[k]);
            kh_inv__set(inv, pr, "disk", d, 0);
            kh_buf_clear(&p);
            kh_buf_printf(&p, "/sys/block/%s/%s/size", d, parts[k]);
            v = read_u64(inv, p.data, &ok);
            if (ok)
                kh_inv__set_u64(inv, pr, "size_bytes", v * 512, 0);
            set_mount(inv, pr, m, parts[k]);
        }
        kh_root_names_free(parts, np);
        parts = NULL;
    }
    kh_buf_dispose(&p);
    kh_root_names_free(names, n);
}

static void collect_usb(kh_inventory *inv)
{
    char **names = NULL;
    size_t n = 0;
    if (kh_root_list(inv->rootdir, "/sys/bus/usb/devices", &names, &n) != 0)
        return; /* no USB bus: nothing to say */
    kh_inv_table *t = kh_inv__table(inv, "usb", KH_INV_HARDWARE);
    kh_buf p = KH_BUF_INIT(0);
    for (size_t i = 0; i < n; i++) {
        const char *d = names[i];
        if (strchr(d, ':'))
            continue;
        char *f[6];
        static const char *const files[6] = {"idVendor", "idProduct", "manufacturer", "product", "serial", "speed"};
        for (int k = 0; k < 6; k++) {
            kh_buf_clear(&p);
            kh_buf_printf(&p, "/sys/bus/usb/devices/%s/%s", d, files[k]);
            f[k] = kh_root_read_line(inv->rootdir, p.data);
        }
        if (f[0] && f[1]) {
            kh_inv_row *r = f[4] ? kh_inv__rowf(inv, t, "%s:%s %s", f[0], f[1], f[4])
                                 : kh_inv__rowf(inv, t, "%s:%s @%s", f[0], f[1], d);
            kh_inv__set(inv, r, "vendor_id", f[0], 0);
            kh_inv__set(inv, r, "product_id", f[1], 0);
            kh_inv__set(inv, r, "manufacturer", f[2], 0);
            kh_inv__set(inv, r, "product", f[3], 0);
            kh_inv__set(inv, r, "serial", f[4], 0);
            kh_inv__set(inv, r, "speed_mbps", f[5], 0);
            kh_inv__set(inv, r, "port", d, f[4] ? KH_INV_FIELD_VOLATILE : 0);
        }
        for (int k = 0; k < 6; k++)
            free(f[k]);
    }
    kh_buf_dispose(&p);
    kh_root_names_free(names, n);
}

void kh_inv__collect_storage(kh_inventory *inv)
{
    mount_vec m = {0};
    load_mounts(inv, &m);
    collect_disks(inv, &m);
    mounts_free(&m);
    collect_usb(inv);
}
