/* Khiên — scan: scanning one file or buffer.
 *
 * The hot path of the product. For every object (a file, or a member of an
 * archive inside it) the scanner:
 *   1. hashes it, but only with the algorithms whose tables hold a record of
 *      exactly its size (or of any size), and looks the digests up;
 *   2. runs the one Vectorscan database of all body patterns over it once,
 *      collecting which patterns occur (each at most once: SINGLEMATCH);
 *   3. settles each hit: an exact, unanchored pattern is a detection as is;
 *      one with an offset constraint or an approximate expression is
 *      confirmed against its tree (confirm.c) at the allowed positions;
 *   4. drops everything if the object is on an allow-list (.fp/.sfp);
 *   5. recurses into it if it is an archive (archive.c), within the limits.
 * Without ALLMATCH the first detection ends the file, as in clamscan.
 *
 * Files up to stream_threshold are scanned in block mode (read into a
 * buffer up to 2 MiB, mapped above); larger ones are read in 1 MiB chunks
 * through a Vectorscan stream with bounded memory, and mapped only if a hit
 * needs confirming. The default threshold is 2 MiB: on the benchmark
 * corpus, streaming instead of mapping the files of 2-64 MiB took the scan
 * from 5.4 to 3.9 CPU seconds (page faults and unmapping cost more than
 * copying 1 MiB chunks) and peak RSS from 101 to 44 MiB. A kh_scanner is
 * used by one thread at a time; each worker of kh_scan_paths() has its own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "platform/platform.h"
#include "scan/scan_int.h"

#define STREAM_CHUNK (1u << 20)
#define READ_MAX (64u << 20)  /* read into the scanner's buffer, not mapped, up to this size */
#define READ_KEEP (8u << 20)  /* the buffer keeps this much resident between files */
#define YARA_BLOCK_MAX (64ull << 20)

const char *kh_detection_kind_name(kh_detection_kind k)
{
    switch (k) {
    case KH_DET_HASH: return "hash";
    case KH_DET_BODY: return "body";
    case KH_DET_RULE: return "rule";
    case KH_DET_LOGICAL: return "logical";
    case KH_DET_PEHASH: return "pe-hash";
    case KH_DET_META: return "container-meta";
    default: return "heuristic";
    }
}

int kh_scanner_create(kh_scanner **out, const kh_rules *rules, const kh_scan_options *opts)
{
    kh_scan_options def = KH_SCAN_OPTIONS_INIT;
    if (!out || !rules || (opts && opts->version != KH_SCAN_OPTIONS_VERSION))
        return KH_EINVAL;
    kh_scanner *s = calloc(1, sizeof(*s));
    if (!s)
        return KH_ENOMEM;
    s->r = rules;
    s->o = opts ? *opts : def;
    kh_buf_init(&s->member, 1u << 16);
    kh_confirm_init(&s->cx);
    int rc = kh_digest_init(&s->dg);
    size_t np = rules->npats ? rules->npats : 1;
    if (!rc && rules->mpm)
        rc = kh_mpm_vs.scratch_create(&s->scratch, rules->mpm);
    if (!rc && rules->nyrules)
        rc = kh_yscan_create(&s->ys, rules);
    if (!rc && rules->cav && (rules->cav->nlsigs || rules->cav->nshash || rules->cav->ncdbs))
        rc = kh_cavscan_create(&s->cav, rules);
    if (!rc) {
        s->hitbits = calloc((np + 7) / 8, 1);
        s->hits = malloc(np * sizeof(uint32_t));
        s->hitend = malloc(np * sizeof(uint64_t));
        if (!s->hitbits || !s->hits || !s->hitend)
            rc = KH_ENOMEM;
    }
    if (rc) {
        kh_scanner_destroy(s);
        return rc;
    }
    *out = s;
    return 0;
}

