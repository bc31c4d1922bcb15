/* Khiên — cli: `khien audit`, security configuration assessment.
 *
 * Runs the built-in policies (the YAML files of policies/ in the sources,
 * embedded in the library) or the policy files given with --policy, against this host or a
 * directory standing for one (--root), and prints every check as passed,
 * failed or not applicable with its evidence, the remediation of failed
 * checks and a score per policy. Output is for people (Vietnamese first,
 * English alongside; colour only on a terminal) or JSON Lines with --json.
 * Every policy is loaded before anything runs, so a malformed one stops the
 * command with file:line:column and nothing half-done. Exit status: 0 every
 * applicable check passed, 1 some check failed, 2 error.
 *
 * A policy file given here is trusted to run commands (c: rules) only when
 * it is owned by root and nobody else can write it; the library decides and
 * reports why not otherwise.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cmd.h"
#include "khien/audit.h"
#include "khien/khien.h"
#include "util/util.h"

typedef struct audit_cli {
    int json, verbose, quiet, color;
    unsigned policies, passed, failed, not_applicable, not_applicable_policies;
    kh_buf out;
} audit_cli;

static void usage(FILE *f)
{
    fputs("Cách dùng / Usage: khien audit [OPTIONS]\n"
          "Kiểm tra cấu hình bảo mật của máy theo chính sách / Security configuration assessment against policies\n"
          "(định dạng chính sách SCA của Wazuh / Wazuh SCA policy format).\n\n"
          "Chính sách / Policies:\n"
          "  -p, --policy=FILE      chạy tệp chính sách này (lặp lại được) thay cho chính sách có sẵn\n"
          "                         run this policy file (repeatable) instead of the built-in policies\n"
          "  -b, --builtin=NAME     chỉ chạy chính sách có sẵn này / run only this built-in policy (repeatable)\n"
          "      --list             liệt kê chính sách có sẵn / list the built-in policies\n"
          "Hệ thống được kiểm tra / Audited system:\n"
          "      --root=DIR         kiểm tra hệ thống nằm trong DIR (ổ đĩa gắn vào, ảnh, thử nghiệm)\n"
          "                         audit the system installed under DIR (mounted disk, image, tests)\n"
          "      --allow-commands   với --root vẫn chạy lệnh c: (trên máy này) / with --root still run c: commands (on this host)\n"
          "      --timeout=SECS     dừng một lệnh c: sau SECS giây (mặc định 30) / stop a c: command after SECS seconds (default 30)\n"
          "Kết quả / Output:\n"
          "      --json             JSON Lines: mỗi kiểm tra một đối tượng, rồi mỗi chính sách, rồi tổng kết\n"
          "                         one object per check, one per policy, then a summary\n"
          "  -v, --verbose          hiện mô tả, lý do và bằng chứng của mọi kiểm tra / show description, rationale and evidence of every check\n"
          "  -q, --quiet            chỉ hiện kiểm tra không đạt và điểm / only failed checks and scores\n"
          "      --color=WHEN       auto (mặc định / default), always, never\n"
          "  -h, --help             trợ giúp này / this help\n\n"
          "Mã thoát / Exit status: 0 mọi kiểm tra áp dụng được đều đạt / every applicable check passed,\n"
          "  1 có kiểm tra không đạt / some check failed, 2 lỗi / error.\n",
          f);
}

enum { O_LIST = 256, O_ROOT, O_ALLOW, O_TIMEOUT, O_JSON, O_COLOR };

static const struct option longopts[] = {
    {"policy", required_argument, 0, 'p'},
    {"builtin", required_argument, 0, 'b'},
    {"list", no_argument, 0, O_LIST},
    {"root", required_argument, 0, O_ROOT},
    {"allow-commands", no_argument, 0, O_ALLOW},
    {"timeout", required_argument, 0, O_TIMEOUT},
    {"json", no_argument, 0, O_JSON},
    {"verbose", no_argument, 0, 'v'},
    {"quiet", no_argument, 0, 'q'},
    {"color", required_argument, 0, O_COLOR},
    {"colour", required_argument, 0, O_COLOR},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

/* ---- text output ------------------------------------------------------------ */

#define C_RESET "\033[0m"
#define C_BOLD "\033[1m"
#define C_DIM "\033[2m"
#define C_RED "\033[31m"
#define C_GREEN "\033[32m"
#define C_YELLOW "\033[33m"

static const char *col(const audit_cli *a, const char *code)
{
    return a->color ? code : "";
}

