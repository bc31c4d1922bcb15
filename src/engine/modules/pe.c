/* Khiên — engine/modules: the `pe` module, as yara 4.2.3's.
 *
 * The declaration below lists yara 4.2.3's pe module member for member:
 * 171 constants (MACHINE_*, SUBSYSTEM_*, section and DLL characteristics,
 * resource types, data directory indices, IMPORT_*), the header fields,
 * sections, data directories, overlay, Rich header, imports and exports
 * (with import_details/export_details), resources and version info,
 * Authenticode signatures, and the functions (imphash, imports, exports,
 * exports_index, section_index, locale, language, is_dll, is_32bit,
 * is_64bit, calculate_checksum, rva_to_offset, rich_signature.version and
 * .toolid, signatures[i].valid_on). The loader runs the bounded parser of
 * formats/pe.c once and copies its answers into the value tree; it sets
 * exactly the fields yara sets, so what yara leaves undefined stays
 * undefined here. Two of yara's quirks are kept on purpose because rules
 * can observe them: import_details[i].functions is indexed by a counter
 * that runs across all DLLs (and number_of_functions is that running
 * count), and delay_import_details is declared but never filled.
 *
 * Module functions only see the value tree and the scanned bytes, so the
 * loader also stores, in members whose names are not identifiers (no rule
 * can name them), a compact list of the standard and delay-load imports and
 * the precomputed imphash. Functions with a regex argument call the
 * evaluator through kh_ycall.regex_match (a search, as yr_re_match).
 */
#include <stdio.h>
#include <string.h>

#include "engine/modules/module.h"
#include "formats/pe.h"
#include "util/util.h"

