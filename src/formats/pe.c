/* Khiên — formats: a bounds-checked parser for PE files (see pe.h).
 *
 * The parser walks the file the way yara 4.2.3's pe module does, because
 * the YARA `pe` module must see the numbers yara sees: header validation
 * (MZ, PE signature, a complete optional header, a known machine), the
 * rva-to-offset mapping (last section containing the rva, its raw offset
 * rounded down to min(FileAlignment, 0x200), everything below the first
 * section mapped 1:1), the import walk (including its counting quirks),
 * the export table, the three-level resource tree with VS_VERSIONINFO
 * string tables, the Rich header found backwards from the NT headers, the
 * overlay after the section that ends last, and the certificate table.
 *
 * Every read goes through fits() on 64-bit offsets, so no arithmetic on
 * values from the file can wrap. Loops stop at the caps of pe.h; scans for
 * UTF-16 terminators are memoised so that hostile version resources cost
 * linear time; the resource walk recurses at most three levels. Arrays
 * grow geometrically up to their cap, never to a count read from the file.
 * Strings the file does not hold as-is (ordinal names, version strings,
 * certificate fields) are copied into a pool of fixed-size blocks owned by
 * the kh_pe object, so that pointers stay valid. Authenticode, imphash's
 * MD5 and everything else that needs OpenSSL lives in authenticode.c.
 */
#include <stdlib.h>
#include <string.h>

#include "formats/pe.h"
#include "util/util.h"

#define POOL_BLOCK (16u << 10)
#define POOL_LIMIT (64u << 20)
#define MAX_DLL_NAME 4096u /* longer import dll names are treated as invalid */

struct kh_pe_pool {
    struct kh_pe_pool *next;
    size_t used, cap;
    uint8_t data[];
};

/* Memoised search for UTF-16 terminators (one cache per byte parity). */
typedef struct wcache {
    uint64_t lo[2], end[2]; /* from lo (same parity) the terminator is at end; UINT64_MAX: none */
    uint8_t valid[2];
} wcache;

typedef struct ctx {
    kh_pe *pe;
    const uint8_t *d;
    uint64_t n;
    uint64_t opt;      /* offset of the optional header */
    uint64_t sect_off; /* offset of the section table */
    int rc;            /* first allocation failure */
    uint32_t rsrc_visits, version_rsrc;
    uint32_t vcap, rcap;
    uint64_t rsrc_base;
    int32_t type, id, lang;
    wcache wc;
} ctx;

/* ---- Bounded reads ----------------------------------------------------------- */

static int fits(const ctx *c, uint64_t off, uint64_t len) { return off <= c->n && len <= c->n - off; }
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }
/* Reads at offsets already checked by the header validation. */
static uint16_t h16(const ctx *c, uint64_t off) { return rd16(c->d + off); }
static uint32_t h32(const ctx *c, uint64_t off) { return rd32(c->d + off); }
static uint64_t avail(const ctx *c, uint64_t off) { return off < c->n ? c->n - off : 0; }

static size_t bstrnlen(const uint8_t *p, size_t max)
{
    const uint8_t *z = memchr(p, 0, max);
    return z ? (size_t)(z - p) : max;
}

/* ---- The string pool ------------------------------------------------------------ */

const uint8_t *kh_pe__keep(kh_pe *pe, const void *p, size_t n)
{
    struct kh_pe_pool *b = pe->pool;
    size_t need = n + 1;
    if (!b || b->cap - b->used < need) {
        size_t cap = need > POOL_BLOCK ? need : POOL_BLOCK, total = 0;
        for (struct kh_pe_pool *x = b; x; x = x->next)
            total += x->cap;
        if (total + cap > POOL_LIMIT)
            return NULL;
        struct kh_pe_pool *nb = malloc(sizeof(*nb) + cap);
        if (!nb)
            return NULL;
        nb->next = b;
        nb->used = 0;
        nb->cap = cap;
        pe->pool = b = nb;
    }
    uint8_t *d = b->data + b->used;
    if (n)
        memcpy(d, p, n);
    d[n] = 0;
    b->used += need;
    return d;
}

static kh_pe_bytes keep(ctx *c, const void *p, size_t n)
{
    kh_pe_bytes r = {kh_pe__keep(c->pe, p, n), (uint32_t)n};
    if (!r.p)
        c->rc = KH_ENOMEM;
    return r;
}

static kh_pe_bytes in_file(const ctx *c, uint64_t off, size_t n)
{
    kh_pe_bytes r = {c->d + off, (uint32_t)n};
    return r;
}

/* Grows *arr (element size sz, *cap elements) to hold one more, up to limit. */
static int push(ctx *c, void **arr, uint32_t *cap, uint32_t n, size_t sz, uint32_t limit)
{
    if (n < *cap)
        return 1;
    if (n >= limit)
        return 0;
    uint32_t ncap = *cap ? *cap * 2 : 16;
    if (ncap > limit)
        ncap = limit;
    void *p = realloc(*arr, (size_t)ncap * sz);
    if (!p) {
        c->rc = KH_ENOMEM;
        return 0;
    }
    memset((uint8_t *)p + (size_t)*cap * sz, 0, (size_t)(ncap - *cap) * sz);
    *arr = p;
    *cap = ncap;
    return 1;
}

/* ---- Headers ------------------------------------------------------------------------ */

static int known_machine(uint16_t m)
{
    static const uint16_t ok[] = {0x0,   0x1d3, 0x8664, 0x1c0, 0x1c4, 0xaa64, 0xebc, 0x14c,
                                  0x200, 0x9041, 0x266, 0x366, 0x466, 0x1f0, 0x1f1, 0x166,
                                  0x1a2, 0x1a3, 0x1a6, 0x1a8, 0x1c2, 0x169};
    for (size_t i = 0; i < KH_ARRAY_LEN(ok); i++)
        if (ok[i] == m)
            return 1;
    return 0;
}

int64_t kh_pe_rva_to_offset(const kh_pe *pe, uint64_t rva)
{
    uint32_t lowest = 0xffffffffu, s_rva = 0, s_off = 0, s_raw = 0;
    uint64_t sect = (uint64_t)pe->nt_offset + 24 + pe->size_of_optional_header;
    uint32_t n = KH_MIN(pe->number_of_sections, KH_PE_MAX_SECTIONS);
    for (uint32_t i = 0; i < n; i++, sect += 40) {
        if (sect > pe->len || pe->len - sect < 40)
            return -1;
        const uint8_t *s = pe->data + sect;
        uint32_t va = rd32(s + 12), vsize = rd32(s + 8);
        if (lowest > va)
            lowest = va;
        if (rva >= va && rva - va < vsize && s_rva <= va) {
            uint32_t align = KH_MIN(pe->file_alignment, 0x200u);
            s_rva = va;
            s_off = rd32(s + 20);
            s_raw = rd32(s + 16);
            if (align)
                s_off -= s_off % align;
        }
    }
    if (rva < lowest) {
        s_rva = 0;
        s_off = 0;
        s_raw = (uint32_t)pe->len;
    }
    if (rva - s_rva >= s_raw)
        return -1;
    uint64_t r = (uint64_t)s_off + (rva - s_rva);
    if (r >= pe->len)
        return -1;
    return (int64_t)r;
}

static int64_t r2o(const ctx *c, uint64_t rva) { return kh_pe_rva_to_offset(c->pe, rva); }

/* The data directory `i`, or NULL when it lies past SizeOfOptionalHeader (as yara). */
static const uint8_t *dir_entry(const ctx *c, unsigned i)
{
    uint64_t start = c->opt + (c->pe->is_64 ? 112 : 96) + 8u * i;
    if (i >= 16 || start > c->opt + c->pe->size_of_optional_header)
        return NULL;
    return c->d + start; /* inside the validated optional header */
}

