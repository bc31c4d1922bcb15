/* Khiên — tests: loading ClamAV database text through the compiler, shared
 * by the unit tables of tests/unit/engine/clamav/ (db.c, ftm_cdb.c): one or
 * more sources compiled together, the result, the set's statistics and the
 * diagnostics by severity. */
#ifndef KT_CLAMAV_LOAD_H
#define KT_CLAMAV_LOAD_H

#include "kt_engine.h"

typedef struct src {
    const char *kind;
    const char *text;
    size_t len; /* 0: strlen */
} src;

typedef struct loaded {
    int add_rc, rc;
    kh_compiler *c;
    kh_rules *r;
    kh_rules_stats st;
} loaded;

/* Compiles s[0..n) (origins "test<i>.<kind>"); max_diags 0: the default. */
static inline void load_n(loaded *L, unsigned flags, unsigned max_diags, const src *s, size_t n)
{
    kh_compiler_options o = KH_COMPILER_OPTIONS_INIT;
    o.flags = flags | KH_COMPILE_NO_BUILTIN;
    if (max_diags)
        o.max_diags = max_diags;
    memset(L, 0, sizeof(*L));
    L->rc = kh_compiler_create(&L->c, &o);
    if (L->rc)
        return;
    for (size_t i = 0; i < n && !L->add_rc; i++) {
        char origin[64];
        snprintf(origin, sizeof(origin), "test%zu.%s", i, s[i].kind);
        L->add_rc = kh_compiler_add_text(L->c, s[i].kind, origin, s[i].text, s[i].len ? s[i].len : strlen(s[i].text));
    }
    if (!L->add_rc)
        L->rc = kh_compiler_build(L->c, &L->r);
    if (L->r)
        kh_rules_get_stats(L->r, &L->st);
}

static inline void unload(loaded *L)
{
    kh_rules_destroy(L->r);
    kh_compiler_destroy(L->c);
    memset(L, 0, sizeof(*L));
}

/* The i-th diagnostic of a severity, or NULL. */
static inline const kh_diag *diag_of(const loaded *L, kh_diag_severity sev, size_t i)
{
    for (size_t k = 0; k < kh_compiler_diag_count(L->c); k++) {
        const kh_diag *d = kh_compiler_diag(L->c, k);
        if (d->severity == sev && i-- == 0)
            return d;
    }
    return NULL;
}

/* A warning whose message contains `needle`, or NULL. */
static inline const kh_diag *warning_with(const loaded *L, const char *needle)
{
    for (size_t i = 0; diag_of(L, KH_DIAG_WARNING, i); i++)
        if (strstr(diag_of(L, KH_DIAG_WARNING, i)->message, needle))
            return diag_of(L, KH_DIAG_WARNING, i);
    return NULL;
}

/* A malformed-line row: loads text (its line 3 is the bad line) as `kind`,
 * in strict or lenient mode, and checks what every format shares: one
 * error, at test0.<kind>:3:col with msg in its message; strict: KH_ESYNTAX
 * and no rules; lenient: a set with the line counted malformed. Returns 1
 * with L loaded for the caller's own checks when the lenient set is there
 * (the caller unloads it), 0 when there is nothing more to check (L is
 * unloaded then). `shown` names the row in failure messages. */
static inline int check_bad_line(loaded *L, size_t row, const char *shown, const char *kind, const char *text,
                                 size_t len, unsigned col, const char *msg, int strict)
{
    src s = {kind, text, len};
    load_n(L, strict ? KH_COMPILE_STRICT : 0, 0, &s, 1);
    char origin[32];
    snprintf(origin, sizeof(origin), "test0.%s", kind);
    const kh_diag *e = diag_of(L, KH_DIAG_ERROR, 0);
    if (!e) {
        KT_FAIL_("row %zu (%s, \"%s\", %s): no error diagnostic (rc %d)", row, kind, shown,
                 strict ? "strict" : "lenient", L->rc);
        unload(L);
        return 0;
    }
    if (e->line != 3 || e->column != col || strcmp(e->file, origin) != 0 || !strstr(e->message, msg))
        KT_FAIL_("row %zu (%s, \"%s\"): got %s:%u:%u \"%s\", want %s:3:%u \"...%s...\"", row, kind, shown, e->file,
                 e->line, e->column, e->message, origin, col, msg);
    if (diag_of(L, KH_DIAG_ERROR, 1))
        KT_FAIL_("row %zu: more than one error", row);
    if (strict) {
        if (L->rc != KH_ESYNTAX || L->r != NULL)
            KT_FAIL_("row %zu: strict build returned %d, want KH_ESYNTAX and no rules", row, L->rc);
    } else if (L->rc != 0 || !L->r) {
        KT_FAIL_("row %zu: lenient build returned %d", row, L->rc);
    } else {
        if (L->st.malformed != 1)
            KT_FAIL_("row %zu: malformed = %llu, want 1", row, (unsigned long long)L->st.malformed);
        return 1;
    }
    unload(L);
    return 0;
}

#endif
