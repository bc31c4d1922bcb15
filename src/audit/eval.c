/* Khiên — audit: evaluating a policy (kh_audit_run).
 *
 * The semantics are those of Wazuh's SCA module, so that its policies give
 * the same answers here. Each rule comes out found, not found or invalid;
 * `not` swaps the first two. A check's condition combines its rules in
 * order and stops as soon as the answer is known:
 *   all   fails at the first rule not found; else passes, or is not
 *         applicable if some rule was invalid;
 *   any   passes at the first rule found; else fails, or is not applicable
 *         if some rule was invalid;
 *   none  fails at the first rule found; else passes, or is not applicable
 *         if some rule was invalid.
 * A file rule with a content pattern is invalid when the file cannot be
 * read (as in Wazuh: "could not open file"), a plain existence test is
 * simply not found. A list of files (comma-separated) is found if any of
 * them is. Content patterns hold on a line when all their `&&` parts hold
 * on that same line; the first such line is the evidence. Directory rules
 * look recursively for files whose name matches, then at their content.
 * Commands run only when the policy is trusted and, under a root
 * directory, only when the caller allows it (they would see this host, not
 * the audited one). Processes are read from /proc of the audited system.
 *
 * Every rule leaves evidence: the line that matched, the file that is
 * missing, the process found, the reason it could not be decided. Lines are
 * quoted through kh_ev_quote(), which never lets a secret through.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit_int.h"
#include "platform/platform.h"

#define QUOTE_MAX 160

/* ---- evidence -------------------------------------------------------------- */

void kh_ev_add(kh_audit_ctx *c, kh_rule_outcome o, const char *kind, const char *path, unsigned line,
               const char *detail)
{
    if (c->ev.n >= c->o.max_evidence || KH_VEC_RESERVE(c->ev, 1, 1u << 16)) {
        c->ev_dropped++;
        return;
    }
    kh_evidence *e = &c->ev.v[c->ev.n];
    e->rule = c->rule ? c->rule->text : NULL;
    e->outcome = o;
    e->kind = kind;
    e->path = path ? kh_arena_strdup(&c->ev_arena, path) : NULL;
    e->line = line;
    e->detail = detail ? kh_arena_strdup(&c->ev_arena, detail) : NULL;
    if ((path && !e->path) || (detail && !e->detail)) {
        c->ev_dropped++;
        return;
    }
    c->ev.n++;
}

void kh_ev_addf(kh_audit_ctx *c, kh_rule_outcome o, const char *kind, const char *path, unsigned line,
                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kh_buf b = KH_BUF_INIT(1u << 16);
    kh_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    kh_ev_add(c, o, kind, path, line, b.data ? b.data : "");
    kh_buf_dispose(&b);
}

static int password_file(const char *path)
{
    if (!path)
        return 0;
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    static const char *const names[] = {"opasswd", "logins.json", "key4.db", "Login Data", ".git-credentials",
                                        ".pgpass", ".netrc", "credentials", ".smbcredentials", "id_rsa",
                                        "id_ed25519", "id_ecdsa", "id_dsa"};
    for (size_t i = 0; i < KH_ARRAY_LEN(names); i++)
        if (strcmp(b, names[i]) == 0)
            return 1;
    return strncmp(b, "shadow", 6) == 0 || strncmp(b, "gshadow", 7) == 0 || strstr(path, "/private/") != NULL ||
           kh_str_endswith(b, ".key") || kh_str_endswith(b, ".pem") || kh_str_endswith(b, ".kdbx");
}

void kh_ev_quote(kh_buf *out, const char *path, const char *s, size_t n)
{
    kh_buf_clear(out);
    if (password_file(path)) {
        kh_buf_puts(out, "(nội dung không hiển thị: tệp mật khẩu hoặc khóa / content not shown: a password or key file)");
        return;
    }
    const char *b = path ? strrchr(path, '/') : NULL;
    kh_secret_hit hits[2];
    size_t nh = kh_secret_scan_line(s, n, b ? b + 1 : path, hits, 2);
    if (nh) {
        kh_buf_printf(out, "(dòng chứa bí mật, không hiển thị / the line holds a secret, not shown: %s %s)", hits[0].label,
                      hits[0].hint);
        return;
    }
    size_t cut = n;
    if (cut > QUOTE_MAX) {
        cut = QUOTE_MAX;
        while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
            cut--;
    }
    for (size_t i = 0; i < cut; i++) {
        unsigned char ch = (unsigned char)s[i];
        kh_buf_putc(out, ch < 0x20 || ch == 0x7f ? ' ' : (char)ch);
    }
    if (cut < n)
        kh_buf_puts(out, "…");
}

