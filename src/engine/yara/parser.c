/* Khiên — engine/yara: the parser of the YARA rule language.
 *
 * A hand-written recursive-descent parser over lexer.c's tokens. It checks
 * everything yara checks at compile time — duplicated rules, strings and
 * modifiers, invalid modifier combinations, unreferenced strings, undefined
 * identifiers, types of every operand, constant division by zero — and
 * reports the first error of a file with its line and column. Its output
 * is flat: rules, strings (lowered to pattern trees by strings.c/regex.c),
 * typed expression nodes referring to each other by index, so the compiled
 * set can be cached and mapped.
 *
 * Operator precedence is yara's (grammar.y): or < and < not/defined <
 * equality and string operators < relational < | < ^ < & < shifts <
 * + - < * \ % < unary - ~. Identifiers resolve, innermost first, to loop
 * variables, rules of the namespace defined earlier, imported modules and
 * external variables. Module members are resolved against the module's
 * declaration into member indices, so evaluation never looks up names.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/yara/lexer.h"
#include "engine/yara/ybuild.h"

#define MAX_ARGS 16u
#define KH_Y_MAX_LOOP_NESTING 4u /* nested for loops, as yara's YR_MAX_LOOP_NESTING */
#define FIX_UNSET INT64_MIN
#define FIX_NONE (INT64_MIN + 1)

typedef struct yvar {
    char name[132];
    uint8_t type;
    const kh_ymember *decl;
    uint32_t slot;
} yvar;

typedef struct yp {
    kh_ybuild *yb;
    kh_ylex lx;
    const char *file;
    uint32_t file_off;
    uint32_t ns;
    unsigned depth;
    /* current rule */
    uint32_t rule;
    uint32_t str0, nstr;
    uint8_t *used;
    int64_t *fix; /* per string: FIX_UNSET, FIX_NONE or the one constant `at` offset */
    unsigned *scol; /* per string: column of its identifier */
    unsigned loops;  /* for loops around the expression being parsed */
    yvar vars[KH_Y_MAX_LOOP_VARS];
    unsigned nvars, maxslot;
    int in_for_of;
    unsigned edepth;
} yp;

/* ---- Build helpers -------------------------------------------------------- */

void kh_ybuild_init(kh_ybuild *yb, kh_irb *b)
{
    memset(yb, 0, sizeof(*yb));
    yb->b = b;
}

void kh_ybuild_dispose(kh_ybuild *yb)
{
    KH_VEC_FREE(yb->rules);
    KH_VEC_FREE(yb->ystrs);
    KH_VEC_FREE(yb->exprs);
    KH_VEC_FREE(yb->lists);
    KH_VEC_FREE(yb->metas);
    KH_VEC_FREE(yb->regexes);
    KH_VEC_FREE(yb->exts);
    KH_VEC_FREE(yb->nss);
    KH_VEC_FREE(yb->decl);
    free(yb->rmap);
    memset(yb, 0, sizeof(*yb));
}

static uint64_t hash_name(uint32_t ns, const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull ^ ns;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h;
}

static const char *rule_name(const kh_ybuild *yb, uint32_t r) { return yb->b->strs.data + yb->rules.v[r].name; }

/* Finds a rule by namespace and name; UINT32_MAX when absent. */
static uint32_t rmap_find(const kh_ybuild *yb, uint32_t ns, const char *name)
{
    if (!yb->rmap_cap)
        return UINT32_MAX;
    size_t n = strlen(name), i = (size_t)hash_name(ns, name, n) & (yb->rmap_cap - 1);
    for (;;) {
        uint32_t r = yb->rmap[i];
        if (r == UINT32_MAX)
            return UINT32_MAX;
        if (yb->rules.v[r].ns == yb->nss.v[ns].name && strcmp(rule_name(yb, r), name) == 0)
            return r;
        i = (i + 1) & (yb->rmap_cap - 1);
    }
}

static int rmap_add(kh_ybuild *yb, uint32_t ns, uint32_t r)
{
    if ((yb->rules.n + 1) * 2 > yb->rmap_cap) {
        size_t cap = yb->rmap_cap ? yb->rmap_cap * 2 : 1024;
        uint32_t *m = malloc(cap * sizeof(uint32_t));
        if (!m)
            return KH_ENOMEM;
        memset(m, 0xff, cap * sizeof(uint32_t));
        uint32_t *old = yb->rmap;
        size_t ocap = yb->rmap_cap;
        yb->rmap = m;
        yb->rmap_cap = cap;
        for (size_t i = 0; i < ocap; i++)
            if (old[i] != UINT32_MAX) {
                const char *nm = rule_name(yb, old[i]);
                uint32_t nsi = 0;
                for (uint32_t k = 0; k < yb->nss.n; k++)
                    if (yb->nss.v[k].name == yb->rules.v[old[i]].ns)
                        nsi = k;
                size_t j = (size_t)hash_name(nsi, nm, strlen(nm)) & (cap - 1);
                while (m[j] != UINT32_MAX)
                    j = (j + 1) & (cap - 1);
                m[j] = old[i];
            }
        free(old);
    }
    const char *nm = rule_name(yb, r);
    size_t j = (size_t)hash_name(ns, nm, strlen(nm)) & (yb->rmap_cap - 1);
    while (yb->rmap[j] != UINT32_MAX)
        j = (j + 1) & (yb->rmap_cap - 1);
    yb->rmap[j] = r;
    return 0;
}

static int bytes_add(kh_ybuild *yb, const void *p, size_t n, uint32_t *off)
{
    *off = (uint32_t)yb->b->bytes.len;
    return kh_buf_append(&yb->b->bytes, p, n);
}

int kh_ybuild_define(kh_ybuild *yb, const char *name, const char *value)
{
    kh_yext e;
    memset(&e, 0, sizeof(e));
    int rc = KH_VEC_RESERVE(yb->exts, 1, 65536);
    if (!rc)
        rc = kh_irb_str(yb->b, name, strlen(name), &e.name);
    if (rc)
        return rc;
    char *end;
    if (strcmp(value, "true") == 0 || strcmp(value, "false") == 0) {
        e.type = KH_YT_BOOL;
        e.i = value[0] == 't';
    } else if (*value && (e.i = strtoll(value, &end, 0), *end == 0)) {
        e.type = KH_YT_INT;
    } else if (*value && (e.f = strtod(value, &end), *end == 0)) {
        e.type = KH_YT_FLOAT;
    } else {
        e.type = KH_YT_STR;
        e.slen = (uint32_t)strlen(value);
        if ((rc = bytes_add(yb, value, e.slen, &e.soff)))
            return rc;
    }
    /* A later definition replaces an earlier one. */
    for (size_t i = 0; i < yb->exts.n; i++)
        if (strcmp(yb->b->strs.data + yb->exts.v[i].name, name) == 0) {
            yb->exts.v[i] = e;
            return 0;
        }
    yb->exts.v[yb->exts.n++] = e;
    return 0;
}

/* ---- Errors ------------------------------------------------------------------- */

static int perr_at(yp *p, unsigned line, unsigned col, const char *fmt, ...) KH_PRINTF(4, 5);
static int perr_at(yp *p, unsigned line, unsigned col, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    p->yb->errors++;
    if (p->yb->diag)
        p->yb->diag(p->yb->ud, KH_DIAG_ERROR, p->file, line, col, msg);
    return KH_ESYNTAX;
}

#define perr(p, ...) perr_at((p), (p)->lx.tline, (p)->lx.tcol, __VA_ARGS__)

static void pwarn(yp *p, unsigned line, unsigned col, const char *fmt, ...) KH_PRINTF(4, 5);
static void pwarn(yp *p, unsigned line, unsigned col, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    p->yb->warnings++;
    if (p->yb->diag)
        p->yb->diag(p->yb->ud, KH_DIAG_WARNING, p->file, line, col, msg);
}

static int next(yp *p)
{
    if (kh_ylex_next(&p->lx) == KH_T_ERROR)
        return perr_at(p, p->lx.eline, p->lx.ecol, "%s", p->lx.err);
    return 0;
}

static int next_value(yp *p)
{
    if (kh_ylex_next_value(&p->lx) == KH_T_ERROR)
        return perr_at(p, p->lx.eline, p->lx.ecol, "%s", p->lx.err);
    return 0;
}

static int unexpected(yp *p, const char *want)
{
    if (p->lx.tok == KH_T_IDENT)
        return perr(p, "syntax error, unexpected identifier \"%s\", expecting %s", p->lx.text.data, want);
    return perr(p, "syntax error, unexpected %s, expecting %s", kh_ylex_name(p->lx.tok), want);
}

static int expect(yp *p, int tok, const char *want)
{
    if (p->lx.tok != tok)
        return unexpected(p, want);
    return next(p);
}

/* ---- Expression nodes ------------------------------------------------------------ */

static int mk(yp *p, uint8_t op, uint8_t type, uint32_t a, uint32_t b, uint32_t c, uint32_t *out)
{
    kh_ybuild *yb = p->yb;
    if (KH_VEC_RESERVE(yb->exprs, 1, 1u << 28) || KH_VEC_RESERVE(yb->decl, 1, 1u << 28))
        return KH_ENOMEM;
    kh_yexpr *e = &yb->exprs.v[yb->exprs.n];
    memset(e, 0, sizeof(*e));
    e->op = op;
    e->type = type;
    e->a = a;
    e->b = b;
    e->c = c;
    yb->decl.v[yb->decl.n++] = NULL;
    *out = (uint32_t)yb->exprs.n++;
    return 0;
}

static kh_yexpr *X(yp *p, uint32_t i) { return &p->yb->exprs.v[i]; }

static int mk_int(yp *p, int64_t v, uint32_t *out)
{
    int rc = mk(p, KH_YO_CONST_INT, KH_YT_INT, 0, 0, 0, out);
    if (!rc)
        X(p, *out)->imm.i = v;
    return rc;
}

static int list_add(yp *p, const uint32_t *v, size_t n, uint32_t *off)
{
    kh_ybuild *yb = p->yb;
    if (KH_VEC_RESERVE(yb->lists, n ? n : 1, 1u << 28))
        return KH_ENOMEM;
    *off = (uint32_t)yb->lists.n;
    if (n)
        memcpy(yb->lists.v + yb->lists.n, v, n * sizeof(uint32_t));
    yb->lists.n += n;
    return 0;
}

static int is_num(uint8_t t) { return t == KH_YT_INT || t == KH_YT_FLOAT; }