void kh_scanner_destroy(kh_scanner *s)
{
    if (!s)
        return;
    if (s->scratch)
        kh_mpm_vs.scratch_destroy(s->scratch);
    kh_confirm_dispose(&s->cx);
    kh_digest_dispose(&s->dg);
    kh_yscan_destroy(s->ys);
    kh_cavscan_destroy(s->cav);
    kh_bigbuf_free(&s->rbuf);
    free(s->hitbits);
    free(s->hits);
    free(s->hitend);
    KH_VEC_FREE(s->dets);
    kh_buf_dispose(&s->member);
    free(s);
}

const char *kh_scanner_last_error(const kh_scanner *s) { return s ? s->err : "no scanner"; }

int kh_scanner_define(kh_scanner *s, const char *name, const char *value)
{
    if (!s || !name || !value)
        return KH_EINVAL;
    return s->ys ? kh_yscan_define(s->ys, name, value) : KH_ENOTFOUND;
}

void kh_scanner_set_log(kh_scanner *s, kh_log_cb cb, void *payload)
{
    if (s) {
        s->log = cb;
        s->log_payload = payload;
    }
}
uint64_t kh_scanner_bytes_scanned(const kh_scanner *s) { return s ? s->bytes_total : 0; }

void kh_scan_warn(kh_scanner *s, const char *fmt, ...)
{
    if (!s->on_warn)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    s->on_warn(s->member.len ? s->member.data : NULL, msg, s->payload);
}

/* ---- Collecting hits ---------------------------------------------------- */

typedef struct hitctx {
    kh_scanner *s;
    int stop_early; /* stop the matcher at the first exact, unanchored hit */
} hitctx;

static int on_hit(uint32_t pat, uint64_t end, void *ctx)
{
    hitctx *h = ctx;
    kh_scanner *s = h->s;
    if (pat >= s->r->npats) {
        /* a literal searched for a YARA string */
        kh_yscan_report(s->ys, pat - s->r->npats, end);
        return 0;
    }
    if (s->r->pats[pat].kind == KH_PK_YSTRING) {
        kh_yscan_report_string(s->ys, s->r->pats[pat].sig);
        return 0;
    }
    if ((s->hitbits[pat >> 3] >> (pat & 7)) & 1)
        return 0;
    s->hitbits[pat >> 3] |= (uint8_t)(1u << (pat & 7));
    s->hits[s->nhits] = pat;
    s->hitend[pat] = end;
    s->nhits++;
    const kh_pat *p = &s->r->pats[pat];
    return h->stop_early && p->kind == KH_PK_CLAMAV && p->exact && p->offkind == KH_OFF_ANY;
}

static void clear_hits(kh_scanner *s)
{
    for (size_t i = 0; i < s->nhits; i++)
        s->hitbits[s->hits[i] >> 3] = 0;
    s->nhits = 0;
}

static int add_det(kh_scanner *s, uint32_t sig, uint8_t kind, int64_t off, const char *heur)
{
    int rc = KH_VEC_RESERVE(s->dets, 1, 1u << 20);
    if (rc)
        return rc;
    kh_det *d = &s->dets.v[s->dets.n++];
    d->sig = sig;
    d->kind = kind;
    d->offset = off;
    d->heur = heur;
    return 0;
}

/* Allowed start positions of a pattern in a buffer of len bytes. */
static int start_set(const kh_pat *p, uint64_t len, kh_pset *set)
{
    kh_pset_clear(set);
    uint64_t lo, hi;
    switch (p->offkind) {
    case KH_OFF_ABS:
        lo = p->off;
        hi = p->off + p->shift;
        break;
    case KH_OFF_EOF:
        if (p->off > len)
            return 0;
        lo = len - p->off;
        hi = lo + p->shift;
        break;
    default:
        lo = 0;
        hi = len;
    }
    if (lo > len)
        return 0;
    return kh_pset_add(set, lo, KH_MIN(hi, len));
}