#define PE_CONSTS(X) \
    X(MACHINE_UNKNOWN, 0) \
    X(MACHINE_AM33, 467) \
    X(MACHINE_AMD64, 34404) \
    X(MACHINE_ARM, 448) \
    X(MACHINE_ARMNT, 452) \
    X(MACHINE_ARM64, 43620) \
    X(MACHINE_EBC, 3772) \
    X(MACHINE_I386, 332) \
    X(MACHINE_IA64, 512) \
    X(MACHINE_M32R, 36929) \
    X(MACHINE_MIPS16, 614) \
    X(MACHINE_MIPSFPU, 870) \
    X(MACHINE_MIPSFPU16, 1126) \
    X(MACHINE_POWERPC, 496) \
    X(MACHINE_POWERPCFP, 497) \
    X(MACHINE_R4000, 358) \
    X(MACHINE_SH3, 418) \
    X(MACHINE_SH3DSP, 419) \
    X(MACHINE_SH4, 422) \
    X(MACHINE_SH5, 424) \
    X(MACHINE_THUMB, 450) \
    X(MACHINE_WCEMIPSV2, 361) \
    X(MACHINE_TARGET_HOST, 1) \
    X(MACHINE_R3000, 354) \
    X(MACHINE_R10000, 360) \
    X(MACHINE_ALPHA, 388) \
    X(MACHINE_SH3E, 420) \
    X(MACHINE_ALPHA64, 644) \
    X(MACHINE_AXP64, 644) \
    X(MACHINE_TRICORE, 1312) \
    X(MACHINE_CEF, 3311) \
    X(MACHINE_CEE, 49390) \
    X(SUBSYSTEM_UNKNOWN, 0) \
    X(SUBSYSTEM_NATIVE, 1) \
    X(SUBSYSTEM_WINDOWS_GUI, 2) \
    X(SUBSYSTEM_WINDOWS_CUI, 3) \
    X(SUBSYSTEM_OS2_CUI, 5) \
    X(SUBSYSTEM_POSIX_CUI, 7) \
    X(SUBSYSTEM_NATIVE_WINDOWS, 8) \
    X(SUBSYSTEM_WINDOWS_CE_GUI, 9) \
    X(SUBSYSTEM_EFI_APPLICATION, 10) \
    X(SUBSYSTEM_EFI_BOOT_SERVICE_DRIVER, 11) \
    X(SUBSYSTEM_EFI_RUNTIME_DRIVER, 12) \
    X(SUBSYSTEM_EFI_ROM_IMAGE, 13) \
    X(SUBSYSTEM_XBOX, 14) \
    X(SUBSYSTEM_WINDOWS_BOOT_APPLICATION, 16) \
    X(HIGH_ENTROPY_VA, 32) \
    X(DYNAMIC_BASE, 64) \
    X(FORCE_INTEGRITY, 128) \
    X(NX_COMPAT, 256) \
    X(NO_ISOLATION, 512) \
    X(NO_SEH, 1024) \
    X(NO_BIND, 2048) \
    X(APPCONTAINER, 4096) \
    X(WDM_DRIVER, 8192) \
    X(GUARD_CF, 16384) \
    X(TERMINAL_SERVER_AWARE, 32768) \
    X(RELOCS_STRIPPED, 1) \
    X(EXECUTABLE_IMAGE, 2) \
    X(LINE_NUMS_STRIPPED, 4) \
    X(LOCAL_SYMS_STRIPPED, 8) \
    X(AGGRESIVE_WS_TRIM, 16) \
    X(LARGE_ADDRESS_AWARE, 32) \
    X(BYTES_REVERSED_LO, 128) \
    X(MACHINE_32BIT, 256) \
    X(DEBUG_STRIPPED, 512) \
    X(REMOVABLE_RUN_FROM_SWAP, 1024) \
    X(NET_RUN_FROM_SWAP, 2048) \
    X(SYSTEM, 4096) \
    X(DLL, 8192) \
    X(UP_SYSTEM_ONLY, 16384) \
    X(BYTES_REVERSED_HI, 32768) \
    X(IMAGE_DIRECTORY_ENTRY_EXPORT, 0) \
    X(IMAGE_DIRECTORY_ENTRY_IMPORT, 1) \
    X(IMAGE_DIRECTORY_ENTRY_RESOURCE, 2) \
    X(IMAGE_DIRECTORY_ENTRY_EXCEPTION, 3) \
    X(IMAGE_DIRECTORY_ENTRY_SECURITY, 4) \
    X(IMAGE_DIRECTORY_ENTRY_BASERELOC, 5) \
    X(IMAGE_DIRECTORY_ENTRY_DEBUG, 6) \
    X(IMAGE_DIRECTORY_ENTRY_ARCHITECTURE, 7) \
    X(IMAGE_DIRECTORY_ENTRY_COPYRIGHT, 7) \
    X(IMAGE_DIRECTORY_ENTRY_GLOBALPTR, 8) \
    X(IMAGE_DIRECTORY_ENTRY_TLS, 9) \
    X(IMAGE_DIRECTORY_ENTRY_LOAD_CONFIG, 10) \
    X(IMAGE_DIRECTORY_ENTRY_BOUND_IMPORT, 11) \
    X(IMAGE_DIRECTORY_ENTRY_IAT, 12) \
    X(IMAGE_DIRECTORY_ENTRY_DELAY_IMPORT, 13) \
    X(IMAGE_DIRECTORY_ENTRY_COM_DESCRIPTOR, 14) \
    X(IMAGE_NT_OPTIONAL_HDR32_MAGIC, 267) \
    X(IMAGE_NT_OPTIONAL_HDR64_MAGIC, 523) \
    X(IMAGE_ROM_OPTIONAL_HDR_MAGIC, 263) \
    X(SECTION_NO_PAD, 8) \
    X(SECTION_CNT_CODE, 32) \
    X(SECTION_CNT_INITIALIZED_DATA, 64) \
    X(SECTION_CNT_UNINITIALIZED_DATA, 128) \
    X(SECTION_LNK_OTHER, 256) \
    X(SECTION_LNK_INFO, 512) \
    X(SECTION_LNK_REMOVE, 2048) \
    X(SECTION_LNK_COMDAT, 4096) \
    X(SECTION_NO_DEFER_SPEC_EXC, 16384) \
    X(SECTION_GPREL, 32768) \
    X(SECTION_MEM_FARDATA, 32768) \
    X(SECTION_MEM_PURGEABLE, 131072) \
    X(SECTION_MEM_16BIT, 131072) \
    X(SECTION_MEM_LOCKED, 262144) \
    X(SECTION_MEM_PRELOAD, 524288) \
    X(SECTION_ALIGN_1BYTES, 1048576) \
    X(SECTION_ALIGN_2BYTES, 2097152) \
    X(SECTION_ALIGN_4BYTES, 3145728) \
    X(SECTION_ALIGN_8BYTES, 4194304) \
    X(SECTION_ALIGN_16BYTES, 5242880) \
    X(SECTION_ALIGN_32BYTES, 6291456) \
    X(SECTION_ALIGN_64BYTES, 7340032) \
    X(SECTION_ALIGN_128BYTES, 8388608) \
    X(SECTION_ALIGN_256BYTES, 9437184) \
    X(SECTION_ALIGN_512BYTES, 10485760) \
    X(SECTION_ALIGN_1024BYTES, 11534336) \
    X(SECTION_ALIGN_2048BYTES, 12582912) \
    X(SECTION_ALIGN_4096BYTES, 13631488) \
    X(SECTION_ALIGN_8192BYTES, 14680064) \
    X(SECTION_ALIGN_MASK, 15728640) \
    X(SECTION_LNK_NRELOC_OVFL, 16777216) \
    X(SECTION_MEM_DISCARDABLE, 33554432) \
    X(SECTION_MEM_NOT_CACHED, 67108864) \
    X(SECTION_MEM_NOT_PAGED, 134217728) \
    X(SECTION_MEM_SHARED, 268435456) \
    X(SECTION_MEM_EXECUTE, 536870912) \
    X(SECTION_MEM_READ, 1073741824) \
    X(SECTION_MEM_WRITE, 2147483648) \
    X(SECTION_SCALE_INDEX, 1) \
    X(RESOURCE_TYPE_CURSOR, 1) \
    X(RESOURCE_TYPE_BITMAP, 2) \
    X(RESOURCE_TYPE_ICON, 3) \
    X(RESOURCE_TYPE_MENU, 4) \
    X(RESOURCE_TYPE_DIALOG, 5) \
    X(RESOURCE_TYPE_STRING, 6) \
    X(RESOURCE_TYPE_FONTDIR, 7) \
    X(RESOURCE_TYPE_FONT, 8) \
    X(RESOURCE_TYPE_ACCELERATOR, 9) \
    X(RESOURCE_TYPE_RCDATA, 10) \
    X(RESOURCE_TYPE_MESSAGETABLE, 11) \
    X(RESOURCE_TYPE_GROUP_CURSOR, 12) \
    X(RESOURCE_TYPE_GROUP_ICON, 14) \
    X(RESOURCE_TYPE_VERSION, 16) \
    X(RESOURCE_TYPE_DLGINCLUDE, 17) \
    X(RESOURCE_TYPE_PLUGPLAY, 19) \
    X(RESOURCE_TYPE_VXD, 20) \
    X(RESOURCE_TYPE_ANICURSOR, 21) \
    X(RESOURCE_TYPE_ANIICON, 22) \
    X(RESOURCE_TYPE_HTML, 23) \
    X(RESOURCE_TYPE_MANIFEST, 24) \
    X(IMAGE_DEBUG_TYPE_UNKNOWN, 0) \
    X(IMAGE_DEBUG_TYPE_COFF, 1) \
    X(IMAGE_DEBUG_TYPE_CODEVIEW, 2) \
    X(IMAGE_DEBUG_TYPE_FPO, 3) \
    X(IMAGE_DEBUG_TYPE_MISC, 4) \
    X(IMAGE_DEBUG_TYPE_EXCEPTION, 5) \
    X(IMAGE_DEBUG_TYPE_FIXUP, 6) \
    X(IMAGE_DEBUG_TYPE_OMAP_TO_SRC, 7) \
    X(IMAGE_DEBUG_TYPE_OMAP_FROM_SRC, 8) \
    X(IMAGE_DEBUG_TYPE_BORLAND, 9) \
    X(IMAGE_DEBUG_TYPE_RESERVED10, 10) \
    X(IMAGE_DEBUG_TYPE_CLSID, 11) \
    X(IMAGE_DEBUG_TYPE_VC_FEATURE, 12) \
    X(IMAGE_DEBUG_TYPE_POGO, 13) \
    X(IMAGE_DEBUG_TYPE_ILTCG, 14) \
    X(IMAGE_DEBUG_TYPE_MPX, 15) \
    X(IMAGE_DEBUG_TYPE_REPRO, 16) \
    X(IMPORT_DELAYED, 2) \
    X(IMPORT_STANDARD, 1) \
    X(IMPORT_ANY, -1)

/* ---- Small helpers over the value tree ------------------------------------------------ */

static int64_t undef_int(void) { return (int64_t)0xFFFABADAFABADAFFull; } /* yara's YR_UNDEFINED */

static const kh_yobj *mem(const kh_yobj *o, const char *name) { return kh_yobj_member(o, name); }

static int get_int(const kh_yobj *o, const char *name, int64_t *v)
{
    const kh_yobj *m = mem(o, name);
    if (!m || !m->defined || m->type != KH_YT_INT)
        return 0;
    *v = m->v.i;
    return 1;
}

static int ret_int(kh_yval *out, int64_t v)
{
    out->type = KH_YT_INT;
    out->defined = 1;
    out->v.i = v;
    return 0;
}

static int ret_str(kh_yval *out, const uint8_t *p, uint32_t n)
{
    out->type = KH_YT_STR;
    out->defined = 1;
    out->v.s.p = p;
    out->v.s.n = n;
    return 0;
}

/* Length of a string argument as yara's C string (up to the first NUL). */
static size_t cstr_len(const uint8_t *p, size_t n)
{
    const uint8_t *z = memchr(p, 0, n);
    return z ? (size_t)(z - p) : n;
}

static int lower(int ch) { return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch; }