/* Display width of UTF-8 text (one column per code point). */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            w++;
    return w;
}

static void pad(kh_buf *b, const char *s, size_t w)
{
    kh_buf_puts(b, s);
    for (size_t k = width(s); k < w; k++)
        kh_buf_putc(b, ' ');
}

/* Appends text with every line indented. */
static void indented(kh_buf *b, const char *text, const char *indent)
{
    const char *s = text;
    while (*s) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        if (n || nl) {
            kh_buf_puts(b, indent);
            kh_buf_append(b, s, n);
            kh_buf_putc(b, '\n');
        }
        if (!nl)
            break;
        s = nl + 1;
        if (!*s)
            break;
    }
}

static void section(audit_cli *a, const char *title, const char *text)
{
    if (!text || !*text)
        return;
    kh_buf_printf(&a->out, "      %s%s:%s\n", col(a, C_BOLD), title, col(a, C_RESET));
    indented(&a->out, text, "        ");
}

static void print_evidence(audit_cli *a, const kh_check_report *r)
{
    if (!r->nevidence)
        return;
    kh_buf *b = &a->out;
    kh_buf_printf(b, "      %sBằng chứng / Evidence:%s\n", col(a, C_BOLD), col(a, C_RESET));
    for (size_t i = 0; i < r->nevidence; i++) {
        const kh_evidence *e = &r->evidence[i];
        kh_buf_puts(b, "        - ");
        if (e->path) {
            kh_buf_puts(b, e->path);
            if (e->line)
                kh_buf_printf(b, ":%u", e->line);
            kh_buf_puts(b, ": ");
        }
        if (e->detail) {
            if (strcmp(e->kind, "line") == 0)
                kh_buf_printf(b, "\"%s\"", e->detail);
            else
                kh_buf_puts(b, e->detail);
        }
        kh_buf_putc(b, '\n');
        if (a->verbose && e->rule)
            kh_buf_printf(b, "          %s(quy tắc / rule: %s)%s\n", col(a, C_DIM), e->rule, col(a, C_RESET));
    }
    if (r->evidence_dropped)
        kh_buf_printf(b, "        … và %zu mục khác / and %zu more\n", r->evidence_dropped, r->evidence_dropped);
}

static void print_check_text(audit_cli *a, const kh_check_report *r)
{
    kh_buf *b = &a->out;
    const char *tag, *c;
    switch (r->result) {
    case KH_CHECK_PASSED:
        tag = "ĐẠT / PASS";
        c = C_GREEN;
        break;
    case KH_CHECK_FAILED:
        tag = "KHÔNG ĐẠT / FAIL";
        c = C_RED;
        break;
    default:
        tag = "KHÔNG ÁP DỤNG / N/A";
        c = C_YELLOW;
    }
    if (a->quiet && r->result != KH_CHECK_FAILED)
        return;
    kh_buf_printf(b, "  %s", col(a, c));
    pad(b, tag, 20);
    kh_buf_printf(b, "%s %6lld  %s\n", col(a, C_RESET), r->id, r->title);
    int full = r->result == KH_CHECK_FAILED || a->verbose; /* failed checks say why and what to do */
    if (a->verbose)
        section(a, "Mô tả / Description", r->description);
    if (r->result == KH_CHECK_NOT_APPLICABLE)
        kh_buf_printf(b, "      %sLý do không áp dụng / Why not applicable:%s %s\n", col(a, C_BOLD), col(a, C_RESET),
                      r->reason ? r->reason : "");
    if (full) {
        print_evidence(a, r);
        section(a, "Lý do cần kiểm tra / Rationale", r->rationale);
        section(a, "Cách khắc phục / Remediation", r->remediation);
    }
    if (full && (r->ncompliance || r->nreferences)) {
        kh_buf_printf(b, "      %sTham chiếu / References:%s\n", col(a, C_BOLD), col(a, C_RESET));
        for (size_t i = 0; i < r->ncompliance; i++) {
            kh_buf_printf(b, "        %s: ", r->compliance[i].key);
            for (size_t k = 0; k < r->compliance[i].nvalues; k++)
                kh_buf_printf(b, "%s%s", k ? "; " : "", r->compliance[i].values[k]);
            kh_buf_putc(b, '\n');
        }
        for (size_t i = 0; i < r->nreferences; i++)
            kh_buf_printf(b, "        %s\n", r->references[i]);
    }
}

/* ---- JSON output -------------------------------------------------------------- */

static void jstr(kh_buf *b, const char *s)
{
    if (!s)
        kh_buf_puts(b, "null");
    else
        kh_json_str(b, s, strlen(s));
}

