/* Khiên — tests: a tiny builder of crafted PE files, shared by the tests of
 * src/formats/pe.c, src/engine/modules/pe.c and the fuzz seed corpus.
 *
 * Layout (file offset / rva):
 *   0x000       DOS header, e_lfanew = 0xc0
 *   0x040       Rich header (DanS, 2 entries, Rich, key 0x11223344)
 *   0x0c0       NT headers (PE32 or PE32+), 3 section headers
 *   0x400/1000  .text  (0x200 bytes; entry point at rva 0x1010)
 *   0x600/2000  .rdata (0x600 bytes): imports of KERNEL32.dll (CreateFileA,
 *               ExitProcess by name) and WS2_32.dll (ordinals 23, 115),
 *               exports of "test.dll" (FuncA, FuncB, a forwarder FwdC)
 *   0xc00/3000  .rsrc  (0x400 bytes): one RT_VERSION resource, id 1,
 *               language 0x409, with StringFileInfo CompanyName=Khien and
 *               ProductName=Shield, and one RT_ICON named "ICO"
 *   0x1000      overlay (opt.overlay bytes), then the certificate table
 */
#ifndef KH_TEST_PE_BUILD_H
#define KH_TEST_PE_BUILD_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct pe_opts {
    int is64;
    int dll;
    size_t overlay;
    const uint8_t *sig; /* DER PKCS#7, appended as a WIN_CERTIFICATE when set */
    size_t sig_len;
} pe_opts;

static void pb16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }
static void pb32(uint8_t *p, uint32_t v) { pb16(p, v & 0xffff), pb16(p + 2, v >> 16); }
static void pb64(uint8_t *p, uint64_t v) { pb32(p, (uint32_t)v), pb32(p + 4, (uint32_t)(v >> 32)); }

/* Writes a UTF-16LE string with its NUL; returns bytes written. */
static size_t pbw(uint8_t *p, const char *s)
{
    size_t n = 0;
    do
        p[n++] = (uint8_t)*s, p[n++] = 0;
    while (*s++);
    return n;
}

#define PB_ALIGN4(x) (((x) + 3) & ~(size_t)3)

/* A VS_VERSIONINFO-style node header: Length patched by the caller. */
static size_t pb_node(uint8_t *p, uint16_t vlen, uint16_t type, const char *key)
{
    pb16(p + 2, vlen);
    pb16(p + 4, type);
    return PB_ALIGN4(6 + pbw(p + 6, key));
}

static size_t pb_string(uint8_t *p, const char *key, const char *val)
{
    size_t h = pb_node(p, (uint16_t)(strlen(val) + 1), 1, key);
    size_t n = h + pbw(p + h, val);
    pb16(p, (uint16_t)n);
    return PB_ALIGN4(n);
}

static size_t pb_version(uint8_t *p)
{
    size_t o = pb_node(p, 52, 0, "VS_VERSION_INFO"); /* 40 */
    pb32(p + o, 0xfeef04bd);
    o += 52; /* VS_FIXEDFILEINFO: 92 = yara's 6 + 86 */
    size_t sfi = o;
    o += pb_node(p + o, 0, 1, "StringFileInfo");
    size_t st = o;
    o += pb_node(p + o, 0, 1, "040904b0");
    o += pb_string(p + o, "CompanyName", "Khien");
    o += pb_string(p + o, "ProductName", "Shield");
    pb16(p + st, (uint16_t)(o - st));
    pb16(p + sfi, (uint16_t)(o - sfi));
    pb16(p, (uint16_t)o);
    return o;
}

