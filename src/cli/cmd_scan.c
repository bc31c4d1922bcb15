/* Khiên — cli: `khien scan`, the on-demand scanner (clamscan's common flags).
 *
 * Loads the signature databases given with -d (plus the built-in EICAR
 * signature), walks the given paths with a pool of threads, prints one line
 * per detection ("PATH: NAME FOUND", or JSON Lines with --json) and a
 * summary. Exit codes as clamscan: 0 nothing found, 1 found, 2 error (and
 * nothing found).
 *
 * With the clean-file cache the set is loaded only when the first file has
 * to be read (kh_scan_paths_lazy()): the cache is keyed on the set's
 * identity, which kh_compiler_identity() computes from the databases' stat,
 * so a scan of unchanged files never maps the compiled set (0.4 s for
 * ClamAV's official one). Its diagnostics are printed when it is loaded;
 * the summary's signature count then comes from the compiled set's header.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cmd.h"
#include "khien/khien.h"
#include "util/util.h"

typedef struct scan_cli {
    int json, verbose, infected_only, quiet, summary, progress;
    kh_buf line;
    double t0, last_progress;
    uint64_t files_seen, bytes_seen;
    uint64_t found_files;
} scan_cli;

static void usage(FILE *f)
{
    fputs("Cách dùng / Usage: khien scan [OPTIONS] [FILE|DIRECTORY]...\n"
          "Quét tệp và thư mục tìm mã độc / Scan files and folders for malware.\n\n"
          "Signatures:\n"
          "  -d, --database=PATH      ClamAV database file or folder (.cvd .cld .cud .hdb .hsb .ndb .fp .sfp .ign2 ...),\n"
          "                           repeatable; a folder such as freshclam's /var/lib/clamav works\n"
          "      --unsigned-ok        load .cvd/.cld files that fail their MD5 or signature checks (with a warning)\n"
          "      --cvd-certs=FOLDER   CA certificates for NAME-N.cvd.sign files (default: /etc/clamav/certs)\n"
          "      --no-builtin         do not load the built-in EICAR test signature\n"
          "      --strict             a malformed database line is an error (exit 2)\n"
          "      --detect-pua         also load PUA databases (.hdu .hsu .ndu)\n"
          "      --rules=PATH         YARA rules (a .yar/.yara file or a folder of them), repeatable;\n"
          "                           -r FILE.yar works too (-r alone is clamscan's --recursive)\n"
          "      --define=NAME=VALUE  a YARA external variable\n"
          "Scanning:\n"
          "  -r, --recursive          scan folders recursively (always on; for clamscan compatibility)\n"
          "  -j, --jobs=N             worker threads (default: number of CPUs)\n"
          "  -z, --allmatch           report every matching signature, not only the first per file\n"
          "      --max-filesize=SIZE  skip files larger than SIZE (default 100M)\n"
          "      --max-scansize=SIZE  scan at most SIZE bytes per file, archive contents included (default 400M)\n"
          "      --max-recursion=N    archive nesting limit (default 16)\n"
          "      --max-files=N        archive members per file (default 10000)\n"
          "      --alert-exceeds-max  report exceeded limits as Heuristics.Limits.Exceeded.* results\n"
          "      --no-archive         do not look inside archives\n"
          "      --exclude=GLOB       skip paths or names matching GLOB, repeatable\n"
          "      --follow-symlinks    follow symbolic links inside folders (loops are detected)\n"
          "      --no-cache           do not use the clean-file cache\n"
          "Output:\n"
          "      --json               JSON Lines: one object per detection, then a summary\n"
          "  -v, --verbose            also print clean and skipped files\n"
          "  -i, --infected           print only infected files\n"
          "      --quiet              print only detections and errors\n"
          "      --no-summary         do not print the summary\n"
          "  -h, --help               this help\n\n"
          "Exit status: 0 nothing found, 1 malware found, 2 error.\n",
          f);
}

enum {
    O_NO_BUILTIN = 256, O_STRICT, O_PUA, O_MAXFS, O_MAXSS, O_MAXREC, O_MAXFILES, O_ALERT, O_NOARCH, O_EXCLUDE,
    O_FOLLOW, O_NOCACHE, O_JSON, O_QUIET, O_NOSUMMARY, O_RULES, O_DEFINE, O_UNSIGNED_OK, O_CVD_CERTS,
};

static const struct option longopts[] = {
    {"database", required_argument, 0, 'd'},
    {"no-builtin", no_argument, 0, O_NO_BUILTIN},
    {"strict", no_argument, 0, O_STRICT},
    {"unsigned-ok", no_argument, 0, O_UNSIGNED_OK},
    {"cvd-certs", required_argument, 0, O_CVD_CERTS},
    {"detect-pua", no_argument, 0, O_PUA},
    {"recursive", no_argument, 0, 'r'},
    {"rules", required_argument, 0, O_RULES},
    {"define", required_argument, 0, O_DEFINE},
    {"jobs", required_argument, 0, 'j'},
    {"allmatch", no_argument, 0, 'z'},
    {"max-filesize", required_argument, 0, O_MAXFS},
    {"max-scansize", required_argument, 0, O_MAXSS},
    {"max-recursion", required_argument, 0, O_MAXREC},
    {"max-files", required_argument, 0, O_MAXFILES},
    {"alert-exceeds-max", no_argument, 0, O_ALERT},
    {"no-archive", no_argument, 0, O_NOARCH},
    {"exclude", required_argument, 0, O_EXCLUDE},
    {"follow-symlinks", no_argument, 0, O_FOLLOW},
    {"no-cache", no_argument, 0, O_NOCACHE},
    {"json", no_argument, 0, O_JSON},
    {"verbose", no_argument, 0, 'v'},
    {"infected", no_argument, 0, 'i'},
    {"quiet", no_argument, 0, O_QUIET},
    {"no-summary", no_argument, 0, O_NOSUMMARY},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

/* JSON of a YARA rule's details: namespace, tags, meta, matched strings. */
static void json_rule(kh_buf *b, const kh_rule_info *ri)
{
    kh_buf_puts(b, ",\"namespace\":");
    kh_json_str(b, ri->ns, strlen(ri->ns));
    kh_buf_puts(b, ",\"tags\":[");
    for (size_t i = 0; i < ri->ntags; i++) {
        if (i)
            kh_buf_putc(b, ',');
        kh_json_str(b, ri->tags[i], strlen(ri->tags[i]));
    }
    kh_buf_puts(b, "],\"meta\":{");
    for (size_t i = 0; i < ri->nmeta; i++) {
        const kh_meta *m = &ri->meta[i];
        if (i)
            kh_buf_putc(b, ',');
        kh_json_str(b, m->key, strlen(m->key));
        kh_buf_putc(b, ':');
        if (m->type == 1)
            kh_json_str(b, m->str, m->len);
        else if (m->type == 2)
            kh_buf_printf(b, "%lld", (long long)m->num);
        else
            kh_buf_puts(b, m->num ? "true" : "false");
    }
    kh_buf_puts(b, "},\"strings\":[");
    for (size_t i = 0; i < ri->nstrings; i++) {
        const kh_string_match *sm = &ri->strings[i];
        char hex[2 * 64 + 1];
        size_t n = sm->data_len > 64 ? 64 : sm->data_len;
        kh_hex_encode(sm->data, n, hex);
        kh_buf_printf(b, "%s{\"id\":", i ? "," : "");
        kh_json_str(b, sm->id, strlen(sm->id));
        kh_buf_printf(b, ",\"offset\":%llu,\"length\":%u,\"data_hex\":\"%s\"}", (unsigned long long)sm->offset,
                      sm->length, hex);
    }
    kh_buf_putc(b, ']');
}