/* ---- content patterns ---------------------------------------------------------- */

static int minterm_holds(const kh_minterm *m, const char *s, size_t n)
{
    switch (m->type) {
    case KH_MT_LITERAL:
        return strlen(m->text) == n && memcmp(m->text, s, n) == 0;
    case KH_MT_REGEX:
        return kh_re_match(m->re, s, n, NULL, NULL);
    case KH_MT_NUMERIC: {
        long off, len;
        if (!kh_re_match(m->re, s, n, &off, &len) || off < 0 || len <= 0 || len > 30)
            return 0;
        char num[32];
        memcpy(num, s + off, (size_t)len);
        num[len] = 0;
        char *end;
        errno = 0;
        long long v = strtoll(num, &end, 10);
        if (end == num || errno)
            return 0;
        switch (m->op) {
        case KH_CMP_LT:
            return v < m->value;
        case KH_CMP_LE:
            return v <= m->value;
        case KH_CMP_EQ:
            return v == m->value;
        case KH_CMP_NE:
            return v != m->value;
        case KH_CMP_GE:
            return v >= m->value;
        case KH_CMP_GT:
            return v > m->value;
        }
        return 0;
    }
    }
    return 0;
}

static int pattern_holds(const kh_pattern *p, const char *s, size_t n)
{
    for (size_t i = 0; i < p->n; i++) {
        int r = minterm_holds(&p->m[i], s, n);
        if (p->m[i].negated)
            r = !r;
        if (!r)
            return 0;
    }
    return 1;
}

/* A line on which a numeric comparison found its number but the number
 * failed the comparison (while the other parts held): the best evidence
 * of a failed n: rule ("PASS_MAX_DAYS 99999" against <= 90). */
static int near_numeric(const kh_pattern *p, const char *s, size_t n, long long *value, const kh_minterm **which)
{
    int found = 0;
    for (size_t i = 0; i < p->n; i++) {
        const kh_minterm *m = &p->m[i];
        int r = minterm_holds(m, s, n);
        if (m->negated)
            r = !r;
        if (r)
            continue;
        long off, len;
        if (m->type != KH_MT_NUMERIC || m->negated || found || !kh_re_match(m->re, s, n, &off, &len) || off < 0 ||
            len <= 0 || len > 30)
            return 0;
        char num[32];
        memcpy(num, s + off, (size_t)len);
        num[len] = 0;
        *value = strtoll(num, NULL, 10);
        *which = m;
        found = 1;
    }
    return found;
}

static const char *cmp_text(kh_cmp op)
{
    static const char *const t[] = {"<", "<=", "==", "!=", ">=", ">"};
    return t[op];
}

typedef struct line_match {
    const kh_pattern *pat;
    unsigned line;
    kh_buf quoted;
    const char *path;
    unsigned near_line;
    long long near_value;
    const kh_minterm *near_term;
    kh_buf near_quoted;
} line_match;

static int on_line(void *payload, const char *s, size_t n, unsigned lineno)
{
    line_match *lm = payload;
    if (!pattern_holds(lm->pat, s, n)) {
        if (!lm->near_line && near_numeric(lm->pat, s, n, &lm->near_value, &lm->near_term)) {
            lm->near_line = lineno;
            kh_ev_quote(&lm->near_quoted, lm->path, s, n);
        }
        return 0;
    }
    lm->line = lineno;
    kh_ev_quote(&lm->quoted, lm->path, s, n);
    return 1;
}

static const char *errmsg(int rc)
{
    switch (rc) {
    case KH_ENOENT:
        return "không tồn tại / does not exist";
    case KH_EACCES:
        return "không có quyền đọc / permission denied";
    case KH_EINVAL:
        return "không phải tệp thông thường / not a regular file";
    case KH_ELIMIT:
        return "liên kết vòng hoặc quá giới hạn / link loop or limit reached";
    default:
        return kh_strerror(rc);
    }
}

/* One file's content: FOUND (evidence added), NOT_FOUND or INVALID. quiet:
 * leave out the not-found evidence (directory rules count them instead). */