/* Builds the file; *len receives its size. Caller frees. */
static uint8_t *pe_build(const pe_opts *opt, size_t *len)
{
    size_t cert_off = 0x1000 + opt->overlay, cert_len = 0;
    cert_off = (cert_off + 7) & ~(size_t)7;
    if (opt->sig)
        cert_len = (8 + opt->sig_len + 7) & ~(size_t)7;
    size_t n = opt->sig ? cert_off + cert_len : 0x1000 + opt->overlay;
    uint8_t *f = calloc(1, n);
    if (!f)
        return NULL;
    /* DOS header */
    f[0] = 'M', f[1] = 'Z';
    pb32(f + 0x3c, 0xc0);
    /* Rich header at 0x40: DanS, 3 keys, 2 entries, Rich, key */
    const uint32_t key = 0x11223344;
    uint32_t rich[] = {0x536e6144, 0, 0, 0, 0x00010005, 3, 0x00020006, 7};
    for (size_t i = 0; i < 8; i++)
        pb32(f + 0x40 + 4 * i, rich[i] ^ key);
    pb32(f + 0x60, 0x68636952);
    pb32(f + 0x64, key);
    /* NT headers */
    uint8_t *nt = f + 0xc0, *fh = nt + 4, *oh = nt + 24;
    memcpy(nt, "PE\0\0", 4);
    pb16(fh, opt->is64 ? 0x8664 : 0x14c);
    pb16(fh + 2, 3);
    pb32(fh + 4, 0x5f5e1000); /* timestamp */
    pb16(fh + 16, opt->is64 ? 240 : 224);
    pb16(fh + 18, (uint16_t)(0x0102 | (opt->dll ? 0x2000 : 0)));
    pb16(oh, opt->is64 ? 0x20b : 0x10b);
    oh[2] = 14, oh[3] = 29;
    pb32(oh + 4, 0x200);
    pb32(oh + 16, 0x1010); /* entry point */
    pb32(oh + 20, 0x1000);
    if (opt->is64) {
        pb64(oh + 24, 0x140000000ull);
    } else {
        pb32(oh + 24, 0x2000);
        pb32(oh + 28, 0x400000);
    }
    pb32(oh + 32, 0x1000);
    pb32(oh + 36, 0x200);
    pb16(oh + 40, 6);
    pb16(oh + 48, 6);
    pb32(oh + 56, 0x4000);
    pb32(oh + 60, 0x400);
    pb16(oh + 68, 2); /* GUI */
    pb16(oh + 70, 0x8140);
    uint8_t *dd = oh + (opt->is64 ? 112 : 96);
    pb32(oh + (opt->is64 ? 108 : 92), 16);
    pb32(dd + 0 * 8, 0x2400), pb32(dd + 0 * 8 + 4, 0x100); /* export */
    pb32(dd + 1 * 8, 0x2000), pb32(dd + 1 * 8 + 4, 60);    /* import */
    pb32(dd + 2 * 8, 0x3000), pb32(dd + 2 * 8 + 4, 0x400); /* resource */
    if (opt->sig)
        pb32(dd + 4 * 8, (uint32_t)cert_off), pb32(dd + 4 * 8 + 4, (uint32_t)cert_len);
    /* Section headers */
    static const struct {
        const char *name;
        uint32_t rva, raw, size, ch;
    } sec[3] = {{".text", 0x1000, 0x400, 0x200, 0x60000020},
                {".rdata", 0x2000, 0x600, 0x600, 0x40000040},
                {".rsrc", 0x3000, 0xc00, 0x400, 0x40000040}};
    uint8_t *sh = oh + (opt->is64 ? 240 : 224);
    for (int i = 0; i < 3; i++, sh += 40) {
        memcpy(sh, sec[i].name, strlen(sec[i].name));
        pb32(sh + 8, sec[i].size);
        pb32(sh + 12, sec[i].rva);
        pb32(sh + 16, sec[i].size);
        pb32(sh + 20, sec[i].raw);
        pb32(sh + 36, sec[i].ch);
    }
    /* .text */
    f[0x410] = 0xc3;
    /* .rdata: rva r is at file offset r - 0x2000 + 0x600 */
#define RD(r) (f + (r) - 0x2000 + 0x600)
    /* import descriptors */
    pb32(RD(0x2000), 0x2100), pb32(RD(0x2000 + 12), 0x2300), pb32(RD(0x2000 + 16), 0x2180);
    pb32(RD(0x2014), 0x2140), pb32(RD(0x2014 + 12), 0x2320), pb32(RD(0x2014 + 16), 0x21c0);
    unsigned ts = opt->is64 ? 8 : 4;
    uint64_t ordf = opt->is64 ? 0x8000000000000000ull : 0x80000000ull;
    uint64_t k32[] = {0x2200, 0x2220}, ws2[] = {ordf | 23, ordf | 115};
    for (int i = 0; i < 2; i++) {
        if (opt->is64) {
            pb64(RD(0x2100 + ts * i), k32[i]), pb64(RD(0x2180 + ts * i), k32[i]);
            pb64(RD(0x2140 + ts * i), ws2[i]), pb64(RD(0x21c0 + ts * i), ws2[i]);
        } else {
            pb32(RD(0x2100 + ts * i), (uint32_t)k32[i]), pb32(RD(0x2180 + ts * i), (uint32_t)k32[i]);
            pb32(RD(0x2140 + ts * i), (uint32_t)ws2[i]), pb32(RD(0x21c0 + ts * i), (uint32_t)ws2[i]);
        }
    }
    memcpy(RD(0x2202), "CreateFileA", 11);
    memcpy(RD(0x2222), "ExitProcess", 11);
    memcpy(RD(0x2300), "KERNEL32.dll", 12);
    memcpy(RD(0x2320), "WS2_32.dll", 10);
    /* export directory */
    uint8_t *ed = RD(0x2400);
    pb32(ed + 4, 0x12345678);
    pb32(ed + 12, 0x2480);
    pb32(ed + 16, 1);      /* base */
    pb32(ed + 20, 3);      /* functions */
    pb32(ed + 24, 3);      /* names */
    pb32(ed + 28, 0x2440); /* functions */
    pb32(ed + 32, 0x2450); /* names */
    pb32(ed + 36, 0x2460); /* ordinals */
    pb32(RD(0x2440), 0x1000), pb32(RD(0x2444), 0x1010), pb32(RD(0x2448), 0x24c0);
    pb32(RD(0x2450), 0x2490), pb32(RD(0x2454), 0x24a0), pb32(RD(0x2458), 0x24b0);
    pb16(RD(0x2460), 0), pb16(RD(0x2462), 1), pb16(RD(0x2464), 2);
    memcpy(RD(0x2480), "test.dll", 8);
    memcpy(RD(0x2490), "FuncA", 5);
    memcpy(RD(0x24a0), "FuncB", 5);
    memcpy(RD(0x24b0), "FwdC", 4);
    memcpy(RD(0x24c0), "other.Func", 10);
#undef RD
    /* .rsrc at file 0xc00 (rva 0x3000): root -> 2 types */
    uint8_t *rs = f + 0xc00;
    pb16(rs + 14, 2); /* two id entries: 3 (icon), 16 (version) */
    pb32(rs + 16, 3), pb32(rs + 20, 0x80000000u | 0x30);
    pb32(rs + 24, 16), pb32(rs + 28, 0x80000000u | 0x60);
    /* icon: named "ICO" at level 1 */
    pb16(rs + 0x30 + 12, 1);
    pb32(rs + 0x30 + 16, 0x80000000u | 0x100), pb32(rs + 0x30 + 20, 0x80000000u | 0x48);
    pb16(rs + 0x48 + 14, 1);
    pb32(rs + 0x48 + 16, 0), pb32(rs + 0x48 + 20, 0x90);
    /* version: id 1, language 0x409 */
    pb16(rs + 0x60 + 14, 1);
    pb32(rs + 0x60 + 16, 1), pb32(rs + 0x60 + 20, 0x80000000u | 0x78);
    pb16(rs + 0x78 + 14, 1);
    pb32(rs + 0x78 + 16, 0x409), pb32(rs + 0x78 + 20, 0xa0);
    pb32(rs + 0x90, 0x3300), pb32(rs + 0x94, 16);  /* icon data */
    pb16(rs + 0x100, 3), pbw(rs + 0x102, "ICO");   /* name string */
    size_t vl = pb_version(rs + 0x200);
    pb32(rs + 0xa0, 0x3200), pb32(rs + 0xa4, (uint32_t)vl);
    /* overlay and certificate table */
    for (size_t i = 0; i < opt->overlay; i++)
        f[0x1000 + i] = (uint8_t)(0xa5 ^ i);
    if (opt->sig) {
        pb32(f + cert_off, (uint32_t)(8 + opt->sig_len));
        pb16(f + cert_off + 4, 0x200);
        pb16(f + cert_off + 6, 2);
        memcpy(f + cert_off + 8, opt->sig, opt->sig_len);
    }
    *len = n;
    return f;
}

#endif
