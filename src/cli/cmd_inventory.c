/* Khiên — cli: `khien inventory`, what a host is made of and what changed.
 *
 * Without --diff: collects a snapshot of this host (or of the tree given
 * with --root) and prints a report by section, or the snapshot as JSON with
 * --json (keep it to compare later). With --diff OLD.json [NEW.json]:
 * compares two snapshots (the second defaults to a fresh collection) and
 * prints each change typed (hardware, software, account, network, service)
 * and classified (added, removed, changed, with before and after).
 *
 * Exit status: 0 report printed, or no differences; 1 differences found;
 * 2 error (unreadable or malformed snapshot, bad option).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmd.h"
#include "khien/inventory.h"
#include "khien/khien.h"
#include "util/util.h"

#define SNAPSHOT_LIMIT (512u << 20)

static void usage(FILE *f)
{
    fputs("Cách dùng / Usage: khien inventory [OPTIONS]\n"
          "       khien inventory --diff OLD.json [NEW.json] [OPTIONS]\n"
          "Kiểm kê phần cứng, phần mềm, tài khoản, mạng, dịch vụ của máy /\n"
          "Inventory of hardware, software, accounts, network and services.\n\n"
          "  -r, --root=DIR      read DIR/proc, DIR/sys, DIR/etc ... instead of this host's\n"
          "      --json          print the snapshot (or the diff) as JSON\n"
          "  -o, --output=FILE   also write the JSON snapshot to FILE\n"
          "  -a, --all           list every row (all packages, all users) in the text report\n"
          "      --diff OLD [NEW] changes from snapshot OLD to NEW (default: this host now)\n"
          "      --color=WHEN    auto (default: on a terminal), always, never\n"
          "  -h, --help          this help\n\n"
          "Exit status: 0 done / no changes, 1 changes found (--diff), 2 error.\n",
          f);
}

enum { O_JSON = 256, O_DIFF, O_COLOR };

static const struct option longopts[] = {
    {"root", required_argument, 0, 'r'}, {"json", no_argument, 0, O_JSON},
    {"output", required_argument, 0, 'o'}, {"all", no_argument, 0, 'a'},
    {"diff", required_argument, 0, O_DIFF}, {"color", required_argument, 0, O_COLOR},
    {"colour", required_argument, 0, O_COLOR}, {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

/* ---- Output helpers ---------------------------------------------------------------------- */

typedef struct outopts {
    int color, all;
} outopts;

static const char *C(const outopts *o, const char *code) { return o->color ? code : ""; }
#define BOLD "\033[1m"
#define CYAN "\033[1;36m"
#define RED "\033[31m"
#define GREEN "\033[32m"
#define YELLOW "\033[33m"
#define DIM "\033[2m"
#define RESET "\033[0m"

static void section(const outopts *o, const char *title)
{
    printf("\n%s== %s ==%s\n", C(o, CYAN), title, C(o, RESET));
}

static const char *size_str(const char *bytes, char *buf, size_t n)
{
    if (!bytes)
        return "?";
    double v = strtod(bytes, NULL);
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    snprintf(buf, n, u ? "%.1f %s" : "%.0f %s", v, units[u]);
    return buf;
}

static const char *get(const kh_inv_row *r, const char *f)
{
    const char *v = kh_inv_row_get(r, f);
    return v ? v : "";
}

static const kh_inv_row *first_row(const kh_inventory *inv, const char *table)
{
    const kh_inv_table *t = kh_inventory_table(inv, table);
    return t && t->nrows ? &t->rows[0] : NULL;
}

static size_t nrows(const kh_inventory *inv, const char *table)
{
    const kh_inv_table *t = kh_inventory_table(inv, table);
    return t ? t->nrows : 0;
}

/* ---- The text report --------------------------------------------------------------------------- */

static void report_system(const outopts *o, const kh_inventory *inv)
{
    const kh_inv_row *os = first_row(inv, "os"), *host = first_row(inv, "host");
    section(o, "Hệ điều hành / Operating system");
    if (os) {
        const char *pretty = get(os, "pretty_name");
        printf("  %s%s%s", C(o, BOLD), *pretty ? pretty : get(os, "name"), C(o, RESET));
        if (*get(os, "debian_version"))
            printf(" (Debian %s)", get(os, "debian_version"));
        printf("\n  Nhân / Kernel: %s, %s\n", get(os, "kernel"), get(os, "arch"));
    }
    if (host) {
        printf("  Tên máy / Hostname: %s\n", get(host, "hostname"));
        printf("  Machine ID: %s\n", get(host, "machine_id"));
        uint64_t up;
        const char *u = get(host, "uptime_seconds");
        if (*u && kh_parse_u64(u, strlen(u), &up) == 0)
            printf("  Thời gian chạy / Uptime: %llu ngày / days %llu h %llu min (khởi động / boot %s)\n",
                   (unsigned long long)(up / 86400), (unsigned long long)(up % 86400 / 3600),
                   (unsigned long long)(up % 3600 / 60), get(host, "boot_time"));
        if (*get(host, "timezone"))
            printf("  Múi giờ / Time zone: %s\n", get(host, "timezone"));
    }
}

