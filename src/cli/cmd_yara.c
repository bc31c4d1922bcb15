/* Khiên — cli: `khien yara`, a drop-in for the `yara` command, and
 * `khien compile`, which writes compiled rules for `khien yara -C`.
 *
 * Same arguments and output as yara 4.2: `[NAMESPACE:]RULES_FILE... TARGET`,
 * one line per matching rule ("rule path", with -e the namespace, -g the
 * tags, -m the meta), -s/-L the matched strings, -c counts, -n the rules
 * that did not match. Exit status as yara: 0 when the scan ran (whatever
 * matched), 1 on error. Unlike `khien scan` it does not open archives (yara
 * sees the bytes of the file only) and keeps no clean-file cache, so side
 * by side timings with yara are fair; compiled rules are still cached
 * automatically, keyed by the content of every rule file and include.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cmd.h"
#include "khien/khien.h"
#include "util/util.h"

#define MAX_LIST 256

typedef struct ycli {
    const char *tags[MAX_LIST];
    size_t ntags;
    const char *ids[MAX_LIST];
    size_t nids;
    int count, negate, print_tags, print_meta, print_strings, print_len, print_ns, fast, no_warn;
    unsigned long max_rules;
    unsigned long matched_rules;
    kh_buf out;
    uint64_t file_matches;
    const char *path;
    int stop;
} ycli;

static void usage(FILE *f)
{
    fputs("Cách dùng / Usage: khien yara [OPTION]... [NAMESPACE:]RULES_FILE... FILE | DIR\n"
          "Quét bằng luật YARA, cùng tham số và kết quả như lệnh yara / YARA rules, as the yara command.\n\n"
          "  -t, --tag=TAG              print only rules tagged as TAG\n"
          "  -i, --identifier=ID        print only rules named ID\n"
          "  -c, --count                print only the number of matches\n"
          "  -n, --negate               print only rules that did not match\n"
          "  -g, --print-tags           print tags\n"
          "  -m, --print-meta           print metadata\n"
          "  -s, --print-strings        print matching strings\n"
          "  -L, --print-string-length  print the length of matching strings\n"
          "  -e, --print-namespace      print the rules' namespace\n"
          "  -p, --threads=N            use N threads to scan a directory\n"
          "  -l, --max-rules=N          stop after N matching rules\n"
          "  -a, --timeout=SECONDS      abort a file after SECONDS\n"
          "  -d, --define=VAR=VALUE     define an external variable\n"
          "  -r, --recursive            scan directories recursively\n"
          "  -f, --fast-scan            fast matching mode\n"
          "  -w, --no-warnings          disable warnings\n"
          "  -C, --compiled-rules       load compiled rules (from khien compile)\n"
          "  -N, --no-follow-symlinks   do not follow symlinks when scanning\n"
          "  -S, --print-stats          print rule statistics\n"
          "  -z, --skip-larger=SIZE     skip files larger than SIZE bytes\n"
          "  -v, --version              show version information\n"
          "  -h, --help                 show this help\n",
          f);
}

static const struct option longopts[] = {
    {"tag", required_argument, 0, 't'},
    {"identifier", required_argument, 0, 'i'},
    {"count", no_argument, 0, 'c'},
    {"negate", no_argument, 0, 'n'},
    {"print-tags", no_argument, 0, 'g'},
    {"print-meta", no_argument, 0, 'm'},
    {"print-strings", no_argument, 0, 's'},
    {"print-string-length", no_argument, 0, 'L'},
    {"print-namespace", no_argument, 0, 'e'},
    {"threads", required_argument, 0, 'p'},
    {"max-rules", required_argument, 0, 'l'},
    {"timeout", required_argument, 0, 'a'},
    {"define", required_argument, 0, 'd'},
    {"recursive", no_argument, 0, 'r'},
    {"fast-scan", no_argument, 0, 'f'},
    {"no-warnings", no_argument, 0, 'w'},
    {"compiled-rules", no_argument, 0, 'C'},
    {"no-follow-symlinks", no_argument, 0, 'N'},
    {"print-stats", no_argument, 0, 'S'},
    {"skip-larger", required_argument, 0, 'z'},
    {"stack-size", required_argument, 0, 'k'},
    {"print-module-data", no_argument, 0, 'D'},
    {"version", no_argument, 0, 'v'},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

/* yara's printing of matched data: hex strings as at most 64 hex bytes
 * (then " ..."), others with printable ASCII as is and the rest as \xHH. */
static void put_data(kh_buf *b, const uint8_t *p, size_t n, int hex)
{
    size_t shown = hex && n > 64 ? 64 : n;
    for (size_t i = 0; i < shown; i++) {
        if (hex)
            kh_buf_printf(b, i ? " %02X" : "%02X", p[i]);
        else if (p[i] >= 0x20 && p[i] < 0x7f)
            kh_buf_putc(b, (char)p[i]);
        else
            kh_buf_printf(b, "\\x%02X", p[i]);
    }
    if (shown < n)
        kh_buf_puts(b, " ...");
}