static const char *outcome_name(kh_rule_outcome o)
{
    return o == KH_RULE_FOUND ? "found" : o == KH_RULE_NOT_FOUND ? "not_found" : "invalid";
}

static void print_check_json(audit_cli *a, const kh_check_report *r)
{
    kh_buf *b = &a->out;
    kh_buf_puts(b, "{\"type\":\"check\",\"policy\":");
    jstr(b, r->policy_id);
    kh_buf_printf(b, ",\"id\":%lld,\"title\":", r->id);
    jstr(b, r->title);
    kh_buf_printf(b, ",\"result\":\"%s\",\"reason\":", kh_check_result_name(r->result));
    jstr(b, r->reason);
    kh_buf_puts(b, ",\"description\":");
    jstr(b, r->description);
    kh_buf_puts(b, ",\"rationale\":");
    jstr(b, r->rationale);
    kh_buf_puts(b, ",\"remediation\":");
    jstr(b, r->remediation);
    kh_buf_printf(b, ",\"condition\":\"%s\",\"compliance\":{", r->condition);
    for (size_t i = 0; i < r->ncompliance; i++) {
        if (i)
            kh_buf_putc(b, ',');
        jstr(b, r->compliance[i].key);
        kh_buf_puts(b, ":[");
        for (size_t k = 0; k < r->compliance[i].nvalues; k++) {
            if (k)
                kh_buf_putc(b, ',');
            jstr(b, r->compliance[i].values[k]);
        }
        kh_buf_putc(b, ']');
    }
    kh_buf_puts(b, "},\"references\":[");
    for (size_t i = 0; i < r->nreferences; i++) {
        if (i)
            kh_buf_putc(b, ',');
        jstr(b, r->references[i]);
    }
    kh_buf_puts(b, "],\"evidence\":[");
    for (size_t i = 0; i < r->nevidence; i++) {
        const kh_evidence *e = &r->evidence[i];
        if (i)
            kh_buf_putc(b, ',');
        kh_buf_puts(b, "{\"rule\":");
        jstr(b, e->rule);
        kh_buf_printf(b, ",\"outcome\":\"%s\",\"kind\":", outcome_name(e->outcome));
        jstr(b, e->kind);
        kh_buf_puts(b, ",\"path\":");
        jstr(b, e->path);
        if (e->line)
            kh_buf_printf(b, ",\"line\":%u", e->line);
        else
            kh_buf_puts(b, ",\"line\":null");
        kh_buf_puts(b, ",\"detail\":");
        jstr(b, e->detail);
        kh_buf_putc(b, '}');
    }
    kh_buf_printf(b, "],\"evidence_dropped\":%zu}\n", r->evidence_dropped);
}

static int on_check(const kh_check_report *r, void *payload)
{
    audit_cli *a = payload;
    kh_buf_clear(&a->out);
    if (a->json)
        print_check_json(a, r);
    else
        print_check_text(a, r);
    if (a->out.len)
        fwrite(a->out.data, 1, a->out.len, stdout);
    return 0;
}

static int on_requirements(const kh_check_report *r, void *payload)
{
    audit_cli *a = payload;
    if (a->json)
        return 0;
    kh_buf_clear(&a->out);
    print_evidence(a, r);
    if (a->out.len)
        fwrite(a->out.data, 1, a->out.len, stdout);
    return 0;
}

/* ---- running ------------------------------------------------------------------- */

