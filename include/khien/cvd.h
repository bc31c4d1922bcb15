/* Khiên — ClamAV database containers (.cvd .cld .cud) and .cdiff patches.
 *
 * ClamAV ships its signatures as containers: a 512-byte text header
 * ("ClamAV-VDB:time:version:sigs:flevel:md5:dsig:builder:stime", padded with
 * spaces) followed by a tar archive, gzip-compressed in a .cvd/.cud and
 * usually plain in a .cld. Inside, a NAME.info file lists every database
 * file with its size and SHA-256 and ends with a "DSIG:" line signing that
 * list. freshclam keeps a database current with .cdiff patches, small signed
 * scripts of line edits, and saves the patched result as a .cld.
 *
 * Checks, as ClamAV makes them:
 *  - .cvd: the MD5 of everything after the header equals the header's MD5,
 *    and the header's digital signature (RSA, ClamAV's 1024-bit key) signs
 *    that MD5;
 *  - .cvd and .cld: the .info's DSIG (RSA-PSS-like with SHA-256, ClamAV's
 *    2048-bit key) signs the .info, whose first line repeats the header's
 *    version, signature count, functionality level and time, and every
 *    database file inside has the size and SHA-256 the .info lists;
 *  - .cud ("unsigned"): only the .info sizes and hashes;
 *  - .cdiff: the SHA-256 of the file up to its last ':' is signed (a third
 *    ClamAV key) by the text after it.
 * ClamAV 1.5 also publishes NAME-VERSION.cvd.sign beside a .cvd: a first
 * line "#clamsign-1.0", then lines "min_flevel:max_flevel:pkcs7-pem:BASE64",
 * a detached PKCS#7 signature of the whole .cvd by a certificate that chains
 * to a CA in the certificates folder (ClamAV's is clamav.crt). When such a
 * file is there and the folder holds a CA, it must verify, and it then
 * replaces the header's MD5 signature (as in ClamAV 1.5); without a CA the
 * .sign file is not used.
 * With KH_CVD_UNSIGNED_OK a failed check becomes a warning.
 *
 * Keys: ClamAV's published public keys are built in. Tests replace them
 * with their own (kh_cvd_options.keys, text "cvd N E\ninfo N E\ncdiff N E"
 * with decimal numbers): never use that outside tests.
 */
#ifndef KHIEN_CVD_H
#define KHIEN_CVD_H

#include "common.h"
#include "error.h"

/** A container header. */
typedef struct kh_cvd_header {
    char time[64];      /**< build time as written ("26 Nov 2026 08-30 +0000") */
    unsigned version;   /**< database version */
    unsigned sigs;      /**< signature count */
    unsigned flevel;    /**< functionality level required */
    char md5[33];       /**< MD5 of the body (hex), "X" in .info/.cld copies */
    char dsig[400];     /**< digital signature of the MD5 */
    char builder[64];   /**< who built it */
    long long stime;    /**< build time in seconds (0 in old files) */
} kh_cvd_header;

#define KH_CVD_UNSIGNED_OK 0x1u /**< failed checks are warnings, not errors */

typedef struct kh_cvd_options {
    unsigned flags;        /**< KH_CVD_* */
    const char *keys;      /**< NULL: ClamAV's keys. Test keys only (see above). */
    const char *certs_dir; /**< CA certificates (*.pem *.crt) for .sign files; NULL: /etc/clamav/certs */
} kh_cvd_options;

/** Parses a header from the first bytes of a container (at most 512 used).
 *  @return 0 or KH_EFORMAT. */
KH_API int kh_cvd_header_parse(const void *p, size_t n, kh_cvd_header *out);

/** Reads the header of a container file. @return 0, KH_ENOENT, KH_EIO, KH_EFORMAT. */
KH_API int kh_cvd_header_read(const char *path, kh_cvd_header *out);

/** Makes every check on a container file without keeping its contents
 *  (files are unpacked one at a time). @p hdr receives its header.
 *  @return 0, KH_ENOENT, KH_EIO, KH_EFORMAT, KH_ELIMIT, KH_ENOMEM. */
KH_API int kh_cvd_check_file(const char *path, const kh_cvd_options *opts, kh_cvd_header *hdr, char *err,
                             size_t errlen);

/** A database unpacked in memory: its files, ready for patches. */
typedef struct kh_cvdset kh_cvdset;

/** Checks a container held in memory (type from @p name's extension:
 *  .cvd .cld .cud) and unpacks it. @p err receives the reason on failure and
 *  the warnings (";"-separated) on success with KH_CVD_UNSIGNED_OK.
 *  @return 0, KH_EFORMAT (damaged or failed check), KH_ELIMIT, KH_ENOMEM. */
KH_API int kh_cvdset_open_mem(kh_cvdset **out, const char *name, const void *data, size_t len,
                              const kh_cvd_options *opts, char *err, size_t errlen);
/** Same, from a file. */
KH_API int kh_cvdset_open(kh_cvdset **out, const char *path, const kh_cvd_options *opts, char *err, size_t errlen);
KH_API void kh_cvdset_destroy(kh_cvdset *s);

/** Checks a .cdiff's signature and applies its commands to the set, as
 *  freshclam does. The set is unchanged on failure.
 *  @return 0, KH_EFORMAT (bad signature, malformed, does not apply), KH_ELIMIT, KH_ENOMEM. */
KH_API int kh_cvdset_apply_cdiff(kh_cvdset *s, const void *cdiff, size_t len, const kh_cvd_options *opts,
                                 char *err, size_t errlen);

/** Checks the set as a .cld would be checked (the .info's signature, every
 *  file against it) and returns the header its .info carries.
 *  @return 0 or KH_EFORMAT. */
KH_API int kh_cvdset_verify(const kh_cvdset *s, const kh_cvd_options *opts, kh_cvd_header *hdr, char *err,
                            size_t errlen);

/** One file of the set (borrowed; valid until the set changes).
 *  @return 0 or KH_ENOTFOUND. */
KH_API int kh_cvdset_file(const kh_cvdset *s, const char *name, const void **data, size_t *len);

/** Header of the set (from its .info after patches). */
KH_API const kh_cvd_header *kh_cvdset_header(const kh_cvdset *s);

/** Writes the set as a .cld (header from the .info, plain tar, COPYING
 *  first), as freshclam does. Written to a temporary name, then renamed.
 *  @return 0, KH_EIO, KH_ENOMEM. */
KH_API int kh_cvdset_write_cld(const kh_cvdset *s, const char *path);

#endif
