/* Khiên — server/bundle: building and reading the payload of signed bundles.
 *
 * The payload (docs/api.md) is
 *   {"kind":"bundle","name":N,"version":V,"created":ISO,
 *    "files":[{"name","sha256","size","data":<base64>}]}
 * sealed by kh_bundle_seal (net/sign.h). Used by the server (POST
 * /api/v1/bundles) and by `khien bundle make|verify` (air-gapped transfer).
 */
#ifndef KH_SERVER_BUNDLE_H
#define KH_SERVER_BUNDLE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "net/sign.h"

#define KH_BUNDLE_FILES_MAX 1000

/** 1 if name is a valid bundle name: [a-z0-9_-]{1,64}. */
int kh_bundle_name_ok(const char *name);
/** 1 if name is a valid file name inside a bundle (no '/', no "..", 1-200 chars, no control characters). */
int kh_bundle_file_name_ok(const char *name);
/** Builds and signs a bundle from files [{"name", "data": <base64>}].
 * @param[out] env envelope text (caller frees); sha256_hex of the envelope (65 bytes)
 * @return 0, KH_EINVAL (bad name / file name / base64; message in err), KH_ELIMIT, KH_ENOMEM */
int kh_bundle_build(char **env, char sha256_hex[65], const char *name, int64_t version, json_t *files,
                    const uint8_t sk[KH_SIGN_SK_BYTES], char *err, size_t errsz);
/** Verifies an envelope and parses its payload; checks every file's SHA-256.
 * @return 0, KH_EFORMAT, KH_EACCES (bad signature), KH_ELIMIT, KH_ENOMEM */
int kh_bundle_read(json_t **payload_out, const char *env, size_t len, const uint8_t pk[KH_SIGN_PK_BYTES], char *err,
                   size_t errsz);

#endif