static int ieq(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    if (an != bn)
        return 0;
    for (size_t i = 0; i < an; i++)
        if (lower(a[i]) != lower(b[i]))
            return 0;
    return 1;
}

static int is_pe(const kh_ycall *c)
{
    int64_t v;
    return get_int(c->self, "is_pe", &v) && v == 1;
}

/* ---- The private import lists -----------------------------------------------------------
 * Blob: per dll u32 name length, name, u32 function count; per function
 * u32 name length, name, u8 has_ordinal, u16 ordinal (little endian). */

typedef struct blob_rd {
    const uint8_t *p, *end;
} blob_rd;

static int rd_u32(blob_rd *r, uint32_t *v)
{
    if (r->end - r->p < 4)
        return 0;
    memcpy(v, r->p, 4);
    r->p += 4;
    return 1;
}

static int rd_bytes(blob_rd *r, const uint8_t **p, uint32_t *n)
{
    if (!rd_u32(r, n) || (size_t)(r->end - r->p) < *n)
        return 0;
    *p = r->p;
    r->p += *n;
    return 1;
}

static int put_blob(kh_buf *b, const kh_pe_dll *dlls, uint32_t ndlls, const kh_pe_func *funcs)
{
    int rc = 0;
    for (uint32_t d = 0; d < ndlls && !rc; d++) {
        uint32_t n = dlls[d].name.n;
        rc = kh_buf_append(b, &n, 4);
        if (!rc)
            rc = kh_buf_append(b, dlls[d].name.p, n);
        if (!rc)
            rc = kh_buf_append(b, &dlls[d].nfuncs, 4);
        for (uint32_t f = dlls[d].first; f < dlls[d].first + dlls[d].nfuncs && !rc; f++) {
            uint32_t fn = funcs[f].name.p ? funcs[f].name.n : 0;
            uint8_t tail[3] = {funcs[f].has_ordinal, (uint8_t)funcs[f].ordinal, (uint8_t)(funcs[f].ordinal >> 8)};
            rc = kh_buf_append(b, &fn, 4);
            if (!rc && fn)
                rc = kh_buf_append(b, funcs[f].name.p, fn);
            if (!rc)
                rc = kh_buf_append(b, tail, 3);
        }
    }
    return rc;
}

enum { Q_FUNC, Q_ORD, Q_DLL, Q_REGEX };

typedef struct query {
    int kind;
    const uint8_t *dll, *fn; /* C strings (lengths below) */
    size_t dll_n, fn_n;
    int64_t ord;
    uint32_t dll_re, fn_re;
} query;

/* Q_FUNC/Q_ORD: 1 if found; Q_DLL/Q_REGEX: number of matching functions. */
static int64_t scan_imports(const kh_ycall *c, const char *member, const query *q)
{
    const kh_yobj *o = mem(c->self, member);
    if (!o || !o->defined || o->type != KH_YT_STR)
        return 0;
    blob_rd r = {o->v.s.p, o->v.s.p + o->v.s.n};
    int64_t count = 0;
    const uint8_t *dn, *fnp;
    uint32_t dl, nf, fl;
    while (rd_bytes(&r, &dn, &dl) && rd_u32(&r, &nf)) {
        int dll_ok;
        if (q->kind == Q_REGEX)
            dll_ok = c->regex_match && dl > 0 && c->regex_match(c->scan, q->dll_re, dn, dl);
        else
            dll_ok = ieq(dn, dl, q->dll, q->dll_n);
        for (uint32_t i = 0; i < nf; i++) {
            if (!rd_bytes(&r, &fnp, &fl) || r.end - r.p < 3)
                return count;
            uint8_t has_ord = r.p[0];
            uint16_t ord = (uint16_t)(r.p[1] | r.p[2] << 8);
            r.p += 3;
            if (!dll_ok)
                continue;
            fl = (uint32_t)cstr_len(fnp, fl);
            switch (q->kind) {
            case Q_FUNC:
                if (ieq(fnp, fl, q->fn, q->fn_n))
                    return 1;
                break;
            case Q_ORD:
                if (has_ord && ord == q->ord)
                    return 1;
                break;
            case Q_DLL: count++; break;
            default:
                if (fl > 0 && c->regex_match(c->scan, q->fn_re, fnp, fl))
                    count++;
                break;
            }
        }
    }
    return count;
}

static int imports_common(const kh_ycall *c, int64_t flags, query *q, kh_yval *out)
{
    if (!is_pe(c))
        return 0;
    if (q->dll)
        q->dll_n = cstr_len(q->dll, q->dll_n);
    if (q->fn)
        q->fn_n = cstr_len(q->fn, q->fn_n);
    int64_t r = 0;
    if (q->kind == Q_FUNC || q->kind == Q_ORD) {
        if (flags & 1)
            r = scan_imports(c, "\001imports", q);
        if (!r && (flags & 2))
            r = scan_imports(c, "\001delayed", q);
        return ret_int(out, r != 0);
    }
    if (flags & 1)
        r += scan_imports(c, "\001imports", q);
    if (flags & 2)
        r += scan_imports(c, "\001delayed", q);
    return ret_int(out, r);
}

static int f_imports_ss(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    query q = {Q_FUNC, a[0].v.s.p, a[1].v.s.p, a[0].v.s.n, a[1].v.s.n, 0, 0, 0};
    return imports_common(c, 1, &q, out);
}
static int f_imports_si(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    query q = {Q_ORD, a[0].v.s.p, NULL, a[0].v.s.n, 0, a[1].v.i, 0, 0};
    return imports_common(c, 1, &q, out);
}
static int f_imports_s(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    query q = {Q_DLL, a[0].v.s.p, NULL, a[0].v.s.n, 0, 0, 0, 0};
    return imports_common(c, 1, &q, out);
}
static int f_imports_rr(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    query q = {Q_REGEX, NULL, NULL, 0, 0, 0, a[0].v.regex, a[1].v.regex};
    return c->regex_match ? imports_common(c, 1, &q, out) : 0;
}
static int f_imports_iss(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    query q = {Q_FUNC, a[1].v.s.p, a[2].v.s.p, a[1].v.s.n, a[2].v.s.n, 0, 0, 0};
    return imports_common(c, a[0].v.i, &q, out);
}
static int f_imports_isi(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    query q = {Q_ORD, a[1].v.s.p, NULL, a[1].v.s.n, 0, a[2].v.i, 0, 0};
    return imports_common(c, a[0].v.i, &q, out);
}
static int f_imports_is(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    query q = {Q_DLL, a[1].v.s.p, NULL, a[1].v.s.n, 0, 0, 0, 0};
    return imports_common(c, a[0].v.i, &q, out);
}
static int f_imports_irr(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    query q = {Q_REGEX, NULL, NULL, 0, 0, 0, a[1].v.regex, a[2].v.regex};
    return c->regex_match ? imports_common(c, a[0].v.i, &q, out) : 0;
}

static int f_imphash(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    KH_UNUSED(a);
    const kh_yobj *o = mem(c->self, "\001imphash");
    if (!is_pe(c) || !o || !o->defined)
        return 0;
    return ret_str(out, o->v.s.p, o->v.s.n);
}

