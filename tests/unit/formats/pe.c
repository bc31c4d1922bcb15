/* Tests of src/formats/pe.c and authenticode.c on PE files crafted by
 * pe_build.h: PE32 and PE32+, headers and sections, rva-to-offset, imports
 * by name and by ordinal (ws2_32 names), the import hash (MD5 of the list
 * written out here), exports with a forwarder, resources with a named
 * entry and a VS_VERSIONINFO string table, the Rich header, the overlay,
 * and an Authenticode certificate table holding a PKCS#7 made at test time
 * with OpenSSL. Then every truncation of a file and thousands of seeded
 * random corruptions: the parser must answer (possibly "not a PE") and
 * never crash or read out of bounds (run under ASan/UBSan). */
#include <stdint.h>
#include <stdio.h>

#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "formats/pe.h"
#include "harness.h"
#include "pe_build.h"
#include "util/util.h"

static int beq(kh_pe_bytes b, const char *s) { return b.p && b.n == strlen(s) && memcmp(b.p, s, b.n) == 0; }

static kh_pe *parse_built(const pe_opts *o, uint8_t **buf, size_t *len)
{
    kh_pe *pe = NULL;
    *buf = pe_build(o, len);
    if (!*buf || kh_pe_parse(&pe, *buf, *len) != 0)
        return NULL;
    return pe;
}

KT_TEST(test_formats_pe__pe32_headers)
{
    pe_opts o = {0, 0, 100, NULL, 0};
    uint8_t *f;
    size_t n;
    kh_pe *pe = parse_built(&o, &f, &n);
    KT_CHECK(pe != NULL);
    if (!pe)
        return;
    KT_EQ_INT(pe->is_64, 0);
    KT_EQ_INT(pe->machine, 0x14c);
    KT_EQ_INT(pe->number_of_sections, 3);
    KT_EQ_INT(pe->timestamp, 0x5f5e1000);
    KT_EQ_INT(pe->opthdr_magic, 0x10b);
    KT_EQ_INT(pe->image_base, 0x400000);
    KT_EQ_INT(pe->base_of_data, 0x2000);
    KT_EQ_INT(pe->linker_major, 14);
    KT_EQ_INT(pe->linker_minor, 29);
    KT_EQ_INT(pe->entry_point_raw, 0x1010);
    KT_EQ_INT(pe->entry_point, 0x410);
    KT_EQ_INT(pe->ndirs, 16);
    KT_EQ_INT(pe->nsections, 3);
    KT_CHECK(beq(pe->sections[1].name, ".rdata"));
    KT_EQ_INT(pe->sections[2].raw_data_offset, 0xc00);
    KT_EQ_INT(pe->overlay_offset, 0x1000);
    KT_EQ_INT(pe->overlay_size, 100);
    KT_EQ_INT(kh_pe_rva_to_offset(pe, 0x2010), 0x610);
    KT_EQ_INT(kh_pe_rva_to_offset(pe, 0x10), 0x10);     /* below the first section: 1:1 */
    KT_EQ_INT(kh_pe_rva_to_offset(pe, 0x1300), -1);     /* past .text's virtual size */
    KT_EQ_INT(kh_pe_rva_to_offset(pe, 0x90000), -1);
    KT_EQ_INT(pe->has_rich, 1);
    KT_EQ_INT(pe->rich_offset, 0x40);
    KT_EQ_INT(pe->rich_length, 32);
    KT_EQ_INT(pe->rich_key, 0x11223344);
    KT_CHECK(pe->rich_clear.p && memcmp(pe->rich_clear.p, "DanS", 4) == 0);
    KT_EQ_INT(pe->has_security_dir, 1);
    KT_EQ_INT(pe->nsignatures, 0);
    kh_pe_destroy(pe);
    free(f);
}

KT_TEST(test_formats_pe__pe64_headers)
{
    pe_opts o = {1, 1, 0, NULL, 0};
    uint8_t *f;
    size_t n;
    kh_pe *pe = parse_built(&o, &f, &n);
    KT_CHECK(pe != NULL);
    if (!pe)
        return;
    KT_EQ_INT(pe->is_64, 1);
    KT_EQ_INT(pe->machine, 0x8664);
    KT_EQ_INT(pe->image_base, 0x140000000ll);
    KT_EQ_INT(pe->characteristics & 0x2000, 0x2000);
    KT_EQ_INT(pe->overlay_offset, 0);
    KT_EQ_INT(pe->overlay_size, 0);
    KT_EQ_INT(pe->ndlls, 2);
    KT_EQ_INT(pe->nfuncs, 4);
    KT_CHECK(beq(pe->funcs[3].name, "WSAStartup"));
    kh_pe_destroy(pe);
    free(f);
}