static kh_rule_outcome file_content(kh_audit_ctx *c, const char *path, const kh_pattern *pat, int quiet)
{
    line_match lm = {pat, 0, KH_BUF_INIT(4096), path, 0, 0, NULL, KH_BUF_INIT(4096)};
    int rc = kh_host_read_lines(c, path, on_line, &lm);
    kh_rule_outcome o;
    if (rc == 1) {
        kh_ev_add(c, KH_RULE_FOUND, "line", path, lm.line, lm.quoted.data ? lm.quoted.data : "");
        o = KH_RULE_FOUND;
    } else if (rc == 0) {
        if (lm.near_line)
            kh_ev_addf(c, KH_RULE_NOT_FOUND, "value", path, lm.near_line,
                       "\"%s\": giá trị %lld không thỏa %s %lld / value %lld does not satisfy %s %lld",
                       lm.near_quoted.data ? lm.near_quoted.data : "", lm.near_value, cmp_text(lm.near_term->op),
                       lm.near_term->value, lm.near_value, cmp_text(lm.near_term->op), lm.near_term->value);
        else if (!quiet)
            kh_ev_add(c, KH_RULE_NOT_FOUND, "no-match", path, 0, "không dòng nào khớp / no line matches");
        o = KH_RULE_NOT_FOUND;
    } else if (rc == KH_ENOENT && c->missing_not_found) {
        kh_ev_add(c, KH_RULE_NOT_FOUND, "missing", path, 0, "tệp không tồn tại / the file does not exist");
        o = KH_RULE_NOT_FOUND;
    } else {
        kh_ev_addf(c, KH_RULE_INVALID, rc == KH_ENOENT ? "missing" : "unreadable", path, 0,
                   "không mở được tệp / cannot open the file: %s", errmsg(rc));
        o = KH_RULE_INVALID;
    }
    kh_buf_dispose(&lm.quoted);
    kh_buf_dispose(&lm.near_quoted);
    return o;
}

/* ---- f: ------------------------------------------------------------------------ */

typedef struct list_state {
    const kh_rule *r;
    kh_rule_outcome acc;
} list_state;

static kh_rule_outcome file_one(kh_audit_ctx *c, const kh_rule *r, const char *path)
{
    if (r->content)
        return file_content(c, path, r->content, 0);
    struct stat st;
    int rc = kh_host_stat(c, path, &st);
    if (rc == KH_ENOENT || rc == KH_EINVAL || (rc == 0 && !S_ISREG(st.st_mode))) {
        kh_ev_add(c, KH_RULE_NOT_FOUND, "missing", path, 0,
                  rc == 0 ? "không phải tệp thông thường / not a regular file" : "không tồn tại / does not exist");
        return KH_RULE_NOT_FOUND;
    }
    if (rc) {
        kh_ev_addf(c, KH_RULE_INVALID, "unreadable", path, 0, "không kiểm tra được / cannot check: %s", errmsg(rc));
        return KH_RULE_INVALID;
    }
    kh_ev_add(c, KH_RULE_FOUND, "exists", path, 0, "tồn tại / exists");
    return KH_RULE_FOUND;
}

/* ---- d: ------------------------------------------------------------------------ */

typedef struct dir_state {
    const kh_rule *r;
    kh_rule_outcome acc;
    unsigned files;
} dir_state;

static int on_dir_entry(kh_audit_ctx *c, const char *path, const struct stat *st, void *payload)
{
    dir_state *ds = payload;
    if (S_ISDIR(st->st_mode))
        return 0;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (!kh_re_match(ds->r->name_re, base, strlen(base), NULL, NULL))
        return 0;
    ds->files++;
    if (!ds->r->content) {
        kh_ev_add(c, KH_RULE_FOUND, "exists", path, 0, "tồn tại / exists");
        ds->acc = KH_RULE_FOUND;
        return KH_EUSER;
    }
    kh_rule_outcome o = file_content(c, path, ds->r->content, 1);
    if (o == KH_RULE_FOUND) {
        ds->acc = KH_RULE_FOUND;
        return KH_EUSER;
    }
    if (o == KH_RULE_INVALID)
        ds->acc = KH_RULE_INVALID;
    return 0;
}