static void report_hardware(const outopts *o, const kh_inventory *inv)
{
    char b1[32], b2[32];
    section(o, "Phần cứng / Hardware");
    const kh_inv_row *dmi = first_row(inv, "dmi"), *cpu = first_row(inv, "cpu"), *mem = first_row(inv, "memory");
    if (dmi) {
        printf("  Máy / Machine: %s %s", get(dmi, "sys_vendor"), get(dmi, "product_name"));
        if (*get(dmi, "model"))
            printf("%s", get(dmi, "model"));
        if (*get(dmi, "product_serial"))
            printf(", số sê-ri / serial %s", get(dmi, "product_serial"));
        printf("\n");
        if (*get(dmi, "bios_vendor"))
            printf("  BIOS: %s %s (%s)\n", get(dmi, "bios_vendor"), get(dmi, "bios_version"), get(dmi, "bios_date"));
    }
    if (cpu)
        printf("  CPU: %s, %s lõi / cores, %s luồng / threads, %s socket\n", get(cpu, "model"), get(cpu, "cores"),
               get(cpu, "logical_cpus"), get(cpu, "sockets"));
    if (mem)
        printf("  Bộ nhớ / Memory: %s, swap %s\n", size_str(kh_inv_row_get(mem, "total_bytes"), b1, sizeof(b1)),
               size_str(kh_inv_row_get(mem, "swap_total_bytes"), b2, sizeof(b2)));
    const kh_inv_table *t = kh_inventory_table(inv, "disks");
    const kh_inv_table *parts = kh_inventory_table(inv, "partitions");
    printf("  Ổ đĩa / Disks: %zu\n", t ? t->nrows : 0);
    for (size_t i = 0; t && i < t->nrows; i++) {
        const kh_inv_row *r = &t->rows[i];
        printf("    %-10s %10s  %s %s", r->key, size_str(kh_inv_row_get(r, "size_bytes"), b1, sizeof(b1)),
               get(r, "vendor"), get(r, "model"));
        if (*get(r, "serial"))
            printf(" sê-ri / serial %s", get(r, "serial"));
        if (strcmp(get(r, "removable"), "yes") == 0)
            printf(" (tháo rời được / removable)");
        if (*get(r, "mountpoint"))
            printf(" -> %s (%s)", get(r, "mountpoint"), get(r, "fstype"));
        printf("\n");
        for (size_t k = 0; parts && k < parts->nrows; k++) {
            const kh_inv_row *p = &parts->rows[k];
            if (strcmp(get(p, "disk"), r->key) != 0)
                continue;
            printf("      %-10s %10s", p->key, size_str(kh_inv_row_get(p, "size_bytes"), b1, sizeof(b1)));
            if (*get(p, "mountpoint"))
                printf("  -> %s (%s)", get(p, "mountpoint"), get(p, "fstype"));
            printf("\n");
        }
    }
    t = kh_inventory_table(inv, "usb");
    if (t) {
        printf("  Thiết bị USB / USB devices: %zu\n", t->nrows);
        for (size_t i = 0; i < t->nrows; i++) {
            const kh_inv_row *r = &t->rows[i];
            printf("    %s:%s %s %s", get(r, "vendor_id"), get(r, "product_id"), get(r, "manufacturer"),
                   get(r, "product"));
            if (*get(r, "serial"))
                printf(" sê-ri / serial %s", get(r, "serial"));
            printf("\n");
        }
    }
}