KT_TEST(test_formats_pe__imports_and_imphash)
{
    pe_opts o = {0, 0, 0, NULL, 0};
    uint8_t *f;
    size_t n;
    kh_pe *pe = parse_built(&o, &f, &n);
    KT_CHECK(pe != NULL);
    if (!pe)
        return;
    KT_EQ_INT(pe->number_of_imports, 2);
    KT_EQ_INT(pe->number_of_imported_functions, 4);
    KT_CHECK(beq(pe->dlls[0].name, "KERNEL32.dll"));
    KT_CHECK(beq(pe->dlls[1].name, "WS2_32.dll"));
    KT_CHECK(beq(pe->funcs[0].name, "CreateFileA"));
    KT_CHECK(beq(pe->funcs[1].name, "ExitProcess"));
    KT_CHECK(beq(pe->funcs[2].name, "socket"));
    KT_EQ_INT(pe->funcs[2].has_ordinal, 1);
    KT_EQ_INT(pe->funcs[2].ordinal, 23);
    KT_CHECK(beq(pe->funcs[3].name, "WSAStartup"));
    char got[33], want[33];
    const char *list = "kernel32.createfilea,kernel32.exitprocess,ws2_32.socket,ws2_32.wsastartup";
    unsigned char md[16];
    unsigned int ml = 0;
    EVP_Digest(list, strlen(list), md, &ml, EVP_md5(), NULL);
    kh_hex_encode(md, 16, want);
    KT_EQ_INT(kh_pe_imphash(pe, got), 0);
    KT_EQ_STR(got, want);
    char on[64];
    kh_pe_ord_name((const uint8_t *)"oleaut32.dll", 12, 2, on);
    KT_EQ_STR(on, "SysAllocString");
    kh_pe_ord_name((const uint8_t *)"OLEAUT32.DLL", 12, 443, on);
    KT_EQ_STR(on, "UnRegisterTypeLibForUser");
    kh_pe_ord_name((const uint8_t *)"wsock32.dll", 11, 500, on);
    KT_EQ_STR(on, "WEP");
    kh_pe_ord_name((const uint8_t *)"kernel32.dll", 12, 7, on);
    KT_EQ_STR(on, "ord7");
    kh_pe_ord_name((const uint8_t *)"ws2_32.dll", 10, 100, on);
    KT_EQ_STR(on, "ord100");
    kh_pe_destroy(pe);
    free(f);
}

KT_TEST(test_formats_pe__exports)
{
    pe_opts o = {0, 1, 0, NULL, 0};
    uint8_t *f;
    size_t n;
    kh_pe *pe = parse_built(&o, &f, &n);
    KT_CHECK(pe != NULL);
    if (!pe)
        return;
    KT_CHECK(beq(pe->dll_name, "test.dll"));
    KT_EQ_INT(pe->export_timestamp, 0x12345678);
    KT_EQ_INT(pe->nexports, 3);
    KT_EQ_INT(pe->exports[0].ordinal, 1);
    KT_CHECK(beq(pe->exports[0].name, "FuncA"));
    KT_EQ_INT(pe->exports[0].offset, 0x400);
    KT_EQ_INT(pe->exports[1].ordinal, 2);
    KT_EQ_INT(pe->exports[1].offset, 0x410);
    KT_CHECK(beq(pe->exports[2].name, "FwdC"));
    KT_EQ_INT(pe->exports[2].has_offset, 0);
    KT_CHECK(beq(pe->exports[2].forward, "other.Func"));
    kh_pe_destroy(pe);
    free(f);
}