static const char *skip_name(kh_skip_reason r)
{
    switch (r) {
    case KH_SKIP_SPECIAL:
        return "not a regular file (FIFO, socket or device)";
    case KH_SKIP_EXCLUDED:
        return "excluded";
    case KH_SKIP_TOO_BIG:
        return "larger than max-filesize";
    case KH_SKIP_SYMLINK:
        return "symbolic link";
    case KH_SKIP_LOOP:
        return "symbolic link loop";
    default:
        return "";
    }
}

static void clear_progress(scan_cli *c)
{
    if (c->progress && c->last_progress > 0) {
        fputs("\r\033[K", stderr);
        c->last_progress = 0;
    }
}

static void show_progress(scan_cli *c)
{
    double now = kh_now();
    if (!c->progress || now - c->last_progress < 0.5 || now - c->t0 < 1.0)
        return;
    c->last_progress = now;
    double mb = (double)c->bytes_seen / 1e6;
    fprintf(stderr, "\r\033[K[khien] %llu files, %.1f MB, %.1f MB/s, %llu infected", (unsigned long long)c->files_seen,
            mb, mb / (now - c->t0), (unsigned long long)c->found_files);
    fflush(stderr);
}

static int on_report(const kh_file_report *r, void *payload)
{
    scan_cli *c = payload;
    kh_buf *b = &c->line;
    kh_buf_clear(b);
    c->files_seen++;
    c->bytes_seen += r->bytes_scanned;
    c->found_files += r->ndetections > 0;
    for (size_t i = 0; i < r->ndetections; i++) {
        const kh_detection *d = &r->detections[i];
        if (c->json) {
            kh_buf_puts(b, "{\"type\":\"detection\",\"path\":");
            kh_json_str(b, r->path, strlen(r->path));
            kh_buf_puts(b, ",\"member\":");
            if (d->member)
                kh_json_str(b, d->member, strlen(d->member));
            else
                kh_buf_puts(b, "null");
            kh_buf_puts(b, ",\"signature\":");
            kh_json_str(b, d->name, strlen(d->name));
            kh_buf_puts(b, ",\"source\":");
            kh_json_str(b, d->source, strlen(d->source));
            kh_buf_printf(b, ",\"kind\":\"%s\",\"offset\":", kh_detection_kind_name(d->kind));
            if (d->offset >= 0)
                kh_buf_printf(b, "%lld", (long long)d->offset);
            else
                kh_buf_puts(b, "null");
            if (d->rule)
                json_rule(b, d->rule);
            kh_buf_puts(b, "}\n");
        } else {
            kh_buf_puts(b, r->path);
            if (d->member)
                kh_buf_printf(b, "%s", d->member);
            kh_buf_printf(b, ": %s FOUND\n", d->name);
        }
    }
    if (r->status) {
        if (c->json) {
            kh_buf_puts(b, "{\"type\":\"error\",\"path\":");
            kh_json_str(b, r->path, strlen(r->path));
            kh_buf_puts(b, ",\"message\":");
            kh_json_str(b, r->error ? r->error : "", r->error ? strlen(r->error) : 0);
            kh_buf_puts(b, "}\n");
        } else {
            clear_progress(c);
            fprintf(stderr, "%s: %s ERROR\n", r->path, r->error ? r->error : kh_strerror(r->status));
        }
    }
    for (size_t i = 0; i < r->nwarnings && !c->quiet; i++) {
        if (c->json) {
            kh_buf_puts(b, "{\"type\":\"warning\",\"path\":");
            kh_json_str(b, r->path, strlen(r->path));
            kh_buf_puts(b, ",\"message\":");
            kh_json_str(b, r->warnings[i], strlen(r->warnings[i]));
            kh_buf_puts(b, "}\n");
        } else {
            clear_progress(c);
            kh_cli_warnf("%s%s", r->path, r->warnings[i][0] == '!' ? r->warnings[i] : "");
            if (r->warnings[i][0] != '!')
                fprintf(stderr, "         %s\n", r->warnings[i]);
        }
    }
    if (c->verbose && !c->infected_only && !r->status && r->ndetections == 0) {
        if (c->json) {
            kh_buf_printf(b, "{\"type\":\"%s\",\"path\":", r->skipped ? "skipped" : "clean");
            kh_json_str(b, r->path, strlen(r->path));
            if (r->skipped)
                kh_buf_printf(b, ",\"reason\":\"%s\"", skip_name(r->skipped));
            if (r->cached)
                kh_buf_puts(b, ",\"cached\":true");
            kh_buf_puts(b, "}\n");
        } else if (r->skipped) {
            kh_buf_printf(b, "%s: Skipped (%s)\n", r->path, skip_name(r->skipped));
        } else {
            kh_buf_printf(b, "%s: OK\n", r->path);
        }
    }
    if (b->len) {
        clear_progress(c);
        fwrite(b->data, 1, b->len, stdout);
    }
    show_progress(c);
    return 0;
}