/* yara's escaping of meta strings: C escapes, octal for other bytes. */
static void put_meta_str(kh_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': kh_buf_puts(b, "\\\""); break;
        case '\\': kh_buf_puts(b, "\\\\"); break;
        case '\n': kh_buf_puts(b, "\\n"); break;
        case '\t': kh_buf_puts(b, "\\t"); break;
        case '\r': kh_buf_puts(b, "\\r"); break;
        default:
            if (c >= 0x20 && c < 0x7f)
                kh_buf_putc(b, (char)c);
            else
                kh_buf_printf(b, "\\%03o", c);
        }
    }
}

static int wanted(const ycli *y, const kh_rule_info *info)
{
    if (y->ntags) {
        int ok = 0;
        for (size_t i = 0; i < y->ntags && !ok; i++)
            for (size_t k = 0; k < info->ntags && !ok; k++)
                ok = strcmp(y->tags[i], info->tags[k]) == 0;
        if (!ok)
            return 0;
    }
    if (y->nids) {
        int ok = 0;
        for (size_t i = 0; i < y->nids && !ok; i++)
            ok = strcmp(y->ids[i], info->name) == 0;
        if (!ok)
            return 0;
    }
    return 1;
}

static int on_detect(const kh_detection *d, void *payload)
{
    ycli *y = payload;
    const kh_rule_info *info = d->rule;
    if (!info || d->kind != KH_DET_RULE)
        return 0;
    if (info->matched == y->negate || !wanted(y, info))
        return 0;
    if (info->matched && y->max_rules && y->matched_rules >= y->max_rules)
        return 0;
    if (info->matched)
        y->matched_rules++;
    y->file_matches++;
    if (y->count)
        return 0;
    kh_buf *b = &y->out;
    if (y->print_ns)
        kh_buf_printf(b, "%s:", info->ns);
    kh_buf_puts(b, info->name);
    if (y->print_tags) {
        kh_buf_puts(b, " [");
        for (size_t i = 0; i < info->ntags; i++)
            kh_buf_printf(b, i ? ",%s" : "%s", info->tags[i]);
        kh_buf_putc(b, ']');
    }
    if (y->print_meta) {
        kh_buf_puts(b, " [");
        for (size_t i = 0; i < info->nmeta; i++) {
            const kh_meta *m = &info->meta[i];
            if (i)
                kh_buf_putc(b, ',');
            if (m->type == 1) {
                kh_buf_printf(b, "%s=\"", m->key);
                put_meta_str(b, m->str, m->len);
                kh_buf_putc(b, '"');
            } else if (m->type == 2) {
                kh_buf_printf(b, "%s =%lld", m->key, (long long)m->num);
            } else {
                kh_buf_printf(b, "%s=%s", m->key, m->num ? "true" : "false");
            }
        }
        kh_buf_putc(b, ']');
    }
    kh_buf_printf(b, " %s\n", y->path);
    if (y->print_strings || y->print_len) {
        for (size_t i = 0; i < info->nstrings; i++) {
            const kh_string_match *s = &info->strings[i];
            if (y->print_len) /* yara prints the kept data's length: at most 512 */
                kh_buf_printf(b, "0x%llx:%u:%s", (unsigned long long)s->offset, KH_MIN(s->length, 512u), s->id);
            else
                kh_buf_printf(b, "0x%llx:%s", (unsigned long long)s->offset, s->id);
            if (y->print_strings) {
                kh_buf_puts(b, ": ");
                put_data(b, s->data, s->data_len, s->hex);
            }
            kh_buf_putc(b, '\n');
        }
    }
    return 0;
}

typedef struct walkctx {
    ycli *y;
    const kh_rules *rules;
    const kh_scan_options *so;
    const char *const *defines;
    size_t ndefines;
    int single; /* the target is one file: -c prints the bare count */
} walkctx;

static int on_report(const kh_file_report *r, void *payload)
{
    walkctx *w = payload;
    ycli *y = w->y;
    if (r->status) {
        fprintf(stderr, "error scanning %s: %s\n", r->path, r->error ? r->error : kh_strerror(r->status));
        return 0;
    }
    if (r->skipped)
        return 0;
    /* The per-file text was built by on_detect while this file was scanned:
     * reports are delivered in order, detections arrive through the report. */
    y->path = r->path;
    y->file_matches = 0;
    kh_buf_clear(&y->out);
    for (size_t i = 0; i < r->ndetections; i++)
        on_detect(&r->detections[i], y);
    for (size_t i = 0; i < r->nlogs; i++)
        printf("%s\n", r->logs[i]);
    if (y->count) {
        if (w->single)
            printf("%llu\n", (unsigned long long)y->file_matches);
        else
            printf("%s: %llu\n", r->path, (unsigned long long)y->file_matches);
    } else if (y->out.len) {
        fwrite(y->out.data, 1, y->out.len, stdout);
    }
    return 0;
}