KT_TEST(test_formats_pe__resources_and_version)
{
    pe_opts o = {0, 0, 0, NULL, 0};
    uint8_t *f;
    size_t n;
    kh_pe *pe = parse_built(&o, &f, &n);
    KT_CHECK(pe != NULL);
    if (!pe)
        return;
    KT_EQ_INT(pe->has_rsrc_dir, 1);
    KT_EQ_INT(pe->nresources, 2);
    KT_EQ_INT(pe->resources[0].type, 3);
    KT_CHECK(pe->resources[0].name_string.p && pe->resources[0].name_string.n == 6 &&
             memcmp(pe->resources[0].name_string.p, "I\0C\0O\0", 6) == 0);
    KT_EQ_INT(pe->resources[0].language, 0);
    KT_EQ_INT(pe->resources[0].rva, 0x3300);
    KT_EQ_INT(pe->resources[0].offset, 0xf00);
    KT_EQ_INT(pe->resources[1].type, 16);
    KT_EQ_INT(pe->resources[1].id, 1);
    KT_EQ_INT(pe->resources[1].language, 0x409);
    KT_EQ_INT(pe->nvinfos, 2);
    if (pe->nvinfos == 2) {
        KT_CHECK(beq(pe->vinfos[0].key, "CompanyName"));
        KT_CHECK(beq(pe->vinfos[0].value, "Khien"));
        KT_CHECK(beq(pe->vinfos[1].key, "ProductName"));
        KT_CHECK(beq(pe->vinfos[1].value, "Shield"));
    }
    kh_pe_destroy(pe);
    free(f);
}

/* A self-signed certificate and a PKCS#7 SignedData over "khien". */
static unsigned char *make_pkcs7(int *len, unsigned char sha1[20])
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    unsigned char *der = NULL;
    *len = 0;
    if (!key || !x)
        goto done;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 0x010203);
    ASN1_TIME_set(X509_getm_notBefore(x), 1600000000);
    ASN1_TIME_set(X509_getm_notAfter(x), 1700000000);
    X509_NAME *nm = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(nm, "C", MBSTRING_ASC, (const unsigned char *)"VN", -1, -1, 0);
    X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_ASC, (const unsigned char *)"Khien", -1, -1, 0);
    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"Test", -1, -1, 0);
    X509_set_issuer_name(x, nm);
    X509_set_pubkey(x, key);
    X509_sign(x, key, EVP_sha256());
    unsigned int ml = 0;
    X509_digest(x, EVP_sha1(), sha1, &ml);
    BIO *in = BIO_new_mem_buf("khien", 5);
    PKCS7 *p7 = PKCS7_sign(x, key, NULL, in, PKCS7_BINARY);
    if (p7)
        *len = i2d_PKCS7(p7, &der);
    PKCS7_free(p7);
    BIO_free(in);
done:
    X509_free(x);
    EVP_PKEY_free(key);
    return der;
}

KT_TEST(test_formats_pe__authenticode)
{
    unsigned char sha1[20];
    int dl;
    unsigned char *der = make_pkcs7(&dl, sha1);
    KT_CHECK(der && dl > 0);
    if (!der)
        return;
    pe_opts o = {0, 0, 0, der, (size_t)dl};
    uint8_t *f;
    size_t n;
    kh_pe *pe = parse_built(&o, &f, &n);
    KT_CHECK(pe != NULL);
    if (pe) {
        KT_EQ_INT(pe->nsignatures, 1);
        const kh_pe_signature *s = &pe->signatures[0];
        char want[41];
        kh_hex_encode(sha1, 20, want);
        KT_CHECK(beq(s->thumbprint, want));
        KT_CHECK(beq(s->issuer, "/C=VN/O=Khien/CN=Test"));
        KT_CHECK(beq(s->subject, "/C=VN/O=Khien/CN=Test"));
        KT_CHECK(beq(s->serial, "01:02:03"));
        KT_EQ_INT(s->version, 3);
        KT_CHECK(beq(s->algorithm, "ecdsa-with-SHA256"));
        KT_CHECK(beq(s->algorithm_oid, "1.2.840.10045.4.3.2"));
        KT_EQ_INT(s->not_before, 1600000000);
        KT_EQ_INT(s->not_after, 1700000000);
        kh_pe_destroy(pe);
    }
    /* The same table with a damaged PKCS#7: no signature, never a crash. */
    for (size_t cut = 0; f && cut < (size_t)dl; cut += 7) {
        uint8_t *g = malloc(n);
        memcpy(g, f, n);
        size_t co = n - ((8 + (size_t)dl + 7) & ~(size_t)7);
        g[co + 8 + cut] ^= 0x5a;
        kh_pe *p2 = NULL;
        KT_EQ_INT(kh_pe_parse(&p2, g, n), 0);
        KT_CHECK(p2 && p2->nsignatures <= 1);
        kh_pe_destroy(p2);
        free(g);
    }
    free(f);
    OPENSSL_free(der);
}