static int parse_headers(ctx *c)
{
    kh_pe *pe = c->pe;
    if (c->n < 64 || c->d[0] != 'M' || c->d[1] != 'Z')
        return KH_EFORMAT;
    uint64_t nt = h32(c, 0x3c), hs = nt + 24;
    if (c->n < hs || memcmp(c->d + nt, "PE\0\0", 4) != 0 || c->n < hs + 224)
        return KH_EFORMAT;
    uint16_t magic = h16(c, nt + 24);
    if (c->n < hs + (magic == 0x20b ? 240 : 224))
        return KH_EFORMAT;
    if (!known_machine(h16(c, nt + 4)))
        return KH_EFORMAT;

    uint64_t o = c->opt = nt + 24;
    pe->nt_offset = (uint32_t)nt;
    pe->is_64 = magic == 0x20b;
    pe->machine = h16(c, nt + 4);
    pe->number_of_sections = h16(c, nt + 6);
    pe->timestamp = h32(c, nt + 8);
    pe->pointer_to_symbol_table = h32(c, nt + 12);
    pe->number_of_symbols = h32(c, nt + 16);
    pe->size_of_optional_header = h16(c, nt + 20);
    pe->characteristics = h16(c, nt + 22);

    pe->opthdr_magic = magic;
    pe->linker_major = c->d[o + 2];
    pe->linker_minor = c->d[o + 3];
    pe->size_of_code = h32(c, o + 4);
    pe->size_of_initialized_data = h32(c, o + 8);
    pe->size_of_uninitialized_data = h32(c, o + 12);
    pe->entry_point_raw = h32(c, o + 16);
    pe->base_of_code = h32(c, o + 20);
    if (pe->is_64) {
        pe->image_base = rd64(c->d + o + 24);
    } else {
        pe->base_of_data = h32(c, o + 24);
        pe->image_base = h32(c, o + 28);
    }
    pe->section_alignment = h32(c, o + 32);
    pe->file_alignment = h32(c, o + 36);
    pe->os_major = h16(c, o + 40);
    pe->os_minor = h16(c, o + 42);
    pe->image_major = h16(c, o + 44);
    pe->image_minor = h16(c, o + 46);
    pe->subsystem_major = h16(c, o + 48);
    pe->subsystem_minor = h16(c, o + 50);
    pe->win32_version_value = h32(c, o + 52);
    pe->size_of_image = h32(c, o + 56);
    pe->size_of_headers = h32(c, o + 60);
    pe->checksum = h32(c, o + 64);
    pe->subsystem = h16(c, o + 68);
    pe->dll_characteristics = h16(c, o + 70);
    if (pe->is_64) {
        pe->stack_reserve = rd64(c->d + o + 72);
        pe->stack_commit = rd64(c->d + o + 80);
        pe->heap_reserve = rd64(c->d + o + 88);
        pe->heap_commit = rd64(c->d + o + 96);
        pe->loader_flags = h32(c, o + 104);
        pe->number_of_rva_and_sizes = h32(c, o + 108);
    } else {
        pe->stack_reserve = h32(c, o + 72);
        pe->stack_commit = h32(c, o + 76);
        pe->heap_reserve = h32(c, o + 80);
        pe->heap_commit = h32(c, o + 84);
        pe->loader_flags = h32(c, o + 88);
        pe->number_of_rva_and_sizes = h32(c, o + 92);
    }
    /* yara: min((int)NumberOfRvaAndSizes, 16); a "negative" count gives none. */
    int32_t nd = (int32_t)pe->number_of_rva_and_sizes;
    pe->ndirs = nd < 0 ? 0 : (uint32_t)KH_MIN(nd, 16);
    for (uint32_t i = 0; i < pe->ndirs; i++) {
        uint64_t d = o + (pe->is_64 ? 112 : 96) + 8u * i;
        pe->dirs[i].virtual_address = h32(c, d);
        pe->dirs[i].size = h32(c, d + 4);
    }
    c->sect_off = o + pe->size_of_optional_header;
    pe->entry_point = r2o(c, pe->entry_point_raw);
    return 0;
}

/* ---- Sections and overlay ---------------------------------------------------------- */

static int isprint_c(uint8_t ch) { return ch >= 0x20 && ch < 0x7f; }

static void section_full_name(ctx *c, kh_pe_section *s, const uint8_t *raw)
{
    kh_pe *pe = c->pe;
    s->full_name = s->name;
    if (pe->pointer_to_symbol_table == 0 || raw[0] != '/')
        return;
    uint64_t idx = 0;
    for (int i = 1; i < 8 && raw[i] >= '0' && raw[i] <= '9'; i++)
        idx = idx * 10 + (uint64_t)(raw[i] - '0');
    uint64_t off = (uint64_t)pe->pointer_to_symbol_table + (uint64_t)pe->number_of_symbols * 18 + idx;
    s->full_name.p = NULL;
    s->full_name.n = 0;
    for (uint64_t l = 0; fits(c, off, l + 1); l++) {
        uint8_t ch = c->d[off + l];
        if (ch == 0) {
            s->full_name = in_file(c, off, (size_t)l);
            return;
        }
        if (!isprint_c(ch))
            return;
    }
}

static void parse_sections(ctx *c)
{
    kh_pe *pe = c->pe;
    uint64_t hi_off = 0, hi_size = 0;
    uint32_t n = KH_MIN(pe->number_of_sections, KH_PE_MAX_SECTIONS);
    uint64_t off = c->sect_off;
    for (uint32_t i = 0; i < n; i++, off += 40) {
        if (!fits(c, off, 40))
            break;
        const uint8_t *r = c->d + off;
        kh_pe_section *s = &pe->sections[pe->nsections++];
        int l = 7;
        while (l >= 0 && r[l] == 0)
            l--;
        s->name = in_file(c, off, (size_t)(l + 1));
        section_full_name(c, s, r);
        s->virtual_size = rd32(r + 8);
        s->virtual_address = rd32(r + 12);
        s->raw_data_size = rd32(r + 16);
        s->raw_data_offset = rd32(r + 20);
        s->pointer_to_relocations = rd32(r + 24);
        s->pointer_to_line_numbers = rd32(r + 28);
        s->number_of_relocations = rd16(r + 32);
        s->number_of_line_numbers = rd16(r + 34);
        s->characteristics = rd32(r + 36);
        uint64_t end = (uint64_t)s->raw_data_offset + s->raw_data_size;
        if (end > hi_off + hi_size) {
            hi_off = s->raw_data_offset;
            hi_size = s->raw_data_size;
        }
    }
    uint64_t last = hi_off + hi_size;
    if (last && c->n > last) {
        pe->overlay_offset = (int64_t)last;
        pe->overlay_size = (int64_t)(c->n - last);
    }
}

/* ---- Rich header and debug directory ------------------------------------------------ */

static void parse_rich(ctx *c)
{
    kh_pe *pe = c->pe;
    const uint32_t RICH = 0x68636952u, DANS = 0x536e6144u;
    uint64_t nt = pe->nt_offset;
    if (nt > c->n + 4 || nt < 4)
        return;
    int64_t p = (int64_t)nt - 4, rich = -1;
    uint32_t key = 0;
    for (; p >= 64; p -= 4) {
        if (fits(c, (uint64_t)p, 8) && rd32(c->d + p) == RICH) {
            key = rd32(c->d + p + 4);
            rich = p;
            p -= 4;
            break;
        }
    }
    if (key == 0)
        return;
    int64_t start = -1;
    for (; p >= 64; p -= 4)
        if ((rd32(c->d + p) ^ key) == DANS) {
            start = p;
            break;
        }
    if (start < 0 || !fits(c, (uint64_t)start, 16))
        return;
    const uint8_t *s = c->d + start;
    uint32_t k1 = rd32(s + 4);
    if (k1 != rd32(s + 8) || rd32(s + 8) != rd32(s + 12) || (rd32(s) ^ k1) != DANS)
        return;
    uint32_t len = (uint32_t)(rich - start);
    uint8_t *clear = malloc(len);
    if (!clear) {
        c->rc = KH_ENOMEM;
        return;
    }
    for (uint32_t i = 0; i + 4 <= len; i += 4) {
        uint32_t v = rd32(s + i) ^ k1;
        clear[i] = (uint8_t)v, clear[i + 1] = (uint8_t)(v >> 8), clear[i + 2] = (uint8_t)(v >> 16),
        clear[i + 3] = (uint8_t)(v >> 24);
    }
    pe->has_rich = 1;
    pe->rich_offset = (uint32_t)start;
    pe->rich_length = len;
    pe->rich_key = k1;
    pe->rich_raw = in_file(c, (uint64_t)start, len);
    pe->rich_clear = keep(c, clear, len);
    free(clear);
}

