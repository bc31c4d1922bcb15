/* Khiên — cli: `khien vuln`, known vulnerabilities of the installed packages.
 *
 * Loads OSV advisories (-d: .json files, folders, osv.dev zip archives),
 * reads dpkg's database of this host or of --root DIR, and prints one
 * finding per advisory and source package: id, CVE aliases, package,
 * installed and fixed versions, severity and summary (JSON Lines with
 * --json). Malformed advisories are reported and skipped.
 *
 * `khien vuln --compare A B` prints <, = or > as dpkg --compare-versions
 * orders the two versions (an empty version or "<unknown>" is lowest, as
 * in dpkg).
 *
 * Exit status: 0 no vulnerability found, 1 vulnerabilities found, 2 error.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmd.h"
#include "khien/khien.h"
#include "khien/inventory.h"
#include "khien/vuln.h"
#include "util/util.h"

static void usage(FILE *f)
{
    fputs("Cách dùng / Usage: khien vuln -d FEED [-d FEED]... [OPTIONS]\n"
          "       khien vuln --compare VERSION1 VERSION2\n"
          "Tìm lỗ hổng đã biết trong các gói đã cài / Find known vulnerabilities in installed packages.\n\n"
          "  -d, --db=PATH         OSV advisories: a .json file, a folder of them, or a zip (osv.dev all.zip), "
          "repeatable\n"
          "  -r, --root=DIR        read DIR/var/lib/dpkg/status and DIR/etc/os-release instead of this host's\n"
          "  -i, --inventory=FILE  check the packages of a snapshot (khien inventory --json) instead\n"
          "  -e, --ecosystem=ECO   OSV ecosystem, e.g. Debian:12 (default: from os-release or the snapshot)\n"
          "      --json            JSON Lines: one object per vulnerability, then a summary\n"
          "      --strict          a malformed advisory is an error (exit 2)\n"
          "  -q, --quiet           do not list skipped advisories\n"
          "      --color=WHEN      auto (default: on a terminal), always, never\n"
          "      --compare A B     print <, = or > as dpkg --compare-versions orders A and B\n"
          "      --compare-file F  the same for each \"A<TAB>B\" line of F (- for standard input)\n"
          "  -h, --help            this help\n\n"
          "Exit status: 0 no vulnerability found, 1 vulnerabilities found, 2 error.\n",
          f);
}

enum { O_JSON = 256, O_STRICT, O_COLOR };

#define SNAPSHOT_LIMIT (512u << 20)

static const struct option longopts[] = {
    {"db", required_argument, 0, 'd'},        {"root", required_argument, 0, 'r'},
    {"ecosystem", required_argument, 0, 'e'}, {"json", no_argument, 0, O_JSON},
    {"strict", no_argument, 0, O_STRICT},     {"quiet", no_argument, 0, 'q'},
    {"color", required_argument, 0, O_COLOR}, {"colour", required_argument, 0, O_COLOR},
    {"inventory", required_argument, 0, 'i'}, {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

/* <, =, > for two versions as dpkg orders them; NULL and *why set if one is refused. */
static const char *relation(const char *a, const char *b, const char **why)
{
    /* dpkg: an empty version, or "<unknown>", is no version at all, lower than any */
    const char *v[2] = {a, b};
    int blank[2], c = 0;
    for (int i = 0; i < 2; i++) {
        blank[i] = !*v[i] || strcmp(v[i], "<unknown>") == 0;
        if (!blank[i] && kh_vuln_version_compare(&c, v[i], v[i], why) != 0) {
            *why = *why ? *why : "?";
            return NULL;
        }
    }
    if (blank[0] || blank[1])
        c = blank[0] && blank[1] ? 0 : blank[0] ? -1 : 1;
    else
        kh_vuln_version_compare(&c, a, b, NULL);
    return c < 0 ? "<" : c > 0 ? ">" : "=";
}

/* --compare-file: one "A<TAB>B" pair per line; prints <, =, > or "! reason". */
static int compare_file(const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f) {
        kh_cli_errorf("%s: không đọc được / cannot read", path);
        return KH_EXIT_ERROR;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0) {
        if (n && line[n - 1] == '\n')
            line[--n] = 0;
        char *tab = strchr(line, '\t');
        if (!tab) {
            printf("! no tab\n");
            continue;
        }
        *tab = 0;
        const char *why = NULL, *r = relation(line, tab + 1, &why);
        if (r)
            printf("%s\n", r);
        else
            printf("! %s\n", why);
    }
    free(line);
    if (f != stdin)
        fclose(f);
    fflush(stdout);
    return 0;
}

