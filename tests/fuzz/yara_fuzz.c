/* Khiên — tests/fuzz: libFuzzer target for the YARA rule compiler's front end.
 *
 * Each input is rule text. It goes through everything that reads rule text
 * before the matcher backend: the lexer, the parser with its type checks
 * and diagnostics (parser.c), the lowering of text, hex and regex strings to
 * pattern trees (strings.c, regex.c), yara's atom-quality warnings and the
 * choice of the literals the matcher searches for (atoms.c). Includes are
 * answered with the input itself (so include depth and cycles are fuzzed
 * too) and the external variables of the real rule sets are defined.
 * Invariants beyond "no crash, no leak, no undefined behaviour, no hang":
 * a failed parse reports at least one error, and every diagnostic has a
 * message and a line.
 * Built only with -DKH_FUZZ=ON and clang (tests/fuzz/CMakeLists.txt); seeds
 * in corpus/yara/. Run with a scratch directory first:
 *   build/tests/yara_fuzz -max_total_time=300 -max_len=4096 -artifact_prefix=/tmp/ /tmp/yara_corpus tests/fuzz/corpus/yara
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/yara/ybuild.h"
#include "khien/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

typedef struct fz {
    const uint8_t *data;
    size_t len;
    unsigned errors, diags;
} fz;

static void diag(void *ud, kh_diag_severity sev, const char *file, unsigned line, unsigned col, const char *msg)
{
    fz *f = ud;
    f->diags++;
    if (sev == KH_DIAG_ERROR)
        f->errors++;
    if (!msg || !*msg || !file)
        abort();
    (void)line;
    (void)col;
}

static int include(void *ud, const char *from, const char *name, char **text, size_t *len, char **path)
{
    fz *f = ud;
    (void)from;
    if (strcmp(name, "missing.yar") == 0)
        return KH_ENOENT;
    char *t = malloc(f->len + 1), *p = strdup(name);
    if (!t || !p) {
        free(t);
        free(p);
        return KH_ENOMEM;
    }
    if (f->len)
        memcpy(t, f->data, f->len);
    t[f->len] = 0;
    *text = t;
    *len = f->len;
    *path = p;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len > 1u << 16)
        return 0;
    fz f = {data, len, 0, 0};
    kh_irb b;
    kh_irb_init(&b);
    kh_ybuild yb;
    kh_ybuild_init(&yb, &b);
    yb.diag = diag;
    yb.include = include;
    yb.ud = &f;
    static const char *const ext[] = {"filename", "filepath", "extension", "filetype", "owner"};
    for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
        if (kh_ybuild_define(&yb, ext[i], ""))
            goto done;
    if (kh_ybuild_define(&yb, "flag", "true") || kh_ybuild_define(&yb, "num", "42"))
        goto done;
    int rc = kh_yara_parse(&yb, "default", "fuzz.yar", (const char *)data, len);
    if (rc == KH_ESYNTAX && f.errors == 0)
        abort(); /* an error must be reported with its position */
    if (rc == 0) {
        kh_yatom *atoms = NULL;
        size_t natoms = 0;
        if (kh_yatoms_build(&b, yb.ystrs.v, yb.ystrs.n, &atoms, &natoms) == 0) {
            for (size_t i = 0; i < natoms; i++)
                if (atoms[i].str >= yb.ystrs.n || atoms[i].off + (uint64_t)atoms[i].len > b.bytes.len)
                    abort();
            free(atoms);
        }
    }
done:
    kh_ybuild_dispose(&yb);
    kh_irb_dispose(&b);
    return 0;
}