static void parse_debug(ctx *c)
{
    const uint8_t *dd = dir_entry(c, 6);
    if (!dd)
        return;
    uint32_t va = rd32(dd), size = rd32(dd + 4);
    if (size == 0 || size % 28 != 0 || va == 0)
        return;
    int64_t base = r2o(c, va);
    if (base < 0)
        return;
    uint32_t count = size / 28;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t e = (uint64_t)base + (uint64_t)i * 28;
        if (!fits(c, e, 28))
            break;
        if (rd32(c->d + e + 12) != 2) /* IMAGE_DEBUG_TYPE_CODEVIEW */
            continue;
        int64_t cv = 0;
        uint32_t rva = rd32(c->d + e + 20), raw = rd32(c->d + e + 24);
        if (rva != 0)
            cv = r2o(c, rva);
        if (cv <= 0 && raw != 0)
            cv = raw;
        if (cv <= 0 || !fits(c, (uint64_t)cv, 4))
            continue;
        uint32_t sig = rd32(c->d + cv);
        uint64_t name = 0, need = 0;
        if (sig == 0x3031424e) /* NB10 */
            name = (uint64_t)cv + 16, need = 17;
        else if (sig == 0x53445352) /* RSDS */
            name = (uint64_t)cv + 24, need = 25;
        else if (sig == 0x434f544d) /* MTOC */
            name = (uint64_t)cv + 20, need = 21;
        if (!need || !fits(c, (uint64_t)cv, need))
            continue;
        size_t max = (size_t)KH_MIN(avail(c, name), 260u);
        size_t l = bstrnlen(c->d + name, max);
        if (l > 0 && l < 260) {
            c->pe->pdb_path = in_file(c, name, l);
            break;
        }
    }
}

/* ---- Imports ------------------------------------------------------------------------------ */

/* yara's pe_valid_dll_name: printable-ish, NUL-terminated inside the data. */
static size_t valid_dll_name(const ctx *c, uint64_t off)
{
    uint64_t n = avail(c, off), l = 0;
    const uint8_t *s = c->d + off;
    while (l < n && s[l] != 0) {
        uint8_t ch = s[l];
        if (ch < ' ' || ch == '"' || ch == '*' || ch == '<' || ch == '>' || ch == '?' || ch == '|')
            return 0;
        if (++l > MAX_DLL_NAME)
            return 0;
    }
    return l > 0 && l < n ? (size_t)l : 0;
}

static int add_func(ctx *c, kh_pe_func **arr, uint32_t *n, uint32_t *cap, uint32_t limit, kh_pe_func f)
{
    if (!push(c, (void **)arr, cap, *n, sizeof(kh_pe_func), limit))
        return 0;
    (*arr)[(*n)++] = f;
    return 1;
}

/* A function imported by ordinal gets the name yara gives it. */
static kh_pe_bytes ord_name(ctx *c, kh_pe_bytes dll, uint16_t ord)
{
    char buf[64];
    kh_pe_ord_name(dll.p, dll.n, ord, buf);
    return keep(c, buf, strlen(buf));
}

static void parse_imports(ctx *c)
{
    kh_pe *pe = c->pe;
    uint32_t fcap = 0, dcap = 0;
    const uint8_t *dd = dir_entry(c, 1);
    if (!dd || rd32(dd) == 0)
        return;
    int64_t off = r2o(c, rd32(dd));
    if (off < 0)
        return;
    uint64_t desc = (uint64_t)off;
    uint32_t num_imports = 0, nfuncs = 0;
    for (; fits(c, desc, 20) && rd32(c->d + desc + 12) != 0 && num_imports < KH_PE_MAX_IMPORTS; desc += 20) {
        const uint8_t *dsc = c->d + desc;
        int64_t noff = r2o(c, rd32(dsc + 12));
        if (noff >= 0) {
            size_t nl = valid_dll_name(c, (uint64_t)noff);
            if (!nl)
                continue; /* yara skips it without counting */
            kh_pe_bytes dll = in_file(c, (uint64_t)noff, nl);
            uint32_t first = pe->nfuncs;
            int64_t t = r2o(c, rd32(dsc));
            if (t <= 0)
                t = r2o(c, rd32(dsc + 16));
            if (t >= 0) {
                unsigned tsz = pe->is_64 ? 8 : 4;
                for (uint64_t th = (uint64_t)t; fits(c, th, tsz) && nfuncs < KH_PE_MAX_IMPORTS; th += tsz) {
                    uint64_t v = pe->is_64 ? rd64(c->d + th) : rd32(c->d + th);
                    if (v == 0)
                        break;
                    kh_pe_func f = {{NULL, 0}, 0, 0};
                    uint64_t flag = pe->is_64 ? 0x8000000000000000ull : 0x80000000ull;
                    if (!(v & flag)) {
                        int64_t io = r2o(c, v);
                        if (io >= 0 && fits(c, (uint64_t)io, 4)) {
                            uint64_t name = (uint64_t)io + 2;
                            size_t max = (size_t)KH_MIN(avail(c, name), KH_PE_MAX_IMPORT_NAME);
                            f.name = in_file(c, name, bstrnlen(c->d + name, max));
                        }
                    } else {
                        f.ordinal = (uint16_t)(v & 0xffff);
                        f.has_ordinal = 1;
                        f.name = ord_name(c, dll, f.ordinal);
                    }
                    if (f.name.p || f.has_ordinal)
                        if (!add_func(c, &pe->funcs, &pe->nfuncs, &fcap, KH_PE_MAX_IMPORTS, f))
                            break;
                    nfuncs++;
                }
            }
            if (pe->nfuncs > first && push(c, (void **)&pe->dlls, &dcap, pe->ndlls, sizeof(kh_pe_dll), KH_PE_MAX_IMPORTS)) {
                kh_pe_dll *d = &pe->dlls[pe->ndlls++];
                d->name = dll;
                d->first = first;
                d->nfuncs = pe->nfuncs - first;
            }
        }
        num_imports++;
    }
    pe->number_of_imports = num_imports;
    pe->number_of_imported_functions = nfuncs;
}

static uint64_t delay_norm(uint64_t image_base, uint64_t v) { return v != 0 && v > image_base ? v - image_base : v; }

/* A pointer-sized value at an rva; 0 with *ok = 0 when it is outside the data. */
static uint64_t delay_ptr(ctx *c, uint64_t rva, int *ok)
{
    int64_t o = r2o(c, rva);
    unsigned sz = c->pe->is_64 ? 8 : 4;
    *ok = o >= 0 && fits(c, (uint64_t)o, sz);
    if (!*ok)
        return 0;
    return c->pe->is_64 ? rd64(c->d + o) : rd32(c->d + o);
}

