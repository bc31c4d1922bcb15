/* Khiên — audit: the regular-expression dialects of SCA policies.
 *
 * Wazuh policies match text with OS_Regex, OSSEC's small regex language:
 * backslash classes (\w letters, digits and -@_; \d digits; \s spaces; \t
 * tab; \p punctuation; \W \D \S their complements; \. any character), the
 * modifiers + and * on one atom, ^ and $ anchors, | between whole
 * alternatives and ( ) capture groups (no alternation or modifier on a
 * group). Matching is case-insensitive. Everything else is a literal
 * character. File names in d: rules may use OS_Match instead: literal text,
 * ^ and $, | and a leading ! that negates. Newer policies may say
 * `regex_type: pcre2`; we run the part of PCRE2 that translates to POSIX
 * extended regular expressions (classes, anchors, groups, bounds, lazy
 * quantifiers read as greedy ones) and report the rest (look-around,
 * possessive quantifiers, \x escapes ...) as unsupported, so that the rule
 * is not applicable instead of silently wrong.
 *
 * The OS_Regex matcher simulates the pattern as an automaton (a Pike VM:
 * one pass over the line, the threads in backtracking priority order), so a
 * line is matched in O(atoms x length) time whatever the pattern: a hostile
 * policy cannot make it run away. One
 * difference from OSSEC, on purpose: \s also matches tab, CR, VT and FF
 * (policies written with \s*\t* behave the same).
 *
 * Deliberately not here: Vectorscan. Policies hold a few hundred small
 * patterns matched against short configuration lines.
 */
#include <ctype.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit_int.h"

enum { A_LIT = 0, A_CLASS, A_ANY, A_GOPEN, A_GCLOSE };
enum { C_W = 0, C_D, C_S, C_P, C_NW, C_ND, C_NS, C_T };

typedef struct re_atom {
    unsigned char type, quant; /* quant: 0, '+', '*' */
    unsigned char ch, cls;
} re_atom;

typedef struct re_alt {
    re_atom *a;
    size_t n;
    int bol, eol;
    int cap_open, cap_close; /* atom index of the first group, -1 if none */
    int negate;              /* OS_Match ! */
    const char *text;        /* OS_Match literal text (lowercase), its length */
    size_t textlen;
} re_alt;

struct kh_re {
    kh_re_dialect d;
    re_alt *alts;
    size_t nalts;
    int negate; /* OS_Match: leading ! */
    int has_cap;
    /* PCRE2 via POSIX */
    regex_t posix;
    int posix_ok;
    int posix_group; /* POSIX group index of the first capture, 0 if none */
};

/* ---- character classes ------------------------------------------------ */

static int is_w(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '@' || c == '_';
}