KT_TEST(test_formats_pe__not_pe)
{
    kh_pe *pe = NULL;
    KT_EQ_INT(kh_pe_parse(&pe, (const uint8_t *)"", 0), KH_EFORMAT);
    KT_EQ_INT(kh_pe_parse(&pe, (const uint8_t *)"MZ", 2), KH_EFORMAT);
    uint8_t elf[256] = {0x7f, 'E', 'L', 'F'};
    KT_EQ_INT(kh_pe_parse(&pe, elf, sizeof(elf)), KH_EFORMAT);
    uint8_t mz[256] = {'M', 'Z'};
    pb32(mz + 0x3c, 0xfffffff0u); /* e_lfanew far past the end */
    KT_EQ_INT(kh_pe_parse(&pe, mz, sizeof(mz)), KH_EFORMAT);
    KT_CHECK(pe == NULL);
}

/* Every prefix of a file parses or is refused, without reading past it. */
KT_TEST(test_formats_pe__truncations)
{
    unsigned char sha1[20];
    int dl;
    unsigned char *der = make_pkcs7(&dl, sha1);
    for (int v = 0; v < 2; v++) {
        pe_opts o = {v, 0, 16, der, der ? (size_t)dl : 0};
        size_t n;
        uint8_t *f = pe_build(&o, &n);
        for (size_t cut = 0; f && cut <= n; cut++) {
            uint8_t *g = malloc(cut ? cut : 1); /* exact size: ASan sees any overread */
            memcpy(g, f, cut);
            kh_pe *pe = NULL;
            int rc = kh_pe_parse(&pe, g, cut);
            KT_CHECK(rc == 0 || rc == KH_EFORMAT);
            if (rc == 0) {
                char h[33];
                KT_EQ_INT(kh_pe_imphash(pe, h), 0);
                (void)kh_pe_checksum(g, cut);
                (void)kh_pe_rva_to_offset(pe, 0x2000);
            }
            kh_pe_destroy(pe);
            free(g);
        }
        free(f);
    }
    OPENSSL_free(der);
}

/* Seeded random corruption of headers and tables. */
KT_TEST(test_formats_pe__corruptions)
{
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (int v = 0; v < 2; v++) {
        pe_opts o = {v, v, 32, NULL, 0};
        size_t n;
        uint8_t *f = pe_build(&o, &n);
        uint8_t *g = malloc(n);
        for (int it = 0; f && g && it < 3000; it++) {
            memcpy(g, f, n);
            int flips = 1 + (int)(s % 8);
            for (int k = 0; k < flips; k++) {
                s ^= s << 13, s ^= s >> 7, s ^= s << 17;
                size_t pos = (size_t)(s % n);
                if (s & 0x100000) /* mostly hit the headers and tables */
                    pos = (size_t)(s % 0x1000);
                g[pos] = (uint8_t)(s >> 24);
            }
            kh_pe *pe = NULL;
            int rc = kh_pe_parse(&pe, g, n);
            KT_CHECK(rc == 0 || rc == KH_EFORMAT);
            if (pe) {
                char h[33];
                KT_EQ_INT(kh_pe_imphash(pe, h), 0);
                KT_CHECK(pe->nsections <= KH_PE_MAX_SECTIONS);
            }
            kh_pe_destroy(pe);
        }
        free(g);
        free(f);
    }
}

KT_MAIN({
    KT_CASE(test_formats_pe__pe32_headers),
    KT_CASE(test_formats_pe__pe64_headers),
    KT_CASE(test_formats_pe__imports_and_imphash),
    KT_CASE(test_formats_pe__exports),
    KT_CASE(test_formats_pe__resources_and_version),
    KT_CASE(test_formats_pe__authenticode),
    KT_CASE(test_formats_pe__not_pe),
    KT_CASE(test_formats_pe__truncations),
    KT_CASE(test_formats_pe__corruptions),
})
