/* Khiên — tests for net/pki.c and net/sign.c: a CA issues a server
 * certificate and signs an agent's CSR; fingerprints; Ed25519 bundles
 * (tampering refused); argon2id passwords. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "khien/error.h"
#include "net/pki.h"
#include "net/sign.h"

KT_TEST(test_pki)
{
    char err[256] = "";
    char *cak = NULL, *cac = NULL, *sk = NULL, *sc = NULL, *ak = NULL, *csr = NULL, *ac = NULL;
    KT_CHECK(kh_pki_ca_create(&cak, &cac, "Khien test CA", 3650, err, sizeof(err)) == 0);
    const char *names[] = {"localhost", "127.0.0.1"};
    KT_CHECK(kh_pki_server_cert_create(&sk, &sc, cak, cac, "localhost", names, 2, 825, err, sizeof(err)) == 0);
    KT_CHECK(kh_pki_csr_create(&ak, &csr, "pc-01", err, sizeof(err)) == 0);
    KT_CHECK(strstr(csr, "BEGIN CERTIFICATE REQUEST") != NULL);
    KT_CHECK(kh_pki_csr_sign(&ac, cak, cac, csr, "host-7", 77, 825, err, sizeof(err)) == 0);
    char cn[KH_PKI_CN_MAX];
    uint64_t serial = 0;
    time_t na = 0;
    KT_CHECK(kh_pki_cert_info(ac, cn, &serial, &na, err, sizeof(err)) == 0);
    KT_CHECK(strcmp(cn, "host-7") == 0);
    KT_CHECK(serial == 77);
    KT_CHECK(na > time(NULL) + 800L * 86400);
    KT_CHECK(kh_pki_cert_verify(ac, cac, err, sizeof(err)) == 0);
    KT_CHECK(kh_pki_cert_verify(sc, cac, err, sizeof(err)) == 0);
    /* another CA does not vouch for it */
    char *k2 = NULL, *c2 = NULL;
    KT_CHECK(kh_pki_ca_create(&k2, &c2, "Other CA", 10, err, sizeof(err)) == 0);
    KT_CHECK(kh_pki_cert_verify(ac, c2, err, sizeof(err)) == KH_EACCES);
    char f1[KH_PKI_FPR_HEX], f2[KH_PKI_FPR_HEX], f3[KH_PKI_FPR_HEX];
    KT_CHECK(kh_pki_cert_sha256(f1, cac, err, sizeof(err)) == 0);
    KT_CHECK(kh_pki_cert_sha256(f2, c2, err, sizeof(err)) == 0);
    KT_CHECK(strcmp(f1, f2) != 0 && strlen(f1) == 64);
    char colon[200];
    size_t n = 0;
    for (int i = 0; i < 32; i++)
        n += (size_t)snprintf(colon + n, sizeof(colon) - n, "%s%c%c", i ? ":" : "", f1[2 * i] - (f1[2 * i] >= 'a' ? 32 : 0), f1[2 * i + 1]);
    KT_CHECK(kh_pki_fpr_normalize(f3, colon) == 0 && strcmp(f3, f1) == 0);
    KT_CHECK(kh_pki_fpr_normalize(f3, "abc") == KH_EFORMAT);
    /* bad input */
    char *x = NULL;
    KT_CHECK(kh_pki_csr_sign(&x, cak, cac, "garbage", "host-8", 8, 10, err, sizeof(err)) == KH_EFORMAT && x == NULL);
    char *bad = strdup(csr);
    bad[strlen(bad) / 2] ^= 1;
    KT_CHECK(kh_pki_csr_sign(&x, cak, cac, bad, "host-8", 8, 10, err, sizeof(err)) < 0 && x == NULL);
    KT_CHECK(kh_pki_cert_sha256(f3, "nope", err, sizeof(err)) == KH_EFORMAT);
    free(bad);
    free(cak); free(cac); free(sk); free(sc); free(ak); free(csr); free(ac); free(k2); free(c2);
}

KT_TEST(test_sign)
{
    uint8_t pk[KH_SIGN_PK_BYTES], sk[KH_SIGN_SK_BYTES], pk2[KH_SIGN_PK_BYTES], sk2[KH_SIGN_SK_BYTES];
    KT_CHECK(kh_sign_keypair(pk, sk) == 0);
    KT_CHECK(kh_sign_keypair(pk2, sk2) == 0);
    const char *payload = "{\"kind\":\"bundle\",\"name\":\"policy\"}";
    char *env = NULL;
    size_t elen = 0;
    KT_CHECK(kh_bundle_seal(&env, &elen, payload, strlen(payload), sk) == 0);
    uint8_t *out = NULL;
    size_t olen = 0;
    char err[256];
    KT_CHECK(kh_bundle_open(&out, &olen, env, elen, pk, err, sizeof(err)) == 0);
    KT_CHECK(olen == strlen(payload) && memcmp(out, payload, olen) == 0);
    free(out);
    out = NULL;
    KT_CHECK(kh_bundle_open(&out, &olen, env, elen, pk2, err, sizeof(err)) == KH_EACCES && out == NULL);
    /* tamper with one payload character (base64 'A' <-> 'B') */
    char *t = strdup(env);
    char *p = strstr(t, "\"payload\":\"") + 11;
    p[5] = p[5] == 'A' ? 'B' : 'A';
    KT_CHECK(kh_bundle_open(&out, &olen, t, strlen(t), pk, err, sizeof(err)) == KH_EACCES);
    KT_CHECK(kh_bundle_open(&out, &olen, "{}", 2, pk, err, sizeof(err)) == KH_EFORMAT);
    KT_CHECK(kh_bundle_open(&out, &olen, "not json", 8, pk, err, sizeof(err)) == KH_EFORMAT);
    free(t);
    free(env);
    char h[KH_SIGN_PWHASH_MAX];
    KT_CHECK(kh_sign_password_hash(h, "correct horse") == 0);
    KT_CHECK(strncmp(h, "$argon2id$", 10) == 0);
    KT_CHECK(kh_sign_password_verify(h, "correct horse") == 0);
    KT_CHECK(kh_sign_password_verify(h, "wrong horse") == KH_EACCES);
    KT_CHECK(kh_sign_password_verify("plain", "plain") == KH_EFORMAT);
    char hex[33];
    KT_CHECK(kh_sign_random_hex(hex, 16) == 0 && strlen(hex) == 32);
    uint8_t b[4];
    KT_CHECK(kh_sign_hex2bin(b, 4, "0a0b0c0d") == 0 && b[3] == 0x0d);
    KT_CHECK(kh_sign_hex2bin(b, 4, "0a0b0c0") == KH_EFORMAT);
}

KT_MAIN({KT_CASE(test_pki), KT_CASE(test_sign)})