static const char *type_name(uint8_t t)
{
    switch (t) {
    case KH_YT_BOOL: return "boolean";
    case KH_YT_INT: return "integer";
    case KH_YT_FLOAT: return "float";
    case KH_YT_STR: return "string";
    case KH_YT_REGEX: return "regexp";
    case KH_YT_STRUCT: return "structure";
    case KH_YT_ARRAY: return "array";
    case KH_YT_DICT: return "dictionary";
    case KH_YT_FUNC: return "function";
    default: return "value";
    }
}

/* Values that can stand where a boolean is expected: booleans, integers,
 * floats and strings (true when non-zero / non-empty), as in yara. */
static int to_bool(yp *p, uint32_t e, unsigned line, unsigned col)
{
    uint8_t t = X(p, e)->type;
    if (X(p, e)->op == KH_YO_CONST_STR) {
        const kh_yexpr *x = X(p, e);
        int n = x->b > 200 ? 200 : (int)x->b;
        pwarn(p, line, col, "using literal string \"%.*s\" in a boolean operation.", n,
              p->yb->b->bytes.data + x->a);
    }
    if (t == KH_YT_BOOL || t == KH_YT_INT || t == KH_YT_FLOAT || t == KH_YT_STR)
        return 0;
    return perr_at(p, line, col, "wrong type for boolean expression: %s", type_name(t));
}

/* ---- Forward declarations ------------------------------------------------------------ */

static int parse_expr(yp *p, uint32_t *out);
static int parse_not(yp *p, uint32_t *out);
static int parse_rel_level(yp *p, uint32_t *out);
static int parse_add(yp *p, uint32_t *out);

/* ---- Strings, sets and ranges ------------------------------------------------------------ */

/* Finds a string of the current rule by identifier ("$a"); `$` alone is the
 * loop's current string (UINT32_MAX). Marks it referenced. */
static int lookup_string(yp *p, const char *id, uint32_t *out)
{
    if (strcmp(id, "$") == 0) {
        if (!p->in_for_of)
            return perr(p, "wrong use of anonymous string: \"$\" outside a for-of loop");
        *out = UINT32_MAX;
        return 0;
    }
    for (uint32_t i = 0; i < p->nstr; i++) {
        const char *nm = p->yb->b->strs.data + p->yb->ystrs.v[p->str0 + i].name;
        if (strcmp(nm, id) == 0) {
            p->used[i] = 1;
            p->fix[i] = FIX_NONE;
            *out = p->str0 + i;
            return 0;
        }
    }
    return perr(p, "undefined string \"%s\"", id);
}

/* `$x` from a #x, @x or !x token. */
static int lookup_string_sigil(yp *p, uint32_t *out)
{
    char id[140];
    snprintf(id, sizeof(id), "$%s", p->lx.text.data + 1);
    return lookup_string(p, id, out);
}

/* '(' lo '..' hi ')' */
static int parse_range(yp *p, uint32_t *out)
{
    uint32_t lo, hi;
    int rc;
    unsigned l = p->lx.tline, c = p->lx.tcol;
    if ((rc = expect(p, KH_T_LPAREN, "'('")) || (rc = parse_add(p, &lo)))
        return rc;
    if ((rc = expect(p, KH_T_DOTDOT, "'..'")) || (rc = parse_add(p, &hi)))
        return rc;
    if ((rc = expect(p, KH_T_RPAREN, "')'")))
        return rc;
    if (X(p, lo)->type != KH_YT_INT || X(p, hi)->type != KH_YT_INT)
        return perr_at(p, l, c, "wrong type for range bounds: integers expected");
    return mk(p, KH_YO_RANGE, KH_YT_RANGE, lo, hi, 0, out);
}

/* them | ( $a, $b*, ... ) | ( rule_a, rule_b*, ... ) */
static int parse_set(yp *p, uint32_t *out)
{
    KH_VEC(uint32_t) items = {0};
    int rc = 0, rules = 0;
    if (p->lx.tok == KH_T_THEM) {
        if (p->nstr == 0) {
            rc = perr(p, "no strings defined for \"them\"");
            goto done;
        }
        for (uint32_t i = 0; i < p->nstr && !rc; i++) {
            p->used[i] = 1;
            p->fix[i] = FIX_NONE;
            if (!(rc = KH_VEC_RESERVE(items, 1, 0)))
                items.v[items.n++] = p->str0 + i;
        }
        if (!rc)
            rc = next(p);
    } else if (p->lx.tok == KH_T_LPAREN) {
        if ((rc = next(p)))
            goto done;
        for (;;) {
            if (p->lx.tok == KH_T_STRID && !rules) {
                const char *id = p->lx.text.data;
                size_t n = strlen(id);
                if (n && id[n - 1] == '*') {
                    int any = 0;
                    for (uint32_t i = 0; i < p->nstr && !rc; i++) {
                        const char *nm = p->yb->b->strs.data + p->yb->ystrs.v[p->str0 + i].name;
                        if (strncmp(nm, id, n - 1) == 0) {
                            any = p->used[i] = 1;
                            p->fix[i] = FIX_NONE;
                            if (!(rc = KH_VEC_RESERVE(items, 1, 0)))
                                items.v[items.n++] = p->str0 + i;
                        }
                    }
                    if (!rc && !any)
                        rc = perr(p, "undefined string \"%s\"", id);
                } else {
                    uint32_t s;
                    if (strcmp(id, "$") == 0)
                        rc = perr(p, "syntax error, unexpected anonymous string in a set");
                    else if (!(rc = lookup_string(p, id, &s)) && !(rc = KH_VEC_RESERVE(items, 1, 0)))
                        items.v[items.n++] = s;
                }
                if (rc || (rc = next(p)))
                    goto done;
            } else if (p->lx.tok == KH_T_IDENT && (rules || items.n == 0)) {
                rules = 1;
                char name[140];
                snprintf(name, sizeof(name), "%s", p->lx.text.data);
                unsigned l = p->lx.tline, c = p->lx.tcol;
                if ((rc = next(p)))
                    goto done;
                int wild = p->lx.tok == KH_T_STAR;
                if (wild && (rc = next(p)))
                    goto done;
                int any = 0;
                for (uint32_t r = 0; r < p->yb->rules.n && !rc; r++) {
                    if (p->yb->rules.v[r].ns != p->yb->nss.v[p->ns].name || r == p->rule)
                        continue;
                    const char *nm = rule_name(p->yb, r);
                    if (wild ? strncmp(nm, name, strlen(name)) == 0 : strcmp(nm, name) == 0) {
                        any = 1;
                        if (!(rc = KH_VEC_RESERVE(items, 1, 0)))
                            items.v[items.n++] = r;
                    }
                }
                if (!rc && !any)
                    rc = perr_at(p, l, c, "undefined identifier \"%s%s\"", name, wild ? "*" : "");
                if (rc)
                    goto done;
            } else {
                rc = unexpected(p, rules ? "a rule identifier" : "a string identifier");
                goto done;
            }
            if (p->lx.tok == KH_T_COMMA) {
                if ((rc = next(p)))
                    goto done;
                continue;
            }
            if ((rc = expect(p, KH_T_RPAREN, "')'")))
                goto done;
            break;
        }
    } else {
        rc = unexpected(p, "\"them\" or '('");
        goto done;
    }
    uint32_t off;
    if (!(rc = list_add(p, items.v, items.n, &off)))
        rc = mk(p, rules ? KH_YO_SET_RULES : KH_YO_SET_STRINGS, rules ? KH_YT_RULESET : KH_YT_STRSET, off,
                (uint32_t)items.n, 0, out);
done:
    KH_VEC_FREE(items);
    return rc;
}

/* A quantifier: all | any | none | expr | expr '%'. *kind and *num out. */
static int parse_quant(yp *p, uint16_t *kind, uint32_t *num)
{
    int rc;
    *num = 0;
    if (p->lx.tok == KH_T_ALL || p->lx.tok == KH_T_ANY || p->lx.tok == KH_T_NONE) {
        *kind = p->lx.tok == KH_T_ALL ? KH_YQ_ALL : p->lx.tok == KH_T_ANY ? KH_YQ_ANY : KH_YQ_NONE;
        return next(p);
    }
    unsigned l = p->lx.tline, c = p->lx.tcol;
    if ((rc = parse_add(p, num)))
        return rc;
    if (X(p, *num)->type != KH_YT_INT)
        return perr_at(p, l, c, "wrong type for quantifier: integer expected");
    *kind = KH_YQ_NUM;
    if (p->lx.tok == KH_T_PERCENT) {
        *kind = KH_YQ_PERCENT;
        if (X(p, *num)->op == KH_YO_CONST_INT && (X(p, *num)->imm.i < 1 || X(p, *num)->imm.i > 100))
            return perr_at(p, l, c, "percentage must be between 1 and 100 (inclusive)");
        return next(p);
    }
    return 0;
}

/* quantifier 'of' set ['in' range] — the quantifier is already parsed. */
static int parse_of(yp *p, uint16_t kind, uint32_t num, uint32_t *out)
{
    uint32_t set, range = UINT32_MAX;
    int rc;
    if ((rc = expect(p, KH_T_OF, "\"of\"")) || (rc = parse_set(p, &set)))
        return rc;
    if (p->lx.tok == KH_T_IN) {
        if (X(p, set)->op != KH_YO_SET_STRINGS)
            return perr(p, "syntax error, \"in\" applies to string sets only");
        if ((rc = next(p)) || (rc = parse_range(p, &range)))
            return rc;
    }
    if ((rc = mk(p, KH_YO_OF, KH_YT_BOOL, num, set, range, out)))
        return rc;
    X(p, *out)->aux = kind;
    return 0;
}