static void report_network(const outopts *o, const kh_inventory *inv)
{
    section(o, "Mạng / Network");
    const kh_inv_table *t = kh_inventory_table(inv, "interfaces");
    printf("  Giao diện / Interfaces: %zu\n", t ? t->nrows : 0);
    for (size_t i = 0; t && i < t->nrows; i++) {
        const kh_inv_row *r = &t->rows[i];
        printf("    %-10s %-17s %s", r->key, get(r, "mac"), get(r, "ipv4"));
        if (*get(r, "ipv6"))
            printf("%s%s", *get(r, "ipv4") ? ", " : "", get(r, "ipv6"));
        printf(" %s(%s%s%s, %s)%s\n", C(o, DIM), get(r, "kind"), *get(r, "driver") ? " " : "", get(r, "driver"),
               get(r, "state"), C(o, RESET));
    }
    t = kh_inventory_table(inv, "listening");
    printf("  Cổng đang mở / Listening sockets: %zu\n", t ? t->nrows : 0);
    for (size_t i = 0; t && i < t->nrows; i++) {
        const kh_inv_row *r = &t->rows[i];
        const char *p = get(r, "process");
        printf("    %-30s %s (%s)\n", r->key, *p ? p : "?", get(r, "user"));
    }
}

static void report_software(const outopts *o, const kh_inventory *inv)
{
    section(o, "Phần mềm / Software");
    const kh_inv_table *t = kh_inventory_table(inv, "packages");
    printf("  Gói đã cài / Installed packages: %s%zu%s (dpkg)\n", C(o, BOLD), t ? t->nrows : 0, C(o, RESET));
    if (!o->all) {
        if (t && t->nrows)
            printf("  %s(--all để liệt kê / to list them)%s\n", C(o, DIM), C(o, RESET));
        return;
    }
    for (size_t i = 0; t && i < t->nrows; i++) {
        const kh_inv_row *r = &t->rows[i];
        printf("    %-40s %-30s %s%s%s\n", get(r, "name"), get(r, "version"), get(r, "arch"),
               *get(r, "state") ? " " : "", get(r, "state"));
    }
}

static void report_accounts(const outopts *o, const kh_inventory *inv)
{
    section(o, "Tài khoản / Accounts");
    const kh_inv_table *t = kh_inventory_table(inv, "users");
    size_t login = 0;
    for (size_t i = 0; t && i < t->nrows; i++)
        login += strcmp(get(&t->rows[i], "login"), "yes") == 0;
    printf("  Người dùng / Users: %zu (đăng nhập được / can log in: %zu), nhóm / groups: %zu\n",
           t ? t->nrows : 0, login, nrows(inv, "groups"));
    printf("  Quyền quản trị / Administrators (uid 0, sudo):\n");
    for (size_t i = 0; t && i < t->nrows; i++) {
        const kh_inv_row *r = &t->rows[i];
        if (*get(r, "admin"))
            printf("    %s%-16s%s %s\n", C(o, RED), r->key, C(o, RESET), get(r, "admin"));
    }
    printf("  Tài khoản đăng nhập được / Login accounts:\n");
    for (size_t i = 0; t && i < t->nrows; i++) {
        const kh_inv_row *r = &t->rows[i];
        if (!o->all && strcmp(get(r, "login"), "yes") != 0)
            continue;
        printf("    %-16s uid %-6s %-18s mật khẩu / password: %s", r->key, get(r, "uid"), get(r, "shell"),
               get(r, "password"));
        if (*get(r, "last_password_change"))
            printf(", đổi lần cuối / last changed %s", get(r, "last_password_change"));
        printf("\n");
    }
    const kh_inv_table *s = kh_inventory_table(inv, "sudoers");
    if (s) {
        printf("  Quy tắc sudo / sudo rules: %zu\n", s->nrows);
        for (size_t i = 0; i < s->nrows; i++)
            printf("    %-16s %s  %s(%s)%s\n", get(&s->rows[i], "who"), get(&s->rows[i], "rule"), C(o, DIM),
                   get(&s->rows[i], "source"), C(o, RESET));
    }
}

static void report_services(const outopts *o, const kh_inventory *inv)
{
    section(o, "Dịch vụ / Services");
    const kh_inv_table *t = kh_inventory_table(inv, "services");
    size_t running = 0;
    for (size_t i = 0; t && i < t->nrows; i++)
        running += strcmp(get(&t->rows[i], "running"), "yes") == 0;
    printf("  Dịch vụ khởi động cùng máy hoặc đang chạy / Services started at boot or running: %zu (đang chạy / "
           "running: %zu)\n",
           t ? t->nrows : 0, running);
    for (size_t i = 0; t && i < t->nrows; i++) {
        const kh_inv_row *r = &t->rows[i];
        printf("    %-40s %-8s %-7s %s\n", r->key, get(r, "enabled"), get(r, "running"), get(r, "description"));
    }
    t = kh_inventory_table(inv, "scheduled");
    printf("  Tác vụ định kỳ / Scheduled tasks: %zu\n", t ? t->nrows : 0);
    for (size_t i = 0; t && i < t->nrows; i++) {
        const kh_inv_row *r = &t->rows[i];
        printf("    %-13s %-24s %-6s %s  %s(%s)%s\n", get(r, "kind"), get(r, "schedule"), get(r, "user"),
               get(r, "command"), C(o, DIM), get(r, "source"), C(o, RESET));
    }
    t = kh_inventory_table(inv, "autostart");
    printf("  Tự khởi động / Autostart entries: %zu\n", t ? t->nrows : 0);
    for (size_t i = 0; t && i < t->nrows; i++) {
        const kh_inv_row *r = &t->rows[i];
        printf("    %-13s %-6s %s%s  %s(%s)%s\n", get(r, "kind"), get(r, "user"), get(r, "command"),
               strcmp(get(r, "enabled"), "no") == 0 ? " [tắt / disabled]" : "", C(o, DIM), get(r, "source"),
               C(o, RESET));
    }
}