static kh_rule_outcome dir_one(kh_audit_ctx *c, const kh_rule *r, const char *path)
{
    struct stat st;
    int rc = kh_host_stat(c, path, &st);
    if (!r->name_re) {
        if (rc == 0 && S_ISDIR(st.st_mode)) {
            kh_ev_add(c, KH_RULE_FOUND, "exists", path, 0, "thư mục tồn tại / the directory exists");
            return KH_RULE_FOUND;
        }
        if (rc == 0 || rc == KH_ENOENT) {
            kh_ev_add(c, KH_RULE_NOT_FOUND, "missing", path, 0,
                      rc == 0 ? "không phải thư mục / not a directory" : "không tồn tại / does not exist");
            return KH_RULE_NOT_FOUND;
        }
        kh_ev_addf(c, KH_RULE_INVALID, "unreadable", path, 0, "không kiểm tra được / cannot check: %s", errmsg(rc));
        return KH_RULE_INVALID;
    }
    if (rc == KH_ENOENT && c->missing_not_found) {
        kh_ev_add(c, KH_RULE_NOT_FOUND, "missing", path, 0, "thư mục không tồn tại / the directory does not exist");
        return KH_RULE_NOT_FOUND;
    }
    if (rc || !S_ISDIR(st.st_mode)) {
        kh_ev_addf(c, KH_RULE_INVALID, rc == KH_ENOENT ? "missing" : "unreadable", path, 0,
                   "không mở được thư mục / cannot open the directory: %s",
                   rc ? errmsg(rc) : "không phải thư mục / not a directory");
        return KH_RULE_INVALID;
    }
    dir_state ds = {r, KH_RULE_NOT_FOUND, 0};
    rc = kh_host_walk(c, path, c->o.max_depth, on_dir_entry, &ds);
    if (ds.acc == KH_RULE_FOUND)
        return KH_RULE_FOUND;
    if (rc == KH_ELIMIT) {
        kh_ev_add(c, KH_RULE_INVALID, "limit", path, 0,
                  "thư mục quá lớn, đã dừng / the directory is too large, stopped (max_entries)");
        return KH_RULE_INVALID;
    }
    if (rc < 0 && rc != KH_EUSER) {
        kh_ev_addf(c, KH_RULE_INVALID, "unreadable", path, 0, "không đọc được thư mục / cannot read the directory: %s",
                   errmsg(rc));
        return KH_RULE_INVALID;
    }
    if (ds.acc == KH_RULE_NOT_FOUND) {
        if (ds.files == 0)
            kh_ev_addf(c, KH_RULE_NOT_FOUND, "no-match", path, 0, "không tệp nào có tên khớp '%s' / no file name matches '%s'",
                       r->name_text, r->name_text);
        else
            kh_ev_addf(c, KH_RULE_NOT_FOUND, "no-match", path, 0,
                       "%u tệp có tên khớp, không dòng nào khớp / %u matching files, no line matches", ds.files,
                       ds.files);
    }
    return ds.acc;
}

/* ---- lists of paths (f: and d:) ---------------------------------------------------- */

static int on_list_path(kh_audit_ctx *c, const char *path, void *payload)
{
    list_state *ls = payload;
    kh_rule_outcome o = ls->r->type == KH_RT_FILE ? file_one(c, ls->r, path) : dir_one(c, ls->r, path);
    if (o == KH_RULE_FOUND) {
        ls->acc = KH_RULE_FOUND;
        return 1;
    }
    if (o == KH_RULE_INVALID)
        ls->acc = KH_RULE_INVALID;
    return 0;
}

static kh_rule_outcome eval_paths(kh_audit_ctx *c, const kh_rule *r)
{
    list_state ls = {r, KH_RULE_NOT_FOUND};
    const char *s = r->location;
    char item[PATH_MAX];
    while (*s) {
        const char *comma = strchr(s, ',');
        size_t l = comma ? (size_t)(comma - s) : strlen(s);
        while (l && (*s == ' ' || *s == '\t'))
            s++, l--;
        while (l && (s[l - 1] == ' ' || s[l - 1] == '\t'))
            l--;
        if (l && l < sizeof(item)) {
            memcpy(item, s, l);
            item[l] = 0;
            int n = kh_host_glob(c, item, on_list_path, &ls);
            if (ls.acc == KH_RULE_FOUND)
                return KH_RULE_FOUND;
            if (n == 0)
                kh_ev_add(c, KH_RULE_NOT_FOUND, "missing", item, 0, "không có đường dẫn nào khớp / nothing matches");
            else if (n < 0 && n != KH_EUSER) {
                kh_ev_addf(c, KH_RULE_INVALID, "unreadable", item, 0, "%s", errmsg(n));
                ls.acc = KH_RULE_INVALID;
            }
        }
        if (!comma)
            break;
        s = comma + 1;
    }
    return ls.acc;
}