/* ---- Exports ---------------------------------------------------------------------------------------- */

enum { E_NAME, E_ORD, E_REGEX };

/* Index of the first matching export: -1 none, -2 no exports at all, -3 not a PE. */
static int64_t find_export(const kh_ycall *c, int kind, const kh_yval *a)
{
    int64_t n;
    if (!is_pe(c))
        return -3;
    if (!get_int(c->self, "number_of_exports", &n) || n == 0)
        return -2;
    if (kind == E_ORD && (a[0].v.i == 0 || a[0].v.i > n))
        return -2;
    const kh_yobj *arr = mem(c->self, "export_details");
    for (int64_t i = 0; arr && i < n && (uint64_t)i < arr->nitems; i++) {
        const kh_yobj *e = &arr->items[i];
        if (kind == E_ORD) {
            int64_t o;
            if (get_int(e, "ordinal", &o) && o == a[0].v.i)
                return i;
            continue;
        }
        const kh_yobj *nm = mem(e, "name");
        if (!nm || !nm->defined)
            continue;
        if (kind == E_NAME) {
            if (ieq(nm->v.s.p, nm->v.s.n, a[0].v.s.p, a[0].v.s.n))
                return i;
        } else if (c->regex_match && c->regex_match(c->scan, a[0].v.regex, nm->v.s.p, cstr_len(nm->v.s.p, nm->v.s.n))) {
            return i;
        }
    }
    return -1;
}

static int exports_fn(const kh_ycall *c, int kind, const kh_yval *a, kh_yval *out)
{
    int64_t i = find_export(c, kind, a);
    return i == -3 ? 0 : ret_int(out, i >= 0);
}
static int exports_index_fn(const kh_ycall *c, int kind, const kh_yval *a, kh_yval *out)
{
    int64_t i = find_export(c, kind, a);
    return i >= 0 ? ret_int(out, i) : 0;
}
static int f_exports_s(const kh_ycall *c, const kh_yval *a, kh_yval *out) { return exports_fn(c, E_NAME, a, out); }
static int f_exports_i(const kh_ycall *c, const kh_yval *a, kh_yval *out) { return exports_fn(c, E_ORD, a, out); }
static int f_exports_r(const kh_ycall *c, const kh_yval *a, kh_yval *out) { return exports_fn(c, E_REGEX, a, out); }
static int f_exports_index_s(const kh_ycall *c, const kh_yval *a, kh_yval *out) { return exports_index_fn(c, E_NAME, a, out); }
static int f_exports_index_i(const kh_ycall *c, const kh_yval *a, kh_yval *out) { return exports_index_fn(c, E_ORD, a, out); }
static int f_exports_index_r(const kh_ycall *c, const kh_yval *a, kh_yval *out) { return exports_index_fn(c, E_REGEX, a, out); }

/* ---- Sections, resources, headers -------------------------------------------------------------------- */

static int f_section_index_s(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    int64_t n;
    if (!get_int(c->self, "number_of_sections", &n))
        return 0;
    const kh_yobj *arr = mem(c->self, "sections");
    size_t an = cstr_len(a[0].v.s.p, a[0].v.s.n);
    for (int64_t i = 0; arr && i < KH_MIN(n, (int64_t)KH_PE_MAX_SECTIONS) && (uint64_t)i < arr->nitems; i++) {
        const kh_yobj *nm = mem(&arr->items[i], "name");
        if (nm && nm->defined && cstr_len(nm->v.s.p, nm->v.s.n) == an && memcmp(nm->v.s.p, a[0].v.s.p, an) == 0)
            return ret_int(out, i);
    }
    return 0;
}

static int f_section_index_i(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    int64_t n, addr = a[0].v.i;
    if (!get_int(c->self, "number_of_sections", &n))
        return 0;
    const kh_yobj *arr = mem(c->self, "sections");
    for (int64_t i = 0; arr && i < KH_MIN(n, (int64_t)KH_PE_MAX_SECTIONS) && (uint64_t)i < arr->nitems; i++) {
        int64_t off, size;
        if (!get_int(&arr->items[i], "raw_data_offset", &off) || !get_int(&arr->items[i], "raw_data_size", &size))
            continue;
        if (addr >= off && addr < off + size)
            return ret_int(out, i);
    }
    return 0;
}

static int lang_match(const kh_ycall *c, int64_t want, uint64_t mask, kh_yval *out)
{
    int64_t n;
    if (!get_int(c->self, "number_of_resources", &n) || !is_pe(c))
        return 0;
    const kh_yobj *arr = mem(c->self, "resources");
    for (int64_t i = 0; i < n; i++) {
        int64_t l = undef_int();
        if (arr && (uint64_t)i < arr->nitems)
            get_int(&arr->items[i], "language", &l);
        if (((uint64_t)l & mask) == (uint64_t)want)
            return ret_int(out, 1);
    }
    return ret_int(out, 0);
}
static int f_locale(const kh_ycall *c, const kh_yval *a, kh_yval *out) { return lang_match(c, a[0].v.i, 0xffff, out); }
static int f_language(const kh_ycall *c, const kh_yval *a, kh_yval *out) { return lang_match(c, a[0].v.i, 0xff, out); }

static int f_is_dll(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    int64_t ch;
    KH_UNUSED(a);
    return get_int(c->self, "characteristics", &ch) ? ret_int(out, ch & 0x2000) : 0;
}

static int bits(const kh_ycall *c, int want64, kh_yval *out)
{
    int64_t magic;
    if (!is_pe(c) || !get_int(c->self, "opthdr_magic", &magic))
        return 0;
    return ret_int(out, (magic == 0x20b) == want64);
}
static int f_is_32bit(const kh_ycall *c, const kh_yval *a, kh_yval *out) { KH_UNUSED(a); return bits(c, 0, out); }
static int f_is_64bit(const kh_ycall *c, const kh_yval *a, kh_yval *out) { KH_UNUSED(a); return bits(c, 1, out); }

static int f_calculate_checksum(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    KH_UNUSED(a);
    if (!is_pe(c))
        return 0;
    return ret_int(out, kh_pe_checksum(c->data, c->len));
}

static int f_rva_to_offset(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    kh_pe hdr;
    if (!is_pe(c) || kh_pe_headers(&hdr, c->data, c->len) != 0)
        return 0;
    int64_t o = kh_pe_rva_to_offset(&hdr, (uint64_t)a[0].v.i);
    return o == -1 ? 0 : ret_int(out, o);
}