static void parse_delay_imports(ctx *c)
{
    kh_pe *pe = c->pe;
    uint32_t fcap = 0, dcap = 0, ndesc = 0;
    const uint8_t *dd = dir_entry(c, 13);
    if (!dd || rd32(dd) == 0)
        return;
    int64_t off = r2o(c, rd32(dd));
    if (off < 0)
        return;
    uint64_t ib = pe->image_base, soi = pe->size_of_image, ps = pe->is_64 ? 8 : 4;
    uint64_t omask = pe->is_64 ? 0x8000000000000000ull : 0x80000000ull;
    for (uint64_t desc = (uint64_t)off; fits(c, desc, 32) && ndesc < KH_PE_MAX_IMPORTS; desc += 32, ndesc++) {
        const uint8_t *d = c->d + desc;
        uint32_t v[8];
        int zero = 1;
        for (int i = 0; i < 8; i++) {
            v[i] = rd32(d + 4 * i);
            zero &= v[i] == 0;
        }
        if (zero)
            break;
        uint32_t attr = v[0], name_rva = v[1], iat = v[3], intab = v[4];
        if (attr > 1)
            break;
        if (!pe->is_64 && !attr) {
            name_rva = (uint32_t)delay_norm(ib, name_rva);
            iat = (uint32_t)delay_norm(ib, iat);
            intab = (uint32_t)delay_norm(ib, intab);
        }
        if (intab >= soi || iat >= soi || name_rva < 64 || intab < 64)
            break;
        int64_t noff = r2o(c, name_rva);
        size_t nl = noff >= 0 ? valid_dll_name(c, (uint64_t)noff) : 0;
        if (!nl)
            continue;
        kh_pe_bytes dll = in_file(c, (uint64_t)noff, nl);
        uint32_t first = pe->ndfuncs;
        uint64_t nr = intab, fr = iat;
        while (pe->number_of_delayed_imported_functions < KH_PE_MAX_DELAY_IMPORTS) {
            int ok1, ok2;
            uint64_t na = delay_ptr(c, nr, &ok1), fa = delay_ptr(c, fr, &ok2);
            if (!ok1 || !ok2 || na == 0 || fa == 0)
                break;
            kh_pe_func f = {{NULL, 0}, 0, 0};
            if (!(na & omask)) {
                if (!attr)
                    na = delay_norm(ib, na);
                int64_t o = r2o(c, na + 2);
                if (o >= 0) {
                    size_t max = (size_t)KH_MIN(avail(c, (uint64_t)o), KH_PE_MAX_IMPORT_NAME);
                    f.name = in_file(c, (uint64_t)o, bstrnlen(c->d + o, max));
                } else {
                    f.name = keep(c, "", 0); /* yara: strndup of zero bytes */
                }
            } else {
                f.ordinal = (uint16_t)(na & 0xffff);
                f.has_ordinal = 1;
                f.name = ord_name(c, dll, f.ordinal);
            }
            if (!add_func(c, &pe->dfuncs, &pe->ndfuncs, &fcap, KH_PE_MAX_DELAY_IMPORTS, f))
                break;
            pe->number_of_delayed_imported_functions++;
            nr += ps;
            fr += ps;
        }
        if (!push(c, (void **)&pe->ddlls, &dcap, pe->nddlls, sizeof(kh_pe_dll), KH_PE_MAX_IMPORTS))
            break;
        kh_pe_dll *x = &pe->ddlls[pe->nddlls++];
        x->name = dll;
        x->first = first;
        x->nfuncs = pe->ndfuncs - first;
        pe->number_of_delayed_imports++;
    }
}

/* ---- Exports -------------------------------------------------------------------------------- */

static void parse_exports(ctx *c)
{
    kh_pe *pe = c->pe;
    const uint8_t *dd = dir_entry(c, 0);
    if (!dd || rd32(dd) == 0)
        return;
    int64_t start = r2o(c, rd32(dd));
    uint64_t esize = rd32(dd + 4);
    if (start < 0 || !fits(c, (uint64_t)start, 40))
        return;
    const uint8_t *e = c->d + start;
    uint32_t ne = KH_MIN(rd32(e + 20), KH_PE_MAX_EXPORTS), base = rd32(e + 16), nnames = rd32(e + 24);
    pe->has_export_dir = 1;
    pe->export_timestamp = rd32(e + 4);
    int64_t off = r2o(c, rd32(e + 12));
    if (off > 0)
        pe->dll_name = in_file(c, (uint64_t)off, bstrnlen(c->d + off, (size_t)(c->n - (uint64_t)off)));
    /* yara compares with the offset of the name here (len + 1 when it is -1). */
    if ((uint64_t)ne * 4 > c->n - (uint64_t)off)
        return;
    int64_t names = -1;
    if (nnames > 0) {
        names = r2o(c, rd32(e + 32));
        if (names < 0 || (uint64_t)nnames * 4 > c->n - (uint64_t)names)
            return;
    }
    int64_t ords = r2o(c, rd32(e + 36));
    if (ords < 0 || avail(c, (uint64_t)ords) < 2ull * ne)
        return;
    int64_t funcs = r2o(c, rd32(e + 28));
    if (funcs < 0 || avail(c, (uint64_t)funcs) < 4ull * ne)
        return;
    uint32_t nn = KH_MIN(nnames, ne);
    /* name_of[i]: the first j < nn whose ordinal index is i (yara's inner loop). */
    uint32_t *name_of = NULL;
    if (ne) {
        name_of = malloc((size_t)ne * sizeof(uint32_t));
        pe->exports = calloc(ne, sizeof(kh_pe_export));
        if (!name_of || !pe->exports) {
            free(name_of);
            c->rc = KH_ENOMEM;
            return;
        }
        for (uint32_t i = 0; i < ne; i++)
            name_of[i] = UINT32_MAX;
        if (names >= 0)
            for (uint32_t j = nn; j-- > 0;) {
                uint16_t o = rd16(c->d + ords + 2 * j);
                if (o < ne)
                    name_of[o] = j;
            }
    }
    for (uint32_t i = 0; i < ne; i++) {
        kh_pe_export *x = &pe->exports[pe->nexports++];
        x->ordinal = base + i;
        int64_t fo = r2o(c, rd32(c->d + funcs + 4 * i));
        if (fo > start && (uint64_t)fo < (uint64_t)start + esize) {
            size_t l = bstrnlen(c->d + fo, (size_t)(c->n - (uint64_t)fo));
            x->forward = in_file(c, (uint64_t)fo, KH_MIN(l, KH_PE_MAX_EXPORT_NAME));
        } else {
            x->offset = fo;
            x->has_offset = 1;
        }
        if (name_of[i] != UINT32_MAX) {
            int64_t no = r2o(c, rd32(c->d + names + 4 * name_of[i]));
            if (no > 0) {
                size_t l = bstrnlen(c->d + no, (size_t)(c->n - (uint64_t)no));
                x->name = in_file(c, (uint64_t)no, KH_MIN(l, KH_PE_MAX_EXPORT_NAME));
            }
        }
    }
    free(name_of);
}

/* ---- Version information ---------------------------------------------------------------------- */

/* Offset of the first aligned UTF-16 NUL at or after off (same parity), or UINT64_MAX. */
static uint64_t wend(ctx *c, uint64_t off)
{
    int par = (int)(off & 1);
    wcache *w = &c->wc;
    if (w->valid[par] && off >= w->lo[par] && (off - w->lo[par]) % 2 == 0 && off <= w->end[par])
        return w->end[par];
    uint64_t p = off, r = UINT64_MAX;
    for (; p + 2 <= c->n; p += 2)
        if (c->d[p] == 0 && c->d[p + 1] == 0) {
            r = p;
            break;
        }
    w->valid[par] = 1;
    w->lo[par] = off;
    w->end[par] = r;
    return r;
}

static int wide_fits(ctx *c, uint64_t off) { return off < c->n && wend(c, off) != UINT64_MAX; }
static uint64_t strnlen_w(ctx *c, uint64_t off) { return (wend(c, off) - off) / 2; }