/* ---- c: -------------------------------------------------------------------------- */

static kh_rule_outcome eval_command(kh_audit_ctx *c, const kh_rule *r)
{
    if (!c->commands_ok) {
        kh_ev_add(c, KH_RULE_INVALID, "skipped", r->location, 0, c->commands_note);
        return KH_RULE_INVALID;
    }
    char **argv;
    int argc = kh_exec_split(&c->ev_arena, r->location, &argv);
    if (argc <= 0) {
        kh_ev_add(c, KH_RULE_INVALID, "error", r->location, 0, "lệnh sai cú pháp / malformed command");
        return KH_RULE_INVALID;
    }
    kh_buf out = KH_BUF_INIT(c->o.command_output_limit + 1);
    kh_exec_result res;
    kh_exec_run(argv, c->o.command_timeout_ms, c->o.command_output_limit, &out, &res);
    kh_rule_outcome o;
    if (!res.started || res.timed_out) {
        kh_ev_add(c, KH_RULE_INVALID, "error", r->location, 0, res.error);
        o = KH_RULE_INVALID;
    } else if (!r->content) {
        o = res.exit_code == 0 ? KH_RULE_FOUND : KH_RULE_NOT_FOUND;
        kh_ev_addf(c, o, "exit", r->location, 0, "mã thoát / exit status %d", res.exit_code);
    } else {
        o = KH_RULE_NOT_FOUND;
        const char *s = out.data ? out.data : "";
        size_t left = out.len;
        unsigned lineno = 0;
        kh_buf q = KH_BUF_INIT(4096), first = KH_BUF_INIT(4096);
        while (left) {
            const char *nl = memchr(s, '\n', left);
            size_t n = nl ? (size_t)(nl - s) : left;
            size_t ln = n && s[n - 1] == '\r' ? n - 1 : n;
            lineno++;
            if (lineno == 1)
                kh_ev_quote(&first, NULL, s, ln);
            if (pattern_holds(r->content, s, ln)) {
                kh_ev_quote(&q, NULL, s, ln);
                kh_ev_add(c, KH_RULE_FOUND, "line", r->location, lineno, q.data ? q.data : "");
                o = KH_RULE_FOUND;
                break;
            }
            if (!nl)
                break;
            s = nl + 1;
            left -= n + 1;
        }
        if (o == KH_RULE_NOT_FOUND) {
            if (lineno == 0)
                kh_ev_addf(c, o, "no-match", r->location, 0, "lệnh không in gì (mã thoát %d) / no output (exit status %d)",
                           res.exit_code, res.exit_code);
            else
                kh_ev_addf(c, o, "no-match", r->location, 0,
                           "không dòng nào khớp; dòng đầu / no line matches; first line: \"%s\"%s",
                           first.data ? first.data : "", res.truncated ? " (cắt bớt / truncated)" : "");
        }
        kh_buf_dispose(&q);
        kh_buf_dispose(&first);
    }
    kh_buf_dispose(&out);
    return o;
}

/* ---- p: -------------------------------------------------------------------------- */

static char *read_small(const char *path, size_t max, size_t *len_out)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    char *b = malloc(max + 1);
    size_t n = b ? fread(b, 1, max, f) : 0;
    fclose(f);
    if (!b)
        return NULL;
    b[n] = 0;
    *len_out = n;
    return b;
}