/* rich_signature.version()/toolid(): the summed counts of matching entries. */
static int rich(const kh_ycall *c, int64_t version, int has_v, int64_t toolid, int has_t, kh_yval *out)
{
    int64_t len;
    const kh_yobj *cd = mem(c->self, "clear_data");
    if (!get_int(c->self, "length", &len) || !cd || !cd->defined)
        return 0;
    uint64_t total = 0;
    for (int64_t off = 16; len >= 16 && off + 8 <= len && (uint64_t)off + 8 <= cd->v.s.n; off += 8) {
        uint32_t idv, times;
        memcpy(&idv, cd->v.s.p + off, 4);
        memcpy(&times, cd->v.s.p + off + 4, 4);
        if ((!has_v || version == (int64_t)(idv & 0xffff)) && (!has_t || toolid == (int64_t)(idv >> 16)))
            total += times;
    }
    return ret_int(out, (int64_t)total);
}
static int f_rich_version(const kh_ycall *c, const kh_yval *a, kh_yval *out) { return rich(c, a[0].v.i, 1, 0, 0, out); }
static int f_rich_version_toolid(const kh_ycall *c, const kh_yval *a, kh_yval *out) { return rich(c, a[0].v.i, 1, a[1].v.i, 1, out); }
static int f_rich_toolid(const kh_ycall *c, const kh_yval *a, kh_yval *out) { return rich(c, 0, 0, a[0].v.i, 1, out); }
static int f_rich_toolid_version(const kh_ycall *c, const kh_yval *a, kh_yval *out) { return rich(c, a[1].v.i, 1, a[0].v.i, 1, out); }

static int f_valid_on(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    int64_t nb, na;
    if (!get_int(c->self, "not_before", &nb) || !get_int(c->self, "not_after", &na))
        return 0;
    return ret_int(out, a[0].v.i >= nb && a[0].v.i <= na);
}

/* ---- Declaration ------------------------------------------------------------------------------------------ */

#define FN(args, ret, f) {args, ret, f}
#define END_FN {0, 0, 0}
#define INT(n) {n, KH_YT_INT, 0, NULL, NULL}
#define STR(n) {n, KH_YT_STR, 0, NULL, NULL}
#define END {NULL, 0, 0, NULL, NULL}

static const kh_yfunc fn_checksum[] = {FN("", KH_YT_INT, f_calculate_checksum), END_FN};
static const kh_yfunc fn_rich_version[] = {FN("i", KH_YT_INT, f_rich_version), FN("ii", KH_YT_INT, f_rich_version_toolid), END_FN};
static const kh_yfunc fn_rich_toolid[] = {FN("i", KH_YT_INT, f_rich_toolid), FN("ii", KH_YT_INT, f_rich_toolid_version), END_FN};
static const kh_yfunc fn_imphash[] = {FN("", KH_YT_STR, f_imphash), END_FN};
static const kh_yfunc fn_section_index[] = {FN("s", KH_YT_INT, f_section_index_s), FN("i", KH_YT_INT, f_section_index_i), END_FN};
static const kh_yfunc fn_exports[] = {FN("s", KH_YT_INT, f_exports_s), FN("r", KH_YT_INT, f_exports_r), FN("i", KH_YT_INT, f_exports_i), END_FN};
static const kh_yfunc fn_exports_index[] = {FN("s", KH_YT_INT, f_exports_index_s), FN("i", KH_YT_INT, f_exports_index_i),
                                            FN("r", KH_YT_INT, f_exports_index_r), END_FN};
static const kh_yfunc fn_imports[] = {FN("ss", KH_YT_INT, f_imports_ss),   FN("si", KH_YT_INT, f_imports_si),
                                      FN("s", KH_YT_INT, f_imports_s),     FN("rr", KH_YT_INT, f_imports_rr),
                                      FN("iss", KH_YT_INT, f_imports_iss), FN("isi", KH_YT_INT, f_imports_isi),
                                      FN("is", KH_YT_INT, f_imports_is),   FN("irr", KH_YT_INT, f_imports_irr), END_FN};
static const kh_yfunc fn_locale[] = {FN("i", KH_YT_INT, f_locale), END_FN};
static const kh_yfunc fn_language[] = {FN("i", KH_YT_INT, f_language), END_FN};
static const kh_yfunc fn_is_dll[] = {FN("", KH_YT_INT, f_is_dll), END_FN};
static const kh_yfunc fn_is_32bit[] = {FN("", KH_YT_INT, f_is_32bit), END_FN};
static const kh_yfunc fn_is_64bit[] = {FN("", KH_YT_INT, f_is_64bit), END_FN};
static const kh_yfunc fn_valid_on[] = {FN("i", KH_YT_INT, f_valid_on), END_FN};
static const kh_yfunc fn_rva_to_offset[] = {FN("i", KH_YT_INT, f_rva_to_offset), END_FN};

static const kh_ymember m_key_value[] = {STR("key"), STR("value"), END};
static const kh_ymember m_major_minor[] = {INT("major"), INT("minor"), END};
static const kh_ymember m_data_dir[] = {INT("virtual_address"), INT("size"), END};
static const kh_ymember m_section[] = {
    STR("name"), STR("full_name"), INT("characteristics"), INT("virtual_address"), INT("virtual_size"),
    INT("raw_data_offset"), INT("raw_data_size"), INT("pointer_to_relocations"), INT("pointer_to_line_numbers"),
    INT("number_of_relocations"), INT("number_of_line_numbers"), END};
static const kh_ymember m_overlay[] = {INT("offset"), INT("size"), END};
static const kh_ymember m_rich[] = {
    INT("offset"), INT("length"), INT("key"), STR("raw_data"), STR("clear_data"),
    {"version", KH_YT_FUNC, 0, NULL, fn_rich_version}, {"toolid", KH_YT_FUNC, 0, NULL, fn_rich_toolid}, END};
static const kh_ymember m_export[] = {INT("offset"), STR("name"), STR("forward_name"), INT("ordinal"), END};
static const kh_ymember m_function[] = {STR("name"), INT("ordinal"), END};
static const kh_ymember m_import[] = {STR("library_name"), INT("number_of_functions"),
                                      {"functions", KH_YT_ARRAY, KH_YT_STRUCT, m_function, NULL}, END};
static const kh_ymember m_delay_import[] = {STR("library_name"), {"functions", KH_YT_ARRAY, KH_YT_STRUCT, m_function, NULL}, END};
static const kh_ymember m_resource[] = {INT("rva"), INT("offset"), INT("length"), INT("type"), INT("id"), INT("language"),
                                        STR("type_string"), STR("name_string"), STR("language_string"), END};
static const kh_ymember m_signature[] = {
    STR("thumbprint"), STR("issuer"), STR("subject"), INT("version"), STR("algorithm"), STR("algorithm_oid"),
    STR("serial"), INT("not_before"), INT("not_after"), {"valid_on", KH_YT_FUNC, 0, NULL, fn_valid_on}, END};