/* Settles the collected hits against the buffer (NULL: not available). */
static int settle_hits(kh_scanner *s, const uint8_t *buf, uint64_t len)
{
    const struct kh_rules *r = s->r;
    int rc = 0;
    kh_pset starts = {0};
    kh_sort_u32(s->hits, s->nhits);
    for (size_t i = 0; i < s->nhits && !rc; i++) {
        uint32_t pi = s->hits[i];
        const kh_pat *p = &r->pats[pi];
        int64_t off = -1;
        if (p->kind != KH_PK_CLAMAV)
            continue; /* YARA strings are decided by the rule evaluator */
        if (p->exact && p->offkind == KH_OFF_ANY) {
            if (p->minlen == p->maxlen && s->hitend[pi] >= p->minlen)
                off = (int64_t)(s->hitend[pi] - p->minlen);
            else if (buf) {
                uint64_t st;
                if ((rc = start_set(p, len, &starts)))
                    break;
                if (kh_confirm_first(&s->cx, r, p->root, buf, len, &starts, &st) == 0)
                    off = (int64_t)st;
            }
        } else {
            if (!buf) {
                kh_scan_warn(s, "signature %s could not be confirmed (data not available)",
                             kh_rules_sig_name(r, p->sig));
                continue;
            }
            if ((rc = start_set(p, len, &starts)))
                break;
            uint64_t st;
            int frc = kh_confirm_first(&s->cx, r, p->root, buf, len, &starts, &st);
            if (frc == KH_ENOTFOUND)
                continue;
            if (frc == KH_ELIMIT) {
                int m = 0;
                frc = kh_confirm_match(&s->cx, r, p->root, buf, len, &starts, &m);
                if (frc == KH_ELIMIT) {
                    kh_scan_warn(s, "signature %s: confirmation stopped at its work limit",
                                 kh_rules_sig_name(r, p->sig));
                    continue;
                }
                if (frc) {
                    rc = frc;
                    break;
                }
                if (!m)
                    continue;
            } else if (frc) {
                rc = frc;
                break;
            } else {
                off = (int64_t)st;
            }
        }
        rc = add_det(s, p->sig, KH_DET_BODY, off, NULL);
        if (!rc && s->stop_on_hit)
            break;
    }
    kh_pset_free(&starts);
    return rc;
}

/* Logical (.ldb) and PE-hash (.mdb .msb .imp) signatures, once the hits are known. */
static int on_cav_det(void *ud, uint32_t sig, uint8_t kind, int64_t offset)
{
    kh_scanner *s = ud;
    int rc = add_det(s, sig, kind, offset, NULL);
    return rc ? rc : (s->stop_on_hit ? KH_STOP : 0);
}

static int run_cav(kh_scanner *s, const uint8_t *buf, uint64_t len, unsigned depth)
{
    if (!s->cav || (s->stop_on_hit && s->dets.n))
        return 0;
    int rc = kh_cavscan_object(s->cav, buf, (size_t)len, depth, s->hits, s->nhits, &s->cx, on_cav_det, s);
    return rc == KH_STOP ? 0 : rc;
}

static int emit(kh_scanner *s, size_t from);

/* .cdb signatures on the metadata of an archive member. */
int kh_scan_meta(kh_scanner *s, const kh_cav_meta *m)
{
    if (!s->cav || !s->r->cav->ncdbs)
        return 0;
    size_t from = s->dets.n;
    int rc = kh_cavscan_meta(s->cav, m, on_cav_det, s);
    if (rc && rc != KH_STOP) {
        s->dets.n = from;
        return rc;
    }
    return emit(s, from);
}

/* ---- YARA rules ---------------------------------------------------------------- */

static int on_rule(void *ud, uint32_t rule, int matched, const kh_rule_info *info)
{
    kh_scanner *s = ud;
    kh_detection d;
    d.name = info->name;
    d.source = s->r->strs + s->r->yrules[rule].file;
    d.member = s->member.len ? s->member.data : NULL;
    d.kind = KH_DET_RULE;
    d.offset = -1;
    d.rule = info;
    if (matched)
        s->reported++;
    if (s->on_detect && s->on_detect(&d, s->payload))
        return 1;
    if (matched && s->stop_on_hit) {
        s->yara_stop = 1;
        return 1;
    }
    return 0;
}