static int run_policy(audit_cli *a, const kh_policy *p, const kh_audit_options *o)
{
    if (!a->json) {
        printf("\n%s== %s%s [%s]\n", col(a, C_BOLD), kh_policy_name(p), col(a, C_RESET), kh_policy_id(p));
        if (a->verbose)
            printf("   %s\n", kh_policy_source(p));
        fflush(stdout);
    }
    kh_policy_summary s;
    int rc = kh_audit_run(p, o, on_check, a, &s);
    if (rc) {
        kh_cli_errorf("%s: %s", kh_policy_source(p), kh_strerror(rc));
        return rc;
    }
    a->policies++;
    a->passed += s.passed;
    a->failed += s.failed;
    a->not_applicable += s.not_applicable;
    if (!s.applicable)
        a->not_applicable_policies++;
    if (a->json) {
        kh_buf *b = &a->out;
        kh_buf_clear(b);
        kh_buf_puts(b, "{\"type\":\"policy\",\"id\":");
        jstr(b, kh_policy_id(p));
        kh_buf_puts(b, ",\"name\":");
        jstr(b, kh_policy_name(p));
        kh_buf_puts(b, ",\"source\":");
        jstr(b, kh_policy_source(p));
        kh_buf_printf(b, ",\"applicable\":%s,\"reason\":", s.applicable ? "true" : "false");
        jstr(b, s.applicable ? NULL : s.reason);
        kh_buf_printf(b, ",\"checks\":%zu,\"passed\":%u,\"failed\":%u,\"not_applicable\":%u,\"score\":",
                      kh_policy_check_count(p), s.passed, s.failed, s.not_applicable);
        if (s.score >= 0)
            kh_buf_printf(b, "%d}\n", s.score);
        else
            kh_buf_puts(b, "null}\n");
        fwrite(b->data, 1, b->len, stdout);
        return 0;
    }
    if (!s.applicable) {
        printf("  %sChính sách không áp dụng cho hệ thống này / The policy does not apply to this system%s\n"
               "      Điều kiện không thỏa / Requirements not met: %s\n",
               col(a, C_YELLOW), col(a, C_RESET), s.reason ? s.reason : "");
        if (a->verbose)
            kh_audit_requirements(p, o, on_requirements, a);
        return 0;
    }
    printf("  %sĐiểm / Score: ", col(a, C_BOLD));
    if (s.score >= 0)
        printf("%d%%", s.score);
    else
        printf("-");
    printf("%s — %u đạt / passed, %u không đạt / failed, %u không áp dụng / not applicable\n", col(a, C_RESET),
           s.passed, s.failed, s.not_applicable);
    return 0;
}

/* A built-in policy by name ("khien_credentials"), name without "khien_",
 * or any unique part of the name ("baseline", "vn"). */
static int builtin_index(const char *want)
{
    int found = -1, count = 0;
    for (size_t i = 0; i < kh_policy_builtin_count(); i++) {
        const char *n = kh_policy_builtin_name(i);
        if (strcmp(n, want) == 0 || (strncmp(n, "khien_", 6) == 0 && strcmp(n + 6, want) == 0))
            return (int)i;
        if (*want && strstr(n, want)) {
            found = (int)i;
            count++;
        }
    }
    return count == 1 ? found : -1;
}

static void print_load_error(const kh_policy_error *e, int rc)
{
    if (e->line && e->column)
        fprintf(stderr, "khien: %s:%u:%u: lỗi / error: %s\n", e->file, e->line, e->column, e->message);
    else if (e->line)
        fprintf(stderr, "khien: %s:%u: lỗi / error: %s\n", e->file, e->line, e->message);
    else if (e->message[0])
        fprintf(stderr, "khien: %s: lỗi / error: %s\n", e->file, e->message);
    else
        fprintf(stderr, "khien: %s: lỗi / error: %s\n", e->file, kh_strerror(rc));
}