static void report(const outopts *o, const kh_inventory *inv)
{
    const kh_inv_row *host = first_row(inv, "host");
    printf("%sKhiên — Kiểm kê máy / Host inventory%s: %s (%s, root %s)\n", C(o, BOLD), C(o, RESET),
           host ? get(host, "hostname") : "?", kh_inventory_meta(inv, "collected_at"), kh_inventory_meta(inv, "root"));
    report_system(o, inv);
    report_hardware(o, inv);
    report_network(o, inv);
    report_software(o, inv);
    report_accounts(o, inv);
    report_services(o, inv);
    size_t nw = kh_inventory_warning_count(inv);
    if (nw) {
        section(o, "Cảnh báo / Warnings");
        for (size_t i = 0; i < nw; i++)
            printf("  %s%s%s\n", C(o, YELLOW), kh_inventory_warning(inv, i), C(o, RESET));
    }
}

/* ---- Diff ------------------------------------------------------------------------------------ */

static void print_fields(const kh_inv_row *r)
{
    int n = 0;
    for (size_t i = 0; r && i < r->nfields; i++) {
        const kh_inv_field *f = &r->fields[i];
        if ((f->flags & KH_INV_FIELD_VOLATILE) || !*f->value)
            continue;
        printf("%s%s=%s", n++ ? ", " : "", f->name, f->value);
        if (n >= 6) {
            printf(", ...");
            break;
        }
    }
}

static void report_diff(const outopts *o, const kh_inv_diff *d)
{
    size_t n = kh_inv_diff_count(d), c[3] = {0};
    for (size_t i = 0; i < n; i++)
        c[kh_inv_diff_at(d, i)->change]++;
    if (!n) {
        printf("Không có thay đổi / No changes.\n");
        return;
    }
    printf("%sThay đổi / Changes: %zu%s (thêm / added %zu, bớt / removed %zu, đổi / changed %zu)\n", C(o, BOLD), n,
           C(o, RESET), c[KH_INV_ADDED], c[KH_INV_REMOVED], c[KH_INV_CHANGED]);
    for (size_t i = 0; i < n; i++) {
        const kh_inv_diff_entry *e = kh_inv_diff_at(d, i);
        const char *mark = e->change == KH_INV_ADDED ? "+" : e->change == KH_INV_REMOVED ? "-" : "~";
        const char *col = e->change == KH_INV_ADDED ? GREEN : e->change == KH_INV_REMOVED ? RED : YELLOW;
        printf("%s%s [%s] %s %s: %s%s", C(o, col), mark, kh_inv_category_name(e->category),
               kh_inv_change_name(e->change), e->table, e->key, C(o, RESET));
        if (e->change == KH_INV_CHANGED) {
            printf("\n");
            for (size_t k = 0; k < e->nfields; k++) {
                const char *b = kh_inv_row_get(e->before, e->fields[k]);
                const char *a = kh_inv_row_get(e->after, e->fields[k]);
                printf("      %s: %s -> %s\n", e->fields[k], b ? b : "(không có / none)", a ? a : "(không có / none)");
            }
        } else {
            printf("  %s(", C(o, DIM));
            print_fields(e->before ? e->before : e->after);
            printf(")%s\n", C(o, RESET));
        }
    }
}