/* yara's strcmp_w over a region known to hold strlen(s)+1 wide chars. */
static int wide_eq(const ctx *c, uint64_t off, const char *s)
{
    const uint8_t *w = c->d + off;
    while (*s && w[0] == (uint8_t)*s && w[1] == 0)
        w += 2, s++;
    return w[1] == 0 && w[0] == (uint8_t)*s;
}

/* Low bytes of a wide string into out (cap bytes with NUL), as yara's strlcpy_w. */
static size_t lcpy_w(const ctx *c, uint64_t off, char *out, size_t cap)
{
    size_t k = 0;
    while (cap > 1 && off + 1 < c->n && c->d[off] != 0) {
        out[k++] = (char)c->d[off];
        off += 2;
        cap--;
    }
    out[k] = 0;
    return k;
}

#define ADD(p, o) ((p) + (((uint64_t)(o) + 3) & ~(uint64_t)3))

static void parse_version(ctx *c, uint32_t rva)
{
    kh_pe *pe = c->pe;
    int64_t vo = r2o(c, rva);
    if (vo < 0 || !fits(c, (uint64_t)vo, 6) || !fits(c, (uint64_t)vo + 6, 32) ||
        !wide_eq(c, (uint64_t)vo + 6, "VS_VERSION_INFO"))
        return;
    uint64_t vi = ADD((uint64_t)vo, 6 + 86);
    while (fits(c, vi + 6, 24) && wide_eq(c, vi + 6, "VarFileInfo") && rd16(c->d + vi) != 0)
        vi = ADD(vi, rd16(c->d + vi));
    while (fits(c, vi + 6, 30) && wide_eq(c, vi + 6, "StringFileInfo") && rd16(c->d + vi) != 0) {
        uint64_t st = ADD(vi, 6 + 30);
        vi = ADD(vi, rd16(c->d + vi));
        while (fits(c, st, 6) && wide_fits(c, st + 6) && rd16(c->d + st) != 0 && st < vi) {
            uint64_t s = ADD(st, 6 + 2 * (strnlen_w(c, st + 6) + 1));
            st = ADD(st, rd16(c->d + st));
            while (fits(c, s, 6) && wide_fits(c, s + 6) && rd16(c->d + s) != 0 && s < st) {
                uint64_t val = ADD(s, 6 + 2 * (strnlen_w(c, s + 6) + 1));
                if (wide_fits(c, val)) {
                    if (pe->nvinfos >= KH_PE_MAX_VERSION_INFOS)
                        return;
                    char key[64], value[256];
                    size_t kl = lcpy_w(c, s + 6, key, sizeof(key));
                    size_t vl = lcpy_w(c, val, value, sizeof(value));
                    if (rd16(c->d + s + 2) == 0)
                        vl = 0;
                    if (!push(c, (void **)&pe->vinfos, &c->vcap, pe->nvinfos, sizeof(kh_pe_vinfo),
                              KH_PE_MAX_VERSION_INFOS))
                        return;
                    kh_pe_vinfo *v = &pe->vinfos[pe->nvinfos++];
                    v->key = keep(c, key, kl);
                    v->value = keep(c, value, vl);
                    if (c->rc)
                        return;
                }
                s = ADD(s, rd16(c->d + s));
            }
        }
    }
}

/* ---- Resources ------------------------------------------------------------------------------------ */

static kh_pe_bytes rsrc_name(ctx *c, uint32_t name)
{
    kh_pe_bytes r = {NULL, 0};
    if (!(name & 0x80000000u))
        return r;
    uint64_t o = c->rsrc_base + (name & 0x7fffffffu);
    if (!fits(c, o, 2) || !fits(c, o, 2 + 2ull * rd16(c->d + o)))
        return r;
    r.p = c->d + o; /* the length word; the text follows */
    r.n = 1;
    return r;
}

static kh_pe_bytes rsrc_text(ctx *c, kh_pe_bytes s)
{
    kh_pe_bytes r = {NULL, 0};
    (void)c;
    if (s.p) {
        r.p = s.p + 2;
        r.n = 2u * rd16(s.p);
    }
    return r;
}

static void collect(ctx *c, uint64_t de, kh_pe_bytes ts, kh_pe_bytes ns, kh_pe_bytes ls)
{
    kh_pe *pe = c->pe;
    if (!push(c, (void **)&pe->resources, &c->rcap, pe->nresources, sizeof(kh_pe_resource),
              KH_PE_MAX_RESOURCES))
        return;
    kh_pe_resource *r = &pe->resources[pe->nresources++];
    memset(r, 0, sizeof(*r));
    r->rva = rd32(c->d + de);
    r->offset = r2o(c, r->rva);
    r->length = rd32(c->d + de + 4);
    r->type = c->type;
    r->id = c->id;
    r->language = c->lang;
    r->type_string = rsrc_text(c, ts);
    r->name_string = rsrc_text(c, ns);
    r->language_string = rsrc_text(c, ls);
    if (c->type == 16 && c->version_rsrc < KH_PE_MAX_VERSION_RSRC) {
        c->version_rsrc++;
        parse_version(c, r->rva);
    }
}

/* Returns 1 when the walk must stop (yara's RESOURCE_ITERATOR_ABORTED). */
static int walk_rsrc(ctx *c, uint64_t dir, int level, kh_pe_bytes ts, kh_pe_bytes ns, kh_pe_bytes ls)
{
    const uint8_t *d = c->d + dir; /* 16 bytes checked by the caller */
    uint16_t named = rd16(d + 12), ids = rd16(d + 14);
    if (rd32(d) != 0 || named > 32768 || ids > 32768)
        return 0;
    uint32_t total = (uint32_t)named + ids;
    int result = 0;
    for (uint32_t i = 0; i < total; i++) {
        uint64_t e = dir + 16 + 8ull * i;
        if (!fits(c, e, 8) || ++c->rsrc_visits > KH_PE_MAX_RSRC_VISITS || c->rc)
            return 1;
        uint32_t name = rd32(c->d + e), data = rd32(c->d + e + 4);
        if (level == 0)
            c->type = (int32_t)name, ts = rsrc_name(c, name);
        else if (level == 1)
            c->id = (int32_t)name, ns = rsrc_name(c, name);
        else
            c->lang = (int32_t)name, ls = rsrc_name(c, name);
        uint64_t target = c->rsrc_base + (data & 0x7fffffffu);
        if ((data & 0x80000000u) && level < 2) {
            if (fits(c, target, 16))
                result = walk_rsrc(c, target, level + 1, ts, ns, ls);
            else
                result = 1;
        } else {
            if (fits(c, target, 16))
                collect(c, target, ts, ns, ls);
            else
                result = 1;
        }
        if (result)
            break;
    }
    return result;
}

static void parse_resources(ctx *c)
{
    kh_pe *pe = c->pe;
    const uint8_t *dd = dir_entry(c, 2);
    if (!dd || rd32(dd) == 0)
        return;
    int64_t off = r2o(c, rd32(dd));
    if (off < 0 || !fits(c, (uint64_t)off, 16))
        return;
    pe->has_rsrc_dir = 1;
    pe->resource_timestamp = rd32(c->d + off + 4);
    pe->resource_major = rd16(c->d + off + 8);
    pe->resource_minor = rd16(c->d + off + 10);
    c->rsrc_base = (uint64_t)off;
    c->type = c->id = c->lang = -1;
    kh_pe_bytes none = {NULL, 0};
    walk_rsrc(c, (uint64_t)off, 0, none, none, none);
}

/* ---- Authenticode directory ---------------------------------------------------------------------- */

static void parse_security(ctx *c)
{
    const uint8_t *dd = dir_entry(c, 4);
    if (!dd)
        return;
    c->pe->has_security_dir = 1;
    uint32_t va = rd32(dd), size = rd32(dd + 4);
    if (va == 0 || va > c->n || size > c->n || (uint64_t)va + size > c->n)
        return;
    int rc = kh_pe__authenticode(c->pe, va, size);
    if (rc == KH_ENOMEM)
        c->rc = rc;
}