static void on_log(void *ud, const char *msg, size_t n)
{
    kh_scanner *s = ud;
    if (s->log)
        s->log(msg, n, s->log_payload);
}

static int run_yara(kh_scanner *s, const uint8_t *buf, size_t len)
{
    unsigned f = 0;
    if (s->o.flags & KH_SCAN_STRINGS)
        f |= KH_YRUN_STRINGS;
    if (s->o.flags & KH_SCAN_YARA_ALL)
        f |= KH_YRUN_ALL;
    if (s->o.flags & KH_SCAN_FAST)
        f |= KH_YRUN_FAST;
    double deadline = s->o.timeout_ms ? kh_now() + s->o.timeout_ms / 1000.0 : 0;
    s->yara_stop = 0;
    kh_yscan_set_data(s->ys, buf, len);
    int rc = kh_yscan_run(s->ys, f, deadline, on_rule, on_log, s);
    if (rc == KH_EUSER && s->yara_stop)
        return KH_STOP;
    if (rc == KH_ETIMEOUT)
        snprintf(s->err, sizeof(s->err), "rule evaluation timed out");
    return rc;
}

/* ---- Hashes --------------------------------------------------------------- */

static unsigned wanted_algs(const struct kh_rules *r, const kh_htab *tabs, uint64_t size)
{
    unsigned mask = 0;
    for (unsigned a = 0; a < KH_NALG; a++)
        if (kh_htab_size_wanted(&tabs[a], size))
            mask |= 1u << a;
    KH_UNUSED(r);
    return mask;
}

typedef struct hhit {
    kh_scanner *s;
    int found;
} hhit;

static int on_hash_detect(uint32_t sig, void *ctx)
{
    hhit *h = ctx;
    if (sig >= h->s->r->nsigs)
        return 0; /* a damaged record (dbfile.c): not a detection */
    h->found = 1;
    int rc = add_det(h->s, sig, KH_DET_HASH, -1, NULL);
    return rc ? rc : (h->s->stop_on_hit ? KH_STOP : 0);
}

static int on_hash_allow(uint32_t sig, void *ctx)
{
    KH_UNUSED(sig);
    ((hhit *)ctx)->found = 1;
    return KH_STOP;
}

static int lookup_hashes(kh_scanner *s, const kh_htab *tabs, unsigned mask, uint8_t dig[KH_NALG][32], uint64_t size,
                         int allow, int *found)
{
    hhit h = {s, 0};
    for (unsigned a = 0; a < KH_NALG; a++) {
        if (!((mask >> a) & 1))
            continue;
        int rc = kh_htab_lookup(&tabs[a], a, dig[a], size, allow ? on_hash_allow : on_hash_detect, &h);
        if (rc == KH_STOP)
            break;
        if (rc)
            return rc;
    }
    *found = h.found;
    return 0;
}

/* ---- Emitting ---------------------------------------------------------------- */

static int emit(kh_scanner *s, size_t from)
{
    const struct kh_rules *r = s->r;
    for (size_t i = from; i < s->dets.n; i++) {
        const kh_det *d = &s->dets.v[i];
        kh_detection out;
        out.rule = NULL;
        if (d->sig == UINT32_MAX) {
            out.name = d->heur;
            out.source = "<heuristics>";
        } else {
            out.name = kh_rules_sig_name(r, d->sig);
            uint32_t src = d->sig < r->nsigs ? r->sigs[d->sig].source : UINT32_MAX;
            out.source = src < r->nsources ? kh_rules_str(r, r->sources[src]) : "?";
        }
        out.member = s->member.len ? s->member.data : NULL;
        out.kind = (kh_detection_kind)d->kind;
        out.offset = d->offset;
        s->reported++;
        if (s->on_detect && s->on_detect(&out, s->payload))
            return KH_EUSER;
        if (s->stop_on_hit)
            return KH_STOP;
    }
    s->dets.n = from;
    return 0;
}