static int parse_for(yp *p, uint32_t *out)
{
    int rc;
    uint16_t kind;
    uint32_t num;
    unsigned fl = p->lx.tline, fc = p->lx.tcol;
    if (p->loops >= KH_Y_MAX_LOOP_NESTING)
        return perr(p, "loop nesting limit exceeded (at most %u nested for loops)", KH_Y_MAX_LOOP_NESTING);
    if ((rc = next(p)) || (rc = parse_quant(p, &kind, &num)))
        return rc;
    if (p->lx.tok == KH_T_OF) {
        uint32_t set, body;
        if (p->in_for_of)
            return perr_at(p, fl, fc, "'for <quantifier> of <string set>' loops can't be nested");
        if ((rc = next(p)) || (rc = parse_set(p, &set)))
            return rc;
        if (X(p, set)->op != KH_YO_SET_STRINGS)
            return perr(p, "syntax error, for-of loops iterate over strings");
        if ((rc = expect(p, KH_T_COLON, "':'")) || (rc = expect(p, KH_T_LPAREN, "'('")))
            return rc;
        int saved = p->in_for_of;
        p->in_for_of = 1;
        p->loops++;
        unsigned l = p->lx.tline, c = p->lx.tcol;
        rc = parse_expr(p, &body);
        p->loops--;
        p->in_for_of = saved;
        if (rc || (rc = to_bool(p, body, l, c)) || (rc = expect(p, KH_T_RPAREN, "')'")))
            return rc;
        if ((rc = mk(p, KH_YO_FOR_OF, KH_YT_BOOL, num, set, body, out)))
            return rc;
        X(p, *out)->aux = kind;
        return 0;
    }
    /* for Q id [, id] in iterable : ( body ) */
    char names[2][132];
    unsigned nnames = 0;
    for (;;) {
        if (p->lx.tok != KH_T_IDENT)
            return unexpected(p, "an identifier");
        if (nnames == 2)
            return perr(p, "too many loop variables");
        snprintf(names[nnames++], sizeof(names[0]), "%s", p->lx.text.data);
        if ((rc = next(p)))
            return rc;
        if (p->lx.tok != KH_T_COMMA)
            break;
        if ((rc = next(p)))
            return rc;
    }
    if ((rc = expect(p, KH_T_IN, "\"in\"")))
        return rc;
    uint32_t iter;
    uint8_t vt[2] = {KH_YT_INT, KH_YT_VOID};
    const kh_ymember *vdecl[2] = {NULL, NULL};
    unsigned l = p->lx.tline, c = p->lx.tcol;
    if (p->lx.tok == KH_T_LPAREN) {
        /* range or enumeration */
        uint32_t first;
        if ((rc = next(p)) || (rc = parse_add(p, &first)))
            return rc;
        if (p->lx.tok == KH_T_DOTDOT) {
            uint32_t hi;
            if ((rc = next(p)) || (rc = parse_add(p, &hi)) || (rc = expect(p, KH_T_RPAREN, "')'")))
                return rc;
            if (X(p, first)->type != KH_YT_INT || X(p, hi)->type != KH_YT_INT)
                return perr_at(p, l, c, "wrong type for range bounds: integers expected");
            if ((rc = mk(p, KH_YO_RANGE, KH_YT_RANGE, first, hi, 0, &iter)))
                return rc;
        } else {
            KH_VEC(uint32_t) items = {0};
            if ((rc = KH_VEC_RESERVE(items, 1, 0)))
                return rc;
            items.v[items.n++] = first;
            while (!rc && p->lx.tok == KH_T_COMMA) {
                uint32_t e;
                if (!(rc = next(p)) && !(rc = parse_add(p, &e)) && !(rc = KH_VEC_RESERVE(items, 1, 0)))
                    items.v[items.n++] = e;
            }
            for (size_t i = 0; i < items.n && !rc; i++)
                if (X(p, items.v[i])->type != KH_YT_INT)
                    rc = perr_at(p, l, c, "wrong type for enumeration item");
            uint32_t off;
            if (!rc)
                rc = expect(p, KH_T_RPAREN, "')'");
            if (!rc && !(rc = list_add(p, items.v, items.n, &off)))
                rc = mk(p, KH_YO_ENUM, KH_YT_ARRAY, off, (uint32_t)items.n, 0, &iter);
            KH_VEC_FREE(items);
            if (rc)
                return rc;
        }
        if (nnames != 1)
            return perr_at(p, l, c, "wrong number of loop variables: ranges and enumerations take one");
    } else {
        if ((rc = parse_add(p, &iter)))
            return rc;
        const kh_ymember *d = p->yb->decl.v[iter];
        uint8_t t = X(p, iter)->type;
        if (t == KH_YT_ARRAY && d) {
            if (nnames != 1)
                return perr_at(p, l, c, "wrong number of loop variables: arrays take one");
            vt[0] = d->elem;
            vdecl[0] = d;
        } else if (t == KH_YT_DICT && d) {
            if (nnames != 2)
                return perr_at(p, l, c, "wrong number of loop variables: dictionaries take two (key, value)");
            vt[0] = KH_YT_STR;
            vt[1] = d->elem;
            vdecl[1] = d;
        } else {
            return perr_at(p, l, c, "wrong type for iterable: %s is not iterable", type_name(t));
        }
    }
    if ((rc = expect(p, KH_T_COLON, "':'")) || (rc = expect(p, KH_T_LPAREN, "'('")))
        return rc;
    if (p->nvars + nnames > KH_Y_MAX_LOOP_VARS)
        return perr(p, "loops nested too deeply");
    unsigned base_vars = p->nvars;
    uint32_t slot0 = p->nvars;
    for (unsigned i = 0; i < nnames; i++) {
        for (unsigned k = 0; k < p->nvars; k++)
            if (strcmp(p->vars[k].name, names[i]) == 0)
                return perr(p, "duplicated loop variable \"%s\"", names[i]);
        yvar *v = &p->vars[p->nvars];
        snprintf(v->name, sizeof(v->name), "%s", names[i]);
        v->type = vt[i];
        v->decl = vdecl[i];
        v->slot = p->nvars;
        p->nvars++;
    }
    if (p->nvars > p->maxslot)
        p->maxslot = p->nvars;
    uint32_t body;
    unsigned bl = p->lx.tline, bc = p->lx.tcol;
    p->loops++;
    rc = parse_expr(p, &body);
    p->loops--;
    p->nvars = base_vars;
    if (rc || (rc = to_bool(p, body, bl, bc)) || (rc = expect(p, KH_T_RPAREN, "')'")))
        return rc;
    if ((rc = mk(p, KH_YO_FOR_IN, KH_YT_BOOL, num, iter, body, out)))
        return rc;
    X(p, *out)->aux = kind;
    X(p, *out)->imm.i = (int64_t)(slot0 | (uint32_t)nnames << 16);
    return 0;
}

/* ---- Identifiers and module members ---------------------------------------------------------- */

static const kh_ymember *find_member(const kh_ymember *members, const char *name, uint32_t *idx)
{
    for (uint32_t i = 0; members && members[i].name; i++)
        if (strcmp(members[i].name, name) == 0) {
            *idx = i;
            return &members[i];
        }
    return NULL;
}

static char argtype(uint8_t t) { return t == KH_YT_INT ? 'i' : t == KH_YT_FLOAT ? 'f' : t == KH_YT_STR ? 's' : t == KH_YT_REGEX ? 'r' : t == KH_YT_BOOL ? 'b' : '?'; }

/* Postfix: '.' member, '[' index ']', '(' args ')' on an object expression. */
static int parse_postfix(yp *p, uint32_t *e, const char *what)
{
    int rc;
    char path[256];
    snprintf(path, sizeof(path), "%s", what);
    for (;;) {
        const kh_ymember *d = p->yb->decl.v[*e];
        uint8_t t = X(p, *e)->type;
        if (p->lx.tok == KH_T_DOT) {
            if (t != KH_YT_STRUCT || !d)
                return perr(p, "\"%s\" is not a structure", path);
            if ((rc = next(p)))
                return rc;
            if (p->lx.tok != KH_T_IDENT)
                return unexpected(p, "an identifier");
            uint32_t idx;
            const kh_ymember *m = find_member(d->members, p->lx.text.data, &idx);
            if (!m)
                return perr(p, "invalid field name \"%s\"", p->lx.text.data);
            size_t pl = strlen(path);
            snprintf(path + pl, sizeof(path) - pl, ".%s", m->name);
            uint32_t n;
            if ((rc = mk(p, KH_YO_FIELD, m->type, *e, idx, 0, &n)))
                return rc;
            p->yb->decl.v[n] = m;
            *e = n;
            if ((rc = next(p)))
                return rc;
        } else if (p->lx.tok == KH_T_LBRACK) {
            if (t != KH_YT_ARRAY && t != KH_YT_DICT)
                return perr(p, "\"%s\" is not an array or dictionary", path);
            unsigned l = p->lx.tline, c = p->lx.tcol;
            uint32_t ix;
            if ((rc = next(p)) || (rc = parse_add(p, &ix)) || (rc = expect(p, KH_T_RBRACK, "']'")))
                return rc;
            if (t == KH_YT_ARRAY && X(p, ix)->type != KH_YT_INT)
                return perr_at(p, l, c, "array indexes must be integers");
            if (t == KH_YT_DICT && X(p, ix)->type != KH_YT_STR)
                return perr_at(p, l, c, "dictionary keys must be strings");
            uint32_t n;
            if ((rc = mk(p, t == KH_YT_ARRAY ? KH_YO_INDEX : KH_YO_KEY, d ? d->elem : KH_YT_INT, *e, ix, 0, &n)))
                return rc;
            p->yb->decl.v[n] = d; /* element structures take their members from the container */
            *e = n;
        } else if (p->lx.tok == KH_T_LPAREN) {
            if (t != KH_YT_FUNC || !d)
                return perr(p, "\"%s\" is not a function", path);
            unsigned l = p->lx.tline, c = p->lx.tcol;
            uint32_t args[MAX_ARGS];
            unsigned nargs = 0;
            char sig[MAX_ARGS + 1];
            if ((rc = next(p)))
                return rc;
            while (p->lx.tok != KH_T_RPAREN) {
                if (nargs == MAX_ARGS)
                    return perr(p, "too many arguments");
                if (p->lx.tok == KH_T_REGEX) {
                    uint32_t re;
                    if ((rc = mk(p, KH_YO_REGEX, KH_YT_REGEX, 0, 0, 0, &re)))
                        return rc;
                    /* The regex itself is compiled by the caller below. */
                    int greedy;
                    const char *emsg;
                    size_t epos;
                    uint32_t root;
                    if (kh_yre_parse(p->yb->b, p->lx.text.data, p->lx.text.len, (unsigned)p->lx.ival, &root, &greedy,
                                     &emsg, &epos))
                        return perr(p, "invalid regular expression: %s", emsg);
                    if ((rc = KH_VEC_RESERVE(p->yb->regexes, 1, 1u << 24)) ||
                        (rc = KH_VEC_RESERVE(p->yb->b->pats, 1, UINT32_MAX)))
                        return rc;
                    kh_pat *pt = &p->yb->b->pats.v[p->yb->b->pats.n];
                    memset(pt, 0, sizeof(*pt));
                    pt->root = root;
                    pt->sig = UINT32_MAX;
                    pt->kind = KH_PK_YREGEX;
                    kh_ir_lengths(p->yb->b->nodes.v, p->yb->b->kids.v, root, &pt->minlen, &pt->maxlen);
                    p->yb->regexes.v[p->yb->regexes.n].pat = (uint32_t)p->yb->b->pats.n++;
                    p->yb->regexes.v[p->yb->regexes.n].flags = (uint32_t)greedy;
                    X(p, re)->a = (uint32_t)p->yb->regexes.n++;
                    args[nargs] = re;
                    if ((rc = next(p)))
                        return rc;
                } else if ((rc = parse_expr(p, &args[nargs]))) {
                    return rc;
                }
                sig[nargs] = argtype(X(p, args[nargs])->type);
                nargs++;
                if (p->lx.tok == KH_T_COMMA) {
                    if ((rc = next(p)))
                        return rc;
                } else if (p->lx.tok != KH_T_RPAREN) {
                    return unexpected(p, "',' or ')'");
                }
            }
            sig[nargs] = 0;
            if ((rc = next(p)))
                return rc;
            /* Overload: exact argument types, else integers accepted as floats. */
            int found = -1;
            for (int pass = 0; pass < 2 && found < 0; pass++)
                for (int k = 0; d->funcs && d->funcs[k].fn && found < 0; k++) {
                    const char *fa = d->funcs[k].args;
                    if (strlen(fa) != nargs)
                        continue;
                    int okk = 1;
                    for (unsigned i = 0; i < nargs && okk; i++)
                        okk = fa[i] == sig[i] || (pass == 1 && fa[i] == 'f' && sig[i] == 'i') ||
                              (fa[i] == 'i' && sig[i] == 'b');
                    if (okk)
                        found = k;
                }
            if (found < 0)
                return perr_at(p, l, c, "wrong arguments for function \"%s\"", path);
            uint32_t off, n;
            if ((rc = list_add(p, args, nargs, &off)))
                return rc;
            /* The FIELD node that named the function is replaced by a CALL on its structure. */
            kh_yexpr *f = X(p, *e);
            if (f->op != KH_YO_FIELD)
                return perr_at(p, l, c, "\"%s\" is not a function", path);
            if ((rc = mk(p, KH_YO_CALL, d->funcs[found].ret, f->a, f->b, off, &n)))
                return rc;
            X(p, n)->aux = (uint16_t)found;
            X(p, n)->imm.i = nargs;
            *e = n;
        } else {
            return 0;
        }
    }
}