static int compare(const char *a, const char *b)
{
    const char *why = NULL, *r = relation(a, b, &why);
    if (!r) {
        const char *w2 = NULL;
        const char *badv = relation(a, a, &w2) ? b : a;
        kh_cli_errorf("phiên bản không hợp lệ / invalid version '%s': %s", badv, why);
        return KH_EXIT_ERROR;
    }
    printf("%s\n", r);
    return 0;
}

static const char *sev_color(const char *s)
{
    if (!s)
        return "";
    if (strcmp(s, "CRITICAL") == 0 || strcmp(s, "HIGH") == 0)
        return "\033[1;31m";
    if (strcmp(s, "MEDIUM") == 0)
        return "\033[33m";
    return "";
}

static void json_strv(kh_buf *b, const char *const *v, size_t n)
{
    kh_buf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            kh_buf_putc(b, ',');
        kh_json_str(b, v[i], strlen(v[i]));
    }
    kh_buf_putc(b, ']');
}

static void json_field(kh_buf *b, const char *name, const char *v)
{
    kh_buf_printf(b, ",\"%s\":", name);
    if (v)
        kh_json_str(b, v, strlen(v));
    else
        kh_buf_puts(b, "null");
}

static void print_json(const kh_vuln_finding *f)
{
    kh_buf b = KH_BUF_INIT(0);
    kh_buf_puts(&b, "{\"type\":\"vulnerability\"");
    json_field(&b, "id", f->id);
    kh_buf_puts(&b, ",\"aliases\":");
    json_strv(&b, f->aliases, f->naliases);
    json_field(&b, "package", f->package);
    kh_buf_puts(&b, ",\"binaries\":");
    json_strv(&b, f->binaries, f->nbinaries);
    json_field(&b, "installed", f->installed);
    json_field(&b, "fixed", f->fixed);
    json_field(&b, "severity", f->severity);
    if (f->score >= 0)
        kh_buf_printf(&b, ",\"score\":%.1f", f->score);
    else
        kh_buf_puts(&b, ",\"score\":null");
    json_field(&b, "severity_vector", f->severity_vector);
    json_field(&b, "summary", f->summary);
    json_field(&b, "ecosystem", f->ecosystem);
    kh_buf_puts(&b, "}\n");
    fwrite(b.data, 1, b.len, stdout);
    kh_buf_dispose(&b);
}

static void print_text(const kh_vuln_finding *f, int color)
{
    char sev[32];
    if (f->score >= 0)
        snprintf(sev, sizeof(sev), "%s %.1f", f->severity ? f->severity : "UNKNOWN", f->score);
    else
        snprintf(sev, sizeof(sev), "%s", f->severity ? f->severity : "UNKNOWN");
    printf("%s%-13s%s %s%s%s  %s %s -> %s", color ? sev_color(f->severity) : "", sev, color ? "\033[0m" : "",
           color ? "\033[1m" : "", f->id, color ? "\033[0m" : "", f->package, f->installed,
           f->fixed ? f->fixed : "(chưa có bản vá / no fix yet)");
    printf("  [");
    for (size_t i = 0; i < f->nbinaries; i++)
        printf("%s%s", i ? ", " : "", f->binaries[i]);
    printf("]\n");
    if (f->naliases) {
        printf("              ");
        for (size_t i = 0; i < f->naliases; i++)
            printf("%s%s", i ? ", " : "", f->aliases[i]);
        printf("\n");
    }
    if (*f->summary)
        printf("              %s\n", f->summary);
}

static void print_diags(const kh_vuln_db *db, int json)
{
    size_t n = kh_vuln_db_diag_count(db);
    for (size_t i = 0; i < n; i++) {
        const kh_vuln_diag *d = kh_vuln_db_diag(db, i);
        if (json) {
            kh_buf b = KH_BUF_INIT(0);
            kh_buf_puts(&b, "{\"type\":\"skipped\"");
            json_field(&b, "source", d->source);
            json_field(&b, "message", d->message);
            kh_buf_puts(&b, "}\n");
            fwrite(b.data, 1, b.len, stdout);
            kh_buf_dispose(&b);
        } else {
            kh_cli_warnf("%s: %s", d->source, d->message);
        }
    }
    size_t skipped = kh_vuln_db_skipped(db);
    if (!json && skipped > n)
        kh_cli_warnf("... %zu bản ghi khác bị bỏ qua / more records skipped", skipped - n);
}