int kh_scan_heuristic(kh_scanner *s, const char *name)
{
    size_t from = s->dets.n;
    int rc = add_det(s, UINT32_MAX, KH_DET_HEURISTIC, -1, name);
    return rc ? rc : emit(s, from);
}

/* Hash and allow-list handling shared by the block and stream paths, once
 * the body hits are settled. `dig` holds digests for `have` algorithms. */
static int finish_object(kh_scanner *s, size_t from, uint8_t dig[KH_NALG][32], unsigned have, const uint8_t *buf,
                         uint64_t len, int *allowed)
{
    *allowed = 0;
    const struct kh_rules *r = s->r;
    if (s->dets.n > from) {
        unsigned need = wanted_algs(r, r->allow, len);
        if (need) {
            if (need & ~have) {
                if (!buf)
                    need &= have;
                else if (kh_digest_buf(need & ~have, buf, len, dig))
                    return KH_EINTERNAL;
            }
            int found = 0;
            int rc = lookup_hashes(s, r->allow, need, dig, len, 1, &found);
            if (rc)
                return rc;
            if (found) {
                s->dets.n = from;
                *allowed = 1;
                return 0;
            }
        }
    }
    return emit(s, from);
}

/* ---- Block mode ------------------------------------------------------------- */

int kh_scan_object(kh_scanner *s, const uint8_t *buf, size_t len, unsigned depth)
{
    const struct kh_rules *r = s->r;
    size_t from = s->dets.n;
    int rc = 0;
    s->file_bytes += len;
    s->bytes_total += len;
    uint8_t dig[KH_NALG][32];
    unsigned have = wanted_algs(r, r->detect, len);
    if (have) {
        if (kh_digest_buf(have, buf, len, dig))
            return KH_EINTERNAL;
        int found;
        if ((rc = lookup_hashes(s, r->detect, have, dig, len, 0, &found)))
            return rc;
    }
    if (s->ys)
        kh_yscan_begin(s->ys, buf, len);
    if (r->mpm && !(s->stop_on_hit && s->dets.n > from)) {
        hitctx h = {s, s->stop_on_hit && !s->ys};
        rc = kh_mpm_vs.scan(r->mpm, s->scratch, buf, len, on_hit, &h);
        if (rc == KH_EUSER)
            rc = 0; /* stopped early on purpose */
        if (!rc)
            rc = settle_hits(s, buf, len);
    }
    if (!rc)
        rc = run_cav(s, buf, len, depth);
    int allowed = 0;
    if (!rc)
        rc = finish_object(s, from, dig, have, buf, len, &allowed);
    if (!rc && !allowed && s->ys)
        rc = run_yara(s, buf, len);
    clear_hits(s);
    if (rc)
        return rc;
    if (allowed || (s->o.flags & KH_SCAN_NO_ARCHIVE) || !kh_archive_sniff(buf, len))
        return 0;
    return kh_archive_scan_mem(s, buf, len, depth);
}

/* ---- Stream mode (large files) ----------------------------------------------- */