#define PE_FIELDS(X)                                                         \
    X(is_pe, KH_YT_INT, 0, NULL, NULL)                                       \
    X(machine, KH_YT_INT, 0, NULL, NULL)                                     \
    X(number_of_sections, KH_YT_INT, 0, NULL, NULL)                          \
    X(timestamp, KH_YT_INT, 0, NULL, NULL)                                   \
    X(pointer_to_symbol_table, KH_YT_INT, 0, NULL, NULL)                     \
    X(number_of_symbols, KH_YT_INT, 0, NULL, NULL)                           \
    X(size_of_optional_header, KH_YT_INT, 0, NULL, NULL)                     \
    X(characteristics, KH_YT_INT, 0, NULL, NULL)                             \
    X(entry_point, KH_YT_INT, 0, NULL, NULL)                                 \
    X(entry_point_raw, KH_YT_INT, 0, NULL, NULL)                             \
    X(image_base, KH_YT_INT, 0, NULL, NULL)                                  \
    X(number_of_rva_and_sizes, KH_YT_INT, 0, NULL, NULL)                     \
    X(number_of_version_infos, KH_YT_INT, 0, NULL, NULL)                     \
    X(version_info, KH_YT_DICT, KH_YT_STR, NULL, NULL)                       \
    X(version_info_list, KH_YT_ARRAY, KH_YT_STRUCT, m_key_value, NULL)       \
    X(opthdr_magic, KH_YT_INT, 0, NULL, NULL)                                \
    X(size_of_code, KH_YT_INT, 0, NULL, NULL)                                \
    X(size_of_initialized_data, KH_YT_INT, 0, NULL, NULL)                    \
    X(size_of_uninitialized_data, KH_YT_INT, 0, NULL, NULL)                  \
    X(base_of_code, KH_YT_INT, 0, NULL, NULL)                                \
    X(base_of_data, KH_YT_INT, 0, NULL, NULL)                                \
    X(section_alignment, KH_YT_INT, 0, NULL, NULL)                           \
    X(file_alignment, KH_YT_INT, 0, NULL, NULL)                              \
    X(linker_version, KH_YT_STRUCT, 0, m_major_minor, NULL)                  \
    X(os_version, KH_YT_STRUCT, 0, m_major_minor, NULL)                      \
    X(image_version, KH_YT_STRUCT, 0, m_major_minor, NULL)                   \
    X(subsystem_version, KH_YT_STRUCT, 0, m_major_minor, NULL)               \
    X(win32_version_value, KH_YT_INT, 0, NULL, NULL)                         \
    X(size_of_image, KH_YT_INT, 0, NULL, NULL)                               \
    X(size_of_headers, KH_YT_INT, 0, NULL, NULL)                             \
    X(checksum, KH_YT_INT, 0, NULL, NULL)                                    \
    X(calculate_checksum, KH_YT_FUNC, 0, NULL, fn_checksum)                  \
    X(subsystem, KH_YT_INT, 0, NULL, NULL)                                   \
    X(dll_characteristics, KH_YT_INT, 0, NULL, NULL)                         \
    X(size_of_stack_reserve, KH_YT_INT, 0, NULL, NULL)                       \
    X(size_of_stack_commit, KH_YT_INT, 0, NULL, NULL)                        \
    X(size_of_heap_reserve, KH_YT_INT, 0, NULL, NULL)                        \
    X(size_of_heap_commit, KH_YT_INT, 0, NULL, NULL)                         \
    X(loader_flags, KH_YT_INT, 0, NULL, NULL)                                \
    X(data_directories, KH_YT_ARRAY, KH_YT_STRUCT, m_data_dir, NULL)         \
    X(sections, KH_YT_ARRAY, KH_YT_STRUCT, m_section, NULL)                  \
    X(overlay, KH_YT_STRUCT, 0, m_overlay, NULL)                             \
    X(rich_signature, KH_YT_STRUCT, 0, m_rich, NULL)                         \
    X(imphash, KH_YT_FUNC, 0, NULL, fn_imphash)                              \
    X(section_index, KH_YT_FUNC, 0, NULL, fn_section_index)                  \
    X(exports, KH_YT_FUNC, 0, NULL, fn_exports)                              \
    X(exports_index, KH_YT_FUNC, 0, NULL, fn_exports_index)                  \
    X(imports, KH_YT_FUNC, 0, NULL, fn_imports)                              \
    X(locale, KH_YT_FUNC, 0, NULL, fn_locale)                                \
    X(language, KH_YT_FUNC, 0, NULL, fn_language)                            \
    X(is_dll, KH_YT_FUNC, 0, NULL, fn_is_dll)                                \
    X(is_32bit, KH_YT_FUNC, 0, NULL, fn_is_32bit)                            \
    X(is_64bit, KH_YT_FUNC, 0, NULL, fn_is_64bit)                            \
    X(number_of_imports, KH_YT_INT, 0, NULL, NULL)                           \
    X(number_of_imported_functions, KH_YT_INT, 0, NULL, NULL)                \
    X(number_of_delayed_imports, KH_YT_INT, 0, NULL, NULL)                   \
    X(number_of_delayed_imported_functions, KH_YT_INT, 0, NULL, NULL)        \
    X(number_of_exports, KH_YT_INT, 0, NULL, NULL)                           \
    X(dll_name, KH_YT_STR, 0, NULL, NULL)                                    \
    X(export_timestamp, KH_YT_INT, 0, NULL, NULL)                            \
    X(export_details, KH_YT_ARRAY, KH_YT_STRUCT, m_export, NULL)             \
    X(import_details, KH_YT_ARRAY, KH_YT_STRUCT, m_import, NULL)             \
    X(delay_import_details, KH_YT_ARRAY, KH_YT_STRUCT, m_delay_import, NULL) \
    X(resource_timestamp, KH_YT_INT, 0, NULL, NULL)                          \
    X(resource_version, KH_YT_STRUCT, 0, m_major_minor, NULL)                \
    X(resources, KH_YT_ARRAY, KH_YT_STRUCT, m_resource, NULL)                \
    X(number_of_resources, KH_YT_INT, 0, NULL, NULL)                         \
    X(pdb_path, KH_YT_STR, 0, NULL, NULL)                                    \
    X(signatures, KH_YT_ARRAY, KH_YT_STRUCT, m_signature, NULL)              \
    X(number_of_signatures, KH_YT_INT, 0, NULL, NULL)                        \
    X(rva_to_offset, KH_YT_FUNC, 0, NULL, fn_rva_to_offset)

enum {
#define C_ENUM(n, v) C_##n,
    PE_CONSTS(C_ENUM)
#undef C_ENUM
#define F_ENUM(n, t, e, m, f) F_##n,
    PE_FIELDS(F_ENUM)
#undef F_ENUM
    P_IMPORTS, P_DELAYED, P_IMPHASH, M_COUNT
};

static const int64_t const_values[] = {
#define C_VAL(n, v) v,
    PE_CONSTS(C_VAL)
#undef C_VAL
};

static const kh_ymember members[] = {
#define C_MEM(n, v) {#n, KH_YT_INT, 0, NULL, NULL},
    PE_CONSTS(C_MEM)
#undef C_MEM
#define F_MEM(n, t, e, m, f) {#n, t, e, m, f},
    PE_FIELDS(F_MEM)
#undef F_MEM
    /* Private to the loader and the functions: not identifiers, so no rule can name them. */
    {"\001imports", KH_YT_STR, 0, NULL, NULL},
    {"\001delayed", KH_YT_STR, 0, NULL, NULL},
    {"\001imphash", KH_YT_STR, 0, NULL, NULL},
    END,
};