/* --verbose: what each database file gave, per kind, and what it left out and why. */
static void print_databases(const kh_rules *rules)
{
    size_t n = kh_rules_source_count(rules);
    printf("Cơ sở dữ liệu chữ ký / Signature databases:\n");
    for (size_t i = 0; i < n; i++) {
        const char *path = NULL;
        kh_rules_stats d;
        if (kh_rules_source_stats(rules, i, &path, &d) != 0)
            continue;
        if (!d.databases && (strcmp(path, "<builtin>") != 0 || !d.body))
            continue; /* YARA rule files (counted in the totals), the built-in set when left out */
        uint64_t hashes = d.hash_md5 + d.hash_sha1 + d.hash_sha256;
        printf("  %s:", path);
        const char *sep = " ";
        struct {
            uint64_t n;
            const char *what;
        } in[] = {{hashes, "hash"}, {d.body, "body"}, {d.logical, "logical"}, {d.section_hash, "PE section hash"},
                  {d.import_hash, "PE import hash"}, {d.container_meta, "container metadata"},
                  {d.ftm_types, "file type magic"}, {d.allow, "allow-list"}};
        for (size_t k = 0; k < sizeof(in) / sizeof(in[0]); k++)
            if (in[k].n) {
                printf("%s%llu %s", sep, (unsigned long long)in[k].n, in[k].what);
                sep = ", ";
            }
        if (*sep == ' ')
            printf(" 0 signatures");
        printf("\n");
        struct {
            uint64_t n;
            const char *why;
        } out[] = {
            {d.unsup_format, "định dạng chưa hỗ trợ / format not supported (.cbc .pdb .gdb .wdb .idb .crb)"},
            {d.unsup_target, "loại tệp đích chưa hỗ trợ / target file type not supported (2 OLE2, 3 HTML, 4 mail, 7 text; 8, 13, 14)"},
            {d.unsup_offset, "vị trí VI chưa hỗ trợ / VI offset not supported"},
            {d.unsup_feature, "tính năng chưa hỗ trợ / Container, IconGroup, macro, PCRE construct not supported"},
            {d.unsupported - d.unsup_format - d.unsup_target - d.unsup_offset - d.unsup_feature,
             "chưa hỗ trợ / not supported"},
            {d.malformed, "dòng lỗi / malformed lines"},
            {d.ignored, "bỏ qua theo .ign2 / ignored (.ign2)"},
            {d.flevel_skipped, "ngoài mức chức năng / outside the functionality level"},
        };
        for (size_t k = 0; k < sizeof(out) / sizeof(out[0]); k++)
            if (out[k].n && out[k].n < (1ull << 62))
                printf("    không tải / not loaded: %llu %s\n", (unsigned long long)out[k].n, out[k].why);
        if (d.ftm_other)
            printf("    không cho loại tệp đích / no target type: %llu file type magic: loại kết quả không phải "
                   "1 PE, 5, 6 ELF, 9-12 / result type is none of 1 PE, 5, 6 ELF, 9-12\n",
                   (unsigned long long)d.ftm_other);
        if (d.ftm_unused)
            printf("    không tác dụng / no effect: %llu file type magic: phân vùng (loại 4) hoặc loại magic khác / "
                   "partition types (magic type 4) or other magic types\n",
                   (unsigned long long)d.ftm_unused);
    }
}