static int scan_stream(kh_scanner *s, int fd, uint64_t size)
{
    const struct kh_rules *r = s->r;
    size_t from = s->dets.n;
    int rc = 0;
    uint8_t dig[KH_NALG][32];
    unsigned have = wanted_algs(r, r->detect, size);
    uint8_t *chunk = malloc(STREAM_CHUNK);
    kh_mpm_stream *st = NULL;
    hitctx h = {s, s->stop_on_hit && !s->ys};
    if (!chunk)
        return KH_ENOMEM;
    if (s->ys)
        kh_yscan_begin(s->ys, NULL, 0);
    if (have && kh_digest_start(&s->dg, have))
        rc = KH_EINTERNAL;
    if (!rc && r->mpm)
        rc = kh_mpm_vs.stream_open(r->mpm, s->scratch, &st);
    uint64_t got = 0;
    int stopped = 0;
    while (!rc) {
        ssize_t n = pread(fd, chunk, STREAM_CHUNK, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(s->err, sizeof(s->err), "read error: %s", strerror(errno));
            rc = KH_EIO;
            break;
        }
        if (n == 0)
            break;
        got += (uint64_t)n;
        if (have && kh_digest_update(&s->dg, chunk, (size_t)n))
            rc = KH_EINTERNAL;
        if (!rc && st && !stopped) {
            rc = kh_mpm_vs.stream_feed(st, s->scratch, chunk, (size_t)n, on_hit, &h);
            if (rc == KH_EUSER) {
                rc = 0;
                stopped = 1;
                if (!have)
                    break;
            }
        }
        if (got >= s->o.max_scansize && s->o.max_scansize) {
            kh_scan_warn(s, "only the first %llu bytes were scanned (max-scansize)",
                         (unsigned long long)s->o.max_scansize);
            break;
        }
    }
    if (st) {
        int crc = kh_mpm_vs.stream_close(st, s->scratch, stopped || rc ? NULL : on_hit, &h);
        if (!rc && crc && crc != KH_EUSER)
            rc = crc;
    }
    free(chunk);
    s->file_bytes += got;
    s->bytes_total += got;
    if (!rc && have) {
        if (kh_digest_finish(&s->dg, dig))
            rc = KH_EINTERNAL;
        int found;
        if (!rc)
            rc = lookup_hashes(s, r->detect, have, dig, got, 0, &found);
    }
    /* Confirming needs random access: map the file only if a hit asks for it. */
    kh_map m = {0};
    if (!rc && s->nhits) {
        int need_map = 0;
        for (size_t i = 0; i < s->nhits; i++) {
            const kh_pat *p = &r->pats[s->hits[i]];
            need_map |= !p->exact || p->offkind != KH_OFF_ANY || p->minlen != p->maxlen;
        }
        if (need_map && kh_map_fd(&m, fd, (size_t)got) != 0)
            kh_scan_warn(s, "could not map the file to confirm matches");
    }
    if (!rc && s->ys && !m.data && kh_map_fd(&m, fd, (size_t)got) != 0)
        kh_scan_warn(s, "could not map the file to evaluate rules");
    if (!rc)
        rc = settle_hits(s, m.data, m.data ? m.len : got);
    if (!rc && s->cav && !m.data && kh_map_fd(&m, fd, (size_t)got) != 0)
        kh_scan_warn(s, "could not map the file to evaluate logical signatures");
    if (!rc && m.data)
        rc = run_cav(s, m.data, m.len, 0);
    int allowed = 0;
    if (!rc)
        rc = finish_object(s, from, dig, have, NULL, got, &allowed);
    if (!rc && !allowed && s->ys && m.data)
        rc = run_yara(s, m.data, m.len);
    clear_hits(s);
    kh_map_release(&m);
    if (rc)
        return rc;
    if (allowed || (s->o.flags & KH_SCAN_NO_ARCHIVE))
        return 0;
    uint8_t head[512];
    ssize_t hn = pread(fd, head, sizeof(head), 0);
    if (hn > 0 && kh_archive_sniff(head, (size_t)hn))
        return kh_archive_scan_fd(s, fd, 0);
    return 0;
}

/* ---- Public entry points -------------------------------------------------------- */

static void begin_file(kh_scanner *s, kh_detection_cb cb, kh_warning_cb wcb, void *payload)
{
    s->on_detect = cb;
    s->on_warn = wcb;
    s->payload = payload;
    s->file_bytes = 0;
    s->file_members = 0;
    s->reported = 0;
    s->dets.n = 0;
    s->err[0] = 0;
    s->stop_on_hit = !(s->o.flags & KH_SCAN_ALLMATCH);
    kh_buf_clear(&s->member);
}

static int end_file(int rc) { return rc == KH_STOP ? 0 : rc; }