static int parse_ident(yp *p, uint32_t *out)
{
    char name[140];
    snprintf(name, sizeof(name), "%s", p->lx.text.data);
    unsigned l = p->lx.tline, c = p->lx.tcol;
    int rc;
    /* loop variables, innermost first */
    for (unsigned i = p->nvars; i-- > 0;) {
        if (strcmp(p->vars[i].name, name) == 0) {
            if ((rc = mk(p, KH_YO_VAR, p->vars[i].type, p->vars[i].slot, 0, 0, out)))
                return rc;
            p->yb->decl.v[*out] = p->vars[i].decl;
            if ((rc = next(p)))
                return rc;
            return parse_postfix(p, out, name);
        }
    }
    /* then, as yara: external variables, imported modules, rules */
    for (size_t i = 0; i < p->yb->exts.n; i++) {
        if (strcmp(p->yb->b->strs.data + p->yb->exts.v[i].name, name) == 0) {
            if ((rc = mk(p, KH_YO_EXTERNAL, (uint8_t)p->yb->exts.v[i].type, (uint32_t)i, 0, 0, out)))
                return rc;
            return next(p);
        }
    }
    int m = kh_ymodule_find(name);
    if (m >= 0 && (p->yb->nss.v[p->ns].modules >> m) & 1) {
        if ((rc = mk(p, KH_YO_MODULE, KH_YT_STRUCT, (uint32_t)m, 0, 0, out)))
            return rc;
        p->yb->decl.v[*out] = &kh_ymodules[m]->decl;
        p->yb->rules.v[p->rule].modules |= 1u << m;
        if ((rc = next(p)))
            return rc;
        return parse_postfix(p, out, name);
    }
    /* a rule may name itself, as in yara (it is false while its condition runs) */
    uint32_t r = rmap_find(p->yb, p->ns, name);
    if (r == UINT32_MAX && p->rule < p->yb->rules.n && strcmp(rule_name(p->yb, p->rule), name) == 0)
        r = p->rule; /* not in the map until its condition is parsed */
    if (r != UINT32_MAX) {
        if ((rc = mk(p, KH_YO_RULE, KH_YT_BOOL, r, 0, 0, out)))
            return rc;
        return next(p);
    }
    return perr_at(p, l, c, "undefined identifier \"%s\"", name);
}

/* ---- Primary expressions ---------------------------------------------------------------------- */

static int read_fn(int tok, uint16_t *aux)
{
    static const struct {
        int tok;
        uint16_t aux;
    } t[] = {
        {KH_T_INT8, 0},  {KH_T_INT16, 1},  {KH_T_INT32, 2},  {KH_T_INT8BE, 0 | KH_YR_BE},
        {KH_T_INT16BE, 1 | KH_YR_BE}, {KH_T_INT32BE, 2 | KH_YR_BE}, {KH_T_UINT8, KH_YR_UNSIGNED},
        {KH_T_UINT16, 1 | KH_YR_UNSIGNED}, {KH_T_UINT32, 2 | KH_YR_UNSIGNED},
        {KH_T_UINT8BE, KH_YR_UNSIGNED | KH_YR_BE}, {KH_T_UINT16BE, 1 | KH_YR_UNSIGNED | KH_YR_BE},
        {KH_T_UINT32BE, 2 | KH_YR_UNSIGNED | KH_YR_BE},
    };
    for (size_t i = 0; i < KH_ARRAY_LEN(t); i++)
        if (t[i].tok == tok) {
            *aux = t[i].aux;
            return 1;
        }
    return 0;
}

static int parse_primary(yp *p, uint32_t *out)
{
    int rc;
    int tok = p->lx.tok;
    uint16_t aux;
    unsigned l = p->lx.tline, c = p->lx.tcol;
    if (++p->edepth > KH_Y_MAX_EXPR_DEPTH)
        return perr(p, "expression nested too deeply");
    switch (tok) {
    case KH_T_INT:
        rc = mk_int(p, p->lx.ival, out);
        return rc ? rc : next(p);
    case KH_T_FLOAT:
        if ((rc = mk(p, KH_YO_CONST_FLT, KH_YT_FLOAT, 0, 0, 0, out)))
            return rc;
        X(p, *out)->imm.f = p->lx.fval;
        return next(p);
    case KH_T_TEXT: {
        uint32_t off;
        if ((rc = bytes_add(p->yb, p->lx.text.data ? p->lx.text.data : "", p->lx.text.len, &off)))
            return rc;
        rc = mk(p, KH_YO_CONST_STR, KH_YT_STR, off, (uint32_t)p->lx.text.len, 0, out);
        return rc ? rc : next(p);
    }
    case KH_T_TRUE:
    case KH_T_FALSE:
        if ((rc = mk(p, KH_YO_CONST_BOOL, KH_YT_BOOL, 0, 0, 0, out)))
            return rc;
        X(p, *out)->imm.i = tok == KH_T_TRUE;
        return next(p);
    case KH_T_FILESIZE:
        rc = mk(p, KH_YO_FILESIZE, KH_YT_INT, 0, 0, 0, out);
        return rc ? rc : next(p);
    case KH_T_ENTRYPOINT:
        pwarn(p, l, c, "Using deprecated \"entrypoint\" keyword. Use the \"entry_point\" function from PE module instead.");
        rc = mk(p, KH_YO_ENTRYPOINT, KH_YT_INT, 0, 0, 0, out);
        return rc ? rc : next(p);
    case KH_T_STRID: {
        uint32_t s;
        if (p->lx.text.data[p->lx.text.len - 1] == '*')
            return perr(p, "syntax error, unexpected string wildcard outside a set");
        /* the fixed-offset state before this reference (lookup_string clears it) */
        int64_t prev_fix = FIX_NONE;
        for (uint32_t i = 0; i < p->nstr; i++)
            if (strcmp(p->yb->b->strs.data + p->yb->ystrs.v[p->str0 + i].name, p->lx.text.data) == 0)
                prev_fix = p->fix[i];
        if ((rc = lookup_string(p, p->lx.text.data, &s)) || (rc = next(p)))
            return rc;
        if (p->lx.tok == KH_T_AT) {
            uint32_t off;
            unsigned l2 = p->lx.tline, c2 = p->lx.tcol;
            if ((rc = next(p)) || (rc = parse_add(p, &off)))
                return rc;
            if (X(p, off)->type != KH_YT_INT)
                return perr_at(p, l2, c2, "wrong type for \"at\": integer expected");
            if (s != UINT32_MAX && X(p, off)->op == KH_YO_CONST_INT &&
                (prev_fix == FIX_UNSET || prev_fix == X(p, off)->imm.i))
                p->fix[s - p->str0] = X(p, off)->imm.i;
            return mk(p, KH_YO_STR_AT, KH_YT_BOOL, s, off, 0, out);
        }
        if (p->lx.tok == KH_T_IN) {
            uint32_t range;
            if ((rc = next(p)) || (rc = parse_range(p, &range)))
                return rc;
            return mk(p, KH_YO_STR_IN, KH_YT_BOOL, s, range, 0, out);
        }
        return mk(p, KH_YO_STR_FOUND, KH_YT_BOOL, s, 0, 0, out);
    }
    case KH_T_STRCOUNT: {
        uint32_t s;
        if ((rc = lookup_string_sigil(p, &s)) || (rc = next(p)))
            return rc;
        if (p->lx.tok == KH_T_IN) {
            uint32_t range;
            if ((rc = next(p)) || (rc = parse_range(p, &range)))
                return rc;
            return mk(p, KH_YO_STR_COUNT_IN, KH_YT_INT, s, range, 0, out);
        }
        return mk(p, KH_YO_STR_COUNT, KH_YT_INT, s, 0, 0, out);
    }
    case KH_T_STROFF:
    case KH_T_STRLEN: {
        uint32_t s, idx;
        if ((rc = lookup_string_sigil(p, &s)) || (rc = next(p)))
            return rc;
        if (p->lx.tok == KH_T_LBRACK) {
            unsigned l2 = p->lx.tline, c2 = p->lx.tcol;
            if ((rc = next(p)) || (rc = parse_add(p, &idx)) || (rc = expect(p, KH_T_RBRACK, "']'")))
                return rc;
            if (X(p, idx)->type != KH_YT_INT)
                return perr_at(p, l2, c2, "wrong type for string index: integer expected");
        } else if ((rc = mk_int(p, 1, &idx))) {
            return rc;
        }
        return mk(p, tok == KH_T_STROFF ? KH_YO_STR_OFFSET : KH_YO_STR_LENGTH, KH_YT_INT, s, idx, 0, out);
    }
    case KH_T_LPAREN: {
        if ((rc = next(p)) || (rc = parse_expr(p, out)))
            return rc;
        return expect(p, KH_T_RPAREN, "')'");
    }
    case KH_T_FOR:
        return parse_for(p, out);
    case KH_T_ALL:
    case KH_T_ANY:
    case KH_T_NONE: {
        uint16_t kind;
        uint32_t num;
        if ((rc = parse_quant(p, &kind, &num)))
            return rc;
        return parse_of(p, kind, num, out);
    }
    case KH_T_IDENT:
        return parse_ident(p, out);
    case KH_T_REGEX:
        return perr(p, "syntax error, unexpected regular expression");
    default:
        if (read_fn(tok, &aux)) {
            uint32_t off;
            unsigned l2, c2;
            if ((rc = next(p)) || (rc = expect(p, KH_T_LPAREN, "'('")))
                return rc;
            l2 = p->lx.tline, c2 = p->lx.tcol;
            if ((rc = parse_add(p, &off)) || (rc = expect(p, KH_T_RPAREN, "')'")))
                return rc;
            if (X(p, off)->type != KH_YT_INT)
                return perr_at(p, l2, c2, "wrong type for offset: integer expected");
            if ((rc = mk(p, KH_YO_READ, KH_YT_INT, off, 0, 0, out)))
                return rc;
            X(p, *out)->aux = aux;
            return 0;
        }
        KH_UNUSED(c);
        return unexpected(p, "an expression");
    }
}