static int load_rules(int argc, char **argv, int first, int last, int compiled, const char *const *defs,
                      size_t ndefs, int no_warn, kh_rules **out)
{
    if (compiled) {
        if (last - first != 1) {
            kh_cli_errorf("-C takes exactly one compiled rules file");
            return -1;
        }
        int rc = kh_rules_load(out, argv[first]);
        if (rc) {
            kh_cli_errorf("cannot load compiled rules '%s': %s", argv[first],
                          rc == KH_EFORMAT ? "not a khien compiled rules file, or damaged" : kh_strerror(rc));
            return -1;
        }
        return 0;
    }
    kh_compiler_options co = KH_COMPILER_OPTIONS_INIT;
    co.flags = KH_COMPILE_NO_BUILTIN;
    char *state = kh_cli_state_dir();
    kh_buf cdir = KH_BUF_INIT(4096);
    if (state)
        kh_buf_printf(&cdir, "%s/compiled", state);
    free(state);
    co.cache_dir = cdir.data;
    kh_compiler *c = NULL;
    int rc = kh_compiler_create(&c, &co);
    kh_buf_dispose(&cdir);
    if (rc) {
        kh_cli_errorf("out of memory");
        return -1;
    }
    for (size_t i = 0; i < ndefs && !rc; i++) {
        char name[256];
        const char *eq = strchr(defs[i], '=');
        size_t n = (size_t)(eq - defs[i]);
        if (n >= sizeof(name))
            n = sizeof(name) - 1;
        memcpy(name, defs[i], n);
        name[n] = 0;
        rc = kh_compiler_define(c, name, eq + 1);
    }
    for (int i = first; i < last && !rc; i++) {
        const char *arg = argv[i], *colon = strchr(arg, ':');
        char ns[256] = "default";
        const char *file = arg;
        if (colon && access(arg, F_OK) != 0 && (size_t)(colon - arg) < sizeof(ns)) {
            memcpy(ns, arg, (size_t)(colon - arg));
            ns[colon - arg] = 0;
            file = colon + 1;
        }
        rc = kh_compiler_add_yara_file(c, file, ns);
        if (rc)
            kh_cli_errorf("could not open file: %s", file);
    }
    if (!rc)
        rc = kh_compiler_build(c, out);
    kh_cli_print_diags(c, no_warn);
    kh_compiler_destroy(c);
    return rc ? -1 : 0;
}

