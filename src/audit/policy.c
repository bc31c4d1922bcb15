/* Khiên — audit: reading SCA policies (the YAML format of Wazuh's SCA).
 *
 * A policy file becomes one immutable kh_policy: every string and array in
 * one arena, every rule split into its type, location and content pattern,
 * every regex compiled, every variable expanded. All of this happens at load
 * time so that a malformed policy fails at once with the file, line and
 * column of the culprit and a message saying what is wrong, in Vietnamese
 * and English; evaluation (eval.c) then never meets a syntax error. A rule
 * that is well-formed but cannot run on this platform (a Windows registry
 * rule, a PCRE2 feature we do not translate) loads fine and is reported not
 * applicable with the reason.
 *
 * The YAML is read with libyaml's document API after a first pass over the
 * events has bounded the nesting depth and the number of nodes, so hostile
 * input cannot exhaust the stack or memory. Unknown keys are ignored (newer
 * Wazuh versions add some); missing required keys, wrong types, unknown
 * conditions, duplicate check ids and malformed rules are errors.
 *
 * One Khiên extension of the format: `missing_files: not_found` under
 * `policy:` makes a content rule on a file (or folder) that does not exist
 * "not found" instead of Wazuh's "not applicable"; our own policies use it
 * so that, say, a missing unattended-upgrades configuration fails the check
 * rather than hiding it.
 *
 * Trust: c: rules run only from trusted policies (see audit.h). The file
 * loader decides from fstat() of the descriptor it read, so the file that
 * was judged is the file that was parsed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "audit/audit_int.h"
#include "platform/platform.h"

#define POLICY_MAX_BYTES (4u << 20)
#define POLICY_MAX_DEPTH 32
#define POLICY_MAX_EVENTS 2000000
#define POLICY_ARENA_LIMIT (256u << 20)

/* ---- arena ------------------------------------------------------------- */

struct kh_arena_chunk {
    kh_arena_chunk *next;
    size_t size;
    _Alignas(16) unsigned char data[];
};

void kh_arena_init(kh_arena *a, size_t limit)
{
    memset(a, 0, sizeof(*a));
    a->limit = limit;
}

void kh_arena_dispose(kh_arena *a)
{
    kh_arena_chunk *c = a->head;
    while (c) {
        kh_arena_chunk *n = c->next;
        free(c);
        c = n;
    }
    a->head = NULL;
    a->used = a->avail = a->total = 0;
}

void *kh_arena_alloc(kh_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    if (!a->head || a->avail - a->used < n) {
        size_t sz = n > 16384 ? n : 16384;
        if (a->limit && a->total + sz > a->limit)
            return NULL;
        kh_arena_chunk *c = malloc(sizeof(*c) + sz);
        if (!c)
            return NULL;
        c->next = a->head;
        c->size = sz;
        a->head = c;
        a->used = 0;
        a->avail = sz;
        a->total += sz;
    }
    void *p = a->head->data + a->used;
    a->used += n;
    memset(p, 0, n);
    return p;
}