/* ---- Operators ------------------------------------------------------------------------------ */

/* Folds integer constants (division by zero is an error, as in yara). */
static int fold(yp *p, uint8_t op, uint32_t a, uint32_t b, unsigned l, unsigned c, uint32_t *out, int *done)
{
    *done = 0;
    kh_yexpr *x = X(p, a), *y = X(p, b);
    if (x->op != KH_YO_CONST_INT || y->op != KH_YO_CONST_INT)
        return 0;
    int64_t r;
    const char *sym = op == KH_YO_ADD ? "+" : op == KH_YO_SUB ? "-" : "*";
    int over = 0;
    switch (op) {
    case KH_YO_ADD: over = __builtin_add_overflow(x->imm.i, y->imm.i, &r); break;
    case KH_YO_SUB: over = __builtin_sub_overflow(x->imm.i, y->imm.i, &r); break;
    case KH_YO_MUL: over = __builtin_mul_overflow(x->imm.i, y->imm.i, &r); break;
    case KH_YO_DIV:
    case KH_YO_MOD:
        if (y->imm.i == 0)
            return perr_at(p, l, c, "division by zero");
        if (x->imm.i == INT64_MIN && y->imm.i == -1)
            return 0;
        r = op == KH_YO_DIV ? x->imm.i / y->imm.i : x->imm.i % y->imm.i;
        break;
    default:
        return 0;
    }
    if (over)
        return perr_at(p, l, c, "integer overflow in \"%lld %s %lld\"", (long long)x->imm.i, sym,
                       (long long)y->imm.i);
    *done = 1;
    return mk_int(p, r, out);
}

static int binop(yp *p, uint8_t op, uint32_t a, uint32_t b, unsigned l, unsigned c, uint32_t *out)
{
    uint8_t ta = X(p, a)->type, tb = X(p, b)->type;
    int rc, done;
    switch (op) {
    case KH_YO_ADD: case KH_YO_SUB: case KH_YO_MUL: case KH_YO_DIV:
        if (!is_num(ta) || !is_num(tb))
            return perr_at(p, l, c, "wrong type for arithmetic operator: %s and %s", type_name(ta), type_name(tb));
        if ((rc = fold(p, op, a, b, l, c, out, &done)) || done)
            return rc;
        if (op == KH_YO_DIV && X(p, b)->op == KH_YO_CONST_FLT && X(p, b)->imm.f == 0)
            return perr_at(p, l, c, "division by zero");
        return mk(p, op, ta == KH_YT_FLOAT || tb == KH_YT_FLOAT ? KH_YT_FLOAT : KH_YT_INT, a, b, 0, out);
    case KH_YO_MOD: case KH_YO_BAND: case KH_YO_BOR: case KH_YO_BXOR: case KH_YO_SHL: case KH_YO_SHR:
        if (ta != KH_YT_INT || tb != KH_YT_INT)
            return perr_at(p, l, c, "wrong type for operator: integers expected, not %s and %s", type_name(ta),
                           type_name(tb));
        if ((rc = fold(p, op, a, b, l, c, out, &done)) || done)
            return rc;
        return mk(p, op, KH_YT_INT, a, b, 0, out);
    case KH_YO_LT: case KH_YO_LE: case KH_YO_GT: case KH_YO_GE: case KH_YO_EQ: case KH_YO_NE:
        if ((ta == KH_YT_BOOL && X(p, a)->op != KH_YO_EXTERNAL) || (tb == KH_YT_BOOL && X(p, b)->op != KH_YO_EXTERNAL))
            return perr_at(p, l, c, "wrong type for comparison: %s and %s (a boolean cannot be compared)",
                           type_name(ta), type_name(tb));
        if (!((is_num(ta) && is_num(tb)) || (ta == KH_YT_STR && tb == KH_YT_STR) ||
              (ta == KH_YT_BOOL && tb == KH_YT_BOOL) || (ta == KH_YT_BOOL && tb == KH_YT_INT) ||
              (ta == KH_YT_INT && tb == KH_YT_BOOL)))
            return perr_at(p, l, c, "wrong type for comparison: %s and %s", type_name(ta), type_name(tb));
        return mk(p, op, KH_YT_BOOL, a, b, 0, out);
    case KH_YO_CONTAINS: case KH_YO_ICONTAINS: case KH_YO_STARTSWITH: case KH_YO_ISTARTSWITH:
    case KH_YO_ENDSWITH: case KH_YO_IENDSWITH: case KH_YO_IEQUALS:
        if (ta != KH_YT_STR || tb != KH_YT_STR)
            return perr_at(p, l, c, "wrong type for string operator: %s and %s", type_name(ta), type_name(tb));
        return mk(p, op, KH_YT_BOOL, a, b, 0, out);
    }
    return KH_EINTERNAL;
}

static int parse_unary(yp *p, uint32_t *out)
{
    int rc;
    if (p->lx.tok == KH_T_MINUS || p->lx.tok == KH_T_TILDE) {
        int tok = p->lx.tok;
        unsigned l = p->lx.tline, c = p->lx.tcol;
        uint32_t a;
        if ((rc = next(p)) || (rc = parse_unary(p, &a)))
            return rc;
        uint8_t t = X(p, a)->type;
        if (tok == KH_T_MINUS) {
            if (!is_num(t))
                return perr_at(p, l, c, "wrong type for unary minus: %s", type_name(t));
            if (X(p, a)->op == KH_YO_CONST_INT) {
                X(p, a)->imm.i = (int64_t)(0 - (uint64_t)X(p, a)->imm.i);
                *out = a;
                return 0;
            }
            if (X(p, a)->op == KH_YO_CONST_FLT) {
                X(p, a)->imm.f = -X(p, a)->imm.f;
                *out = a;
                return 0;
            }
            return mk(p, KH_YO_NEG, t, a, 0, 0, out);
        }
        if (t != KH_YT_INT)
            return perr_at(p, l, c, "wrong type for bitwise not: %s", type_name(t));
        return mk(p, KH_YO_BNOT, KH_YT_INT, a, 0, 0, out);
    }
    rc = parse_primary(p, out);
    p->edepth--;
    return rc;
}

/* Is the token after '%' the keyword `of` (a percentage quantifier)? */
static int percent_of(const yp *p)
{
    size_t i = p->lx.pos;
    while (i < p->lx.len && strchr(" \t\r\n", p->lx.src[i]))
        i++;
    return i + 2 <= p->lx.len && p->lx.src[i] == 'o' && p->lx.src[i + 1] == 'f' &&
           (i + 2 == p->lx.len || !(isalnum((unsigned char)p->lx.src[i + 2]) || p->lx.src[i + 2] == '_'));
}

typedef struct binlevel {
    int toks[4];
    uint8_t ops[4];
} binlevel;

static const binlevel levels[] = {
    {{KH_T_PIPE}, {KH_YO_BOR}},
    {{KH_T_CARET}, {KH_YO_BXOR}},
    {{KH_T_AMP}, {KH_YO_BAND}},
    {{KH_T_SHL, KH_T_SHR}, {KH_YO_SHL, KH_YO_SHR}},
    {{KH_T_PLUS, KH_T_MINUS}, {KH_YO_ADD, KH_YO_SUB}},
    {{KH_T_STAR, KH_T_BACKSLASH, KH_T_PERCENT}, {KH_YO_MUL, KH_YO_DIV, KH_YO_MOD}},
};

static int parse_level(yp *p, unsigned lv, uint32_t *out)
{
    int rc = lv + 1 < KH_ARRAY_LEN(levels) ? parse_level(p, lv + 1, out) : parse_unary(p, out);
    if (rc)
        return rc;
    for (;;) {
        int k = -1;
        for (int i = 0; i < 4 && levels[lv].toks[i]; i++)
            if (p->lx.tok == levels[lv].toks[i])
                k = i;
        if (k < 0)
            return 0;
        if (p->lx.tok == KH_T_PERCENT && percent_of(p))
            return 0; /* "50% of them": the caller takes the quantifier */
        unsigned l = p->lx.tline, c = p->lx.tcol;
        uint32_t b;
        if ((rc = next(p)))
            return rc;
        rc = lv + 1 < KH_ARRAY_LEN(levels) ? parse_level(p, lv + 1, &b) : parse_unary(p, &b);
        if (rc || (rc = binop(p, levels[lv].ops[k], *out, b, l, c, out)))
            return rc;
    }
}

static int parse_add(yp *p, uint32_t *out) { return parse_level(p, 0, out); }

