/* Khiên — formats: a bounded reader of ELF files.
 *
 * ELF files reach us from hostile places (malware samples, files dropped in
 * /tmp), so this reader trusts no offset, size or count in them. The file
 * header is decoded once into a kh_elf; every other structure is decoded on
 * request from the caller's buffer, entry by entry, after a range check
 * done in 64-bit arithmetic that cannot overflow (kh_elf_range_ok). There
 * is no allocation and no recursion, and every loop here is bounded by a
 * 16-bit count from the header; loops over symbols and dynamic entries live
 * in the callers, which cap them (KH_ELF_MAX_*).
 *
 * The rules for which tables are usable, how names are looked up and how
 * the entry point becomes a file offset are yara 4.2's (libyara/modules/
 * elf), since the engine's elf module must see exactly what yara sees; they
 * are also sensible rules for any other reader (inventory, triage). Where
 * yara has a plain bug that a general reader should not copy, the function
 * takes the policy as a parameter (kh_elf_find_symtab's link_limit) and the
 * yara module passes the buggy value.
 *
 * Not here: relocations, notes, versions, hash tables, core-file notes,
 * extended section numbering (e_shnum == 0 with the count in section 0),
 * which yara ignores too.
 */
#include "formats/elf.h"

#include <string.h>

#include "khien/error.h"

/* ---- Byte order ------------------------------------------------------------ */

static uint16_t rd16(const kh_elf *e, const uint8_t *p)
{
    return e->be ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
}