char *kh_arena_strndup(kh_arena *a, const char *s, size_t n)
{
    char *p = kh_arena_alloc(a, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

char *kh_arena_strdup(kh_arena *a, const char *s)
{
    return kh_arena_strndup(a, s, strlen(s));
}

char *kh_arena_printf(kh_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kh_buf b = KH_BUF_INIT(1u << 20);
    int rc = kh_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    char *p = rc == 0 ? kh_arena_strndup(a, b.data ? b.data : "", b.len) : NULL;
    kh_buf_dispose(&b);
    return p;
}

/* ---- loader state ------------------------------------------------------ */

typedef struct loader {
    kh_policy *p;
    yaml_document_t doc;
    kh_policy_error *err;
    const char *name;
    int failed;
    /* variables */
    const char **var_names, **var_values;
    size_t nvars;
    KH_VEC(kh_re *) regexes;
    kh_re_dialect dialect;         /* of the check being read */
    kh_re_dialect default_dialect; /* policy.regex_type */
} loader;

static void set_err(kh_policy_error *e, const char *file, unsigned line, unsigned col, const char *fmt, ...)
    KH_PRINTF(5, 6);

static void set_err(kh_policy_error *e, const char *file, unsigned line, unsigned col, const char *fmt, ...)
{
    if (!e)
        return;
    snprintf(e->file, sizeof(e->file), "%s", file ? file : "");
    e->line = line;
    e->column = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
}

#define LERR(L, node, ...)                                                                              \
    do {                                                                                                \
        if (!(L)->failed)                                                                               \
            set_err((L)->err, (L)->name, (node) ? (unsigned)(node)->start_mark.line + 1 : 0,            \
                    (node) ? (unsigned)(node)->start_mark.column + 1 : 0, __VA_ARGS__);                 \
        (L)->failed = KH_ESYNTAX;                                                                       \
    } while (0)

static yaml_node_t *node_at(loader *L, int id)
{
    return yaml_document_get_node(&L->doc, id);
}

static const char *scalar(yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* The value of key in mapping m, or NULL. */
static yaml_node_t *map_get(loader *L, yaml_node_t *m, const char *key)
{
    if (!m || m->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
        const char *k = scalar(node_at(L, pr->key));
        if (k && strcmp(k, key) == 0)
            return node_at(L, pr->value);
    }
    return NULL;
}

static const char *kind_name(yaml_node_t *n)
{
    if (!n)
        return "rỗng / empty";
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return "giá trị đơn / a scalar";
    case YAML_SEQUENCE_NODE:
        return "danh sách / a list";
    case YAML_MAPPING_NODE:
        return "ánh xạ / a mapping";
    default:
        return "rỗng / empty";
    }
}

/* A string field: required or optional; "" when absent. */
static const char *get_str(loader *L, yaml_node_t *m, const char *key, int required, const char *where)
{
    yaml_node_t *n = map_get(L, m, key);
    if (!n) {
        if (required)
            LERR(L, m, "%s thiếu khóa bắt buộc '%s' / %s is missing the required key '%s'", where, key, where, key);
        return "";
    }
    const char *s = scalar(n);
    if (!s) {
        LERR(L, n, "'%s' phải là giá trị đơn, không phải %s / '%s' must be a scalar, not %s", key, kind_name(n),
             key, kind_name(n));
        return "";
    }
    if (required && !*s)
        LERR(L, n, "'%s' không được rỗng / '%s' must not be empty", key, key);
    char *c = kh_arena_strdup(&L->p->arena, s);
    if (!c) {
        L->failed = KH_ENOMEM;
        return "";
    }
    return c;
}

/* A list of strings (a scalar counts as a list of one). */
static int get_str_list(loader *L, yaml_node_t *n, const char *key, const char ***out, size_t *count)
{
    *out = NULL;
    *count = 0;
    if (!n)
        return 0;
    if (n->type == YAML_SCALAR_NODE) {
        const char **v = kh_arena_alloc(&L->p->arena, sizeof(char *));
        if (!v || !(v[0] = kh_arena_strdup(&L->p->arena, scalar(n))))
            return L->failed = KH_ENOMEM;
        *out = v;
        *count = 1;
        return 0;
    }
    if (n->type != YAML_SEQUENCE_NODE) {
        LERR(L, n, "'%s' phải là danh sách, không phải %s / '%s' must be a list, not %s", key, kind_name(n), key,
             kind_name(n));
        return L->failed;
    }
    size_t k = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    const char **v = kh_arena_alloc(&L->p->arena, (k + 1) * sizeof(char *));
    if (!v)
        return L->failed = KH_ENOMEM;
    for (size_t i = 0; i < k; i++) {
        yaml_node_t *it = node_at(L, n->data.sequence.items.start[i]);
        const char *s = scalar(it);
        if (!s) {
            LERR(L, it ? it : n, "phần tử của '%s' phải là giá trị đơn, không phải %s / items of '%s' must be scalars, not %s",
                 key, kind_name(it), key, kind_name(it));
            return L->failed;
        }
        if (!(v[i] = kh_arena_strdup(&L->p->arena, s)))
            return L->failed = KH_ENOMEM;
    }
    *out = v;
    *count = k;
    return 0;
}

/* ---- rules --------------------------------------------------------------- */

static int ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Expands the policy's $variables in s. Undefined ones are left alone;
 * *undefined receives the first undefined $name seen (arena) or NULL. */
static char *expand_vars(loader *L, const char *s, const char **undefined)
{
    kh_buf b = KH_BUF_INIT(1u << 20);
    *undefined = NULL;
    for (const char *q = s; *q;) {
        if (*q == '$' && ((q[1] >= 'a' && q[1] <= 'z') || (q[1] >= 'A' && q[1] <= 'Z') || q[1] == '_')) {
            size_t n = 1;
            while (ident_char(q[n]))
                n++;
            size_t i;
            for (i = 0; i < L->nvars; i++)
                if (strlen(L->var_names[i]) == n && memcmp(L->var_names[i], q, n) == 0)
                    break;
            if (i < L->nvars) {
                kh_buf_puts(&b, L->var_values[i]);
            } else {
                if (!*undefined)
                    *undefined = kh_arena_strndup(&L->p->arena, q, n);
                kh_buf_append(&b, q, n);
            }
            q += n;
            continue;
        }
        kh_buf_putc(&b, *q++);
    }
    char *r = kh_arena_strndup(&L->p->arena, b.data ? b.data : "", b.len);
    kh_buf_dispose(&b);
    return r;
}

static int add_regex(loader *L, kh_re *re)
{
    if (KH_VEC_RESERVE(L->regexes, 1, 1u << 20))
        return KH_ENOMEM;
    L->regexes.v[L->regexes.n++] = re;
    return 0;
}

/* Compiles one regex of a rule; a syntax error is a load error, an
 * unsupported feature makes the rule not applicable. */
static int rule_regex(loader *L, yaml_node_t *node, kh_rule *r, kh_re_dialect d, const char *src, kh_re **out)
{
    char msg[256] = "";
    *out = NULL;
    int rc = kh_re_compile(out, &L->p->arena, d, src, msg, sizeof(msg));
    if (rc == KH_ENOMEM)
        return L->failed = KH_ENOMEM;
    if (rc == KH_EUNSUPPORTED) {
        r->unsupported = kh_arena_printf(&L->p->arena, "%s", msg);
        *out = NULL;
        return 0;
    }
    if (rc) {
        LERR(L, node, "quy tắc '%s': biểu thức '%s' sai: %s / rule '%s': bad regex '%s': %s", r->text, src, msg,
             r->text, src, msg);
        return L->failed;
    }
    return add_regex(L, *out);
}

/* Splits s at every occurrence of sep (arena copies). */
static size_t split_str(kh_arena *a, const char *s, const char *sep, const char **parts, size_t max)
{
    size_t n = 0, sl = strlen(sep);
    const char *start = s;
    for (;;) {
        const char *q = strstr(start, sep);
        if (!q || n + 1 == max) {
            parts[n++] = kh_arena_strdup(a, start);
            break;
        }
        parts[n++] = kh_arena_strndup(a, start, (size_t)(q - start));
        start = q + sl;
    }
    return n;
}

static int parse_pattern(loader *L, yaml_node_t *node, kh_rule *r, const char *text, const kh_pattern **out)
{
    const char *terms[64];
    size_t n = split_str(&L->p->arena, text, " && ", terms, 64);
    kh_pattern *pat = kh_arena_alloc(&L->p->arena, sizeof(*pat));
    kh_minterm *m = kh_arena_alloc(&L->p->arena, n * sizeof(*m));
    if (!pat || !m)
        return L->failed = KH_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *t = terms[i];
        if (!t)
            return L->failed = KH_ENOMEM;
        if (*t == '!') {
            m[i].negated = 1;
            t++;
        }
        if (!*t) {
            LERR(L, node, "quy tắc '%s': điều kiện nội dung rỗng / rule '%s': empty content condition", r->text,
                 r->text);
            return L->failed;
        }
        if ((t[0] == 'r' || t[0] == 'R') && t[1] == ':') {
            m[i].type = KH_MT_REGEX;
            m[i].text = t + 2;
            if (!t[2]) {
                LERR(L, node, "quy tắc '%s': 'r:' thiếu biểu thức / rule '%s': 'r:' without a regex", r->text, r->text);
                return L->failed;
            }
            if (rule_regex(L, node, r, L->dialect, t + 2, &m[i].re))
                return L->failed;
        } else if ((t[0] == 'n' || t[0] == 'N') && t[1] == ':') {
            m[i].type = KH_MT_NUMERIC;
            const char *body = t + 2, *cmp = NULL;
            for (const char *q = strstr(body, " compare "); q; q = strstr(q + 1, " compare "))
                cmp = q;
            if (!cmp) {
                LERR(L, node,
                     "quy tắc '%s': 'n:' cần dạng 'n:BIỂU_THỨC compare TOÁN_TỬ SỐ' / rule '%s': 'n:' needs "
                     "'n:REGEX compare OPERATOR NUMBER'",
                     r->text, r->text);
                return L->failed;
            }
            char *re_src = kh_arena_strndup(&L->p->arena, body, (size_t)(cmp - body));
            const char *op = cmp + 9;
            while (*op == ' ')
                op++;
            /* After the six operators, the spellings that Wazuh 4.x's own
               stock policies use ('=>', '=<', '=', '\!='), so that those
               files load; longer spellings are tried first. */
            static const char *const ops[] = {"<=", ">=", "==", "!=", "<", ">", "\\!=", "=>", "=<", "="};
            static const kh_cmp opv[] = {KH_CMP_LE, KH_CMP_GE, KH_CMP_EQ, KH_CMP_NE, KH_CMP_LT,
                                         KH_CMP_GT, KH_CMP_NE, KH_CMP_GE, KH_CMP_LE, KH_CMP_EQ};
            enum { NOPS = sizeof ops / sizeof ops[0] };
            size_t k;
            for (k = 0; k < NOPS; k++)
                if (strncmp(op, ops[k], strlen(ops[k])) == 0)
                    break;
            if (k == NOPS) {
                LERR(L, node,
                     "quy tắc '%s': toán tử so sánh '%s' không hợp lệ (<, <=, =<, ==, =, !=, >=, =>, >) / rule '%s': invalid "
                     "compare operator '%s' (<, <=, =<, ==, =, !=, >=, =>, >)",
                     r->text, op, r->text, op);
                return L->failed;
            }
            m[i].op = opv[k];
            const char *num = op + strlen(ops[k]);
            while (*num == ' ')
                num++;
            char *end = NULL;
            errno = 0;
            long long v = strtoll(num, &end, 10);
            while (end && *end == ' ')
                end++;
            if (!*num || errno || !end || *end) {
                LERR(L, node, "quy tắc '%s': '%s' không phải là số nguyên / rule '%s': '%s' is not an integer",
                     r->text, num, r->text, num);
                return L->failed;
            }
            m[i].value = v;
            m[i].text = re_src;
            if (!re_src)
                return L->failed = KH_ENOMEM;
            if (rule_regex(L, node, r, L->dialect, re_src, &m[i].re))
                return L->failed;
            if (m[i].re && !kh_re_has_capture(m[i].re)) {
                LERR(L, node,
                     "quy tắc '%s': 'n:' cần một nhóm bắt giữ như (\\d+) / rule '%s': 'n:' needs a capture group "
                     "such as (\\d+)",
                     r->text, r->text);
                return L->failed;
            }
        } else {
            m[i].type = KH_MT_LITERAL;
            m[i].text = t;
        }
    }
    pat->m = m;
    pat->n = n;
    *out = pat;
    return 0;
}

static int parse_rule(loader *L, yaml_node_t *node, const char *raw, kh_rule *r)
{
    const char *undefined = NULL;
    char *text = expand_vars(L, raw, &undefined);
    if (!text)
        return L->failed = KH_ENOMEM;
    r->text = text;
    r->line = node ? (unsigned)node->start_mark.line + 1 : 0;
    const char *s = text;
    while (*s == ' ' || *s == '\t')
        s++;
    if (strncasecmp(s, "not ", 4) == 0) {
        r->negated = 1;
        s += 4;
        while (*s == ' ')
            s++;
    }
    char t = (char)(*s | 0x20);
    if (!*s || s[1] != ':' || !strchr("fdcprk", t)) {
        LERR(L, node,
             "quy tắc '%s': loại không hợp lệ, cần f:, d:, c:, p:, r: hoặc k: / rule '%s': unknown rule type, "
             "expected f:, d:, c:, p:, r: or k:",
             text, text);
        return L->failed;
    }
    const char *parts[4];
    size_t np = split_str(&L->p->arena, s + 2, " -> ", parts, 4);
    for (size_t i = 0; i < np; i++) {
        if (!parts[i])
            return L->failed = KH_ENOMEM;
        /* trim */
        while (*parts[i] == ' ')
            parts[i]++;
        char *e = (char *)parts[i] + strlen(parts[i]);
        while (e > parts[i] && (e[-1] == ' ' || e[-1] == '\t'))
            *--e = 0;
    }
    r->location = parts[0];
    if (!*parts[0]) {
        LERR(L, node, "quy tắc '%s': thiếu đường dẫn, lệnh hoặc tên / rule '%s': missing path, command or name", text,
             text);
        return L->failed;
    }
    for (size_t i = 1; i < np; i++)
        if (!*parts[i]) {
            LERR(L, node, "quy tắc '%s': phần sau '->' rỗng / rule '%s': empty part after '->'", text, text);
            return L->failed;
        }
    size_t maxparts = 0;
    switch (t) {
    case 'f':
        r->type = KH_RT_FILE;
        maxparts = 2;
        break;
    case 'd':
        r->type = KH_RT_DIR;
        maxparts = 3;
        break;
    case 'c':
        r->type = KH_RT_CMD;
        maxparts = 2;
        break;
    case 'p':
        r->type = KH_RT_PROC;
        maxparts = 1;
        break;
    case 'r':
        r->type = KH_RT_REG;
        r->unsupported = "quy tắc registry chỉ dành cho Windows / registry rules apply to Windows only";
        return 0;
    case 'k':
        r->type = KH_RT_PROBE;
        maxparts = 1;
        break;
    }
    if (np > maxparts) {
        LERR(L, node, "quy tắc '%s': quá nhiều phần '->' cho loại %c: / rule '%s': too many '->' parts for %c: rules",
             text, t, text, t);
        return L->failed;
    }
    /* an undefined $name where a path or name is expected is a typo; in
     * commands and regexes a $ may be the shell's or an anchor */
    if (undefined && t != 'c' && strstr(r->location, undefined)) {
        LERR(L, node, "quy tắc '%s': biến %s chưa được định nghĩa / rule '%s': undefined variable %s", text,
             undefined, text, undefined);
        return L->failed;
    }
    if (r->type == KH_RT_PROBE) {
        char msg[256];
        if (!kh_probe_known(r->location, msg, sizeof(msg))) {
            LERR(L, node, "quy tắc '%s': %s / rule '%s': %s", text, msg, text, msg);
            return L->failed;
        }
        return 0;
    }
    if ((r->type == KH_RT_FILE || r->type == KH_RT_DIR) && r->location[0] != '/') {
        LERR(L, node, "quy tắc '%s': đường dẫn phải tuyệt đối / rule '%s': paths must be absolute", text, text);
        return L->failed;
    }
    if (r->type == KH_RT_PROC && strncmp(r->location, "r:", 2) == 0) {
        kh_re *re;
        if (rule_regex(L, node, r, L->dialect, r->location + 2, &re))
            return L->failed;
        r->name_re = re;
        return 0;
    }
    const char *content = NULL;
    if (r->type == KH_RT_DIR && np >= 2) {
        const char *nm = parts[1];
        if ((nm[0] == 'r' || nm[0] == 'R') && nm[1] == ':') {
            kh_re *re;
            if (rule_regex(L, node, r, L->dialect, nm + 2, &re))
                return L->failed;
            r->name_re = re;
        } else {
            kh_re *re;
            if (rule_regex(L, node, r, KH_RE_OSMATCH, nm, &re))
                return L->failed;
            r->name_re = re;
        }
        r->name_text = nm;
        if (np == 3)
            content = parts[2];
    } else if (np == 2) {
        content = parts[1];
    }
    if (content && parse_pattern(L, node, r, content, &r->content))
        return L->failed;
    return 0;
}

static int parse_condition(loader *L, yaml_node_t *m, const char *where)
{
    const char *c = get_str(L, m, "condition", 1, where);
    if (L->failed)
        return 0;
    if (strcmp(c, "all") == 0)
        return KH_COND_ALL;
    if (strcmp(c, "any") == 0)
        return KH_COND_ANY;
    if (strcmp(c, "none") == 0)
        return KH_COND_NONE;
    LERR(L, map_get(L, m, "condition"),
         "'condition' phải là all, any hoặc none (đang là '%s') / 'condition' must be all, any or none (got '%s')", c,
         c);
    return 0;
}

static int parse_rules(loader *L, yaml_node_t *m, kh_check *ck, const char *where)
{
    yaml_node_t *rules = map_get(L, m, "rules");
    if (!rules) {
        LERR(L, m, "%s thiếu khóa bắt buộc 'rules' / %s is missing the required key 'rules'", where, where);
        return L->failed;
    }
    if (rules->type != YAML_SEQUENCE_NODE) {
        LERR(L, rules, "'rules' phải là danh sách, không phải %s / 'rules' must be a list, not %s", kind_name(rules),
             kind_name(rules));
        return L->failed;
    }
    size_t k = (size_t)(rules->data.sequence.items.top - rules->data.sequence.items.start);
    if (k == 0) {
        LERR(L, rules, "'rules' rỗng / 'rules' is empty");
        return L->failed;
    }
    ck->rules = kh_arena_alloc(&L->p->arena, k * sizeof(kh_rule));
    if (!ck->rules)
        return L->failed = KH_ENOMEM;
    for (size_t i = 0; i < k; i++) {
        yaml_node_t *it = node_at(L, rules->data.sequence.items.start[i]);
        const char *s = scalar(it);
        if (!s) {
            LERR(L, it ? it : rules, "mỗi quy tắc phải là một chuỗi, không phải %s / each rule must be a string, not %s",
                 kind_name(it), kind_name(it));
            return L->failed;
        }
        if (parse_rule(L, it, s, &ck->rules[i]))
            return L->failed;
    }
    ck->nrules = k;
    return 0;
}

/* A policy in Wazuh 5.x's format: its requirements or first check say
   'name' instead of 'title'. Wazuh 5.x evaluates every rule as PCRE2. */
static int looks_v5(loader *L, yaml_node_t *root)
{
    yaml_node_t *req = map_get(L, root, "requirements");
    if (req && map_get(L, req, "name") && !map_get(L, req, "title"))
        return 1;
    yaml_node_t *cs = map_get(L, root, "checks");
    if (!cs || cs->type != YAML_SEQUENCE_NODE || cs->data.sequence.items.top == cs->data.sequence.items.start)
        return 0;
    yaml_node_t *c0 = node_at(L, cs->data.sequence.items.start[0]);
    return map_get(L, c0, "name") && !map_get(L, c0, "title");
}

/* regex_type of a check (or of the requirements), else the policy's, else
   OS_Regex (PCRE2 for a policy in Wazuh 5.x's format). */
static int parse_dialect(loader *L, yaml_node_t *m)
{
    yaml_node_t *n = map_get(L, m, "regex_type");
    L->dialect = L->default_dialect;
    if (!n)
        return 0;
    const char *s = scalar(n);
    if (s && strcmp(s, "osregex") == 0) {
        L->dialect = KH_RE_OSREGEX;
        return 0;
    }
    if (s && strcmp(s, "pcre2") == 0) {
        L->dialect = KH_RE_PCRE2;
        return 0;
    }
    LERR(L, n, "'regex_type' phải là osregex hoặc pcre2 / 'regex_type' must be osregex or pcre2");
    return L->failed;
}

static int parse_check(loader *L, yaml_node_t *m, kh_check *ck, size_t index)
{
    char where[128];
    snprintf(where, sizeof(where), "kiểm tra số %zu / check #%zu", index + 1, index + 1);
    if (m->type != YAML_MAPPING_NODE) {
        LERR(L, m, "mỗi kiểm tra phải là ánh xạ, không phải %s / each check must be a mapping, not %s", kind_name(m),
             kind_name(m));
        return L->failed;
    }
    ck->line = (unsigned)m->start_mark.line + 1;
    yaml_node_t *idn = map_get(L, m, "id");
    const char *ids = scalar(idn);
    if (!idn) {
        LERR(L, m, "%s thiếu khóa bắt buộc 'id' / %s is missing the required key 'id'", where, where);
        return L->failed;
    }
    char *end = NULL;
    errno = 0;
    long long id = ids ? strtoll(ids, &end, 10) : 0;
    if (!ids || !*ids || errno || *end) {
        LERR(L, idn, "'id' phải là số nguyên (đang là '%s') / 'id' must be an integer (got '%s')", ids ? ids : "",
             ids ? ids : "");
        return L->failed;
    }
    ck->id = id;
    /* Wazuh 5.x policies say 'name' where 4.x said 'title'. */
    ck->title = get_str(L, m, map_get(L, m, "title") || !map_get(L, m, "name") ? "title" : "name", 1, where);
    ck->description = get_str(L, m, "description", 0, where);
    ck->rationale = get_str(L, m, "rationale", 0, where);
    ck->remediation = get_str(L, m, "remediation", 0, where);
    if (L->failed)
        return L->failed;
    if (get_str_list(L, map_get(L, m, "references"), "references", &ck->references, &ck->nreferences))
        return L->failed;
    yaml_node_t *comp = map_get(L, m, "compliance");
    if (comp) {
        /* 4.x: a list of one-key mappings; 5.x: one mapping. */
        int one = comp->type == YAML_MAPPING_NODE;
        if (comp->type != YAML_SEQUENCE_NODE && !one) {
            LERR(L, comp, "'compliance' phải là danh sách các ánh xạ hoặc một ánh xạ / 'compliance' must be a list of mappings or one mapping");
            return L->failed;
        }
        size_t k = one ? 1 : (size_t)(comp->data.sequence.items.top - comp->data.sequence.items.start);
        size_t total = 0;
        for (size_t i = 0; i < k; i++) {
            yaml_node_t *it = one ? comp : node_at(L, comp->data.sequence.items.start[i]);
            if (!it || it->type != YAML_MAPPING_NODE) {
                LERR(L, it ? it : comp,
                     "mỗi mục 'compliance' phải là ánh xạ như '- cis: [\"1.1\"]' / each 'compliance' item must be a "
                     "mapping such as '- cis: [\"1.1\"]'");
                return L->failed;
            }
            total += (size_t)(it->data.mapping.pairs.top - it->data.mapping.pairs.start);
        }
        ck->compliance = kh_arena_alloc(&L->p->arena, (total + 1) * sizeof(kh_compliance));
        if (!ck->compliance)
            return L->failed = KH_ENOMEM;
        for (size_t i = 0; i < k; i++) {
            yaml_node_t *it = one ? comp : node_at(L, comp->data.sequence.items.start[i]);
            for (yaml_node_pair_t *pr = it->data.mapping.pairs.start; pr < it->data.mapping.pairs.top; pr++) {
                yaml_node_t *kn = node_at(L, pr->key);
                const char *key = scalar(kn);
                if (!key) {
                    LERR(L, kn ? kn : it, "khóa 'compliance' phải là chuỗi / 'compliance' keys must be strings");
                    return L->failed;
                }
                const char **vals;
                size_t nvals;
                if (get_str_list(L, node_at(L, pr->value), key, &vals, &nvals))
                    return L->failed;
                /* A key given twice (Wazuh's own policies do this) is one
                   entry: its values are appended, duplicates dropped, so a
                   report never holds the same key twice. */
                kh_compliance *c = NULL;
                for (size_t j = 0; j < ck->ncompliance && !c; j++)
                    if (strcmp(ck->compliance[j].key, key) == 0)
                        c = &ck->compliance[j];
                if (c) {
                    const char **all = kh_arena_alloc(&L->p->arena, (c->nvalues + nvals + 1) * sizeof(*all));
                    if (!all)
                        return L->failed = KH_ENOMEM;
                    size_t n = c->nvalues;
                    if (n)
                        memcpy(all, c->values, n * sizeof(*all));
                    for (size_t v = 0; v < nvals; v++) {
                        size_t w = 0;
                        while (w < n && strcmp(all[w], vals[v]) != 0)
                            w++;
                        if (w == n)
                            all[n++] = vals[v];
                    }
                    all[n] = NULL;
                    c->values = all;
                    c->nvalues = n;
                    continue;
                }
                c = &ck->compliance[ck->ncompliance++];
                c->key = kh_arena_strdup(&L->p->arena, key);
                if (!c->key)
                    return L->failed = KH_ENOMEM;
                c->values = vals;
                c->nvalues = nvals;
            }
        }
    }
    ck->condition = parse_condition(L, m, where);
    if (L->failed || parse_dialect(L, m))
        return L->failed;
    return parse_rules(L, m, ck, where);
}

/* ---- the document ----------------------------------------------------- */

/* First pass over the events: bounds depth and size before building nodes. */
static int prescan(const unsigned char *data, size_t len, const char *name, kh_policy_error *err)
{
    yaml_parser_t ps;
    if (!yaml_parser_initialize(&ps))
        return KH_ENOMEM;
    yaml_parser_set_input_string(&ps, data, len);
    int depth = 0, rc = 0;
    size_t events = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&ps, &ev)) {
            if (ps.context)
                set_err(err, name, (unsigned)ps.problem_mark.line + 1, (unsigned)ps.problem_mark.column + 1,
                        "YAML sai / invalid YAML: %s (%s bắt đầu ở dòng %u / %s started on line %u)",
                        ps.problem ? ps.problem : "error", ps.context, (unsigned)ps.context_mark.line + 1, ps.context,
                        (unsigned)ps.context_mark.line + 1);
            else
                set_err(err, name, (unsigned)ps.problem_mark.line + 1, (unsigned)ps.problem_mark.column + 1,
                        "YAML sai / invalid YAML: %s", ps.problem ? ps.problem : "error");
            rc = KH_ESYNTAX;
            break;
        }
        yaml_event_type_t t = ev.type;
        unsigned line = (unsigned)ev.start_mark.line + 1;
        yaml_event_delete(&ev);
        if (t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT) {
            if (++depth > POLICY_MAX_DEPTH) {
                set_err(err, name, line, 0, "lồng quá sâu (tối đa %d) / nested too deeply (at most %d)",
                        POLICY_MAX_DEPTH, POLICY_MAX_DEPTH);
                rc = KH_ELIMIT;
                break;
            }
        } else if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT) {
            depth--;
        } else if (t == YAML_DOCUMENT_START_EVENT && events > 2) {
            set_err(err, name, line, 0, "chỉ cho phép một tài liệu YAML / only one YAML document is allowed");
            rc = KH_ESYNTAX;
            break;
        }
        if (++events > POLICY_MAX_EVENTS) {
            set_err(err, name, line, 0, "chính sách quá lớn / policy too large");
            rc = KH_ELIMIT;
            break;
        }
        if (t == YAML_STREAM_END_EVENT)
            break;
    }
    yaml_parser_delete(&ps);
    return rc;
}