static int is_s(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static int is_p(unsigned char c)
{
    return c && strchr("()*+,-.:;<=>?[]!\"'#$%&|{}", c) != NULL;
}

static int class_has(unsigned cls, unsigned char c)
{
    switch (cls) {
    case C_W:
        return is_w(c);
    case C_D:
        return c >= '0' && c <= '9';
    case C_S:
        return is_s(c);
    case C_P:
        return is_p(c);
    case C_NW:
        return !is_w(c);
    case C_ND:
        return !(c >= '0' && c <= '9');
    case C_NS:
        return !is_s(c);
    case C_T:
        return c == '\t';
    }
    return 0;
}

static int atom_has(const re_atom *a, unsigned char c)
{
    switch (a->type) {
    case A_LIT:
        return tolower(c) == a->ch;
    case A_CLASS:
        return class_has(a->cls, c);
    case A_ANY:
        return 1;
    }
    return 0;
}

/* ---- OS_Regex --------------------------------------------------------- */

static int class_of(char e)
{
    switch (e) {
    case 'w':
        return C_W;
    case 'd':
        return C_D;
    case 's':
        return C_S;
    case 'p':
        return C_P;
    case 'W':
        return C_NW;
    case 'D':
        return C_ND;
    case 'S':
        return C_NS;
    case 't':
        return C_T;
    }
    return -1;
}

static int compile_alt(re_alt *alt, kh_arena *ar, const char *p, size_t len, char *err, size_t errlen)
{
    alt->a = kh_arena_alloc(ar, (len + 1) * sizeof(re_atom));
    if (!alt->a)
        return KH_ENOMEM;
    alt->cap_open = alt->cap_close = -1;
    size_t i = 0;
    int open = -1;
    if (len && p[0] == '^') {
        alt->bol = 1;
        i = 1;
    }
    size_t end = len;
    if (end > i && p[end - 1] == '$' && !(end >= 2 && p[end - 2] == '\\' && (end < 3 || p[end - 3] != '\\'))) {
        alt->eol = 1;
        end--;
    }
    for (; i < end; i++) {
        re_atom *a = &alt->a[alt->n];
        memset(a, 0, sizeof(*a));
        char c = p[i];
        if (c == '\\') {
            if (i + 1 >= end) {
                snprintf(err, errlen, "dấu \\ ở cuối biểu thức / trailing backslash");
                return KH_ESYNTAX;
            }
            char e = p[++i];
            int cls = class_of(e);
            if (e == '.') {
                a->type = A_ANY;
            } else if (cls >= 0) {
                a->type = A_CLASS;
                a->cls = (unsigned char)cls;
            } else {
                a->type = A_LIT;
                a->ch = (unsigned char)tolower((unsigned char)e);
            }
        } else if (c == '(') {
            if (open >= 0) {
                snprintf(err, errlen, "nhóm lồng nhau không được hỗ trợ / nested groups are not supported");
                return KH_ESYNTAX;
            }
            a->type = A_GOPEN;
            open = (int)alt->n;
        } else if (c == ')') {
            if (open < 0) {
                snprintf(err, errlen, "dấu ')' không có '(' / unbalanced ')'");
                return KH_ESYNTAX;
            }
            a->type = A_GCLOSE;
            if (alt->cap_open < 0) {
                alt->cap_open = open;
                alt->cap_close = (int)alt->n;
            }
            open = -1;
        } else if ((c == '+' || c == '*') && alt->n > 0 && alt->a[alt->n - 1].type <= A_ANY &&
                   alt->a[alt->n - 1].quant == 0 && !(alt->n > 1 && alt->a[alt->n - 2].quant == '+')) {
            if (c == '*') {
                alt->a[alt->n - 1].quant = '*';
                continue;
            }
            /* X+ is X X* (the first copy marked so a second modifier is literal) */
            *a = alt->a[alt->n - 1];
            a->quant = '*';
            alt->a[alt->n - 1].quant = '+';
        } else {
            a->type = A_LIT;
            a->ch = (unsigned char)tolower((unsigned char)c);
        }
        alt->n++;
    }
    if (open >= 0) {
        snprintf(err, errlen, "thiếu dấu ')' / missing ')'");
        return KH_ESYNTAX;
    }
    return 0;
}

/* Pike-VM simulation of one alternative: every thread is an atom index
 * plus the span of the first group; threads are kept in priority order
 * (greedy before lazy, earlier start before later), so the first thread to
 * reach the end is the match a backtracking matcher would have found. One
 * pass over the line, O(atoms) work per character. */
typedef struct thr {
    int pc;
    long cs, ce;
} thr;

typedef struct vm {
    const re_alt *alt;
    thr *list[2];
    int count[2];
    uint32_t *mark[2];
    uint32_t gen[2];
} vm;

static void addthr(vm *v, int l, int pc, long cs, long ce, long pos)
{
    const re_alt *alt = v->alt;
    for (;;) {
        if (v->mark[l][pc] == v->gen[l])
            return;
        v->mark[l][pc] = v->gen[l];
        if ((size_t)pc == alt->n) {
            v->list[l][v->count[l]++] = (thr){pc, cs, ce};
            return;
        }
        const re_atom *a = &alt->a[pc];
        if (a->type == A_GOPEN || a->type == A_GCLOSE) {
            if (pc == alt->cap_open)
                cs = pos;
            else if (pc == alt->cap_close)
                ce = pos;
            pc++;
            continue;
        }
        v->list[l][v->count[l]++] = (thr){pc, cs, ce}; /* consume this atom (first: greedy) */
        if (a->quant != '*')
            return;
        pc++; /* or skip it */
    }
}

static int match_alt(const re_alt *alt, const char *s, size_t n, long *cap_off, long *cap_len)
{
    size_t m = alt->n + 1;
    thr small_t[2][64];
    uint32_t small_m[2][64];
    vm v;
    memset(&v, 0, sizeof(v));
    v.alt = alt;
    void *heap = NULL;
    if (m <= 64) {
        v.list[0] = small_t[0];
        v.list[1] = small_t[1];
        v.mark[0] = small_m[0];
        v.mark[1] = small_m[1];
    } else {
        heap = calloc(1, 2 * m * (sizeof(thr) + sizeof(uint32_t)));
        if (!heap)
            return 0;
        v.list[0] = heap;
        v.list[1] = v.list[0] + m;
        v.mark[0] = (uint32_t *)(v.list[1] + m);
        v.mark[1] = v.mark[0] + m;
    }
    memset(v.mark[0], 0, m * sizeof(uint32_t));
    memset(v.mark[1], 0, m * sizeof(uint32_t));
    int want_cap = cap_off != NULL && alt->cap_open >= 0;
    int found = 0, cur = 0;
    thr match = {0, -1, -1};
    v.gen[cur] = 1;
    for (size_t pos = 0;; pos++) {
        if (!found && (pos == 0 || !alt->bol))
            addthr(&v, cur, 0, -1, -1, (long)pos); /* a new start, lowest priority */
        if (v.count[cur] == 0)
            break;
        int nxt = cur ^ 1;
        v.gen[nxt]++;
        v.count[nxt] = 0;
        for (int i = 0; i < v.count[cur]; i++) {
            thr t = v.list[cur][i];
            if ((size_t)t.pc == alt->n) {
                if (alt->eol && pos != n)
                    continue;
                found = 1;
                match = t;
                break; /* lower-priority threads lose */
            }
            if (pos < n && atom_has(&alt->a[t.pc], (unsigned char)s[pos]))
                addthr(&v, nxt, alt->a[t.pc].quant == '*' ? t.pc : t.pc + 1, t.cs, t.ce, (long)pos + 1);
        }
        if (found && !want_cap)
            break;
        if (pos >= n) {
            cur = nxt;
            /* threads still alive can only finish at n: one more round */
            for (int i = 0; i < v.count[cur] && !found; i++) {
                thr t = v.list[cur][i];
                if ((size_t)t.pc == alt->n) {
                    found = 1;
                    match = t;
                }
            }
            break;
        }
        cur = nxt;
    }
    free(heap);
    if (found && want_cap && match.cs >= 0 && match.ce >= match.cs) {
        *cap_off = match.cs;
        *cap_len = match.ce - match.cs;
    }
    return found;
}

/* ---- OS_Match ---------------------------------------------------------- */

static int osmatch_alt(const re_alt *alt, const char *s, size_t n)
{
    const char *t = alt->text;
    size_t tl = alt->textlen;
    if (tl > n)
        return 0;
    for (size_t start = 0; start + tl <= n; start++) {
        if (alt->bol && start > 0)
            break;
        if (alt->eol && start + tl != n)
            continue;
        size_t k = 0;
        while (k < tl && tolower((unsigned char)s[start + k]) == (unsigned char)t[k])
            k++;
        if (k == tl)
            return 1;
    }
    return 0;
}

/* ---- PCRE2 -> POSIX ERE -------------------------------------------------- */

static int pcre_to_ere(const char *p, kh_buf *o, int *icase, int *first_cap, char *err, size_t errlen)
{
    int posix_groups = 0, captures = 0;
    *first_cap = 0;
    if (strncmp(p, "(?i)", 4) == 0) {
        *icase = 1;
        p += 4;
    }
    for (size_t i = 0; p[i]; i++) {
        char c = p[i];
        if (c == '\\') {
            char e = p[i + 1];
            if (!e) {
                snprintf(err, errlen, "dấu \\ ở cuối biểu thức / trailing backslash");
                return KH_ESYNTAX;
            }
            i++;
            switch (e) {
            case 'd': kh_buf_puts(o, "[0-9]"); break;
            case 'D': kh_buf_puts(o, "[^0-9]"); break;
            case 's': kh_buf_puts(o, "[[:space:]]"); break;
            case 'S': kh_buf_puts(o, "[^[:space:]]"); break;
            case 'w': kh_buf_puts(o, "[[:alnum:]_]"); break;
            case 'W': kh_buf_puts(o, "[^[:alnum:]_]"); break;
            case 't': kh_buf_putc(o, '\t'); break;
            case 'n': kh_buf_putc(o, '\n'); break;
            case 'r': kh_buf_putc(o, '\r'); break;
            case 'b': case 'B': case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9':
                kh_buf_putc(o, '\\');
                kh_buf_putc(o, e);
                break;
            default:
                if (isalnum((unsigned char)e)) {
                    snprintf(err, errlen, "\\%c (PCRE2) chưa được hỗ trợ / \\%c is not supported", e, e);
                    return KH_EUNSUPPORTED;
                }
                if (strchr(".[]{}()*+?|^$\\", e))
                    kh_buf_putc(o, '\\');
                kh_buf_putc(o, e);
            }
        } else if (c == '[') {
            /* a bracket expression: rebuild it for POSIX */
            size_t j = i + 1;
            int neg = 0, rbr = 0, dash = 0;
            kh_buf body = KH_BUF_INIT(4096);
            if (p[j] == '^') {
                neg = 1;
                j++;
            }
            if (p[j] == ']') {
                rbr = 1;
                j++;
            }
            for (; p[j] && p[j] != ']'; j++) {
                if (p[j] == '\\' && p[j + 1]) {
                    char e = p[++j];
                    if (e == 'd') kh_buf_puts(&body, "0-9");
                    else if (e == 's') kh_buf_puts(&body, "[:space:]");
                    else if (e == 'w') kh_buf_puts(&body, "[:alnum:]_");
                    else if (e == 't') kh_buf_putc(&body, '\t');
                    else if (e == ']') rbr = 1;
                    else if (e == '-') dash = 1;
                    else if (e == '\\') kh_buf_putc(&body, '\\');
                    else if (isalnum((unsigned char)e)) {
                        kh_buf_dispose(&body);
                        snprintf(err, errlen, "[\\%c] (PCRE2) chưa được hỗ trợ / is not supported", e);
                        return KH_EUNSUPPORTED;
                    } else
                        kh_buf_putc(&body, e);
                } else if (p[j] == '[' && p[j + 1] == ':') {
                    const char *close = strstr(p + j, ":]");
                    if (!close) {
                        kh_buf_dispose(&body);
                        snprintf(err, errlen, "lớp ký tự không đóng / unterminated character class");
                        return KH_ESYNTAX;
                    }
                    kh_buf_append(&body, p + j, (size_t)(close + 2 - (p + j)));
                    j = (size_t)(close + 1 - p);
                } else if (p[j] == '-' && (body.len == 0 || p[j + 1] == ']')) {
                    dash = 1;
                } else {
                    kh_buf_putc(&body, p[j]);
                }
            }
            if (p[j] != ']') {
                kh_buf_dispose(&body);
                snprintf(err, errlen, "thiếu dấu ']' / missing ']'");
                return KH_ESYNTAX;
            }
            kh_buf_putc(o, '[');
            if (neg)
                kh_buf_putc(o, '^');
            if (rbr)
                kh_buf_putc(o, ']');
            if (body.len)
                kh_buf_append(o, body.data, body.len);
            if (dash)
                kh_buf_putc(o, '-');
            kh_buf_putc(o, ']');
            kh_buf_dispose(&body);
            i = j;
        } else if (c == '(') {
            posix_groups++;
            if (p[i + 1] == '?') {
                if (p[i + 2] == ':') {
                    i += 2; /* non-capturing: a POSIX group that is not the capture */
                } else if (p[i + 2] == '<' && p[i + 3] != '=' && p[i + 3] != '!') {
                    const char *gt = strchr(p + i, '>');
                    if (!gt) {
                        snprintf(err, errlen, "tên nhóm không đóng / unterminated group name");
                        return KH_ESYNTAX;
                    }
                    i = (size_t)(gt - p);
                    if (++captures == 1)
                        *first_cap = posix_groups;
                } else {
                    snprintf(err, errlen, "nhóm (?...) (PCRE2) chưa được hỗ trợ / (?...) groups are not supported");
                    return KH_EUNSUPPORTED;
                }
            } else if (++captures == 1) {
                *first_cap = posix_groups;
            }
            kh_buf_putc(o, '(');
        } else if ((c == '*' || c == '+' || c == '?' || c == '}') && p[i + 1] == '+') {
            snprintf(err, errlen, "lượng từ sở hữu (PCRE2) chưa được hỗ trợ / possessive quantifiers are not supported");
            return KH_EUNSUPPORTED;
        } else if ((c == '*' || c == '+' || c == '?' || c == '}') && p[i + 1] == '?') {
            kh_buf_putc(o, c); /* lazy: same set of matching lines */
            i++;
        } else {
            kh_buf_putc(o, c);
        }
    }
    return 0;
}

/* ---- public (internal) API ---------------------------------------------- */

int kh_re_compile(kh_re **out, kh_arena *ar, kh_re_dialect d, const char *pattern, char *err, size_t errlen)
{
    kh_re *re = kh_arena_alloc(ar, sizeof(*re));
    if (!re)
        return KH_ENOMEM;
    re->d = d;
    if (d == KH_RE_PCRE2) {
        kh_buf ere = KH_BUF_INIT(1u << 20);
        int icase = 0, first = 0;
        int rc = pcre_to_ere(pattern, &ere, &icase, &first, err, errlen);
        if (rc == 0) {
            int r = regcomp(&re->posix, ere.data ? ere.data : "", REG_EXTENDED | (icase ? REG_ICASE : 0));
            if (r != 0) {
                char msg[128];
                regerror(r, &re->posix, msg, sizeof(msg));
                snprintf(err, errlen, "biểu thức chính quy sai / bad regular expression: %s", msg);
                rc = KH_ESYNTAX;
            } else {
                re->posix_ok = 1;
                re->posix_group = first;
                re->has_cap = first > 0;
            }
        }
        kh_buf_dispose(&ere);
        if (rc == 0)
            *out = re;
        return rc;
    }
    const char *p = pattern;
    if (d == KH_RE_OSMATCH && *p == '!') {
        re->negate = 1;
        p++;
    }
    size_t nalts = 1;
    for (const char *q = p; *q; q++) {
        if (*q == '\\' && d == KH_RE_OSREGEX && q[1])
            q++;
        else if (*q == '|')
            nalts++;
    }
    re->alts = kh_arena_alloc(ar, nalts * sizeof(re_alt));
    if (!re->alts)
        return KH_ENOMEM;
    const char *s = p;
    for (const char *q = p;; q++) {
        if (*q == '\\' && d == KH_RE_OSREGEX && q[1]) {
            q++;
            continue;
        }
        if (*q != '|' && *q != 0)
            continue;
        re_alt *alt = &re->alts[re->nalts++];
        size_t len = (size_t)(q - s);
        if (d == KH_RE_OSREGEX) {
            int rc = compile_alt(alt, ar, s, len, err, errlen);
            if (rc)
                return rc;
            if (alt->cap_open >= 0)
                re->has_cap = 1;
        } else {
            if (len && s[0] == '^') {
                alt->bol = 1;
                s++;
                len--;
            }
            if (len && s[len - 1] == '$') {
                alt->eol = 1;
                len--;
            }
            char *t = kh_arena_strndup(ar, s, len);
            if (!t)
                return KH_ENOMEM;
            for (char *x = t; *x; x++)
                *x = (char)tolower((unsigned char)*x);
            alt->text = t;
            alt->textlen = len;
        }
        if (*q == 0)
            break;
        s = q + 1;
    }
    *out = re;
    return 0;
}

void kh_re_release(kh_re *re)
{
    if (re && re->posix_ok) {
        regfree(&re->posix);
        re->posix_ok = 0;
    }
}

int kh_re_has_capture(const kh_re *re)
{
    return re->has_cap;
}

int kh_re_match(const kh_re *re, const char *s, size_t n, long *cap_off, long *cap_len)
{
    if (cap_off) {
        *cap_off = -1;
        *cap_len = 0;
    }
    if (re->d == KH_RE_PCRE2) {
        /* regexec wants a C string: lines given to us are NUL-free copies */
        char small[1024];
        char *z = n < sizeof(small) ? small : malloc(n + 1);
        if (!z)
            return 0;
        memcpy(z, s, n);
        for (size_t i = 0; i < n; i++)
            if (!z[i])
                z[i] = ' ';
        z[n] = 0;
        regmatch_t pm[10];
        size_t nm = re->posix_group > 0 && re->posix_group < 10 ? (size_t)re->posix_group + 1 : 1;
        int r = regexec(&re->posix, z, nm, pm, 0);
        if (z != small)
            free(z);
        if (r != 0)
            return 0;
        if (cap_off && re->posix_group > 0 && re->posix_group < 10 && pm[re->posix_group].rm_so >= 0) {
            *cap_off = (long)pm[re->posix_group].rm_so;
            *cap_len = (long)(pm[re->posix_group].rm_eo - pm[re->posix_group].rm_so);
        }
        return 1;
    }
    int hit = 0;
    for (size_t i = 0; i < re->nalts && !hit; i++) {
        if (re->d == KH_RE_OSREGEX)
            hit = match_alt(&re->alts[i], s, n, cap_off, cap_len);
        else
            hit = osmatch_alt(&re->alts[i], s, n);
    }
    return re->negate ? !hit : hit;
}
