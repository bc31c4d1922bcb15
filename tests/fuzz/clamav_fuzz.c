/* Khiên — tests/fuzz: libFuzzer target for the ClamAV signature line parsers.
 *
 * The first byte of each input picks a database kind (.ndb, .hdb, .hsb,
 * .fp, .sfp, .ign2, .ldb, .mdb, .imp, .ndu, .cdb, .ftm), the rest
 * is the database text, parsed by kh_clamav_load() as a file of that kind
 * would be: body signatures with every hex construct and offset form
 * (hex.c), hash lines, logical signatures with their subsignatures and
 * expressions (ldb.c), section and import hashes (mdb.c), ignore lists,
 * container metadata and file type magic (ftmcdb.c).
 * Invariants beyond "no crash, no leak, no undefined behaviour, no hang":
 * the loader only fails with KH_ESYNTAX (strict mode, chosen by the low bit
 * of the first byte) or KH_ENOMEM, and every diagnostic has a message.
 * Built only with -DKH_FUZZ=ON and clang (tests/fuzz/CMakeLists.txt); seeds
 * in corpus/clamav/:
 *   build/tests/clamav_fuzz -max_total_time=300 -artifact_prefix=/tmp/ /tmp/clamav_corpus tests/fuzz/corpus/clamav
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/clamav/cav.h" /* includes clamav.h */
#include "khien/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static void diag(void *ud, kh_diag_severity sev, unsigned line, unsigned col, const char *msg)
{
    (void)ud;
    (void)sev;
    (void)line;
    (void)col;
    if (!msg || !*msg)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    static const char *const exts[] = {"ndb", "hdb", "hsb", "fp", "sfp", "ign2", "ldb", "mdb", "imp", "ndu", "cdb", "ftm"};
    if (len < 1 || len > 1u << 16)
        return 0;
    const char *ext = exts[(data[0] >> 1) % (sizeof(exts) / sizeof(exts[0]))];
    int pua = 0;
    kh_dbkind kind = kh_clamav_kind(ext, &pua);
    kh_irb b;
    kh_irb_init(&b);
    kh_cavb cav;
    memset(&cav, 0, sizeof(cav));
    kh_rules_stats stats;
    memset(&stats, 0, sizeof(stats));
    kh_dbctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.b = &b;
    ctx.flags = (data[0] & 1) ? KH_COMPILE_STRICT : 0;
    ctx.stats = &stats;
    ctx.diag = diag;
    ctx.cav = &cav;
    int rc = kh_clamav_load(&ctx, kind, ext, (const char *)data + 1, len - 1);
    if (rc && rc != KH_ESYNTAX && rc != KH_ENOMEM)
        abort();
    kh_cavb_dispose(&cav);
    kh_irb_dispose(&b);
    return 0;
}