int kh_scanner_scan_mem(kh_scanner *s, const void *data, size_t len, kh_detection_cb on_detect,
                        kh_warning_cb on_warn, void *payload)
{
    if (!s || (!data && len))
        return KH_EINVAL;
    begin_file(s, on_detect, on_warn, payload);
    static const uint8_t empty[1];
    return end_file(kh_scan_object(s, data ? data : empty, len, 0));
}

int kh_scanner_scan_fd(kh_scanner *s, int fd, kh_detection_cb on_detect, kh_warning_cb on_warn, void *payload)
{
    if (!s || fd < 0)
        return KH_EINVAL;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        begin_file(s, on_detect, on_warn, payload);
        snprintf(s->err, sizeof(s->err), "%s", strerror(errno));
        return kh_errno_to_kh(errno);
    }
    return kh_scanner_scan_fd_st(s, fd, &st, on_detect, on_warn, payload);
}

int kh_scanner_scan_fd_st(kh_scanner *s, int fd, const struct stat *st, kh_detection_cb on_detect,
                          kh_warning_cb on_warn, void *payload)
{
    if (!s || fd < 0 || !st)
        return KH_EINVAL;
    begin_file(s, on_detect, on_warn, payload);
    if (!S_ISREG(st->st_mode)) {
        snprintf(s->err, sizeof(s->err), "not a regular file");
        return KH_EINVAL;
    }
    uint64_t size = (uint64_t)st->st_size;
    /* YARA conditions need the whole file at once: with YARA rules, files
     * up to YARA_BLOCK_MAX are scanned in one block whatever the streaming
     * threshold (streaming would read them twice). */
    int block_for_yara = s->ys && size <= YARA_BLOCK_MAX;
    if ((size > s->o.stream_threshold && !block_for_yara) || size > SIZE_MAX)
        return end_file(scan_stream(s, fd, size));
    int rc;
    if (size <= READ_MAX) {
        /* One read into a buffer the scanner keeps, backed by huge pages
         * where the kernel allows (kh_bigbuf): in a virtual machine this
         * costs a third of mapping the file, whose every page is new to
         * the hypervisor each time (bench/README.md, benchmark 4). */
        if (kh_bigbuf_reserve(&s->rbuf, (size_t)size ? (size_t)size : 1))
            return KH_ENOMEM;
        size_t got = 0;
        while (got < size) {
            ssize_t n = pread(fd, s->rbuf.data + got, (size_t)size - got, (off_t)got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                snprintf(s->err, sizeof(s->err), "read error: %s", strerror(errno));
                return KH_EIO;
            }
            if (n == 0)
                break; /* the file shrank: scan what is there */
            got += (size_t)n;
        }
        rc = kh_scan_object(s, s->rbuf.data, got, 0);
        /* A large file's pages go back: a scanner left idle keeps READ_KEEP. */
        if (got > READ_KEEP)
            kh_bigbuf_trim(&s->rbuf, READ_KEEP);
        return end_file(rc);
    }
    kh_map m;
    /* Larger files are mapped as they are read: two threads must not hold
     * two copies of such files at once (peak RSS). */
    rc = kh_map_fd(&m, fd, (size_t)size);
    if (rc) {
        snprintf(s->err, sizeof(s->err), "cannot map file: %s", kh_strerror(rc));
        return rc;
    }
    rc = kh_scan_object(s, m.data, m.len, 0);
    kh_map_release(&m);
    return end_file(rc);
}

int kh_scanner_scan_file(kh_scanner *s, const char *path, kh_detection_cb on_detect, kh_warning_cb on_warn,
                         void *payload)
{
    if (!s || !path)
        return KH_EINVAL;
    int fd = kh_open_scan(AT_FDCWD, path, 0);
    if (fd < 0) {
        snprintf(s->err, sizeof(s->err), "%s", strerror(-fd));
        return kh_errno_to_kh(-fd);
    }
    s->name_hint = path;
    int rc = kh_scanner_scan_fd(s, fd, on_detect, on_warn, payload);
    s->name_hint = NULL;
    close(fd);
    return rc;
}