static void print_summary(scan_cli *c, const kh_rules *rules, uint64_t known, const kh_walk_stats *st, double secs,
                          time_t start, time_t end)
{
    double mb = (double)st->bytes / (1024.0 * 1024.0);
    if (c->json) {
        printf("{\"type\":\"summary\",\"known_signatures\":%llu,\"engine\":\"khien %s\",\"directories\":%llu,"
               "\"files\":%llu,\"infected_files\":%llu,\"detections\":%llu,\"errors\":%llu,\"skipped\":%llu,"
               "\"cached\":%llu,\"bytes_scanned\":%llu,\"seconds\":%.3f,\"mb_per_second\":%.1f}\n",
               (unsigned long long)known, kh_version(), (unsigned long long)st->dirs,
               (unsigned long long)st->files, (unsigned long long)st->infected, (unsigned long long)st->detections,
               (unsigned long long)st->errors, (unsigned long long)st->skipped, (unsigned long long)st->cached,
               (unsigned long long)st->bytes, secs, secs > 0 ? (double)st->bytes / 1e6 / secs : 0.0);
        return;
    }
    char sd[32], ed[32];
    strftime(sd, sizeof(sd), "%Y:%m:%d %H:%M:%S", localtime(&start));
    strftime(ed, sizeof(ed), "%Y:%m:%d %H:%M:%S", localtime(&end));
    printf("\n----------- SCAN SUMMARY -----------\n");
    printf("Known viruses: %llu\n", (unsigned long long)known);
    printf("Engine version: khien %s\n", kh_version());
    printf("Scanned directories: %llu\n", (unsigned long long)st->dirs);
    printf("Scanned files: %llu\n", (unsigned long long)st->files);
    printf("Infected files: %llu\n", (unsigned long long)st->infected);
    if (st->errors)
        printf("Total errors: %llu\n", (unsigned long long)st->errors);
    if (st->skipped)
        printf("Skipped files: %llu\n", (unsigned long long)st->skipped);
    if (st->cached)
        printf("Unchanged since a clean scan (not read): %llu\n", (unsigned long long)st->cached);
    printf("Data scanned: %.2f MB\n", mb);
    printf("Throughput: %.1f MB/s\n", secs > 0 ? mb / secs : 0.0);
    printf("Time: %.3f sec (%d m %d s)\n", secs, (int)secs / 60, (int)secs % 60);
    printf("Start Date: %s\n", sd);
    printf("End Date:   %s\n", ed);
    if (c->verbose && rules)
        print_databases(rules);
}