static void policy_free(kh_policy *p)
{
    for (size_t i = 0; i < p->nregexes; i++)
        kh_re_release(p->regexes[i]);
    free(p->regexes);
    kh_arena_dispose(&p->arena);
    free(p);
}

static int load(kh_policy **out, const char *name, const void *data, size_t len, unsigned flags,
                const char *commands_note, kh_policy_error *err)
{
    if (!out || !name || (!data && len))
        return KH_EINVAL;
    if (err)
        memset(err, 0, sizeof(*err));
    if (len > POLICY_MAX_BYTES) {
        set_err(err, name, 0, 0, "tệp chính sách quá lớn (tối đa 4 MiB) / policy file too large (at most 4 MiB)");
        return KH_ELIMIT;
    }
    int rc = prescan(data, len, name, err);
    if (rc)
        return rc;
    kh_policy *p = calloc(1, sizeof(*p));
    if (!p)
        return KH_ENOMEM;
    kh_arena_init(&p->arena, POLICY_ARENA_LIMIT);
    loader L;
    memset(&L, 0, sizeof(L));
    L.p = p;
    L.err = err;
    L.name = name;
    yaml_parser_t ps;
    if (!yaml_parser_initialize(&ps)) {
        policy_free(p);
        return KH_ENOMEM;
    }
    yaml_parser_set_input_string(&ps, data, len);
    if (!yaml_parser_load(&ps, &L.doc)) {
        set_err(err, name, (unsigned)ps.problem_mark.line + 1, (unsigned)ps.problem_mark.column + 1,
                "YAML sai / invalid YAML: %s", ps.problem ? ps.problem : "error");
        yaml_parser_delete(&ps);
        policy_free(p);
        return KH_ESYNTAX;
    }
    yaml_parser_delete(&ps);

    p->source = kh_arena_strdup(&p->arena, name);
    yaml_node_t *root = yaml_document_get_root_node(&L.doc);
    if (!root || root->type != YAML_MAPPING_NODE) {
        set_err(err, name, root ? (unsigned)root->start_mark.line + 1 : 1, 0,
                "chính sách phải là một ánh xạ YAML với các khóa policy và checks / a policy must be a YAML mapping "
                "with the keys policy and checks");
        L.failed = KH_ESYNTAX;
        goto done;
    }
    yaml_node_t *pol = map_get(&L, root, "policy");
    if (!pol || pol->type != YAML_MAPPING_NODE) {
        LERR(&L, pol ? pol : root,
             "thiếu phần 'policy' (ánh xạ với id, name, ...) / missing the 'policy' section (a mapping with id, "
             "name, ...)");
        goto done;
    }
    p->id = get_str(&L, pol, "id", 1, "'policy'");
    p->name = get_str(&L, pol, "name", 1, "'policy'");
    p->description = get_str(&L, pol, "description", 0, "'policy'");
    p->file_field = get_str(&L, pol, "file", 0, "'policy'");
    if (L.failed)
        goto done;
    if (parse_dialect(&L, pol))
        goto done;
    L.default_dialect = L.dialect;
    if (!map_get(&L, pol, "regex_type") && looks_v5(&L, root))
        L.default_dialect = KH_RE_PCRE2;
    yaml_node_t *mf = map_get(&L, pol, "missing_files");
    if (mf) {
        const char *v = scalar(mf);
        if (v && strcmp(v, "not_found") == 0)
            p->missing_not_found = 1;
        else if (!v || strcmp(v, "not_applicable") != 0) {
            LERR(&L, mf, "'missing_files' phải là not_applicable hoặc not_found / 'missing_files' must be not_applicable or not_found");
            goto done;
        }
    }

    yaml_node_t *vars = map_get(&L, root, "variables");
    if (vars) {
        if (vars->type != YAML_MAPPING_NODE) {
            LERR(&L, vars, "'variables' phải là ánh xạ '$tên: giá trị' / 'variables' must be a mapping '$name: value'");
            goto done;
        }
        size_t k = (size_t)(vars->data.mapping.pairs.top - vars->data.mapping.pairs.start);
        L.var_names = kh_arena_alloc(&p->arena, (k + 1) * sizeof(char *));
        L.var_values = kh_arena_alloc(&p->arena, (k + 1) * sizeof(char *));
        if (!L.var_names || !L.var_values) {
            L.failed = KH_ENOMEM;
            goto done;
        }
        for (size_t i = 0; i < k; i++) {
            yaml_node_pair_t *pr = &vars->data.mapping.pairs.start[i];
            yaml_node_t *kn = node_at(&L, pr->key), *vn = node_at(&L, pr->value);
            const char *key = scalar(kn);
            if (!key || key[0] != '$' || !key[1] || !((key[1] >= 'a' && key[1] <= 'z') || (key[1] >= 'A' && key[1] <= 'Z') || key[1] == '_')) {
                LERR(&L, kn ? kn : vars, "tên biến phải có dạng $tên (đang là '%s') / variable names must look like $name (got '%s')",
                     key ? key : "", key ? key : "");
                goto done;
            }
            for (const char *q = key + 1; *q; q++)
                if (!ident_char(*q)) {
                    LERR(&L, kn, "tên biến '%s' chứa ký tự không hợp lệ / variable name '%s' has invalid characters", key, key);
                    goto done;
                }
            const char *val = scalar(vn);
            kh_buf joined = KH_BUF_INIT(1u << 20);
            if (!val && vn && vn->type == YAML_SEQUENCE_NODE) {
                /* a list value: joined with commas, as a file list */
                for (yaml_node_item_t *it = vn->data.sequence.items.start; it < vn->data.sequence.items.top; it++) {
                    const char *s = scalar(node_at(&L, *it));
                    if (!s) {
                        kh_buf_dispose(&joined);
                        LERR(&L, vn, "giá trị biến '%s' phải là chuỗi / the value of '%s' must be a string", key, key);
                        goto done;
                    }
                    if (joined.len)
                        kh_buf_putc(&joined, ',');
                    kh_buf_puts(&joined, s);
                }
                val = joined.data ? joined.data : "";
            }
            if (!val) {
                LERR(&L, vn ? vn : kn, "giá trị biến '%s' phải là chuỗi / the value of '%s' must be a string", key, key);
                goto done;
            }
            L.var_names[i] = kh_arena_strdup(&p->arena, key);
            L.var_values[i] = kh_arena_strdup(&p->arena, val);
            kh_buf_dispose(&joined);
            if (!L.var_names[i] || !L.var_values[i]) {
                L.failed = KH_ENOMEM;
                goto done;
            }
        }
        L.nvars = k;
    }

    yaml_node_t *req = map_get(&L, root, "requirements");
    if (req) {
        if (req->type != YAML_MAPPING_NODE) {
            LERR(&L, req, "'requirements' phải là ánh xạ (title, condition, rules) / 'requirements' must be a mapping (title, condition, rules)");
            goto done;
        }
        kh_check *rq = &p->requirements;
        rq->line = (unsigned)req->start_mark.line + 1;
        rq->title = get_str(&L, req, map_get(&L, req, "title") || !map_get(&L, req, "name") ? "title" : "name", 1,
                            "'requirements'");
        rq->description = get_str(&L, req, "description", 0, "'requirements'");
        rq->rationale = rq->remediation = "";
        rq->condition = parse_condition(&L, req, "'requirements'");
        if (L.failed || parse_dialect(&L, req) || parse_rules(&L, req, rq, "'requirements'"))
            goto done;
        p->has_requirements = 1;
    }

    yaml_node_t *checks = map_get(&L, root, "checks");
    if (!checks) {
        LERR(&L, root, "thiếu phần 'checks' / missing the 'checks' section");
        goto done;
    }
    if (checks->type != YAML_SEQUENCE_NODE) {
        LERR(&L, checks, "'checks' phải là danh sách, không phải %s / 'checks' must be a list, not %s", kind_name(checks),
             kind_name(checks));
        goto done;
    }
    size_t nc = (size_t)(checks->data.sequence.items.top - checks->data.sequence.items.start);
    if (nc == 0) {
        LERR(&L, checks, "'checks' rỗng / 'checks' is empty");
        goto done;
    }
    p->checks = kh_arena_alloc(&p->arena, nc * sizeof(kh_check));
    if (!p->checks) {
        L.failed = KH_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < nc; i++) {
        yaml_node_t *m = node_at(&L, checks->data.sequence.items.start[i]);
        if (!m) {
            LERR(&L, checks, "kiểm tra rỗng / empty check");
            goto done;
        }
        if (parse_check(&L, m, &p->checks[i], i))
            goto done;
        for (size_t j = 0; j < i; j++)
            if (p->checks[j].id == p->checks[i].id) {
                LERR(&L, map_get(&L, m, "id"),
                     "id %lld bị trùng (đã dùng ở dòng %u) / duplicate id %lld (already used on line %u)",
                     p->checks[i].id, p->checks[j].line, p->checks[i].id, p->checks[j].line);
                goto done;
            }
        p->nchecks = i + 1;
    }
    if (!(flags & KH_POLICY_TRUSTED))
        p->commands_note = commands_note ? commands_note
                                         : "chính sách không được tin cậy: không chạy lệnh (c:) / untrusted policy: "
                                           "commands (c:) are not run";
    else if (commands_note)
        p->commands_note = commands_note;
    if (p->commands_note && !(p->commands_note = kh_arena_strdup(&p->arena, p->commands_note)))
        L.failed = KH_ENOMEM;

done:
    yaml_document_delete(&L.doc);
    p->regexes = L.regexes.v;
    p->nregexes = L.regexes.n;
    if (L.failed) {
        policy_free(p);
        return L.failed;
    }
    *out = p;
    return 0;
}

