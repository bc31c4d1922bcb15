/* Khiên — engine/clamav: PE section hashes (.mdb .msb) and import-table hashes (.imp).
 *
 *   .mdb .msb   SectionSize:SectionHash:Name[:MinFL[:MaxFL]]
 *   .imp        ImportHash:ImportSize:Name[:MinFL[:MaxFL]]
 *
 * The algorithm comes from the length of the hash (32 MD5, 40 SHA-1, 64
 * SHA-256) whatever the extension, as clamscan does; a size may be `*`.
 * A section hash is the hash of a section's raw bytes in the file; an
 * import hash is the hash of the import table written as pefile's imphash
 * string ("dll.function" in lower case, comma-separated), whose length is
 * the size (lsig_exec.c computes both).
 */
#include "engine/clamav/cav.h"

#define diagf kh_clamav_diagf

int kh_mdb_line(kh_dbctx *c, int imp, const char *line, size_t n, unsigned ln)
{
    const char *f[6];
    size_t fl[6], col[6], nf = 0, st = 0;
    for (size_t i = 0; i <= n; i++)
        if (i == n || line[i] == ':') {
            if (nf == 6) {
                nf = 7;
                break;
            }
            f[nf] = line + st, fl[nf] = i - st, col[nf] = st;
            nf++;
            st = i + 1;
        }
    if (nf < 3 || nf > 5) {
        diagf(c, KH_DIAG_ERROR, ln, 0, "expected %s, found %zu field%s",
              imp ? "HASH:SIZE:NAME[:MINFL[:MAXFL]]" : "SIZE:HASH:NAME[:MINFL[:MAXFL]]", nf, nf == 1 ? "" : "s");
        return KH_ESYNTAX;
    }
    unsigned hi = imp ? 0 : 1, si = imp ? 1 : 0;
    int alg = fl[hi] == 32 ? KH_MD5 : fl[hi] == 40 ? KH_SHA1 : fl[hi] == 64 ? KH_SHA256 : -1;
    kh_shash h;
    memset(&h, 0, sizeof(h));
    if (alg < 0 || kh_hex_decode(f[hi], fl[hi], h.dig)) {
        diagf(c, KH_DIAG_ERROR, ln, col[hi] + 1, "hash must be 32 (MD5), 40 (SHA-1) or 64 (SHA-256) hex digits");
        return KH_ESYNTAX;
    }
    uint64_t v;
    if (fl[si] == 1 && f[si][0] == '*') {
        h.size = KH_ANY_SIZE;
    } else if (kh_parse_u64(f[si], fl[si], &v) || v >= KH_ANY_SIZE) {
        diagf(c, KH_DIAG_ERROR, ln, col[si] + 1, "size must be a number below 4 GiB or '*'");
        return KH_ESYNTAX;
    } else {
        h.size = (uint32_t)v;
    }
    if (!kh_clamav_check_name(f[2], fl[2])) {
        diagf(c, KH_DIAG_ERROR, ln, col[2] + 1, "signature name is empty, too long or has control characters");
        return KH_ESYNTAX;
    }
    uint64_t lo = 0, hi_fl = UINT64_MAX;
    if (nf > 3 && fl[3] && kh_parse_u64(f[3], fl[3], &lo)) {
        diagf(c, KH_DIAG_ERROR, ln, col[3] + 1, "functionality level must be a number");
        return KH_ESYNTAX;
    }
    if (nf > 4 && fl[4] && kh_parse_u64(f[4], fl[4], &hi_fl)) {
        diagf(c, KH_DIAG_ERROR, ln, col[4] + 1, "functionality level must be a number");
        return KH_ESYNTAX;
    }
    if (lo > KH_CLAMAV_FLEVEL || hi_fl < KH_CLAMAV_FLEVEL) {
        c->stats->flevel_skipped++;
        return 0;
    }
    if (kh_clamav_ignored(c, f[2], fl[2], line, n)) {
        c->stats->ignored++;
        return 0;
    }
    int rc = KH_VEC_RESERVE(c->cav->shash, 1, UINT32_MAX);
    if (!rc)
        rc = kh_clamav_add_sig(c, f[2], fl[2], KH_DET_PEHASH, UINT32_MAX, ln, &h.sig);
    if (rc)
        return rc;
    h.kind = imp ? KH_SH_IMPORT : KH_SH_SECTION;
    h.alg = (uint8_t)alg;
    c->cav->shash.v[c->cav->shash.n++] = h;
    if (imp)
        c->stats->import_hash++;
    else
        c->stats->section_hash++;
    return 0;
}