static uint32_t rd32(const kh_elf *e, const uint8_t *p)
{
    return e->be ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
                 : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static uint64_t rd64(const kh_elf *e, const uint8_t *p)
{
    uint64_t a = rd32(e, p), b = rd32(e, p + 4);
    return e->be ? a << 32 | b : b << 32 | a;
}

/* A word of the class: 32 or 64 bits. */
static uint64_t rdw(const kh_elf *e, const uint8_t *p) { return e->bits == 64 ? rd64(e, p) : rd32(e, p); }

/* ---- Header ---------------------------------------------------------------- */

int kh_elf_parse(kh_elf *out, const uint8_t *d, size_t len)
{
    kh_elf e;
    if (!d || len < 16 || memcmp(d, "\x7f" "ELF", 4) != 0)
        return KH_EFORMAT;
    memset(&e, 0, sizeof(e));
    e.data = d;
    e.len = len;
    if (d[4] == KH_ELF_CLASS32)
        e.bits = 32;
    else if (d[4] == KH_ELF_CLASS64)
        e.bits = 64;
    else
        return KH_EFORMAT;
    if (d[5] != KH_ELF_DATA2LSB && d[5] != KH_ELF_DATA2MSB)
        return KH_EFORMAT;
    e.be = d[5] == KH_ELF_DATA2MSB;
    e.osabi = d[7];
    if (e.bits == 32) {
        e.ehdr_size = 52, e.shdr_size = 40, e.phdr_size = 32, e.sym_size = 16, e.dyn_size = 8;
    } else {
        e.ehdr_size = 64, e.shdr_size = 64, e.phdr_size = 56, e.sym_size = 24, e.dyn_size = 16;
    }
    if (len < e.ehdr_size)
        return KH_EFORMAT;
    e.type = rd16(&e, d + 16);
    e.machine = rd16(&e, d + 18);
    e.version = rd32(&e, d + 20);
    const uint8_t *p = d + 24;
    unsigned w = e.bits / 8;
    e.entry = rdw(&e, p), p += w;
    e.phoff = rdw(&e, p), p += w;
    e.shoff = rdw(&e, p), p += w;
    e.flags = rd32(&e, p), p += 4;
    e.ehsize = rd16(&e, p), p += 2;
    e.phentsize = rd16(&e, p), p += 2;
    e.phnum = rd16(&e, p), p += 2;
    e.shentsize = rd16(&e, p), p += 2;
    e.shnum = rd16(&e, p), p += 2;
    e.shstrndx = rd16(&e, p);
    *out = e;
    return 0;
}

int kh_elf_range_ok(const kh_elf *e, uint64_t off, uint64_t size)
{
    return off <= e->len && size <= e->len - off;
}

/* A table of `n` entries of `esize` bytes at `off`, checked as yara does:
 * starts strictly inside the buffer and ends inside it. */
static int table_ok(const kh_elf *e, uint64_t off, uint64_t n, uint64_t esize)
{
    return off < e->len && n * esize <= e->len - off; /* n < 2^16, esize <= 64: no overflow */
}

int kh_elf_sections_ok(const kh_elf *e)
{
    return e->shnum < KH_SHN_LORESERVE && e->shstrndx < e->shnum && table_ok(e, e->shoff, e->shnum, e->shdr_size);
}

int kh_elf_segments_ok(const kh_elf *e)
{
    return e->phnum > 0 && e->phnum < KH_PN_XNUM && table_ok(e, e->phoff, e->phnum, e->phdr_size);
}

/* ---- Tables ------------------------------------------------------------------ */

/* The start of entry i of a table at `off`, or NULL if it is not inside the buffer. */
static const uint8_t *entry_at(const kh_elf *e, uint64_t off, uint64_t i, unsigned esize)
{
    if (i > (UINT64_MAX - off) / esize)
        return NULL;
    uint64_t at = off + i * esize;
    return kh_elf_range_ok(e, at, esize) ? e->data + at : NULL;
}

int kh_elf_section(const kh_elf *e, uint64_t i, kh_elf_shdr *out)
{
    const uint8_t *p = entry_at(e, e->shoff, i, e->shdr_size);
    if (!p)
        return KH_EFORMAT;
    out->name = rd32(e, p);
    out->type = rd32(e, p + 4);
    if (e->bits == 64) {
        out->flags = rd64(e, p + 8);
        out->addr = rd64(e, p + 16);
        out->offset = rd64(e, p + 24);
        out->size = rd64(e, p + 32);
        out->link = rd32(e, p + 40);
        out->info = rd32(e, p + 44);
        out->addralign = rd64(e, p + 48);
        out->entsize = rd64(e, p + 56);
    } else {
        out->flags = rd32(e, p + 8);
        out->addr = rd32(e, p + 12);
        out->offset = rd32(e, p + 16);
        out->size = rd32(e, p + 20);
        out->link = rd32(e, p + 24);
        out->info = rd32(e, p + 28);
        out->addralign = rd32(e, p + 32);
        out->entsize = rd32(e, p + 36);
    }
    return 0;
}

int kh_elf_segment(const kh_elf *e, uint64_t i, kh_elf_phdr *out)
{
    const uint8_t *p = entry_at(e, e->phoff, i, e->phdr_size);
    if (!p)
        return KH_EFORMAT;
    out->type = rd32(e, p);
    if (e->bits == 64) {
        out->flags = rd32(e, p + 4);
        out->offset = rd64(e, p + 8);
        out->vaddr = rd64(e, p + 16);
        out->paddr = rd64(e, p + 24);
        out->filesz = rd64(e, p + 32);
        out->memsz = rd64(e, p + 40);
        out->align = rd64(e, p + 48);
    } else {
        out->offset = rd32(e, p + 4);
        out->vaddr = rd32(e, p + 8);
        out->paddr = rd32(e, p + 12);
        out->filesz = rd32(e, p + 16);
        out->memsz = rd32(e, p + 20);
        out->flags = rd32(e, p + 24);
        out->align = rd32(e, p + 28);
    }
    return 0;
}

/* ---- Symbols and strings ------------------------------------------------------ */

int kh_elf_symtab_of(const kh_elf *e, const kh_elf_shdr *sec, kh_elf_symtab *out)
{
    kh_elf_shdr str;
    if (kh_elf_section(e, sec->link, &str) < 0 || str.type != KH_SHT_STRTAB)
        return KH_EFORMAT;
    out->off = sec->offset;
    out->size = sec->size;
    out->stroff = str.offset;
    out->strsize = str.size;
    out->count = sec->size / e->sym_size;
    return 0;
}

int kh_elf_find_symtab(const kh_elf *e, uint32_t type, uint32_t link_limit, kh_elf_symtab *out)
{
    kh_elf_symtab t, found;
    int have = 0;
    if (!kh_elf_sections_ok(e))
        return KH_ENOTFOUND;
    for (uint32_t i = 0; i < e->shnum; i++) {
        kh_elf_shdr s;
        if (kh_elf_section(e, i, &s) < 0)
            return KH_ENOTFOUND; /* cannot happen: the table was checked */
        if (s.type == type && s.link < link_limit && kh_elf_symtab_of(e, &s, &t) == 0)
            found = t, have = 1;
    }
    if (!have || !kh_elf_range_ok(e, found.off, found.size) || !kh_elf_range_ok(e, found.stroff, found.strsize))
        return KH_ENOTFOUND;
    *out = found;
    return 0;
}

int kh_elf_symbol(const kh_elf *e, const kh_elf_symtab *t, uint64_t i, kh_elf_sym *out)
{
    if (i >= t->count)
        return KH_EFORMAT;
    const uint8_t *p = entry_at(e, t->off, i, e->sym_size);
    if (!p)
        return KH_EFORMAT;
    out->name = rd32(e, p);
    if (e->bits == 64) {
        out->info = p[4];
        out->other = p[5];
        out->shndx = rd16(e, p + 6);
        out->value = rd64(e, p + 8);
        out->size = rd64(e, p + 16);
    } else {
        out->value = rd32(e, p + 4);
        out->size = rd32(e, p + 8);
        out->info = p[12];
        out->other = p[13];
        out->shndx = rd16(e, p + 14);
    }
    return 0;
}

int kh_elf_dyn_at(const kh_elf *e, uint64_t off, uint64_t i, kh_elf_dyn *out)
{
    const uint8_t *p = entry_at(e, off, i, e->dyn_size);
    if (!p)
        return KH_EFORMAT;
    out->tag = rdw(e, p);
    out->val = rdw(e, p + e->dyn_size / 2);
    return 0;
}

int kh_elf_string(const kh_elf *e, uint64_t tab, uint64_t tab_end, uint64_t index, size_t max,
                  const uint8_t **p, size_t *n)
{
    if (tab_end > e->len || tab >= tab_end || e->data[tab] != 0 || index > INT32_MAX ||
        index >= tab_end - tab)
        return KH_ENOTFOUND;
    uint64_t at = tab + index, room = tab_end - at;
    size_t look = room > (uint64_t)max ? max + 1 : (size_t)room;
    const uint8_t *s = e->data + at, *z = memchr(s, 0, look);
    if (!z)
        return (uint64_t)look < room ? KH_ELIMIT : KH_ENOTFOUND; /* too long, or not terminated */
    *p = s;
    *n = (size_t)(z - s);
    return 0;
}

/* ---- Entry point ----------------------------------------------------------------- */

int kh_elf_entry_offset(const kh_elf *e, uint64_t *out)
{
    uint64_t rva = e->entry, mask = e->bits == 64 ? UINT64_MAX : UINT32_MAX;
    if (rva == 0)
        return KH_ENOTFOUND;
    if (e->type == KH_ET_EXEC) {
        if (e->phoff == 0 || e->phnum == 0 || !table_ok(e, e->phoff, e->phnum, e->phdr_size))
            return KH_ENOTFOUND;
        for (uint32_t i = 0; i < e->phnum; i++) {
            kh_elf_phdr ph;
            if (kh_elf_segment(e, i, &ph) < 0)
                return KH_ENOTFOUND;
            if (rva >= ph.vaddr && rva < ((ph.vaddr + ph.memsz) & mask)) {
                *out = ph.offset + (rva - ph.vaddr);
                return 0;
            }
        }
    } else {
        if (e->shoff == 0 || e->shnum == 0 || !table_ok(e, e->shoff, e->shnum, e->shdr_size))
            return KH_ENOTFOUND;
        for (uint32_t i = 0; i < e->shnum; i++) {
            kh_elf_shdr sh;
            if (kh_elf_section(e, i, &sh) < 0)
                return KH_ENOTFOUND;
            if (sh.type != KH_SHT_NULL && sh.type != KH_SHT_NOBITS && rva >= sh.addr &&
                rva < ((sh.addr + sh.size) & mask)) {
                *out = sh.offset + (rva - sh.addr);
                return 0;
            }
        }
    }
    return KH_ENOTFOUND;
}