/* ---- Loader ------------------------------------------------------------------------------------------------- */

typedef struct ld {
    kh_yobj *root;
    kh_yarena *a;
    int rc;
} ld;

static void si(ld *l, int idx, int64_t v)
{
    kh_yobj *o = &l->root->items[idx];
    o->v.i = v;
    o->defined = 1;
}

static void ss(ld *l, int idx, kh_pe_bytes b)
{
    if (!b.p)
        return;
    kh_yobj *o = &l->root->items[idx];
    const uint8_t *d = kh_yarena_dup(l->a, b.p, b.n);
    if (!d) {
        l->rc = KH_ENOMEM;
        return;
    }
    o->v.s.p = d;
    o->v.s.n = b.n;
    o->defined = 1;
}

/* Sets field `f` of element i of array member idx. */
static void ai(ld *l, int idx, uint32_t i, const char *f, int64_t v)
{
    int rc = kh_yset_int(&l->root->items[idx], l->a, v, "[%u].%s", i, f);
    if (rc && !l->rc)
        l->rc = rc;
}

static void as(ld *l, int idx, uint32_t i, const char *f, kh_pe_bytes b)
{
    if (!b.p)
        return;
    int rc = kh_yset_str(&l->root->items[idx], l->a, b.p, b.n, "[%u].%s", i, f);
    if (rc && !l->rc)
        l->rc = rc;
}

static void sub_int(ld *l, int idx, int which, int64_t v)
{
    kh_yobj *o = &l->root->items[idx].items[which];
    o->v.i = v;
    o->defined = 1;
}

static kh_pe_bytes bytes_of(const char *s)
{
    kh_pe_bytes b = {(const uint8_t *)s, (uint32_t)strlen(s)};
    return b;
}

static void fill_headers(ld *l, const kh_pe *pe)
{
    si(l, F_machine, pe->machine);
    si(l, F_number_of_sections, pe->number_of_sections);
    si(l, F_timestamp, pe->timestamp);
    si(l, F_pointer_to_symbol_table, pe->pointer_to_symbol_table);
    si(l, F_number_of_symbols, pe->number_of_symbols);
    si(l, F_size_of_optional_header, pe->size_of_optional_header);
    si(l, F_characteristics, pe->characteristics);
    si(l, F_entry_point, pe->entry_point);
    si(l, F_entry_point_raw, pe->entry_point_raw);
    si(l, F_image_base, (int64_t)pe->image_base);
    si(l, F_number_of_rva_and_sizes, pe->number_of_rva_and_sizes);
    si(l, F_opthdr_magic, pe->opthdr_magic);
    sub_int(l, F_linker_version, 0, pe->linker_major);
    sub_int(l, F_linker_version, 1, pe->linker_minor);
    si(l, F_size_of_code, pe->size_of_code);
    si(l, F_size_of_initialized_data, pe->size_of_initialized_data);
    si(l, F_size_of_uninitialized_data, pe->size_of_uninitialized_data);
    si(l, F_base_of_code, pe->base_of_code);
    if (!pe->is_64)
        si(l, F_base_of_data, pe->base_of_data);
    si(l, F_section_alignment, pe->section_alignment);
    si(l, F_file_alignment, pe->file_alignment);
    sub_int(l, F_os_version, 0, pe->os_major);
    sub_int(l, F_os_version, 1, pe->os_minor);
    sub_int(l, F_image_version, 0, pe->image_major);
    sub_int(l, F_image_version, 1, pe->image_minor);
    sub_int(l, F_subsystem_version, 0, pe->subsystem_major);
    sub_int(l, F_subsystem_version, 1, pe->subsystem_minor);
    si(l, F_win32_version_value, pe->win32_version_value);
    si(l, F_size_of_image, pe->size_of_image);
    si(l, F_size_of_headers, pe->size_of_headers);
    si(l, F_checksum, pe->checksum);
    si(l, F_subsystem, pe->subsystem);
    si(l, F_dll_characteristics, pe->dll_characteristics);
    si(l, F_size_of_stack_reserve, (int64_t)pe->stack_reserve);
    si(l, F_size_of_stack_commit, (int64_t)pe->stack_commit);
    si(l, F_size_of_heap_reserve, (int64_t)pe->heap_reserve);
    si(l, F_size_of_heap_commit, (int64_t)pe->heap_commit);
    si(l, F_loader_flags, pe->loader_flags);
    for (uint32_t i = 0; i < pe->ndirs; i++) {
        ai(l, F_data_directories, i, "virtual_address", pe->dirs[i].virtual_address);
        ai(l, F_data_directories, i, "size", pe->dirs[i].size);
    }
}

static void fill_sections(ld *l, const kh_pe *pe)
{
    for (uint32_t i = 0; i < pe->nsections; i++) {
        const kh_pe_section *s = &pe->sections[i];
        as(l, F_sections, i, "name", s->name);
        as(l, F_sections, i, "full_name", s->full_name);
        ai(l, F_sections, i, "characteristics", s->characteristics);
        ai(l, F_sections, i, "raw_data_size", s->raw_data_size);
        ai(l, F_sections, i, "raw_data_offset", s->raw_data_offset);
        ai(l, F_sections, i, "virtual_address", s->virtual_address);
        ai(l, F_sections, i, "virtual_size", s->virtual_size);
        ai(l, F_sections, i, "pointer_to_relocations", s->pointer_to_relocations);
        ai(l, F_sections, i, "pointer_to_line_numbers", s->pointer_to_line_numbers);
        ai(l, F_sections, i, "number_of_relocations", s->number_of_relocations);
        ai(l, F_sections, i, "number_of_line_numbers", s->number_of_line_numbers);
    }
    sub_int(l, F_overlay, 0, pe->overlay_offset);
    sub_int(l, F_overlay, 1, pe->overlay_size);
    if (pe->has_rich) {
        kh_yobj *r = &l->root->items[F_rich_signature];
        r->items[0].v.i = pe->rich_offset, r->items[0].defined = 1;
        r->items[1].v.i = pe->rich_length, r->items[1].defined = 1;
        r->items[2].v.i = pe->rich_key, r->items[2].defined = 1;
        const uint8_t *raw = kh_yarena_dup(l->a, pe->rich_raw.p, pe->rich_raw.n);
        const uint8_t *clear = kh_yarena_dup(l->a, pe->rich_clear.p, pe->rich_clear.n);
        if (!raw || !clear) {
            l->rc = KH_ENOMEM;
            return;
        }
        r->items[3].v.s.p = raw, r->items[3].v.s.n = pe->rich_raw.n, r->items[3].defined = 1;
        r->items[4].v.s.p = clear, r->items[4].v.s.n = pe->rich_clear.n, r->items[4].defined = 1;
    }
    ss(l, F_pdb_path, pe->pdb_path);
}

/* A version_info key that the path syntax of kh_yset_str can carry. */
static int plain_key(kh_pe_bytes k)
{
    for (uint32_t i = 0; i < k.n; i++)
        if (k.p[i] == ']' || k.p[i] == '"' || k.p[i] == '%')
            return 0;
    return 1;
}