/* ---- public API -------------------------------------------------------- */

int kh_policy_load_mem(kh_policy **out, const char *name, const void *data, size_t len, unsigned flags,
                       kh_policy_error *err)
{
    return load(out, name, data, len, flags, NULL, err);
}

int kh_policy_load_file(kh_policy **out, const char *path, unsigned flags, kh_policy_error *err)
{
    if (!out || !path)
        return KH_EINVAL;
    if (err)
        memset(err, 0, sizeof(*err));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int rc = kh_errno_to_kh(errno);
        set_err(err, path, 0, 0, "không mở được tệp chính sách / cannot open the policy file: %s", strerror(errno));
        return rc;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        set_err(err, path, 0, 0, "không phải tệp thông thường / not a regular file");
        return KH_EINVAL;
    }
    if ((uint64_t)st.st_size > POLICY_MAX_BYTES) {
        close(fd);
        set_err(err, path, 0, 0, "tệp chính sách quá lớn (tối đa 4 MiB) / policy file too large (at most 4 MiB)");
        return KH_ELIMIT;
    }
    size_t cap = (size_t)st.st_size + 1, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return KH_ENOMEM;
    }
    for (;;) {
        if (len == cap) {
            if (cap > POLICY_MAX_BYTES) {
                free(buf);
                close(fd);
                set_err(err, path, 0, 0, "tệp chính sách quá lớn / policy file too large");
                return KH_ELIMIT;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                close(fd);
                return KH_ENOMEM;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            set_err(err, path, 0, 0, "lỗi đọc / read error: %s", strerror(e));
            return KH_EIO;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    const char *note = NULL;
    if ((flags & KH_POLICY_TRUSTED) && (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))))
        note = "tệp chính sách không thuộc root hoặc người khác ghi được: không chạy lệnh (c:) / the policy file is "
               "not owned by root or is writable by group or others: commands (c:) are not run";
    int rc = load(out, path, buf, len, flags, note, err);
    free(buf);
    return rc;
}