/* Arithmetic followed by a quantifier use: "2 of them", "50% of them". */
static int parse_rel_level(yp *p, uint32_t *out)
{
    unsigned l0 = p->lx.tline, c0 = p->lx.tcol;
    int rc = parse_add(p, out);
    if (rc)
        return rc;
    if (p->lx.tok == KH_T_OF || (p->lx.tok == KH_T_PERCENT && percent_of(p))) {
        uint16_t kind = KH_YQ_NUM;
        if (X(p, *out)->type != KH_YT_INT)
            return perr(p, "wrong type for quantifier: integer expected");
        if (p->lx.tok == KH_T_PERCENT) {
            kind = KH_YQ_PERCENT;
            if (X(p, *out)->op == KH_YO_CONST_INT && (X(p, *out)->imm.i < 1 || X(p, *out)->imm.i > 100))
                return perr_at(p, l0, c0, "percentage must be between 1 and 100 (inclusive)");
            if ((rc = next(p)))
                return rc;
        }
        return parse_of(p, kind, *out, out);
    }
    while (p->lx.tok == KH_T_LT || p->lx.tok == KH_T_LE || p->lx.tok == KH_T_GT || p->lx.tok == KH_T_GE) {
        uint8_t op = p->lx.tok == KH_T_LT ? KH_YO_LT : p->lx.tok == KH_T_LE ? KH_YO_LE
                   : p->lx.tok == KH_T_GT ? KH_YO_GT : KH_YO_GE;
        unsigned l = p->lx.tline, c = p->lx.tcol;
        uint32_t b;
        if ((rc = next(p)) || (rc = parse_add(p, &b)) || (rc = binop(p, op, *out, b, l, c, out)))
            return rc;
    }
    return 0;
}

static int parse_eq(yp *p, uint32_t *out)
{
    int rc = parse_rel_level(p, out);
    if (rc)
        return rc;
    for (;;) {
        uint8_t op;
        switch (p->lx.tok) {
        case KH_T_EQ: op = KH_YO_EQ; break;
        case KH_T_NE: op = KH_YO_NE; break;
        case KH_T_CONTAINS: op = KH_YO_CONTAINS; break;
        case KH_T_ICONTAINS: op = KH_YO_ICONTAINS; break;
        case KH_T_STARTSWITH: op = KH_YO_STARTSWITH; break;
        case KH_T_ISTARTSWITH: op = KH_YO_ISTARTSWITH; break;
        case KH_T_ENDSWITH: op = KH_YO_ENDSWITH; break;
        case KH_T_IENDSWITH: op = KH_YO_IENDSWITH; break;
        case KH_T_IEQUALS: op = KH_YO_IEQUALS; break;
        case KH_T_MATCHES: op = KH_YO_MATCHES; break;
        default: return 0;
        }
        unsigned l = p->lx.tline, c = p->lx.tcol;
        if ((rc = next(p)))
            return rc;
        if (op == KH_YO_MATCHES) {
            if (p->lx.tok != KH_T_REGEX)
                return unexpected(p, "a regular expression");
            if (X(p, *out)->type != KH_YT_STR)
                return perr_at(p, l, c, "wrong type for \"matches\": string expected");
            int greedy;
            const char *emsg;
            size_t epos;
            uint32_t root;
            if (kh_yre_parse(p->yb->b, p->lx.text.data, p->lx.text.len, (unsigned)p->lx.ival, &root, &greedy, &emsg,
                             &epos))
                return perr(p, "invalid regular expression: %s", emsg);
            if ((rc = KH_VEC_RESERVE(p->yb->regexes, 1, 1u << 24)) ||
                (rc = KH_VEC_RESERVE(p->yb->b->pats, 1, UINT32_MAX)))
                return rc;
            kh_pat *pt = &p->yb->b->pats.v[p->yb->b->pats.n];
            memset(pt, 0, sizeof(*pt));
            pt->root = root;
            pt->sig = UINT32_MAX;
            pt->kind = KH_PK_YREGEX;
            kh_ir_lengths(p->yb->b->nodes.v, p->yb->b->kids.v, root, &pt->minlen, &pt->maxlen);
            p->yb->regexes.v[p->yb->regexes.n].pat = (uint32_t)p->yb->b->pats.n++;
            p->yb->regexes.v[p->yb->regexes.n].flags = (uint32_t)greedy;
            uint32_t idx = (uint32_t)p->yb->regexes.n++;
            if ((rc = next(p)))
                return rc;
            if ((rc = mk(p, KH_YO_MATCHES, KH_YT_BOOL, *out, idx, 0, out)))
                return rc;
            continue;
        }
        uint32_t b;
        if ((rc = parse_rel_level(p, &b)) || (rc = binop(p, op, *out, b, l, c, out)))
            return rc;
    }
}

static int parse_not(yp *p, uint32_t *out)
{
    int rc;
    if (p->lx.tok == KH_T_NOT || p->lx.tok == KH_T_DEFINED) {
        int tok = p->lx.tok;
        unsigned l = p->lx.tline, c = p->lx.tcol;
        uint32_t a;
        if ((rc = next(p)) || (rc = parse_not(p, &a)))
            return rc;
        if (tok == KH_T_NOT && (rc = to_bool(p, a, l, c)))
            return rc;
        return mk(p, tok == KH_T_NOT ? KH_YO_NOT : KH_YO_DEFINED, KH_YT_BOOL, a, 0, 0, out);
    }
    return parse_eq(p, out);
}

static int parse_and(yp *p, uint32_t *out)
{
    unsigned l = p->lx.tline, c = p->lx.tcol;
    int rc = parse_not(p, out);
    if (rc)
        return rc;
    if (p->lx.tok == KH_T_AND && (rc = to_bool(p, *out, l, c)))
        return rc;
    while (p->lx.tok == KH_T_AND) {
        uint32_t b;
        unsigned l2, c2;
        if ((rc = next(p)))
            return rc;
        l2 = p->lx.tline, c2 = p->lx.tcol;
        if ((rc = parse_not(p, &b)) || (rc = to_bool(p, b, l2, c2)) ||
            (rc = mk(p, KH_YO_AND, KH_YT_BOOL, *out, b, 0, out)))
            return rc;
    }
    return 0;
}

static int parse_expr(yp *p, uint32_t *out)
{
    unsigned l = p->lx.tline, c = p->lx.tcol;
    int rc = parse_and(p, out);
    if (rc)
        return rc;
    if (p->lx.tok == KH_T_OR && (rc = to_bool(p, *out, l, c)))
        return rc;
    while (p->lx.tok == KH_T_OR) {
        uint32_t b;
        unsigned l2, c2;
        if ((rc = next(p)))
            return rc;
        l2 = p->lx.tline, c2 = p->lx.tcol;
        if ((rc = parse_and(p, &b)) || (rc = to_bool(p, b, l2, c2)) ||
            (rc = mk(p, KH_YO_OR, KH_YT_BOOL, *out, b, 0, out)))
            return rc;
    }
    return 0;
}

/* ---- Rules ------------------------------------------------------------------------------------- */

static int parse_meta(yp *p, uint32_t *first, uint32_t *count)
{
    int rc;
    *first = (uint32_t)p->yb->metas.n;
    *count = 0;
    while (p->lx.tok == KH_T_IDENT) {
        kh_ymeta m;
        memset(&m, 0, sizeof(m));
        if ((rc = kh_irb_str(p->yb->b, p->lx.text.data, p->lx.text.len, &m.key)))
            return rc;
        if ((rc = next(p)) || (rc = expect(p, KH_T_ASSIGN, "'='")))
            return rc;
        int neg = 0;
        if (p->lx.tok == KH_T_MINUS) {
            neg = 1;
            if ((rc = next(p)))
                return rc;
            if (p->lx.tok != KH_T_INT)
                return unexpected(p, "an integer");
        }
        if (p->lx.tok == KH_T_TEXT) {
            uint32_t off;
            m.type = KH_YM_STR;
            if ((rc = bytes_add(p->yb, p->lx.text.data ? p->lx.text.data : "", p->lx.text.len, &off)))
                return rc;
            m.ival = (int64_t)((uint64_t)off << 32 | (uint32_t)p->lx.text.len);
        } else if (p->lx.tok == KH_T_INT) {
            m.type = KH_YM_INT;
            m.ival = neg ? -p->lx.ival : p->lx.ival;
        } else if (p->lx.tok == KH_T_TRUE || p->lx.tok == KH_T_FALSE) {
            m.type = KH_YM_BOOL;
            m.ival = p->lx.tok == KH_T_TRUE;
        } else {
            return unexpected(p, "a string, integer or boolean");
        }
        if ((rc = KH_VEC_RESERVE(p->yb->metas, 1, 1u << 26)))
            return rc;
        p->yb->metas.v[p->yb->metas.n++] = m;
        (*count)++;
        if ((rc = next(p)))
            return rc;
    }
    return 0;
}

/* Modifiers after a string value. */
static int parse_modifiers(yp *p, int kind, uint32_t *flags, unsigned *xmin, unsigned *xmax, char *alphabet,
                           int *has_alpha)
{
    int rc;
    *flags = 0;
    *xmin = *xmax = 0;
    *has_alpha = 0;
    for (;;) {
        uint32_t f;
        unsigned l = p->lx.tline, c = p->lx.tcol;
        switch (p->lx.tok) {
        case KH_T_ASCII: f = KH_YS_ASCII; break;
        case KH_T_WIDE: f = KH_YS_WIDE; break;
        case KH_T_NOCASE: f = KH_YS_NOCASE; break;
        case KH_T_FULLWORD: f = KH_YS_FULLWORD; break;
        case KH_T_PRIVATE: f = KH_YS_PRIVATE; break;
        case KH_T_XOR: f = KH_YS_XOR; break;
        case KH_T_BASE64: f = KH_YS_BASE64; break;
        case KH_T_BASE64WIDE: f = KH_YS_BASE64WIDE; break;
        default: return 0;
        }
        if (*flags & f)
            return perr(p, "duplicated modifier");
        int allowed = kind == 0 || f == KH_YS_PRIVATE ||
                      (kind == 2 && (f == KH_YS_ASCII || f == KH_YS_WIDE || f == KH_YS_NOCASE || f == KH_YS_FULLWORD));
        if (!allowed)
            return perr(p, "invalid modifier for %s string", kind == 1 ? "hex" : "regular expression");
        *flags |= f;
        if ((rc = next(p)))
            return rc;
        if (f == KH_YS_XOR) {
            *xmin = 0, *xmax = 255;
            if (p->lx.tok == KH_T_LPAREN) {
                if ((rc = next(p)))
                    return rc;
                if (p->lx.tok != KH_T_INT || p->lx.ival < 0 || p->lx.ival > 255)
                    return perr(p, "invalid xor range: values 0 to 255 expected");
                *xmin = *xmax = (unsigned)p->lx.ival;
                if ((rc = next(p)))
                    return rc;
                if (p->lx.tok == KH_T_MINUS) {
                    if ((rc = next(p)))
                        return rc;
                    if (p->lx.tok != KH_T_INT || p->lx.ival < 0 || p->lx.ival > 255)
                        return perr(p, "invalid xor range: values 0 to 255 expected");
                    *xmax = (unsigned)p->lx.ival;
                    if (*xmax < *xmin)
                        return perr(p, "invalid xor range: lower bound greater than upper bound");
                    if ((rc = next(p)))
                        return rc;
                }
                if ((rc = expect(p, KH_T_RPAREN, "')'")))
                    return rc;
            }
        } else if ((f == KH_YS_BASE64 || f == KH_YS_BASE64WIDE) && p->lx.tok == KH_T_LPAREN) {
            if ((rc = next(p)))
                return rc;
            if (p->lx.tok != KH_T_TEXT || p->lx.text.len != 64)
                return perr(p, "invalid base64 alphabet: 64 characters expected");
            char tmp[65];
            memcpy(tmp, p->lx.text.data, 64);
            tmp[64] = 0;
            if (*has_alpha && memcmp(alphabet, tmp, 64) != 0)
                return perr(p, "invalid modifier combination: base64 and base64wide with different alphabets");
            memcpy(alphabet, tmp, 65);
            *has_alpha = 1;
            if ((rc = next(p)) || (rc = expect(p, KH_T_RPAREN, "')'")))
                return rc;
        }
        KH_UNUSED(l);
        KH_UNUSED(c);
    }
}