/* ---- Entry points ------------------------------------------------------------------------------------ */

int kh_pe_parse(kh_pe **out, const uint8_t *data, size_t len)
{
    if (!out || (!data && len))
        return KH_EINVAL;
    kh_pe *pe = calloc(1, sizeof(*pe));
    if (!pe)
        return KH_ENOMEM;
    pe->data = data;
    pe->len = len;
    ctx c;
    memset(&c, 0, sizeof(c));
    c.pe = pe;
    c.d = data;
    c.n = len;
    int rc = parse_headers(&c);
    if (rc)
        goto done;
    parse_sections(&c);
    parse_resources(&c);
    parse_rich(&c);
    parse_debug(&c);
    parse_security(&c);
    parse_imports(&c);
    parse_delay_imports(&c);
    parse_exports(&c);
    rc = c.rc;
done:
    if (rc) {
        kh_pe_destroy(pe);
        return rc;
    }
    *out = pe;
    return 0;
}

void kh_pe_destroy(kh_pe *pe)
{
    if (!pe)
        return;
    for (struct kh_pe_pool *b = pe->pool, *n; b; b = n) {
        n = b->next;
        free(b);
    }
    free(pe->dlls);
    free(pe->funcs);
    free(pe->ddlls);
    free(pe->dfuncs);
    free(pe->exports);
    free(pe->resources);
    free(pe->vinfos);
    free(pe);
}

int kh_pe_headers(kh_pe *pe, const uint8_t *data, size_t len)
{
    memset(pe, 0, sizeof(*pe));
    pe->data = data;
    pe->len = len;
    ctx c;
    memset(&c, 0, sizeof(c));
    c.pe = pe;
    c.d = data;
    c.n = len;
    return data ? parse_headers(&c) : KH_EINVAL;
}

uint32_t kh_pe_checksum(const uint8_t *data, size_t len)
{
    uint64_t csum = 0, csum_off = len >= 64 ? (uint64_t)rd32(data + 0x3c) + 24 + 64 : UINT64_MAX;
    size_t n = len;
    for (size_t i = 0; i <= n / 4; i++) {
        if (4 * (uint64_t)i == csum_off)
            continue;
        if (4 * i + 4 <= n) {
            csum += rd32(data + 4 * i);
        } else {
            for (size_t j = 0; j < n % 4; j++)
                csum += (uint64_t)data[4 * i + j] << (8 * j);
        }
        if (csum > 0xffffffffu)
            csum = (csum & 0xffffffffu) + (csum >> 32);
    }
    csum = (csum & 0xffff) + (csum >> 16);
    csum += csum >> 16;
    csum &= 0xffff;
    csum += n;
    return (uint32_t)csum;
}

/* ---- Ordinal names and the import hash ---------------------------------------------------------------- */

/* Names of functions exported by ordinal, as pefile's ordlookup tables (and
 * yara's copy of them): runs of consecutive ordinals starting at `first`. */
typedef struct ord_run {
    uint16_t first;
    uint16_t n;
    const char *const *names;
} ord_run;

static const char *const ws2_1[] = {
    "accept", "bind", "closesocket", "connect", "getpeername", "getsockname", "getsockopt", "htonl", "htons",
    "ioctlsocket", "inet_addr", "inet_ntoa", "listen", "ntohl", "ntohs", "recv", "recvfrom", "select", "send",
    "sendto", "setsockopt", "shutdown", "socket", "GetAddrInfoW", "GetNameInfoW", "WSApSetPostRoutine",
    "FreeAddrInfoW", "WPUCompleteOverlappedRequest", "WSAAccept", "WSAAddressToStringA", "WSAAddressToStringW",
    "WSACloseEvent", "WSAConnect", "WSACreateEvent", "WSADuplicateSocketA", "WSADuplicateSocketW",
    "WSAEnumNameSpaceProvidersA", "WSAEnumNameSpaceProvidersW", "WSAEnumNetworkEvents", "WSAEnumProtocolsA",
    "WSAEnumProtocolsW", "WSAEventSelect", "WSAGetOverlappedResult", "WSAGetQOSByName",
    "WSAGetServiceClassInfoA", "WSAGetServiceClassInfoW", "WSAGetServiceClassNameByClassIdA",
    "WSAGetServiceClassNameByClassIdW", "WSAHtonl", "WSAHtons", "gethostbyaddr", "gethostbyname",
    "getprotobyname", "getprotobynumber", "getservbyname", "getservbyport", "gethostname",
    "WSAInstallServiceClassA", "WSAInstallServiceClassW", "WSAIoctl", "WSAJoinLeaf", "WSALookupServiceBeginA",
    "WSALookupServiceBeginW", "WSALookupServiceEnd", "WSALookupServiceNextA", "WSALookupServiceNextW",
    "WSANSPIoctl", "WSANtohl", "WSANtohs", "WSAProviderConfigChange", "WSARecv", "WSARecvDisconnect",
    "WSARecvFrom", "WSARemoveServiceClass", "WSAResetEvent", "WSASend", "WSASendDisconnect", "WSASendTo",
    "WSASetEvent", "WSASetServiceA", "WSASetServiceW", "WSASocketA", "WSASocketW", "WSAStringToAddressA",
    "WSAStringToAddressW", "WSAWaitForMultipleEvents", "WSCDeinstallProvider", "WSCEnableNSProvider",
    "WSCEnumProtocols", "WSCGetProviderPath", "WSCInstallNameSpace", "WSCInstallProvider",
    "WSCUnInstallNameSpace", "WSCUpdateProvider", "WSCWriteNameSpaceOrder", "WSCWriteProviderOrder",
    "freeaddrinfo", "getaddrinfo", "getnameinfo"};
static const char *const ws2_101[] = {
    "WSAAsyncSelect", "WSAAsyncGetHostByAddr", "WSAAsyncGetHostByName", "WSAAsyncGetProtoByNumber",
    "WSAAsyncGetProtoByName", "WSAAsyncGetServByPort", "WSAAsyncGetServByName", "WSACancelAsyncRequest",
    "WSASetBlockingHook", "WSAUnhookBlockingHook", "WSAGetLastError", "WSASetLastError",
    "WSACancelBlockingCall", "WSAIsBlocking", "WSAStartup", "WSACleanup"};
static const char *const ws2_151[] = {"__WSAFDIsSet"};
static const char *const ws2_500[] = {"WEP"};
static const ord_run ws2_runs[] = {{1, 99, ws2_1}, {101, 16, ws2_101}, {151, 1, ws2_151}, {500, 1, ws2_500}};

