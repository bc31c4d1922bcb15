/* Khiên — engine/yara: what the YARA compiler accumulates (internal). */
#ifndef KH_ENGINE_YARA_YBUILD_H
#define KH_ENGINE_YARA_YBUILD_H

#include "engine/modules/module.h"
#include "engine/yara/yara.h"



typedef struct kh_yns {
    uint32_t name;     /* strs offset */
    uint32_t modules;  /* imported modules (bit per kh_ymodules index) */
} kh_yns;

/* Diagnostics sink: severity, file, line, column, message. */
typedef void (*kh_ydiag_fn)(void *ud, kh_diag_severity sev, const char *file, unsigned line, unsigned col,
                            const char *msg);
/* Reads an included file: `name` as written, relative to `from` (the including
 * file's path). Returns 0 and a malloc'ed text and resolved path, or an error. */
typedef int (*kh_yinclude_fn)(void *ud, const char *from, const char *name, char **text, size_t *len,
                              char **path);

typedef struct kh_ybuild {
    kh_irb *b;
    KH_VEC(kh_yrule) rules;
    KH_VEC(kh_ystr) ystrs;
    KH_VEC(kh_yexpr) exprs;
    KH_VEC(uint32_t) lists;
    KH_VEC(kh_ymeta) metas;
    KH_VEC(kh_yregex) regexes;
    KH_VEC(kh_yext) exts;
    KH_VEC(kh_yns) nss;
    uint32_t modules_used;
    kh_ydiag_fn diag;
    kh_yinclude_fn include;
    void *ud;
    unsigned errors, warnings;
    /* compile-time only: declaration behind each STRUCT/ARRAY/DICT/FUNC node */
    KH_VEC(const kh_ymember *) decl;
    /* rule name lookup: (ns, name) -> rule index, open addressing */
    uint32_t *rmap;
    size_t rmap_cap;
} kh_ybuild;

void kh_ybuild_init(kh_ybuild *yb, kh_irb *b);
void kh_ybuild_dispose(kh_ybuild *yb);

/* Declares an external variable; value text is parsed as yara -d does
 * (true/false, integer, float, otherwise string). */
int kh_ybuild_define(kh_ybuild *yb, const char *name, const char *value);

/* Parses one source into the namespace `ns`. Returns 0 or KH_ESYNTAX (the
 * first error has been reported through the diag sink). */
int kh_yara_parse(kh_ybuild *yb, const char *ns, const char *file, const char *text, size_t len);

/* Lowering of string definitions to pattern trees (strings.c, regex.c). */
int kh_yhex_parse(kh_irb *b, const char *s, size_t n, uint32_t *root, const char **err, size_t *errpos);
/* flags: 1 = case-insensitive, 2 = dot matches newline, 4 = greedy and lazy
 * quantifiers may not be mixed (yara's rule for strings). *greedy set if the
 * expression has a greedy quantifier. */
int kh_yre_parse(kh_irb *b, const char *s, size_t n, unsigned flags, uint32_t *root, int *greedy, const char **err,
                 size_t *errpos);
/* The UTF-16LE ("wide") form of a pattern tree: every byte it matches is
 * followed by a zero byte. With KH_YS_ASCII also set, either form. */
int kh_ytree_widen(kh_irb *b, uint32_t root, uint32_t flags, uint32_t *out);
/* The fullword form of a string's tree: every ascii/wide alternative
 * between yara's fullword boundary checks. */
int kh_ytree_fullword(kh_irb *b, uint32_t root, uint32_t flags, uint32_t *out);
/* Decides how each string is found and lists the literals to search for
 * (atoms.c). Sets the mode of each string; *out is malloc'ed. */
int kh_yatoms_build(kh_irb *b, kh_ystr *ystrs, size_t nystrs, kh_yatom **out, size_t *nout);
/* yara's quality of the atoms it would search for a string (atoms.c): a
 * string scoring below KH_YAQ_WARN gets yara's "may slow down scanning"
 * warning; KH_YAQ_NONE when it has no atom at all. The tree form is for hex
 * strings and regexes before their wide/fullword forms; the text form takes
 * a text string's bytes and its KH_YS_WIDE/ASCII/XOR flags. */
#define KH_YAQ_WARN 38
#define KH_YAQ_NONE (-1000)
int kh_yatoms_quality_tree(const kh_irb *b, uint32_t root);
int kh_yatoms_quality_text(const uint8_t *s, size_t n, uint32_t flags, unsigned xmin, unsigned xmax);
/* Text string with its modifiers (KH_YS_*); alphabet: 64 chars or NULL. */
int kh_ytext_lower(kh_irb *b, const uint8_t *s, size_t n, uint32_t flags, unsigned xmin, unsigned xmax,
                   const char *alphabet, uint32_t *root, const char **err);

#endif