static int check_combination(yp *p, uint32_t f, unsigned l, unsigned c)
{
    const char *bad = NULL;
    if ((f & KH_YS_XOR) && (f & KH_YS_NOCASE))
        bad = "xor nocase";
    else if ((f & (KH_YS_BASE64 | KH_YS_BASE64WIDE)) && (f & KH_YS_NOCASE))
        bad = "base64 nocase";
    else if ((f & (KH_YS_BASE64 | KH_YS_BASE64WIDE)) && (f & KH_YS_XOR))
        bad = "base64 xor";
    else if ((f & (KH_YS_BASE64 | KH_YS_BASE64WIDE)) && (f & KH_YS_FULLWORD))
        bad = "base64 fullword";
    if (bad)
        return perr_at(p, l, c, "invalid modifier combination: %s", bad);
    return 0;
}

/* A regex with `.*`, `.+` or `.{n,}` in its top-level sequence (a repeat
 * without upper bound of `.`): yara warns about those, and looks no deeper
 * than the top-level sequence either. */
static int has_unbounded_dot(const kh_irb *b, uint32_t idx, unsigned depth)
{
    const kh_node *n = &b->nodes.v[idx];
    if (depth > 200)
        return 0;
    if (n->op == KH_OP_REPEAT && n->c == KH_INF && b->nodes.v[n->a].op == KH_OP_CLASS) {
        const uint8_t *bits = (const uint8_t *)b->bytes.data + b->nodes.v[n->a].a;
        unsigned cnt = 0;
        for (int v = 0; v < 256; v++)
            cnt += (bits[v >> 3] >> (v & 7)) & 1;
        if (cnt == 256 || (cnt == 255 && !((bits['\n' >> 3] >> ('\n' & 7)) & 1)))
            return 1;
    }
    if (n->op == KH_OP_SEQ || (n->op == KH_OP_ALT && n->b == 1))
        for (uint32_t i = 0; i < n->b; i++)
            if (has_unbounded_dot(b, b->kids.v[n->a + i], depth + 1))
                return 1;
    return 0;
}

/* Line and column of byte `pos` of a hex string's or regex's body, whose
 * token starts at `start` ('{' or '/'): the body skips comments (hex) and
 * keeps only the slash of an escaped slash (regex), as the lexer does. */
static void value_pos(const yp *p, size_t start, int kind, size_t pos, unsigned *line, unsigned *col)
{
    const char *s = p->lx.src;
    size_t n = p->lx.len, i = start + 1, k = 0;
    unsigned l = *line, c = *col + 1;
    while (i < n && k < pos) {
        size_t adv = 1, take = 1;
        if (kind == 1 && s[i] == '/' && i + 1 < n && (s[i + 1] == '/' || s[i + 1] == '*')) {
            const char *end = s[i + 1] == '/' ? memchr(s + i, '\n', n - i) : NULL;
            if (s[i + 1] == '*') {
                size_t j = i + 2;
                while (j + 1 < n && !(s[j] == '*' && s[j + 1] == '/'))
                    j++;
                adv = (j + 2 <= n ? j + 2 : n) - i;
            } else {
                adv = (end ? (size_t)(end - s) : n) - i;
            }
            take = 0;
        } else if (kind == 2 && s[i] == '\\' && i + 1 < n && s[i + 1] == '/') {
            adv = 2;
        }
        for (size_t j = 0; j < adv && i < n; j++, i++) {
            if (s[i] == '\n')
                l++, c = 1;
            else
                c++;
        }
        k += take;
    }
    *line = l;
    *col = c;
}

static int parse_strings(yp *p)
{
    int rc;
    while (p->lx.tok == KH_T_STRID) {
        unsigned l = p->lx.tline, c = p->lx.tcol;
        char id[140];
        snprintf(id, sizeof(id), "%s", p->lx.text.data);
        if (id[strlen(id) - 1] == '*')
            return perr(p, "syntax error, unexpected string wildcard in a definition");
        if (strcmp(id, "$") != 0)
            for (uint32_t i = 0; i < p->nstr; i++)
                if (strcmp(p->yb->b->strs.data + p->yb->ystrs.v[p->str0 + i].name, id) == 0)
                    return perr_at(p, l, c, "duplicated string identifier \"%s\"", id);
        if (p->nstr >= KH_Y_MAX_STRINGS_PER_RULE)
            return perr_at(p, l, c, "too many strings in one rule");
        if ((rc = next(p)))
            return rc;
        if (p->lx.tok != KH_T_ASSIGN)
            return unexpected(p, "'='");
        if ((rc = next_value(p)))
            return rc;
        int kind = p->lx.tok == KH_T_TEXT ? 0 : p->lx.tok == KH_T_HEX ? 1 : p->lx.tok == KH_T_REGEX ? 2 : -1;
        if (kind < 0)
            return unexpected(p, "a text string, hex string or regular expression");
        unsigned vl = p->lx.tline, vc = p->lx.tcol;
        size_t vstart = p->lx.tstart;
        kh_buf val = KH_BUF_INIT(0);
        if ((rc = kh_buf_append(&val, p->lx.text.data ? p->lx.text.data : "", p->lx.text.len)))
            return rc;
        unsigned reflags = (unsigned)p->lx.ival;
        uint32_t flags;
        unsigned xmin, xmax;
        char alphabet[65] = {0};
        int has_alpha;
        if ((rc = next(p)) || (rc = parse_modifiers(p, kind, &flags, &xmin, &xmax, alphabet, &has_alpha)) ||
            (rc = check_combination(p, flags, vl, vc))) {
            kh_buf_dispose(&val);
            return rc;
        }
        uint32_t root = 0;
        const char *emsg = NULL;
        size_t epos = SIZE_MAX;
        int greedy = 0, quality = KH_YAQ_NONE, dotstar = 0;
        if (kind == 0) {
            if (val.len == 0) {
                kh_buf_dispose(&val);
                return perr_at(p, l, c, "empty string \"%s\"", id);
            }
            flags |= KH_YS_TEXT;
            rc = kh_ytext_lower(p->yb->b, (const uint8_t *)val.data, val.len, flags, xmin, xmax,
                                has_alpha ? alphabet : NULL, &root, &emsg);
            if (!rc && (flags & (KH_YS_BASE64 | KH_YS_BASE64WIDE)))
                quality = kh_yatoms_quality_tree(p->yb->b, root);
            else if (!rc)
                quality = kh_yatoms_quality_text((const uint8_t *)val.data, val.len,
                                                 flags | ((flags & (KH_YS_ASCII | KH_YS_WIDE)) ? 0 : KH_YS_ASCII),
                                                 xmin, xmax);
        } else if (kind == 1) {
            flags |= KH_YS_HEX;
            rc = kh_yhex_parse(p->yb->b, val.data ? val.data : "", val.len, &root, &emsg, &epos);
            if (!rc)
                quality = kh_yatoms_quality_tree(p->yb->b, root);
        } else {
            flags |= KH_YS_REGEX | (reflags & 1 ? KH_YS_ICASE_RE : 0) | (reflags & 2 ? KH_YS_DOTALL : 0);
            /* 4: greedy and lazy quantifiers cannot be mixed (strings only, as yara) */
            unsigned rf = reflags | ((flags & KH_YS_NOCASE) ? 1u : 0u) | 4u;
            rc = kh_yre_parse(p->yb->b, val.data ? val.data : "", val.len, rf, &root, &greedy, &emsg, &epos);
            if (!rc) {
                quality = kh_yatoms_quality_tree(p->yb->b, root);
                dotstar = has_unbounded_dot(p->yb->b, root, 0);
            }
            if (!rc && (flags & KH_YS_WIDE))
                rc = kh_ytree_widen(p->yb->b, root, flags, &root);
            if (greedy)
                flags |= KH_YS_GREEDY;
        }
        kh_buf_dispose(&val);
        if (rc == KH_ESYNTAX || (rc && emsg)) {
            unsigned el = vl, ec = vc;
            if (kind != 0 && epos != SIZE_MAX)
                value_pos(p, vstart, kind, epos, &el, &ec);
            return perr_at(p, el, ec, "invalid %s \"%s\": %s",
                           kind == 0 ? "string" : kind == 1 ? "hex string" : "regular expression", id,
                           emsg ? emsg : "syntax error");
        }
        if (rc)
            return rc;
        if (dotstar)
            pwarn(p, l, c, "%s contains .*, .+ or .{x,} consider using .{,N}, .{1,N} or {x,N} with a reasonable "
                  "value for N", id);
        if (quality < KH_YAQ_WARN)
            pwarn(p, l, c, "string \"%s\" may slow down scanning", id);
        if (!(flags & (KH_YS_ASCII | KH_YS_WIDE)) && kind != 1)
            flags |= KH_YS_ASCII;
        if ((flags & KH_YS_FULLWORD) && (rc = kh_ytree_fullword(p->yb->b, root, flags, &root)))
            return rc;
        kh_ystr s;
        memset(&s, 0, sizeof(s));
        if ((rc = kh_irb_str(p->yb->b, id, strlen(id), &s.name)))
            return rc;
        s.rule = p->rule;
        s.flags = flags;
        s.line = l;
        s.xmin = (uint8_t)xmin;
        s.xmax = (uint8_t)xmax;
        if ((rc = KH_VEC_RESERVE(p->yb->b->pats, 1, UINT32_MAX)) || (rc = KH_VEC_RESERVE(p->yb->ystrs, 1, 1u << 26)))
            return rc;
        kh_pat *pt = &p->yb->b->pats.v[p->yb->b->pats.n];
        memset(pt, 0, sizeof(*pt));
        pt->root = root;
        pt->sig = (uint32_t)p->yb->ystrs.n;
        pt->kind = KH_PK_YSTRING;
        kh_ir_lengths(p->yb->b->nodes.v, p->yb->b->kids.v, root, &pt->minlen, &pt->maxlen);
        /* A regex that can match the empty string is accepted, as yara does;
         * empty matches are never reported (exec.c). */
        s.pat = (uint32_t)p->yb->b->pats.n++;
        p->yb->ystrs.v[p->yb->ystrs.n++] = s;
        p->nstr++;
        uint8_t *u = realloc(p->used, p->nstr);
        if (!u)
            return KH_ENOMEM;
        p->used = u;
        p->used[p->nstr - 1] = 0;
        int64_t *fx = realloc(p->fix, p->nstr * sizeof(int64_t));
        if (!fx)
            return KH_ENOMEM;
        p->fix = fx;
        p->fix[p->nstr - 1] = FIX_UNSET;
        unsigned *sc = realloc(p->scol, p->nstr * sizeof(unsigned));
        if (!sc)
            return KH_ENOMEM;
        p->scol = sc;
        p->scol[p->nstr - 1] = c;
    }
    if (p->nstr == 0)
        return unexpected(p, "a string identifier");
    return 0;
}