static const char *const ole_2[] = {
    "SysAllocString", "SysReAllocString", "SysAllocStringLen", "SysReAllocStringLen", "SysFreeString",
    "SysStringLen", "VariantInit", "VariantClear", "VariantCopy", "VariantCopyInd", "VariantChangeType",
    "VariantTimeToDosDateTime", "DosDateTimeToVariantTime", "SafeArrayCreate", "SafeArrayDestroy",
    "SafeArrayGetDim", "SafeArrayGetElemsize", "SafeArrayGetUBound", "SafeArrayGetLBound", "SafeArrayLock",
    "SafeArrayUnlock", "SafeArrayAccessData", "SafeArrayUnaccessData", "SafeArrayGetElement",
    "SafeArrayPutElement", "SafeArrayCopy", "DispGetParam", "DispGetIDsOfNames", "DispInvoke",
    "CreateDispTypeInfo", "CreateStdDispatch", "RegisterActiveObject", "RevokeActiveObject",
    "GetActiveObject", "SafeArrayAllocDescriptor", "SafeArrayAllocData", "SafeArrayDestroyDescriptor",
    "SafeArrayDestroyData", "SafeArrayRedim", "SafeArrayAllocDescriptorEx", "SafeArrayCreateEx",
    "SafeArrayCreateVectorEx", "SafeArraySetRecordInfo", "SafeArrayGetRecordInfo", "VarParseNumFromStr",
    "VarNumFromParseNum", "VarI2FromUI1", "VarI2FromI4", "VarI2FromR4", "VarI2FromR8", "VarI2FromCy",
    "VarI2FromDate", "VarI2FromStr", "VarI2FromDisp", "VarI2FromBool", "SafeArraySetIID", "VarI4FromUI1",
    "VarI4FromI2", "VarI4FromR4", "VarI4FromR8", "VarI4FromCy", "VarI4FromDate", "VarI4FromStr",
    "VarI4FromDisp", "VarI4FromBool", "SafeArrayGetIID", "VarR4FromUI1", "VarR4FromI2", "VarR4FromI4",
    "VarR4FromR8", "VarR4FromCy", "VarR4FromDate", "VarR4FromStr", "VarR4FromDisp", "VarR4FromBool",
    "SafeArrayGetVartype", "VarR8FromUI1", "VarR8FromI2", "VarR8FromI4", "VarR8FromR4", "VarR8FromCy",
    "VarR8FromDate", "VarR8FromStr", "VarR8FromDisp", "VarR8FromBool", "VarFormat", "VarDateFromUI1",
    "VarDateFromI2", "VarDateFromI4", "VarDateFromR4", "VarDateFromR8", "VarDateFromCy", "VarDateFromStr",
    "VarDateFromDisp", "VarDateFromBool", "VarFormatDateTime", "VarCyFromUI1", "VarCyFromI2", "VarCyFromI4",
    "VarCyFromR4", "VarCyFromR8", "VarCyFromDate", "VarCyFromStr", "VarCyFromDisp", "VarCyFromBool",
    "VarFormatNumber", "VarBstrFromUI1", "VarBstrFromI2", "VarBstrFromI4", "VarBstrFromR4", "VarBstrFromR8",
    "VarBstrFromCy", "VarBstrFromDate", "VarBstrFromDisp", "VarBstrFromBool", "VarFormatPercent",
    "VarBoolFromUI1", "VarBoolFromI2", "VarBoolFromI4", "VarBoolFromR4", "VarBoolFromR8", "VarBoolFromDate",
    "VarBoolFromCy", "VarBoolFromStr", "VarBoolFromDisp", "VarFormatCurrency", "VarWeekdayName",
    "VarMonthName", "VarUI1FromI2", "VarUI1FromI4", "VarUI1FromR4", "VarUI1FromR8", "VarUI1FromCy",
    "VarUI1FromDate", "VarUI1FromStr", "VarUI1FromDisp", "VarUI1FromBool", "VarFormatFromTokens",
    "VarTokenizeFormatString", "VarAdd", "VarAnd", "VarDiv", "DllCanUnloadNow", "DllGetClassObject",
    "DispCallFunc", "VariantChangeTypeEx", "SafeArrayPtrOfIndex", "SysStringByteLen",
    "SysAllocStringByteLen", "DllRegisterServer", "VarEqv", "VarIdiv", "VarImp", "VarMod", "VarMul", "VarOr",
    "VarPow", "VarSub", "CreateTypeLib", "LoadTypeLib", "LoadRegTypeLib", "RegisterTypeLib",
    "QueryPathOfRegTypeLib", "LHashValOfNameSys", "LHashValOfNameSysA", "VarXor", "VarAbs", "VarFix",
    "OaBuildVersion", "ClearCustData", "VarInt", "VarNeg", "VarNot", "VarRound", "VarCmp", "VarDecAdd",
    "VarDecDiv", "VarDecMul", "CreateTypeLib2", "VarDecSub", "VarDecAbs", "LoadTypeLibEx",
    "SystemTimeToVariantTime", "VariantTimeToSystemTime", "UnRegisterTypeLib", "VarDecFix", "VarDecInt",
    "VarDecNeg", "VarDecFromUI1", "VarDecFromI2", "VarDecFromI4", "VarDecFromR4", "VarDecFromR8",
    "VarDecFromDate", "VarDecFromCy", "VarDecFromStr", "VarDecFromDisp", "VarDecFromBool", "GetErrorInfo",
    "SetErrorInfo", "CreateErrorInfo", "VarDecRound", "VarDecCmp", "VarI2FromI1", "VarI2FromUI2",
    "VarI2FromUI4", "VarI2FromDec", "VarI4FromI1", "VarI4FromUI2", "VarI4FromUI4", "VarI4FromDec",
    "VarR4FromI1", "VarR4FromUI2", "VarR4FromUI4", "VarR4FromDec", "VarR8FromI1", "VarR8FromUI2",
    "VarR8FromUI4", "VarR8FromDec", "VarDateFromI1", "VarDateFromUI2", "VarDateFromUI4", "VarDateFromDec",
    "VarCyFromI1", "VarCyFromUI2", "VarCyFromUI4", "VarCyFromDec", "VarBstrFromI1", "VarBstrFromUI2",
    "VarBstrFromUI4", "VarBstrFromDec", "VarBoolFromI1", "VarBoolFromUI2", "VarBoolFromUI4",
    "VarBoolFromDec", "VarUI1FromI1", "VarUI1FromUI2", "VarUI1FromUI4", "VarUI1FromDec", "VarDecFromI1",
    "VarDecFromUI2", "VarDecFromUI4", "VarI1FromUI1", "VarI1FromI2", "VarI1FromI4", "VarI1FromR4",
    "VarI1FromR8", "VarI1FromDate", "VarI1FromCy", "VarI1FromStr", "VarI1FromDisp", "VarI1FromBool",
    "VarI1FromUI2", "VarI1FromUI4", "VarI1FromDec", "VarUI2FromUI1", "VarUI2FromI2", "VarUI2FromI4",
    "VarUI2FromR4", "VarUI2FromR8", "VarUI2FromDate", "VarUI2FromCy", "VarUI2FromStr", "VarUI2FromDisp",
    "VarUI2FromBool", "VarUI2FromI1", "VarUI2FromUI4", "VarUI2FromDec", "VarUI4FromUI1", "VarUI4FromI2",
    "VarUI4FromI4", "VarUI4FromR4", "VarUI4FromR8", "VarUI4FromDate", "VarUI4FromCy", "VarUI4FromStr",
    "VarUI4FromDisp", "VarUI4FromBool", "VarUI4FromI1", "VarUI4FromUI2", "VarUI4FromDec", "BSTR_UserSize",
    "BSTR_UserMarshal", "BSTR_UserUnmarshal", "BSTR_UserFree", "VARIANT_UserSize", "VARIANT_UserMarshal",
    "VARIANT_UserUnmarshal", "VARIANT_UserFree", "LPSAFEARRAY_UserSize", "LPSAFEARRAY_UserMarshal",
    "LPSAFEARRAY_UserUnmarshal", "LPSAFEARRAY_UserFree", "LPSAFEARRAY_Size", "LPSAFEARRAY_Marshal",
    "LPSAFEARRAY_Unmarshal", "VarDecCmpR8", "VarCyAdd", "DllUnregisterServer", "OACreateTypeLib2"};
static const char *const ole_303[] = {
    "VarCyMul", "VarCyMulI4", "VarCySub", "VarCyAbs", "VarCyFix", "VarCyInt", "VarCyNeg", "VarCyRound",
    "VarCyCmp", "VarCyCmpR8", "VarBstrCat", "VarBstrCmp", "VarR8Pow", "VarR4CmpR8", "VarR8Round", "VarCat",
    "VarDateFromUdateEx"};
static const char *const ole_322[] = {"GetRecordInfoFromGuids", "GetRecordInfoFromTypeInfo"};
static const char *const ole_325[] = {"SetVarConversionLocaleSetting", "GetVarConversionLocaleSetting",
                                      "SetOaNoCache"};