static void fill_resources(ld *l, const kh_pe *pe)
{
    if (pe->has_rsrc_dir) {
        si(l, F_resource_timestamp, pe->resource_timestamp);
        sub_int(l, F_resource_version, 0, pe->resource_major);
        sub_int(l, F_resource_version, 1, pe->resource_minor);
    }
    for (uint32_t i = 0; i < pe->nresources; i++) {
        const kh_pe_resource *r = &pe->resources[i];
        ai(l, F_resources, i, "rva", r->rva);
        if (r->offset >= 0)
            ai(l, F_resources, i, "offset", r->offset);
        ai(l, F_resources, i, "length", r->length);
        if (r->type_string.p)
            as(l, F_resources, i, "type_string", r->type_string);
        else
            ai(l, F_resources, i, "type", r->type);
        if (r->name_string.p)
            as(l, F_resources, i, "name_string", r->name_string);
        else
            ai(l, F_resources, i, "id", r->id);
        if (r->language_string.p)
            as(l, F_resources, i, "language_string", r->language_string);
        else
            ai(l, F_resources, i, "language", r->language);
    }
    si(l, F_number_of_resources, pe->nresources);
    for (uint32_t i = 0; i < pe->nvinfos; i++) {
        const kh_pe_vinfo *v = &pe->vinfos[i];
        if (plain_key(v->key)) {
            int rc = kh_yset_str(&l->root->items[F_version_info], l->a, v->value.p, v->value.n, "[%.*s]",
                                 (int)v->key.n, (const char *)v->key.p);
            if (rc == KH_ENOMEM)
                l->rc = rc;
        }
        as(l, F_version_info_list, i, "key", v->key);
        as(l, F_version_info_list, i, "value", v->value);
    }
    si(l, F_number_of_version_infos, pe->nvinfos);
}

/* import_details as yara 4.2.3 fills it: the function index runs across dlls. */
#define MAX_DETAIL_SLOTS (1u << 18)

static void fill_imports(ld *l, const kh_pe *pe)
{
    si(l, F_number_of_imports, pe->number_of_imports);
    si(l, F_number_of_imported_functions, pe->number_of_imported_functions);
    si(l, F_number_of_delayed_imports, pe->number_of_delayed_imports);
    si(l, F_number_of_delayed_imported_functions, pe->number_of_delayed_imported_functions);
    uint64_t slots = 0;
    for (uint32_t d = 0; d < pe->ndlls; d++) {
        const kh_pe_dll *dll = &pe->dlls[d];
        uint32_t end = dll->first + dll->nfuncs;
        slots += end;
        if (slots <= MAX_DETAIL_SLOTS)
            for (uint32_t f = dll->first; f < end; f++) {
                const kh_pe_func *fn = &pe->funcs[f];
                int rc = fn->name.p ? kh_yset_str(&l->root->items[F_import_details], l->a, fn->name.p, fn->name.n,
                                                  "[%u].functions[%u].name", d, f)
                                    : 0;
                if (!rc && fn->has_ordinal)
                    rc = kh_yset_int(&l->root->items[F_import_details], l->a, fn->ordinal, "[%u].functions[%u].ordinal", d, f);
                if (rc && !l->rc)
                    l->rc = rc;
            }
        as(l, F_import_details, d, "library_name", dll->name);
        ai(l, F_import_details, d, "number_of_functions", end);
    }
    kh_buf b = KH_BUF_INIT(64u << 20);
    int rc = put_blob(&b, pe->dlls, pe->ndlls, pe->funcs);
    if (!rc)
        ss(l, P_IMPORTS, (kh_pe_bytes){(const uint8_t *)(b.data ? b.data : ""), (uint32_t)b.len});
    kh_buf_clear(&b);
    if (!rc)
        rc = put_blob(&b, pe->ddlls, pe->nddlls, pe->dfuncs);
    if (!rc)
        ss(l, P_DELAYED, (kh_pe_bytes){(const uint8_t *)(b.data ? b.data : ""), (uint32_t)b.len});
    kh_buf_dispose(&b);
    char hash[33];
    if (!rc)
        rc = kh_pe_imphash(pe, hash);
    if (!rc)
        ss(l, P_IMPHASH, bytes_of(hash));
    if (rc && !l->rc)
        l->rc = rc;
}

static void fill_exports(ld *l, const kh_pe *pe)
{
    si(l, F_number_of_exports, pe->nexports);
    if (pe->has_export_dir)
        si(l, F_export_timestamp, pe->export_timestamp);
    ss(l, F_dll_name, pe->dll_name);
    for (uint32_t i = 0; i < pe->nexports; i++) {
        const kh_pe_export *e = &pe->exports[i];
        ai(l, F_export_details, i, "ordinal", e->ordinal);
        if (e->has_offset)
            ai(l, F_export_details, i, "offset", e->offset);
        as(l, F_export_details, i, "forward_name", e->forward);
        as(l, F_export_details, i, "name", e->name);
    }
}

static void fill_signatures(ld *l, const kh_pe *pe)
{
    if (!pe->has_security_dir)
        return;
    for (uint32_t i = 0; i < pe->nsignatures; i++) {
        const kh_pe_signature *s = &pe->signatures[i];
        as(l, F_signatures, i, "thumbprint", s->thumbprint);
        as(l, F_signatures, i, "issuer", s->issuer);
        as(l, F_signatures, i, "subject", s->subject);
        ai(l, F_signatures, i, "version", s->version);
        as(l, F_signatures, i, "algorithm", s->algorithm);
        as(l, F_signatures, i, "algorithm_oid", s->algorithm_oid);
        as(l, F_signatures, i, "serial", s->serial);
        ai(l, F_signatures, i, "not_before", s->not_before);
        ai(l, F_signatures, i, "not_after", s->not_after);
    }
    si(l, F_number_of_signatures, pe->nsignatures);
}

static int load(kh_yobj *root, const uint8_t *data, size_t len, kh_yarena *a)
{
    if (!root || root->nitems != M_COUNT)
        return KH_EINVAL;
    ld l = {root, a, 0};
    for (size_t i = 0; i < KH_ARRAY_LEN(const_values); i++)
        si(&l, (int)i, const_values[i]);
    si(&l, F_is_pe, 0);
    kh_pe *pe = NULL;
    int rc = kh_pe_parse(&pe, data, len);
    if (rc == KH_EFORMAT || rc == KH_EINVAL)
        return 0;
    if (rc)
        return rc;
    si(&l, F_is_pe, 1);
    fill_headers(&l, pe);
    fill_resources(&l, pe);
    fill_sections(&l, pe);
    fill_signatures(&l, pe);
    fill_imports(&l, pe);
    fill_exports(&l, pe);
    kh_pe_destroy(pe);
    return l.rc;
}

const kh_ymodule kh_ymod_pe = {"pe", {"pe", KH_YT_STRUCT, 0, members, NULL}, load};