int cmd_yara(int argc, char **argv)
{
    ycli y;
    memset(&y, 0, sizeof(y));
    kh_buf_init(&y.out, 0);
    kh_scan_options so = KH_SCAN_OPTIONS_INIT;
    kh_walk_options wo = KH_WALK_OPTIONS_INIT;
    const char *defs[MAX_LIST];
    size_t ndefs = 0;
    int recursive = 0, compiled = 0, stats = 0, ret = 1, opt;
    kh_rules *rules = NULL;
    so.flags = KH_SCAN_NO_ARCHIVE | KH_SCAN_ALLMATCH;
    so.max_filesize = 0;
    so.max_scansize = 0;
    so.stream_threshold = 1ull << 40;
    wo.follow_symlinks = 1;
    wo.threads = 1;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "t:i:cngmsLep:l:a:d:rfwCNSz:k:Dvh", longopts, NULL)) != -1) {
        uint64_t v;
        switch (opt) {
        case 't':
        case 'i':
            if ((opt == 't' ? y.ntags : y.nids) >= MAX_LIST) {
                kh_cli_errorf("too many -%c options", opt);
                goto done;
            }
            if (opt == 't')
                y.tags[y.ntags++] = optarg;
            else
                y.ids[y.nids++] = optarg;
            break;
        case 'c': y.count = 1; break;
        case 'n': y.negate = 1; break;
        case 'g': y.print_tags = 1; break;
        case 'm': y.print_meta = 1; break;
        case 's': y.print_strings = 1; break;
        case 'L': y.print_len = 1; break;
        case 'e': y.print_ns = 1; break;
        case 'f': y.fast = 1; break;
        case 'w': y.no_warn = 1; break;
        case 'r': recursive = 1; break;
        case 'C': compiled = 1; break;
        case 'N': wo.follow_symlinks = 0; break;
        case 'S': stats = 1; break;
        case 'D': case 'k': break;
        case 'p':
        case 'l':
        case 'a':
        case 'z':
            if (kh_parse_u64(optarg, strlen(optarg), &v) || (opt == 'p' && (v == 0 || v > 256))) {
                kh_cli_errorf("-%c: invalid number '%s'", opt, optarg);
                goto done;
            }
            if (opt == 'p')
                wo.threads = (unsigned)v;
            else if (opt == 'l')
                y.max_rules = (unsigned long)v;
            else if (opt == 'a')
                so.timeout_ms = v > 100000000 ? 100000000u * 1000u : (unsigned)(v * 1000);
            else
                so.max_filesize = v;
            break;
        case 'd':
            if (!strchr(optarg, '=') || optarg[0] == '=' || ndefs >= MAX_LIST) {
                kh_cli_errorf("-d: expected VAR=VALUE, got '%s'", optarg);
                goto done;
            }
            defs[ndefs++] = optarg;
            break;
        case 'v':
            printf("khien %s (yara 4.2 compatible)\n", kh_version());
            ret = 0;
            goto done;
        case 'h':
            usage(stdout);
            ret = 0;
            goto done;
        default:
            fprintf(stderr, "Try 'khien yara --help'.\n");
            goto done;
        }
    }
    if (argc - optind < 2) {
        usage(stderr);
        goto done;
    }
    if (load_rules(argc, argv, optind, argc - 1, compiled, defs, ndefs, y.no_warn, &rules))
        goto done;
    if (stats) {
        kh_rules_stats st;
        kh_rules_get_stats(rules, &st);
        printf("number of rules                    : %llu\n", (unsigned long long)st.yara_rules);
        printf("number of strings                  : %llu\n", (unsigned long long)st.yara_strings);
        printf("loaded from compiled cache         : %s\n", st.from_cache ? "yes" : "no");
        printf("rule files read for the cache key  : %s\n", st.key_memo ? "no (unchanged since the key memo)" : "yes");
    }
    if (y.print_strings || y.print_len)
        so.flags |= KH_SCAN_STRINGS;
    if (y.negate)
        so.flags |= KH_SCAN_YARA_ALL;
    if (y.fast)
        so.flags |= KH_SCAN_FAST;
    const char *target = argv[argc - 1];
    walkctx w = {&y, rules, &so, defs, ndefs, 0};
    /* A directory without -r: only the files directly inside. */
    wo.max_depth = recursive ? 0 : 1;
    w.single = 0;
    {
        struct stat st;
        if (stat(target, &st) == 0 && !S_ISDIR(st.st_mode))
            w.single = 1;
    }
    wo.defines = defs;
    wo.ndefines = ndefs;
    kh_walk_stats ws;
    int rc = kh_scan_paths(rules, &so, &wo, &target, 1, on_report, &w, &ws);
    if (rc) {
        kh_cli_errorf("scan stopped: %s", kh_strerror(rc));
        goto done;
    }
    if (ws.errors && w.single)
        goto done;
    fflush(stdout);
    ret = 0;
done:
    kh_rules_destroy(rules);
    kh_buf_dispose(&y.out);
    return ret;
}

/* ---- khien compile ------------------------------------------------------------------- */

int cmd_compile(int argc, char **argv)
{
    const char *out = NULL;
    const char *defs[MAX_LIST];
    size_t ndefs = 0;
    int opt, no_warn = 0;
    static const struct option lo[] = {
        {"output", required_argument, 0, 'o'}, {"define", required_argument, 0, 'd'},
        {"no-warnings", no_argument, 0, 'w'},  {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    optind = 1;
    while ((opt = getopt_long(argc, argv, "o:d:wh", lo, NULL)) != -1) {
        switch (opt) {
        case 'o': out = optarg; break;
        case 'w': no_warn = 1; break;
        case 'd':
            if (!strchr(optarg, '=') || ndefs >= MAX_LIST) {
                kh_cli_errorf("-d: expected VAR=VALUE, got '%s'", optarg);
                return 1;
            }
            defs[ndefs++] = optarg;
            break;
        case 'h':
            printf("Cách dùng / Usage: khien compile [-d VAR=VALUE]... [NAMESPACE:]RULES_FILE... -o OUTPUT\n"
                   "Biên dịch luật YARA / Compile YARA rules for `khien yara -C`.\n");
            return 0;
        default:
            fprintf(stderr, "Try 'khien compile --help'.\n");
            return 1;
        }
    }
    if (!out || optind >= argc) {
        kh_cli_errorf("usage: khien compile RULES_FILE... -o OUTPUT");
        return 1;
    }
    kh_rules *rules = NULL;
    if (load_rules(argc, argv, optind, argc, 0, defs, ndefs, no_warn, &rules))
        return 1;
    int rc = kh_rules_save(rules, out);
    kh_rules_destroy(rules);
    if (rc) {
        kh_cli_errorf("cannot write '%s': %s", out, kh_strerror(rc));
        return 1;
    }
    return 0;
}