static const char *const ole_329[] = {
    "VarCyMulI8", "VarDateFromUdate", "VarUdateFromDate", "GetAltMonthNames", "VarI8FromUI1", "VarI8FromI2",
    "VarI8FromR4", "VarI8FromR8", "VarI8FromCy", "VarI8FromDate", "VarI8FromStr", "VarI8FromDisp",
    "VarI8FromBool", "VarI8FromI1", "VarI8FromUI2", "VarI8FromUI4", "VarI8FromDec", "VarI2FromI8",
    "VarI2FromUI8", "VarI4FromI8", "VarI4FromUI8"};
static const char *const ole_360[] = {
    "VarR4FromI8", "VarR4FromUI8", "VarR8FromI8", "VarR8FromUI8", "VarDateFromI8", "VarDateFromUI8",
    "VarCyFromI8", "VarCyFromUI8", "VarBstrFromI8", "VarBstrFromUI8", "VarBoolFromI8", "VarBoolFromUI8",
    "VarUI1FromI8", "VarUI1FromUI8", "VarDecFromI8", "VarDecFromUI8", "VarI1FromI8", "VarI1FromUI8",
    "VarUI2FromI8", "VarUI2FromUI8"};
static const char *const ole_401[] = {"OleLoadPictureEx", "OleLoadPictureFileEx"};
static const char *const ole_411[] = {
    "SafeArrayCreateVector", "SafeArrayCopyData", "VectorFromBstr", "BstrFromVector", "OleIconToCursor",
    "OleCreatePropertyFrameIndirect", "OleCreatePropertyFrame", "OleLoadPicture", "OleCreatePictureIndirect",
    "OleCreateFontIndirect", "OleTranslateColor", "OleLoadPictureFile", "OleSavePictureFile",
    "OleLoadPicturePath", "VarUI4FromI8", "VarUI4FromUI8", "VarI8FromUI8", "VarUI8FromI8", "VarUI8FromUI1",
    "VarUI8FromI2", "VarUI8FromR4", "VarUI8FromR8", "VarUI8FromCy", "VarUI8FromDate", "VarUI8FromStr",
    "VarUI8FromDisp", "VarUI8FromBool", "VarUI8FromI1", "VarUI8FromUI2", "VarUI8FromUI4", "VarUI8FromDec",
    "RegisterTypeLibForUser", "UnRegisterTypeLibForUser"};
static const ord_run ole_runs[] = {{2, 300, ole_2},  {303, 17, ole_303}, {322, 2, ole_322}, {325, 3, ole_325},
                                   {329, 21, ole_329}, {360, 20, ole_360}, {401, 2, ole_401}, {411, 33, ole_411}};

_Static_assert(KH_ARRAY_LEN(ws2_1) == 99 && KH_ARRAY_LEN(ws2_101) == 16, "ws2_32 ordinal runs");
_Static_assert(KH_ARRAY_LEN(ole_2) == 300 && KH_ARRAY_LEN(ole_303) == 17 && KH_ARRAY_LEN(ole_325) == 3 &&
                   KH_ARRAY_LEN(ole_329) == 21 && KH_ARRAY_LEN(ole_360) == 20 && KH_ARRAY_LEN(ole_411) == 33,
               "oleaut32 ordinal runs");

static int prefix_icase(const uint8_t *s, size_t n, const char *pfx)
{
    size_t k = strlen(pfx);
    if (n < k)
        return 0;
    for (size_t i = 0; i < k; i++) {
        uint8_t a = s[i], b = (uint8_t)pfx[i];
        if (a >= 'A' && a <= 'Z')
            a = (uint8_t)(a + 32);
        if (b >= 'A' && b <= 'Z')
            b = (uint8_t)(b + 32);
        if (a != b)
            return 0;
    }
    return 1;
}

static const char *run_lookup(const ord_run *runs, size_t nruns, uint16_t ord)
{
    for (size_t i = 0; i < nruns; i++)
        if (ord >= runs[i].first && ord < runs[i].first + runs[i].n)
            return runs[i].names[ord - runs[i].first];
    return NULL;
}

void kh_pe_ord_name(const uint8_t *dll, size_t dll_len, uint16_t ord, char out[64])
{
    const char *name = NULL;
    if (prefix_icase(dll, dll_len, "ws2_32.dll") || prefix_icase(dll, dll_len, "wsock32.dll"))
        name = run_lookup(ws2_runs, KH_ARRAY_LEN(ws2_runs), ord);
    else if (prefix_icase(dll, dll_len, "oleaut32.dll"))
        name = run_lookup(ole_runs, KH_ARRAY_LEN(ole_runs), ord);
    if (name) {
        size_t l = strlen(name);
        memcpy(out, name, l + 1);
    } else {
        char tmp[16];
        int k = 0;
        unsigned v = ord;
        do
            tmp[k++] = (char)('0' + v % 10);
        while ((v /= 10) && k < 15);
        memcpy(out, "ord", 3);
        for (int i = 0; i < k; i++)
            out[3 + i] = tmp[k - 1 - i];
        out[3 + k] = 0;
    }
}

/* From authenticode.c: MD5 of a buffer built by the caller. */
int kh_pe__md5_hex(const uint8_t *p, size_t n, char out[33]);

static int dll_ext(const uint8_t *dot, size_t rest, int style)
{
    static const char *const ext[] = {".ocx", ".sys", ".dll", ".OCX", ".SYS", ".DLL"};
    if (style == KH_PE_IMPHASH_YARA)
        return prefix_icase(dot, rest, ".ocx") || prefix_icase(dot, rest, ".sys") || prefix_icase(dot, rest, ".dll");
    for (size_t i = 0; rest == 4 && i < KH_ARRAY_LEN(ext); i++)
        if (memcmp(dot, ext[i], 4) == 0)
            return 1;
    return 0;
}

int kh_pe_imphash_text(const kh_pe *pe, int style, kh_buf *b)
{
    int rc = 0;
    size_t first = b->len;
    for (uint32_t d = 0; d < pe->ndlls && !rc; d++) {
        const kh_pe_dll *dll = &pe->dlls[d];
        size_t dl = dll->name.n;
        const uint8_t *dot = dll->name.p ? memchr(dll->name.p, '.', dll->name.n) : NULL;
        if (dot && dll_ext(dot, dll->name.n - (size_t)(dot - dll->name.p), style))
            dl = (size_t)(dot - dll->name.p);
        for (uint32_t f = dll->first; f < dll->first + dll->nfuncs && f < pe->nfuncs && !rc; f++) {
            const kh_pe_func *fn = &pe->funcs[f];
            size_t start = b->len;
            if (b->len > first)
                rc = kh_buf_putc(b, ',');
            if (!rc && dl)
                rc = kh_buf_append(b, dll->name.p, dl);
            if (!rc)
                rc = kh_buf_putc(b, '.');
            /* yara formats the name with %s: it stops at a NUL; a function
             * left without a name (the name pool ran out) by its ordinal's */
            if (!rc && fn->name.p) {
                rc = kh_buf_append(b, fn->name.p, bstrnlen(fn->name.p, fn->name.n));
            } else if (!rc) {
                char ord[64];
                kh_pe_ord_name(dll->name.p, dll->name.n, fn->ordinal, ord);
                rc = kh_buf_puts(b, ord);
            }
            for (size_t i = start; i < b->len; i++)
                if (b->data[i] >= 'A' && b->data[i] <= 'Z')
                    b->data[i] = (char)(b->data[i] + 32);
        }
    }
    return rc;
}

int kh_pe_imphash(const kh_pe *pe, char out[33])
{
    kh_buf b = KH_BUF_INIT(64u << 20);
    int rc = kh_pe_imphash_text(pe, KH_PE_IMPHASH_YARA, &b);
    if (!rc)
        rc = kh_pe__md5_hex((const uint8_t *)(b.data ? b.data : ""), b.len, out);
    kh_buf_dispose(&b);
    return rc;
}