static int parse_rule(yp *p, uint32_t rflags)
{
    int rc;
    unsigned rline = p->lx.tline;
    if ((rc = next(p)))
        return rc;
    if (p->lx.tok != KH_T_IDENT)
        return unexpected(p, "an identifier");
    char name[140];
    snprintf(name, sizeof(name), "%s", p->lx.text.data);
    if (rmap_find(p->yb, p->ns, name) != UINT32_MAX)
        return perr(p, "duplicated identifier \"%s\"", name);
    for (size_t i = 0; i < p->yb->exts.n; i++)
        if (strcmp(p->yb->b->strs.data + p->yb->exts.v[i].name, name) == 0)
            return perr(p, "duplicated identifier \"%s\" (an external variable has that name)", name);
    if (p->yb->rules.n >= KH_Y_MAX_RULES)
        return perr(p, "too many rules");
    kh_yrule r;
    memset(&r, 0, sizeof(r));
    r.flags = rflags;
    r.ns = p->yb->nss.v[p->ns].name;
    r.file = p->file_off;
    r.line = rline;
    if ((rc = kh_irb_str(p->yb->b, name, strlen(name), &r.name)) || (rc = KH_VEC_RESERVE(p->yb->rules, 1, 0)))
        return rc;
    p->rule = (uint32_t)p->yb->rules.n;
    p->yb->rules.v[p->yb->rules.n++] = r;
    p->str0 = (uint32_t)p->yb->ystrs.n;
    p->nstr = 0;
    p->nvars = 0;
    p->edepth = 0;
    if ((rc = next(p)))
        return rc;
    /* tags */
    KH_VEC(uint32_t) tags = {0};
    if (p->lx.tok == KH_T_COLON) {
        if ((rc = next(p)))
            return rc;
        if (p->lx.tok != KH_T_IDENT)
            return unexpected(p, "a tag");
        while (p->lx.tok == KH_T_IDENT) {
            for (size_t i = 0; i < tags.n; i++)
                if (strcmp(p->yb->b->strs.data + tags.v[i], p->lx.text.data) == 0) {
                    KH_VEC_FREE(tags);
                    return perr(p, "duplicated tag identifier \"%s\"", p->lx.text.data);
                }
            uint32_t off;
            if ((rc = kh_irb_str(p->yb->b, p->lx.text.data, p->lx.text.len, &off)) ||
                (rc = KH_VEC_RESERVE(tags, 1, 0))) {
                KH_VEC_FREE(tags);
                return rc;
            }
            tags.v[tags.n++] = off;
            if ((rc = next(p))) {
                KH_VEC_FREE(tags);
                return rc;
            }
        }
    }
    uint32_t toff = 0;
    rc = list_add(p, tags.v, tags.n, &toff);
    uint32_t ntags = (uint32_t)tags.n;
    KH_VEC_FREE(tags);
    if (rc || (rc = expect(p, KH_T_LBRACE, "'{'")))
        return rc;
    uint32_t mfirst = 0, mcount = 0;
    if (p->lx.tok == KH_T_META) {
        if ((rc = next(p)) || (rc = expect(p, KH_T_COLON, "':'")) || (rc = parse_meta(p, &mfirst, &mcount)))
            return rc;
    }
    if (p->lx.tok == KH_T_STRINGS) {
        if ((rc = next(p)) || (rc = expect(p, KH_T_COLON, "':'")) || (rc = parse_strings(p)))
            return rc;
    }
    if (p->lx.tok != KH_T_CONDITION)
        return unexpected(p, "\"condition\"");
    if ((rc = next(p)) || (rc = expect(p, KH_T_COLON, "':'")))
        return rc;
    unsigned cl = p->lx.tline, cc = p->lx.tcol;
    uint32_t cond;
    if ((rc = parse_expr(p, &cond)) || (rc = to_bool(p, cond, cl, cc)))
        return rc;
    if (p->lx.tok != KH_T_RBRACE)
        return unexpected(p, "'}'");
    for (uint32_t i = 0; i < p->nstr; i++)
        if (!p->used[i])
            return perr_at(p, p->yb->ystrs.v[p->str0 + i].line, p->scol[i], "unreferenced string \"%s\"",
                           p->yb->b->strs.data + p->yb->ystrs.v[p->str0 + i].name);
    for (uint32_t i = 0; i < p->nstr; i++)
        if (p->fix[i] != FIX_UNSET && p->fix[i] != FIX_NONE) {
            p->yb->ystrs.v[p->str0 + i].fixed = 1;
            p->yb->ystrs.v[p->str0 + i].fixed_offset = p->fix[i];
        }
    kh_yrule *rr = &p->yb->rules.v[p->rule];
    rr->tags = toff;
    rr->ntags = ntags;
    rr->meta = mfirst;
    rr->nmeta = mcount;
    rr->str = p->str0;
    rr->nstr = p->nstr;
    rr->cond = cond;
    p->yb->modules_used |= rr->modules;
    if ((rc = rmap_add(p->yb, p->ns, p->rule)))
        return rc;
    return next(p);
}

/* ---- Files ---------------------------------------------------------------------------------- */

static int find_ns(kh_ybuild *yb, const char *ns, uint32_t *out)
{
    for (uint32_t i = 0; i < yb->nss.n; i++)
        if (strcmp(yb->b->strs.data + yb->nss.v[i].name, ns) == 0) {
            *out = i;
            return 0;
        }
    int rc = KH_VEC_RESERVE(yb->nss, 1, 1u << 16);
    kh_yns n = {0, 0};
    if (!rc)
        rc = kh_irb_str(yb->b, ns, strlen(ns), &n.name);
    if (rc)
        return rc;
    *out = (uint32_t)yb->nss.n;
    yb->nss.v[yb->nss.n++] = n;
    return 0;
}

static int parse_file(kh_ybuild *yb, uint32_t ns, const char *file, const char *text, size_t len, unsigned depth);

static int parse_source(yp *p)
{
    int rc;
    if ((rc = next(p)))
        return rc;
    while (p->lx.tok != KH_T_EOF) {
        if (p->lx.tok == KH_T_IMPORT) {
            if ((rc = next(p)))
                return rc;
            if (p->lx.tok != KH_T_TEXT)
                return unexpected(p, "a module name");
            int m = kh_ymodule_find(p->lx.text.data);
            if (m < 0)
                return perr(p, "unknown module \"%s\"", p->lx.text.data);
            p->yb->nss.v[p->ns].modules |= 1u << m;
            if ((rc = next(p)))
                return rc;
        } else if (p->lx.tok == KH_T_INCLUDE) {
            if ((rc = next(p)))
                return rc;
            if (p->lx.tok != KH_T_TEXT)
                return unexpected(p, "a file name");
            if (p->depth + 1 >= KH_Y_MAX_INCLUDE_DEPTH)
                return perr(p, "includes nested too deeply (circular include?)");
            if (!p->yb->include)
                return perr(p, "includes are not allowed here");
            char *text = NULL, *path = NULL;
            size_t tlen = 0;
            int irc = p->yb->include(p->yb->ud, p->file, p->lx.text.data, &text, &tlen, &path);
            if (irc) {
                rc = perr(p, "can't open include file: %s (%s)", p->lx.text.data, kh_strerror(irc));
                free(text);
                free(path);
                return rc;
            }
            rc = parse_file(p->yb, p->ns, path, text, tlen, p->depth + 1);
            free(text);
            free(path);
            if (rc || (rc = next(p)))
                return rc;
        } else if (p->lx.tok == KH_T_RULE || p->lx.tok == KH_T_PRIVATE || p->lx.tok == KH_T_GLOBAL) {
            uint32_t f = 0;
            while (p->lx.tok == KH_T_PRIVATE || p->lx.tok == KH_T_GLOBAL) {
                f |= p->lx.tok == KH_T_PRIVATE ? KH_YRF_PRIVATE : KH_YRF_GLOBAL; /* repeated: accepted, as yara */
                if ((rc = next(p)))
                    return rc;
            }
            if (p->lx.tok != KH_T_RULE)
                return unexpected(p, "\"rule\"");
            if ((rc = parse_rule(p, f)))
                return rc;
        } else {
            return unexpected(p, "\"rule\", \"import\" or \"include\"");
        }
    }
    return 0;
}

static int parse_file(kh_ybuild *yb, uint32_t ns, const char *file, const char *text, size_t len, unsigned depth)
{
    yp p;
    memset(&p, 0, sizeof(p));
    p.yb = yb;
    p.file = file;
    p.ns = ns;
    p.depth = depth;
    int rc = kh_irb_str(yb->b, file, strlen(file), &p.file_off);
    if (rc)
        return rc;
    kh_ylex_init(&p.lx, text, len);
    rc = parse_source(&p);
    kh_ylex_dispose(&p.lx);
    free(p.used);
    free(p.fix);
    free(p.scol);
    return rc;
}

int kh_yara_parse(kh_ybuild *yb, const char *ns, const char *file, const char *text, size_t len)
{
    uint32_t nsi;
    int rc = find_ns(yb, ns ? ns : "default", &nsi);
    if (rc)
        return rc;
    return parse_file(yb, nsi, file, text, len, 0);
}