int cmd_audit(int argc, char **argv)
{
    audit_cli a;
    memset(&a, 0, sizeof(a));
    kh_buf_init(&a.out, 16u << 20);
    const char *color = "auto";
    KH_VEC(const char *) files = {0};
    KH_VEC(int) builtins = {0};
    KH_VEC(kh_policy *) pols = {0};
    kh_audit_options o = KH_AUDIT_OPTIONS_INIT;
    int list = 0, rc = KH_EXIT_ERROR, opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "p:b:vqh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'p':
            if (KH_VEC_RESERVE(files, 1, 1024))
                goto done;
            files.v[files.n++] = optarg;
            break;
        case 'b': {
            int i = builtin_index(optarg);
            if (i < 0) {
                kh_cli_errorf("không có chính sách có sẵn '%s' (xem --list) / no built-in policy '%s' (see --list)", optarg,
                              optarg);
                goto done;
            }
            if (KH_VEC_RESERVE(builtins, 1, 1024))
                goto done;
            builtins.v[builtins.n++] = i;
            break;
        }
        case O_LIST:
            list = 1;
            break;
        case O_ROOT:
            o.root = optarg;
            break;
        case O_ALLOW:
            o.flags |= KH_AUDIT_COMMANDS_WITH_ROOT;
            break;
        case O_TIMEOUT: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v <= 0 || v > 3600) {
                kh_cli_errorf("--timeout: cần số giây từ 1 đến 3600 / needs seconds from 1 to 3600: '%s'", optarg);
                goto done;
            }
            o.command_timeout_ms = (unsigned)v * 1000u;
            break;
        }
        case O_JSON:
            a.json = 1;
            break;
        case 'v':
            a.verbose = 1;
            break;
        case 'q':
            a.quiet = 1;
            break;
        case O_COLOR:
            color = optarg;
            if (strcmp(color, "auto") && strcmp(color, "always") && strcmp(color, "never")) {
                kh_cli_errorf("--color: auto, always hoặc / or never");
                goto done;
            }
            break;
        case 'h':
            usage(stdout);
            rc = 0;
            goto done;
        default:
            usage(stderr);
            goto done;
        }
    }
    if (optind < argc) {
        kh_cli_errorf("đối số thừa / unexpected argument: '%s' (tệp chính sách dùng --policy / policy files go with --policy)",
                      argv[optind]);
        goto done;
    }
    if (list) {
        for (size_t i = 0; i < kh_policy_builtin_count(); i++) {
            kh_policy *p = NULL;
            kh_policy_error e;
            if (kh_policy_load_builtin(&p, i, &e) == 0) {
                printf("%-24s %3zu  %s\n", kh_policy_builtin_name(i), kh_policy_check_count(p), kh_policy_name(p));
                kh_policy_destroy(p);
            }
        }
        rc = 0;
        goto done;
    }
    if (strcmp(color, "always") == 0)
        a.color = 1;
    else if (strcmp(color, "auto") == 0) {
        const char *term = getenv("TERM");
        a.color = !a.json && isatty(STDOUT_FILENO) && !getenv("NO_COLOR") && !(term && strcmp(term, "dumb") == 0);
    }
    if (o.root) {
        struct stat st;
        if (stat(o.root, &st) != 0 || !S_ISDIR(st.st_mode)) {
            kh_cli_errorf("--root: '%s' không phải thư mục / is not a directory", o.root);
            goto done;
        }
    }

    /* load everything first: a malformed policy stops before anything runs */
    kh_policy_error err;
    for (size_t i = 0; i < files.n; i++) {
        kh_policy *p = NULL;
        int r = kh_policy_load_file(&p, files.v[i], KH_POLICY_TRUSTED, &err);
        if (r) {
            print_load_error(&err, r);
            goto done;
        }
        if (KH_VEC_RESERVE(pols, 1, 4096)) {
            kh_policy_destroy(p);
            goto done;
        }
        pols.v[pols.n++] = p;
    }
    if (!files.n) {
        size_t nb = builtins.n ? builtins.n : kh_policy_builtin_count();
        for (size_t k = 0; k < nb; k++) {
            size_t i = builtins.n ? (size_t)builtins.v[k] : k;
            kh_policy *p = NULL;
            int r = kh_policy_load_builtin(&p, i, &err);
            if (r) {
                print_load_error(&err, r);
                goto done;
            }
            if (KH_VEC_RESERVE(pols, 1, 4096)) {
                kh_policy_destroy(p);
                goto done;
            }
            pols.v[pols.n++] = p;
        }
    }
    if (!pols.n) {
        kh_cli_errorf("không có chính sách nào để chạy / no policy to run");
        goto done;
    }
    if (!a.json) {
        printf("%sKhiên %s — kiểm tra cấu hình bảo mật / security configuration audit%s\n", col(&a, C_BOLD), kh_version(),
               col(&a, C_RESET));
        printf("Hệ thống / System: %s\n", o.root ? o.root : "/ (máy này / this host)");
    }
    for (size_t i = 0; i < pols.n; i++)
        if (run_policy(&a, pols.v[i], &o))
            goto done;
    if (a.json) {
        printf("{\"type\":\"summary\",\"engine\":\"khien %s\",\"policies\":%u,\"passed\":%u,\"failed\":%u,"
               "\"not_applicable\":%u,\"policies_not_applicable\":%u}\n",
               kh_version(), a.policies, a.passed, a.failed, a.not_applicable, a.not_applicable_policies);
    } else if (a.policies > 1) {
        printf("\n%sTổng / Total:%s %u chính sách / policies — %u đạt / passed, %u không đạt / failed, "
               "%u không áp dụng / not applicable\n",
               col(&a, C_BOLD), col(&a, C_RESET), a.policies, a.passed, a.failed, a.not_applicable);
    }
    rc = a.failed ? KH_EXIT_FOUND : KH_EXIT_CLEAN;
done:
    fflush(stdout);
    for (size_t i = 0; i < pols.n; i++)
        kh_policy_destroy(pols.v[i]);
    KH_VEC_FREE(pols);
    KH_VEC_FREE(files);
    KH_VEC_FREE(builtins);
    kh_buf_dispose(&a.out);
    return rc;
}
