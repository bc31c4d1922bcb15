/* Khiên — engine/clamav: ClamAV database containers (internal API).
 * The public part is include/khien/cvd.h. */
#ifndef KH_ENGINE_CLAMAV_CVD_H
#define KH_ENGINE_CLAMAV_CVD_H

#include <stddef.h>
#include <stdint.h>

#include "khien/cvd.h"

/* Internal option flag: failed container-level checks (MD5, signatures,
 * header) let through by KH_CVD_UNSIGNED_OK are not reported again. */
#define KH_CVD_QUIET_CONTAINER 0x100u

typedef enum kh_cvd_type { KH_CVD_NONE = 0, KH_CVD_CVD, KH_CVD_CLD, KH_CVD_CUD } kh_cvd_type;

/* Container type by extension (without the dot). */
kh_cvd_type kh_cvd_type_of(const char *ext);

/* Called for every file of a container, in archive order, once the file
 * has passed its checks. A non-zero return stops the read with that code. */
typedef int (*kh_cvd_member_fn)(void *ud, const char *name, const uint8_t *data, size_t len);
/* Which files to read (NULL: all). Files not wanted are skipped unread and
 * unchecked: the caller reads them in another pass or never uses them. */
typedef int (*kh_cvd_want_fn)(void *ud, const char *name);
/* Called with each check that failed but was let through (KH_CVD_UNSIGNED_OK). */
typedef void (*kh_cvd_warn_fn)(void *ud, const char *msg);

/* Checks a whole container in memory and streams its files to @p fn
 * (NULL: check only), those `want` accepts. The MD5 and header signature are checked before
 * anything is unpacked; each file is checked against the .info before it
 * is handed on. @p err gets the reason of a failure.
 * Returns 0, KH_EFORMAT, KH_ELIMIT, KH_ENOMEM or fn's code. */
int kh_cvd_read(const char *name, const uint8_t *data, size_t len, kh_cvd_type type, const kh_cvd_options *o,
                kh_cvd_want_fn want, kh_cvd_member_fn fn, kh_cvd_warn_fn warn, void *ud, kh_cvd_header *hdr, char *err,
                size_t errlen);

/* 1 if a folder also holds the same database in the other form (.cvd vs
 * .cld) with a newer version (or the same version, for a .cvd beside its
 * .cld): ClamAV then loads only that one. */
int kh_cvd_superseded(const char *path);

/* The two signature schemes, exposed for tests.
 * kh_cvd_versig: dsig signs the 32-hex-digit MD5 (the header scheme).
 * kh_cvd_versig2: dsig signs the SHA-256 (the .info and .cdiff scheme).
 * which: 0 header key, 1 .info key, 2 .cdiff key. Return 0 or KH_EFORMAT. */
int kh_cvd_versig(const char *keys, const char *md5hex, const char *dsig);
int kh_cvd_versig2(const char *keys, int which, const uint8_t sha256[32], const char *dsig, size_t dsiglen);

#endif

/* ---- The compiler's side --------------------------------------------------- */

struct kh_dbctx;
/* Loads the database files inside the container at `path` into ctx, as
 * kh_clamav_load (or, with ign_pass, kh_clamav_ign_collect) would load them
 * one by one; they are reported as "path!member". ctx->ud must be the
 * compiler's {compiler, file name} pair (see compiler.c: db_diag); certs is
 * the CA folder for .sign files (NULL: /etc/clamav/certs). A
 * container that fails its checks is refused (KH_EFORMAT, with an error
 * diagnostic) unless ctx->flags has KH_COMPILE_UNSIGNED_OK. */
int kh_cvd_load_source(struct kh_dbctx *ctx, const char *path, const char *keys, const char *certs, int ign_pass,
                       char ***ign, size_t *nign, size_t *capign);