static int load_procs(kh_audit_ctx *c)
{
    if (c->procs_loaded)
        return c->procs_loaded > 0 ? 0 : KH_ENOENT;
    c->procs_loaded = -1;
    kh_buf proc = KH_BUF_INIT(PATH_MAX);
    if (kh_host_path(c, "/proc", &proc)) {
        kh_buf_dispose(&proc);
        return KH_ENOENT;
    }
    DIR *d = opendir(proc.data);
    if (!d) {
        kh_buf_dispose(&proc);
        return KH_ENOENT;
    }
    struct dirent *de;
    char path[PATH_MAX];
    while ((de = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (*end || pid <= 0 || c->procs.n >= 100000)
            continue;
        size_t n = 0;
        snprintf(path, sizeof(path), "%s/%s/comm", proc.data, de->d_name);
        char *comm = read_small(path, 256, &n);
        if (!comm)
            continue;
        while (n && (comm[n - 1] == '\n' || comm[n - 1] == '\r'))
            comm[--n] = 0;
        snprintf(path, sizeof(path), "%s/%s/cmdline", proc.data, de->d_name);
        char *cmd = read_small(path, 4096, &n);
        if (cmd) {
            while (n && cmd[n - 1] == 0)
                n--;
            cmd[n] = 0;
        }
        if (KH_VEC_RESERVE(c->procs, 1, 100000)) {
            free(comm);
            free(cmd);
            break;
        }
        kh_proc_info *pi = &c->procs.v[c->procs.n++];
        pi->pid = pid;
        pi->comm = comm;
        pi->cmdline = cmd; /* argv separated by NULs, n bytes */
        if (cmd)
            for (size_t i = 0; i < n; i++)
                if (!cmd[i])
                    cmd[i] = ' ';
    }
    closedir(d);
    kh_buf_dispose(&proc);
    c->procs_loaded = 1;
    return 0;
}

static int cmp_procs(const void *a, const void *b)
{
    const kh_proc_info *x = a, *y = b;
    return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static kh_rule_outcome eval_process(kh_audit_ctx *c, const kh_rule *r)
{
    if (load_procs(c) != 0) {
        kh_ev_add(c, KH_RULE_INVALID, "unreadable", "/proc", 0,
                  "không đọc được danh sách tiến trình (/proc) của hệ thống được kiểm tra / cannot read the process "
                  "list (/proc) of the audited system");
        return KH_RULE_INVALID;
    }
    if (c->procs_loaded == 1) {
        kh_qsort(c->procs.v, c->procs.n, sizeof(kh_proc_info), cmp_procs);
        c->procs_loaded = 2;
    }
    const char *name = r->location;
    size_t nl = strlen(name);
    kh_buf q = KH_BUF_INIT(4096);
    long self = c->root ? -1 : (long)getpid();
    for (size_t i = 0; i < c->procs.n; i++) {
        const kh_proc_info *pi = &c->procs.v[i];
        const char *cmd = pi->cmdline ? pi->cmdline : "";
        if (pi->pid == self)
            continue; /* `khien audit` itself is not "Khiên's protection running" */
        int hit;
        if (r->name_re) {
            hit = kh_re_match(r->name_re, cmd, strlen(cmd), NULL, NULL) ||
                  kh_re_match(r->name_re, pi->comm, strlen(pi->comm), NULL, NULL);
        } else {
            size_t a0 = strcspn(cmd, " ");
            const char *base = cmd;
            for (size_t k = 0; k < a0; k++)
                if (cmd[k] == '/')
                    base = cmd + k + 1;
            size_t bl = (size_t)(cmd + a0 - base);
            hit = strcmp(pi->comm, name) == 0 || (nl > 15 && strlen(pi->comm) == 15 && strncmp(pi->comm, name, 15) == 0) ||
                  (bl == nl && memcmp(base, name, nl) == 0) || (a0 == nl && memcmp(cmd, name, nl) == 0);
            /* "sshd: /usr/sbin/sshd -D" style titles */
            if (!hit && strncmp(cmd, name, nl) == 0 && cmd[nl] == ':')
                hit = 1;
        }
        if (hit) {
            kh_ev_quote(&q, NULL, cmd, strlen(cmd));
            kh_ev_addf(c, KH_RULE_FOUND, "process", pi->comm, 0, "PID %ld: %s", pi->pid, q.data ? q.data : "");
            kh_buf_dispose(&q);
            return KH_RULE_FOUND;
        }
    }
    kh_buf_dispose(&q);
    kh_ev_addf(c, KH_RULE_NOT_FOUND, "no-process", name, 0, "không có tiến trình nào như vậy đang chạy / no such process is running (%zu processes)",
               c->procs.n);
    return KH_RULE_NOT_FOUND;
}

/* ---- rules and checks ---------------------------------------------------------------- */

static kh_rule_outcome eval_rule(kh_audit_ctx *c, const kh_rule *r)
{
    c->rule = r;
    c->entries = 0;
    size_t first = c->ev.n;
    kh_rule_outcome o;
    if (r->unsupported) {
        kh_ev_add(c, KH_RULE_INVALID, "skipped", r->location, 0, r->unsupported);
        o = KH_RULE_INVALID;
    } else {
        switch (r->type) {
        case KH_RT_FILE:
        case KH_RT_DIR:
            o = eval_paths(c, r);
            break;
        case KH_RT_CMD:
            o = eval_command(c, r);
            break;
        case KH_RT_PROC:
            o = eval_process(c, r);
            break;
        case KH_RT_PROBE:
            o = kh_probe_run(c, r->location);
            break;
        default:
            o = KH_RULE_INVALID;
        }
    }
    if (r->negated && o != KH_RULE_INVALID) {
        o = o == KH_RULE_FOUND ? KH_RULE_NOT_FOUND : KH_RULE_FOUND;
        for (size_t i = first; i < c->ev.n; i++)
            if (c->ev.v[i].outcome != KH_RULE_INVALID)
                c->ev.v[i].outcome = c->ev.v[i].outcome == KH_RULE_FOUND ? KH_RULE_NOT_FOUND : KH_RULE_FOUND;
    }
    c->rule = NULL;
    return o;
}

static void reset_check(kh_audit_ctx *c)
{
    kh_arena_dispose(&c->ev_arena);
    kh_arena_init(&c->ev_arena, 64u << 20);
    c->ev.n = 0;
    c->ev_dropped = 0;
}

static kh_check_result eval_check(kh_audit_ctx *c, const kh_check *ck, const char **reason)
{
    int invalid = 0;
    const char *why = NULL;
    *reason = NULL;
    for (size_t i = 0; i < ck->nrules; i++) {
        size_t first = c->ev.n;
        kh_rule_outcome o = eval_rule(c, &ck->rules[i]);
        if (ck->condition == KH_COND_ALL && o == KH_RULE_NOT_FOUND)
            return KH_CHECK_FAILED;
        if (ck->condition == KH_COND_ANY && o == KH_RULE_FOUND)
            return KH_CHECK_PASSED;
        if (ck->condition == KH_COND_NONE && o == KH_RULE_FOUND)
            return KH_CHECK_FAILED;
        if (o == KH_RULE_INVALID) {
            invalid = 1;
            if (!why) {
                for (size_t k = first; k < c->ev.n; k++)
                    if (c->ev.v[k].outcome == KH_RULE_INVALID && c->ev.v[k].detail) {
                        why = kh_arena_printf(&c->ev_arena, "%s%s%s", c->ev.v[k].path ? c->ev.v[k].path : "",
                                              c->ev.v[k].path ? ": " : "", c->ev.v[k].detail);
                        break;
                    }
                if (!why)
                    why = kh_arena_printf(&c->ev_arena, "quy tắc không xác định được / rule could not be decided: %s",
                                          ck->rules[i].text);
            }
        }
    }
    if (invalid) {
        *reason = why;
        return KH_CHECK_NOT_APPLICABLE;
    }
    return ck->condition == KH_COND_ANY ? KH_CHECK_FAILED : KH_CHECK_PASSED;
}

static const char *cond_name(int c)
{
    return c == KH_COND_ALL ? "all" : c == KH_COND_ANY ? "any" : "none";
}

static void fill_report(kh_check_report *rep, const kh_policy *p, const kh_check *ck, kh_audit_ctx *c,
                        kh_check_result res, const char *reason)
{
    memset(rep, 0, sizeof(*rep));
    rep->policy_id = p->id;
    rep->id = ck->id;
    rep->title = ck->title ? ck->title : "";
    rep->description = ck->description ? ck->description : "";
    rep->rationale = ck->rationale ? ck->rationale : "";
    rep->remediation = ck->remediation ? ck->remediation : "";
    rep->condition = cond_name(ck->condition);
    rep->compliance = ck->compliance;
    rep->ncompliance = ck->ncompliance;
    rep->references = ck->references;
    rep->nreferences = ck->nreferences;
    rep->result = res;
    rep->reason = res == KH_CHECK_NOT_APPLICABLE ? (reason ? reason : "") : NULL;
    rep->evidence = c->ev.v;
    rep->nevidence = c->ev.n;
    rep->evidence_dropped = c->ev_dropped;
}

int64_t kh_audit_now(const kh_audit_ctx *c)
{
    return c->now;
}

static int ctx_init(kh_audit_ctx *c, const kh_policy *p, const kh_audit_options *opts)
{
    memset(c, 0, sizeof(*c));
    kh_audit_options def = KH_AUDIT_OPTIONS_INIT;
    if (opts && opts->version != KH_AUDIT_OPTIONS_VERSION)
        return KH_EINVAL;
    c->o = opts ? *opts : def;
    if (!c->o.command_timeout_ms)
        c->o.command_timeout_ms = def.command_timeout_ms;
    if (!c->o.command_output_limit)
        c->o.command_output_limit = def.command_output_limit;
    if (!c->o.max_file_size)
        c->o.max_file_size = def.max_file_size;
    if (!c->o.max_depth)
        c->o.max_depth = def.max_depth;
    if (!c->o.max_entries)
        c->o.max_entries = def.max_entries;
    if (!c->o.max_evidence)
        c->o.max_evidence = def.max_evidence;
    c->now = c->o.now ? c->o.now : (int64_t)time(NULL);
    const char *root = c->o.root;
    if (root && *root) {
        size_t l = strlen(root);
        while (l > 1 && root[l - 1] == '/')
            l--;
        if (!(l == 1 && root[0] == '/')) {
            char *r = kh_strndup(root, l);
            if (!r)
                return KH_ENOMEM;
            struct stat st;
            if (stat(r, &st) != 0 || !S_ISDIR(st.st_mode)) {
                free(r);
                return KH_EINVAL;
            }
            c->root = r;
        }
    }
    c->o.root = c->root;
    c->missing_not_found = p->missing_not_found;
    if (p->commands_note) {
        c->commands_note = p->commands_note;
    } else if (c->root && !(c->o.flags & KH_AUDIT_COMMANDS_WITH_ROOT)) {
        c->commands_note = "không chạy lệnh (c:) khi kiểm tra một thư mục gốc khác (--root) / commands (c:) are not "
                           "run when auditing another root directory (--root)";
    } else {
        c->commands_ok = 1;
    }
    kh_arena_init(&c->ev_arena, 64u << 20);
    return 0;
}

static void ctx_dispose(kh_audit_ctx *c)
{
    for (size_t i = 0; i < c->procs.n; i++) {
        free(c->procs.v[i].comm);
        free(c->procs.v[i].cmdline);
    }
    KH_VEC_FREE(c->procs);
    KH_VEC_FREE(c->ev);
    kh_arena_dispose(&c->ev_arena);
    free((char *)c->root);
}

int kh_audit_requirements(const kh_policy *p, const kh_audit_options *opts, kh_check_cb on_report, void *payload)
{
    if (!p || !on_report)
        return KH_EINVAL;
    if (!p->has_requirements)
        return 0;
    kh_audit_ctx c;
    int rc = ctx_init(&c, p, opts);
    if (rc)
        return rc;
    const char *reason;
    kh_check_result res = eval_check(&c, &p->requirements, &reason);
    kh_check_report rep;
    fill_report(&rep, p, &p->requirements, &c, res, reason);
    rc = on_report(&rep, payload) ? KH_EUSER : 0;
    ctx_dispose(&c);
    return rc;
}

int kh_audit_run(const kh_policy *p, const kh_audit_options *opts, kh_check_cb on_check, void *payload,
                 kh_policy_summary *summary_out)
{
    if (!p)
        return KH_EINVAL;
    kh_audit_ctx c;
    int rc = ctx_init(&c, p, opts);
    if (rc)
        return rc;
    kh_policy_summary sum;
    memset(&sum, 0, sizeof(sum));
    sum.applicable = 1;
    sum.score = -1;
    if (p->has_requirements) {
        const char *reason;
        kh_check_result res = eval_check(&c, &p->requirements, &reason);
        reset_check(&c);
        if (res != KH_CHECK_PASSED) {
            sum.applicable = 0;
            sum.reason = p->requirements.title;
            goto done;
        }
    }
    for (size_t i = 0; i < p->nchecks; i++) {
        reset_check(&c);
        const char *reason;
        kh_check_result res = eval_check(&c, &p->checks[i], &reason);
        if (res == KH_CHECK_PASSED)
            sum.passed++;
        else if (res == KH_CHECK_FAILED)
            sum.failed++;
        else
            sum.not_applicable++;
        if (on_check) {
            kh_check_report rep;
            fill_report(&rep, p, &p->checks[i], &c, res, reason);
            if (on_check(&rep, payload)) {
                rc = KH_EUSER;
                break;
            }
        }
    }
    if (sum.passed + sum.failed)
        sum.score = (int)((sum.passed * 100u + (sum.passed + sum.failed) / 2) / (sum.passed + sum.failed));
done:
    ctx_dispose(&c);
    if (rc == 0 && summary_out)
        *summary_out = sum;
    return rc;
}

const char *kh_check_result_name(kh_check_result r)
{
    return r == KH_CHECK_PASSED ? "passed" : r == KH_CHECK_FAILED ? "failed" : "not_applicable";
}