/* The set, built (or mapped from the compiled cache) on first need. */
typedef struct loader {
    kh_compiler *comp;
    kh_rules *rules;
    int quiet;
    int failed; /* the error of kh_compiler_build(), already reported */
} loader;

static int load_rules(void *payload, const kh_rules **out)
{
    loader *l = payload;
    if (!l->rules) {
        int rc = kh_compiler_build(l->comp, &l->rules);
        kh_cli_print_diags(l->comp, l->quiet);
        if (rc) {
            kh_cli_errorf("cannot load the signatures: %s", kh_strerror(rc));
            l->failed = rc;
            return rc;
        }
    }
    *out = l->rules;
    return 0;
}

/* Signatures in the set, for the summary: from its header when it was not needed. */
static uint64_t known_signatures(loader *l)
{
    kh_rules_stats rs;
    const kh_rules *r;
    if (l->rules)
        return kh_rules_count(l->rules);
    if (kh_compiler_cached_stats(l->comp, &rs) == 0)
        return kh_rules_stats_count(&rs);
    return load_rules(l, &r) == 0 ? kh_rules_count(r) : 0;
}

static int parse_count(const char *opt, const char *arg, unsigned *out)
{
    uint64_t v;
    if (kh_parse_u64(arg, strlen(arg), &v) || v > 1000000000) {
        kh_cli_errorf("--%s: not a number: '%s'", opt, arg);
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

int cmd_scan(int argc, char **argv)
{
    scan_cli c = {0};
    c.summary = 1;
    kh_buf_init(&c.line, 0);
    kh_compiler_options co = KH_COMPILER_OPTIONS_INIT;
    kh_scan_options so = KH_SCAN_OPTIONS_INIT;
    kh_walk_options wo = KH_WALK_OPTIONS_INIT;
    KH_VEC(const char *) dbs = {0};
    KH_VEC(const char *) yrules = {0};
    KH_VEC(const char *) ydefs = {0};
    KH_VEC(const char *) excl = {0};
    int use_cache = 1, ret = KH_EXIT_ERROR;
    kh_compiler *comp = NULL;
    loader ld = {0};
    kh_cache *cache = NULL;
    char *state = NULL;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "d:rj:zvih", longopts, NULL)) != -1) {
        uint64_t v;
        switch (opt) {
        case 'd':
            if (KH_VEC_RESERVE(dbs, 1, 0))
                goto done;
            dbs.v[dbs.n++] = optarg;
            break;
        case O_NO_BUILTIN:
            co.flags |= KH_COMPILE_NO_BUILTIN;
            break;
        case O_STRICT:
            co.flags |= KH_COMPILE_STRICT;
            break;
        case O_UNSIGNED_OK:
            co.flags |= KH_COMPILE_UNSIGNED_OK;
            break;
        case O_CVD_CERTS:
            co.clamav_certs = optarg;
            break;
        case O_PUA:
            co.flags |= KH_COMPILE_PUA;
            break;
        case 'r':
            /* -r FILE.yar: YARA rules (the spelling); -r alone: recursive, as clamscan */
            if (optind < argc && (kh_str_endswith(argv[optind], ".yar") || kh_str_endswith(argv[optind], ".yara"))) {
                if (KH_VEC_RESERVE(yrules, 1, 0))
                    goto done;
                yrules.v[yrules.n++] = argv[optind++];
            }
            break;
        case O_RULES:
            if (KH_VEC_RESERVE(yrules, 1, 0))
                goto done;
            yrules.v[yrules.n++] = optarg;
            break;
        case O_DEFINE:
            if (!strchr(optarg, '=') || optarg[0] == '=') {
                kh_cli_errorf("--define: expected NAME=VALUE, got '%s'", optarg);
                goto done;
            }
            if (KH_VEC_RESERVE(ydefs, 1, 0))
                goto done;
            ydefs.v[ydefs.n++] = optarg;
            break;
        case 'j':
            if (parse_count("jobs", optarg, &wo.threads) || wo.threads == 0 || wo.threads > 256) {
                kh_cli_errorf("--jobs must be from 1 to 256");
                goto done;
            }
            break;
        case 'z':
            so.flags |= KH_SCAN_ALLMATCH;
            break;
        case O_MAXFS:
        case O_MAXSS:
            if (kh_parse_size(optarg, &v)) {
                kh_cli_errorf("--%s: not a size: '%s' (use a number with optional K, M or G)",
                              opt == O_MAXFS ? "max-filesize" : "max-scansize", optarg);
                goto done;
            }
            if (opt == O_MAXFS)
                so.max_filesize = v;
            else
                so.max_scansize = v;
            break;
        case O_MAXREC:
            if (parse_count("max-recursion", optarg, &so.max_depth))
                goto done;
            break;
        case O_MAXFILES:
            if (parse_count("max-files", optarg, &so.max_files))
                goto done;
            break;
        case O_ALERT:
            so.flags |= KH_SCAN_ALERT_LIMITS;
            break;
        case O_NOARCH:
            so.flags |= KH_SCAN_NO_ARCHIVE;
            break;
        case O_EXCLUDE:
            if (KH_VEC_RESERVE(excl, 1, 0))
                goto done;
            excl.v[excl.n++] = optarg;
            break;
        case O_FOLLOW:
            wo.follow_symlinks = 1;
            break;
        case O_NOCACHE:
            use_cache = 0;
            break;
        case O_JSON:
            c.json = 1;
            break;
        case 'v':
            c.verbose = 1;
            break;
        case 'i':
            c.infected_only = 1;
            break;
        case O_QUIET:
            c.quiet = 1;
            break;
        case O_NOSUMMARY:
            c.summary = 0;
            break;
        case 'h':
            usage(stdout);
            ret = KH_EXIT_CLEAN;
            goto done;
        default:
            fprintf(stderr, "Try 'khien scan --help'.\n");
            goto done;
        }
    }
    if (c.quiet)
        c.summary = c.json ? c.summary : 0;
    c.progress = !c.json && !c.quiet && isatty(2);
    if (c.json)
        so.flags |= KH_SCAN_STRINGS; /* JSON carries the matched strings of YARA rules */

    state = kh_cli_state_dir();
    kh_buf cdir = KH_BUF_INIT(4096);
    if (state)
        kh_buf_printf(&cdir, "%s/compiled", state);
    co.cache_dir = cdir.data;
    /* TESTS ONLY: public keys replacing ClamAV's for .cvd/.cld checks (docs/SIGNATURES.md) */
    co.clamav_keys = getenv("KHIEN_TEST_CLAMAV_KEYS");
    if (kh_compiler_create(&comp, &co)) {
        kh_buf_dispose(&cdir);
        kh_cli_errorf("out of memory");
        goto done;
    }
    kh_buf_dispose(&cdir);
    for (size_t i = 0; i < dbs.n; i++)
        if (kh_compiler_add_path(comp, dbs.v[i]) != 0) {
            kh_cli_print_diags(comp, 0);
            kh_cli_errorf("cannot load signatures from '%s'", dbs.v[i]);
            goto done;
        }
    for (size_t i = 0; i < ydefs.n; i++) {
        char name[256];
        const char *eq = strchr(ydefs.v[i], '=');
        size_t n = (size_t)(eq - ydefs.v[i]) < sizeof(name) ? (size_t)(eq - ydefs.v[i]) : sizeof(name) - 1;
        memcpy(name, ydefs.v[i], n);
        name[n] = 0;
        kh_compiler_define(comp, name, eq + 1);
    }
    for (size_t i = 0; i < yrules.n; i++) {
        struct stat yst;
        int yrc = stat(yrules.v[i], &yst) == 0 && S_ISDIR(yst.st_mode) ? kh_compiler_add_path(comp, yrules.v[i])
                                                                     : kh_compiler_add_yara_file(comp, yrules.v[i], NULL);
        if (yrc != 0) {
            kh_cli_print_diags(comp, 0);
            kh_cli_errorf("cannot load YARA rules from '%s'", yrules.v[i]);
            goto done;
        }
    }
    ld.comp = comp;
    ld.quiet = c.quiet;
    /* Without the cache (or for --verbose's per-database counts, or when the
     * identity cannot be computed) the set is needed anyway: load it now. */
    uint8_t setid[32];
    const kh_rules *loaded;
    if (!use_cache || !state || c.verbose || kh_compiler_identity(comp, setid) != 0) {
        if (load_rules(&ld, &loaded))
            goto done;
        memcpy(setid, kh_rules_id(loaded), 32);
    }
    if (use_cache && state) {
        kh_buf cpath = KH_BUF_INIT(4096);
        kh_buf_printf(&cpath, "%s/clean-cache.bin", state);
        if (kh_cache_open_set(&cache, cpath.data, setid, &so, 0) != 0)
            cache = NULL;
        kh_buf_dispose(&cpath);
    }
    wo.cache = cache;
    wo.excludes = excl.v;
    wo.nexcludes = excl.n;
    const char *here[] = {"."};
    const char *const *paths = optind < argc ? (const char *const *)argv + optind : here;
    size_t npaths = optind < argc ? (size_t)(argc - optind) : 1;
    kh_walk_stats st;
    c.t0 = kh_now();
    time_t start = time(NULL);
    int rc = kh_scan_paths_lazy(load_rules, &ld, &so, &wo, paths, npaths, on_report, &c, &st);
    double secs = kh_now() - c.t0;
    clear_progress(&c);
    if (rc) {
        if (!ld.failed) /* a load failure was reported by load_rules() */
            kh_cli_errorf("scan stopped: %s", kh_strerror(rc));
        goto done;
    }
    if (cache && kh_cache_save(cache) != 0 && !c.quiet)
        kh_cli_warnf("could not save the clean-file cache");
    if (c.summary)
        print_summary(&c, ld.rules, known_signatures(&ld), &st, secs, start, time(NULL));
    fflush(stdout);
    ret = st.infected ? KH_EXIT_FOUND : st.errors ? KH_EXIT_ERROR : KH_EXIT_CLEAN;
done:
    kh_cache_destroy(cache);
    kh_rules_destroy(ld.rules);
    kh_compiler_destroy(comp);
    free(state);
    KH_VEC_FREE(dbs);
    KH_VEC_FREE(yrules);
    KH_VEC_FREE(ydefs);
    KH_VEC_FREE(excl);
    kh_buf_dispose(&c.line);
    return ret;
}