/* Reads a whole file (bounded); 0 or -1 with errno-style message printed. */
static int read_file(const char *path, char **data, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        kh_cli_errorf("%s: không đọc được / cannot read: %s", path, strerror(errno));
        return -1;
    }
    kh_buf b = KH_BUF_INIT(SNAPSHOT_LIMIT);
    char tmp[65536];
    size_t n;
    int rc = 0;
    while (!rc && (n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        rc = kh_buf_append(&b, tmp, n);
    int err = ferror(f);
    if (f != stdin)
        fclose(f);
    if (rc || err) {
        kh_cli_errorf("%s: %s", path, rc == KH_ELIMIT ? "tệp quá lớn / file too large" : "lỗi đọc / read error");
        kh_buf_dispose(&b);
        return -1;
    }
    *data = kh_buf_detach(&b, len);
    return *data ? 0 : -1;
}

static int load_snapshot(const char *path, kh_inventory **out)
{
    char *text = NULL, err[512];
    size_t len = 0;
    if (read_file(path, &text, &len))
        return -1;
    int rc = kh_inventory_from_json(out, text, len, err, sizeof(err));
    free(text);
    if (rc) {
        kh_cli_errorf("%s: không phải ảnh chụp kiểm kê hợp lệ / not a valid inventory snapshot: %s", path, err);
        return -1;
    }
    return 0;
}

static int collect(const char *root, kh_inventory **out)
{
    kh_inventory_options opts = KH_INVENTORY_OPTIONS_INIT;
    opts.root = root;
    int rc = kh_inventory_collect(out, &opts);
    if (rc == KH_ENOENT)
        kh_cli_errorf("--root %s: không phải thư mục / not a folder", root ? root : "/");
    else if (rc)
        kh_cli_errorf("kiểm kê thất bại / inventory failed: %s", kh_strerror(rc));
    return rc ? -1 : 0;
}

static int write_text(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(text, 1, len, f) != len) {
        kh_cli_errorf("%s: không ghi được / cannot write: %s", path, strerror(errno));
        if (f)
            fclose(f);
        return -1;
    }
    if (fclose(f) != 0) {
        kh_cli_errorf("%s: không ghi được / cannot write: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int cmd_inventory(int argc, char **argv)
{
    const char *root = NULL, *output = NULL, *diff_old = NULL, *diff_new = NULL;
    int json = 0, ret = KH_EXIT_ERROR, opt;
    outopts o = {0, 0};
    int color = isatty(1) && !getenv("NO_COLOR");
    kh_inventory *a = NULL, *b = NULL;
    kh_inv_diff *d = NULL;
    char *text = NULL;
    size_t len = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "r:o:ah", longopts, NULL)) != -1) {
        switch (opt) {
        case 'r':
            root = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case 'a':
            o.all = 1;
            break;
        case O_JSON:
            json = 1;
            break;
        case O_DIFF:
            diff_old = optarg;
            if (optind < argc && argv[optind][0] != '-')
                diff_new = argv[optind++];
            break;
        case O_COLOR:
            if (strcmp(optarg, "always") == 0)
                color = 1;
            else if (strcmp(optarg, "never") == 0)
                color = 0;
            else if (strcmp(optarg, "auto") != 0) {
                kh_cli_errorf("--color: auto, always hoặc / or never");
                goto done;
            }
            break;
        case 'h':
            usage(stdout);
            ret = KH_EXIT_CLEAN;
            goto done;
        default:
            fprintf(stderr, "Try 'khien inventory --help'.\n");
            goto done;
        }
    }
    if (optind < argc) {
        kh_cli_errorf("thừa tham số / unexpected argument '%s'", argv[optind]);
        goto done;
    }
    o.color = color;

    if (diff_old) {
        if (load_snapshot(diff_old, &a))
            goto done;
        if (diff_new ? load_snapshot(diff_new, &b) : collect(root, &b))
            goto done;
        int rc = kh_inventory_diff(&d, a, b);
        if (rc) {
            kh_cli_errorf("so sánh thất bại / diff failed: %s", kh_strerror(rc));
            goto done;
        }
        if (json) {
            if ((rc = kh_inv_diff_to_json(d, &text, &len)) != 0) {
                kh_cli_errorf("%s", kh_strerror(rc));
                goto done;
            }
            fwrite(text, 1, len, stdout);
        } else {
            report_diff(&o, d);
        }
        ret = kh_inv_diff_count(d) ? KH_EXIT_FOUND : KH_EXIT_CLEAN;
        goto done;
    }

    if (collect(root, &a))
        goto done;
    if (json || output) {
        int rc = kh_inventory_to_json(a, &text, &len);
        if (rc) {
            kh_cli_errorf("%s", kh_strerror(rc));
            goto done;
        }
        if (output && write_text(output, text, len))
            goto done;
    }
    if (json)
        fwrite(text, 1, len, stdout);
    else
        report(&o, a);
    ret = KH_EXIT_CLEAN;
done:
    fflush(stdout);
    free(text);
    kh_inv_diff_destroy(d);
    kh_inventory_destroy(a);
    kh_inventory_destroy(b);
    return ret;
}