/* Packages and ecosystem of an inventory snapshot; KH_EXIT_* on failure. */
static int check_snapshot(kh_vuln_report **out, const kh_vuln_db *db, const char *eco, const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        kh_cli_errorf("%s: không đọc được / cannot read", path);
        return KH_EXIT_ERROR;
    }
    kh_buf b = KH_BUF_INIT(SNAPSHOT_LIMIT);
    char tmp[65536], err[512];
    size_t n;
    int rc = 0;
    while (!rc && (n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        rc = kh_buf_append(&b, tmp, n);
    if (f != stdin)
        fclose(f);
    kh_inventory *inv = NULL;
    if (rc || kh_inventory_from_json(&inv, b.data ? b.data : "", b.len, err, sizeof(err)) != 0) {
        kh_cli_errorf("%s: không phải ảnh chụp kiểm kê hợp lệ / not a valid inventory snapshot: %s", path,
                      rc ? kh_strerror(rc) : err);
        kh_buf_dispose(&b);
        return KH_EXIT_ERROR;
    }
    kh_buf_dispose(&b);
    char ecobuf[128];
    const kh_inv_table *os = kh_inventory_table(inv, "os");
    if (!eco && os && os->nrows) {
        const char *id = kh_inv_row_get(&os->rows[0], "id"), *ver = kh_inv_row_get(&os->rows[0], "version_id");
        if (id && ver && (strcmp(id, "debian") == 0 || strcmp(id, "ubuntu") == 0)) {
            size_t vn = strcmp(id, "debian") == 0 ? strcspn(ver, ".") : strlen(ver);
            snprintf(ecobuf, sizeof(ecobuf), "%s:%.*s", strcmp(id, "debian") == 0 ? "Debian" : "Ubuntu", (int)vn, ver);
            eco = ecobuf;
        }
    }
    if (!eco) {
        kh_cli_errorf("%s: không xác định được hệ điều hành / cannot tell the OSV ecosystem; use --ecosystem", path);
        kh_inventory_destroy(inv);
        return KH_EXIT_ERROR;
    }
    const kh_inv_table *t = kh_inventory_table(inv, "packages");
    kh_vuln_package *pk = t && t->nrows ? calloc(t->nrows, sizeof(*pk)) : NULL;
    size_t np = 0;
    for (size_t i = 0; pk && i < t->nrows; i++) {
        const kh_inv_row *r = &t->rows[i];
        const char *m = kh_inv_row_get(r, "manager");
        if (m && strcmp(m, "dpkg") != 0)
            continue;
        pk[np].name = kh_inv_row_get(r, "name");
        pk[np].version = kh_inv_row_get(r, "version");
        pk[np].arch = kh_inv_row_get(r, "arch");
        pk[np].source = kh_inv_row_get(r, "source");
        pk[np].source_version = kh_inv_row_get(r, "source_version");
        if (pk[np].name && pk[np].version && kh_vuln_version_compare(&(int){0}, pk[np].version, pk[np].version, NULL) == 0)
            np++;
    }
    rc = kh_vuln_check(out, db, eco, pk, np);
    free(pk);
    kh_inventory_destroy(inv);
    if (rc) {
        kh_cli_errorf("%s", kh_strerror(rc));
        return KH_EXIT_ERROR;
    }
    return 0;
}

int cmd_vuln(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--compare") == 0) {
        if (argc != 4) {
            kh_cli_errorf("--compare cần đúng hai phiên bản / needs exactly two versions");
            return KH_EXIT_ERROR;
        }
        return compare(argv[2], argv[3]);
    }
    if (argc >= 2 && strcmp(argv[1], "--compare-file") == 0) {
        if (argc != 3) {
            kh_cli_errorf("--compare-file cần một tệp / needs one file");
            return KH_EXIT_ERROR;
        }
        return compare_file(argv[2]);
    }
    const char *root = NULL, *eco = NULL, *snapshot = NULL;
    int json = 0, strict = 0, quiet = 0, color = isatty(1) && !getenv("NO_COLOR"), ret = KH_EXIT_ERROR, opt;
    KH_VEC(const char *) feeds = {0};
    kh_vuln_db *db = NULL;
    kh_vuln_report *rep = NULL;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "d:r:e:i:qh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'd':
            if (KH_VEC_RESERVE(feeds, 1, 0))
                goto done;
            feeds.v[feeds.n++] = optarg;
            break;
        case 'r':
            root = optarg;
            break;
        case 'e':
            eco = optarg;
            break;
        case 'i':
            snapshot = optarg;
            break;
        case O_JSON:
            json = 1;
            break;
        case O_STRICT:
            strict = 1;
            break;
        case 'q':
            quiet = 1;
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
            fprintf(stderr, "Try 'khien vuln --help'.\n");
            goto done;
        }
    }
    if (optind < argc) {
        kh_cli_errorf("thừa tham số / unexpected argument '%s' (nguồn dữ liệu dùng -d / feeds go with -d)",
                      argv[optind]);
        goto done;
    }
    if (!feeds.n) {
        kh_cli_errorf("cần ít nhất một nguồn lỗ hổng / at least one advisory feed is needed (-d PATH)");
        goto done;
    }
    if (kh_vuln_db_create(&db)) {
        kh_cli_errorf("out of memory");
        goto done;
    }
    for (size_t i = 0; i < feeds.n; i++) {
        int rc = kh_vuln_db_add_path(db, feeds.v[i]);
        if (rc) {
            print_diags(db, 0);
            kh_cli_errorf("%s: không đọc được nguồn lỗ hổng / cannot read the advisories: %s", feeds.v[i],
                          kh_strerror(rc));
            goto done;
        }
    }
    if (!quiet || strict)
        print_diags(db, json);
    if (strict && kh_vuln_db_skipped(db)) {
        kh_cli_errorf("%zu bản ghi lỗi / malformed advisories (--strict)", kh_vuln_db_skipped(db));
        goto done;
    }
    if (snapshot && root) {
        kh_cli_errorf("--inventory và / and --root: chọn một / choose one");
        goto done;
    }
    if (snapshot && check_snapshot(&rep, db, eco, snapshot) != 0)
        goto done;
    int rc = snapshot ? 0 : kh_vuln_check_root(&rep, db, eco, root);
    if (rc == KH_ENOTFOUND) {
        kh_cli_errorf("không xác định được hệ điều hành / cannot tell the OSV ecosystem from os-release; "
                      "use --ecosystem (e.g. Debian:12)");
        goto done;
    } else if (rc == KH_ENOENT) {
        kh_cli_errorf("%s/var/lib/dpkg/status: không có cơ sở dữ liệu dpkg / no dpkg database",
                      root ? root : "");
        goto done;
    } else if (rc) {
        kh_cli_errorf("không đọc được các gói đã cài / cannot read the installed packages: %s", kh_strerror(rc));
        goto done;
    }
    size_t n = kh_vuln_report_count(rep), nofix = 0, npk = 0;
    for (size_t i = 0; i < n; i++) {
        const kh_vuln_finding *f = kh_vuln_report_at(rep, i);
        nofix += f->fixed == NULL;
        npk += i == 0 || strcmp(f->package, kh_vuln_report_at(rep, i - 1)->package) != 0;
    }
    if (json) {
        for (size_t i = 0; i < n; i++)
            print_json(kh_vuln_report_at(rep, i));
        printf("{\"type\":\"summary\",\"ecosystem\":");
        kh_buf b = KH_BUF_INIT(0);
        kh_json_str(&b, kh_vuln_report_ecosystem(rep), strlen(kh_vuln_report_ecosystem(rep)));
        fwrite(b.data, 1, b.len, stdout);
        kh_buf_dispose(&b);
        printf(",\"packages\":%zu,\"advisories\":%zu,\"skipped_records\":%zu,\"withdrawn\":%zu,"
               "\"vulnerabilities\":%zu,\"vulnerable_packages\":%zu,\"without_fix\":%zu}\n",
               kh_vuln_report_packages(rep), kh_vuln_db_count(db), kh_vuln_db_skipped(db), kh_vuln_db_withdrawn(db),
               n, npk, nofix);
    } else {
        printf("%sKhiên — Lỗ hổng đã biết / Known vulnerabilities%s\n", color ? "\033[1m" : "",
               color ? "\033[0m" : "");
        printf("Hệ sinh thái / Ecosystem: %s, %zu gói đã cài / installed packages, %zu bản ghi / advisories",
               kh_vuln_report_ecosystem(rep), kh_vuln_report_packages(rep), kh_vuln_db_count(db));
        if (kh_vuln_db_skipped(db))
            printf(" (%zu bị bỏ qua vì lỗi / skipped as malformed)", kh_vuln_db_skipped(db));
        printf("\n\n");
        for (size_t i = 0; i < n; i++)
            print_text(kh_vuln_report_at(rep, i), color);
        if (n)
            printf("\n");
        if (n)
            printf("Tổng kết / Summary: %zu lỗ hổng / vulnerabilities trong / in %zu gói nguồn / source packages, "
                   "%zu chưa có bản vá / without a fix yet\n",
                   n, npk, nofix);
        else
            printf("Không tìm thấy lỗ hổng / No known vulnerability found.\n");
    }
    ret = n ? KH_EXIT_FOUND : KH_EXIT_CLEAN;
done:
    fflush(stdout);
    kh_vuln_report_destroy(rep);
    kh_vuln_db_destroy(db);
    KH_VEC_FREE(feeds);
    return ret;
}