size_t kh_policy_builtin_count(void)
{
    return kh_builtin_policies_count;
}

const char *kh_policy_builtin_name(size_t i)
{
    return i < kh_builtin_policies_count ? kh_builtin_policies[i].name : NULL;
}

int kh_policy_load_builtin(kh_policy **out, size_t i, kh_policy_error *err)
{
    if (i >= kh_builtin_policies_count)
        return KH_ENOTFOUND;
    kh_buf name = KH_BUF_INIT(4096);
    kh_buf_printf(&name, "<builtin>/%s.yml", kh_builtin_policies[i].name);
    int rc = load(out, name.data ? name.data : "<builtin>", kh_builtin_policies[i].data, kh_builtin_policies[i].len,
                  KH_POLICY_TRUSTED, NULL, err);
    kh_buf_dispose(&name);
    return rc;
}

void kh_policy_destroy(kh_policy *p)
{
    if (p)
        policy_free(p);
}

const char *kh_policy_id(const kh_policy *p)
{
    return p && p->id ? p->id : "";
}

const char *kh_policy_name(const kh_policy *p)
{
    return p && p->name ? p->name : "";
}

const char *kh_policy_description(const kh_policy *p)
{
    return p && p->description ? p->description : "";
}

const char *kh_policy_source(const kh_policy *p)
{
    return p && p->source ? p->source : "";
}

size_t kh_policy_check_count(const kh_policy *p)
{
    return p ? p->nchecks : 0;
}

const char *kh_policy_commands_note(const kh_policy *p)
{
    return p ? p->commands_note : NULL;
}
