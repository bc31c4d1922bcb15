/* Khiên — engine/modules: the `elf` module, as yara 4.2.3 has it.
 *
 * Rules written for yara read elf.type, elf.sections[i].name,
 * elf.dynsym[i].name and friends, and expect the values yara computes,
 * including its odd corners: the entry point is a file offset found through
 * the program headers for ET_EXEC and through the section headers for
 * every other type; sections are listed only if the whole section table,
 * counted with 40/64-byte entries, is in the file and e_shstrndx is one of
 * them; section names are read from the name table up to the end of the
 * file, not of the table; the last SHT_SYMTAB (SHT_DYNSYM) section wins; a
 * dynamic segment is read until DT_NULL or the end of the file; and in a
 * big-endian file sh_link is compared with the byte-swapped e_shnum (a yara
 * bug kept here, since it decides which symbol tables yara sees). The file
 * must be longer than its ELF header, and the constants (ET_*, EM_*, ...)
 * are defined for every file, ELF or not. Fields yara does not set stay
 * undefined; a value equal to yara's UNDEFINED marker is left undefined too.
 *
 * All reads go through formats/elf.h. What yara does without limit is
 * capped here, so a small hostile file cannot make us build a huge tree:
 * at most KH_ELF_MAX_SYMBOLS symbols per table, KH_ELF_MAX_DYN entries per
 * dynamic segment and DYN_TOTAL over all of them, names up to
 * KH_ELF_MAX_NAME bytes and NAME_BUDGET bytes of names per file; beyond a
 * cap the remaining entries (or names) stay undefined and the *_entries
 * counts give what was set. Real files stay far below every cap.
 *
 * Not here: the fields yara 4.3 added (telfhash, import_md5, symbol
 * visibility, symtab[].other), since 4.2.3 rejects rules using them.
 */
#include "engine/modules/module.h"
#include "formats/elf.h"

#define YR_UNDEFINED 0xFFFABADAFABADAFFull /* yara's "undefined" integer */
#define DYN_TOTAL (1u << 20)
#define NAME_BUDGET (64u << 20)

static const struct {
    const char *name;
    int64_t value;
} consts[] = {
    {"ET_NONE", 0}, {"ET_REL", 1}, {"ET_EXEC", 2}, {"ET_DYN", 3}, {"ET_CORE", 4},
    {"EM_NONE", 0}, {"EM_M32", 1}, {"EM_SPARC", 2}, {"EM_386", 3}, {"EM_68K", 4}, {"EM_88K", 5},
    {"EM_860", 7}, {"EM_MIPS", 8}, {"EM_MIPS_RS3_LE", 10}, {"EM_PPC", 20}, {"EM_PPC64", 21},
    {"EM_ARM", 40}, {"EM_X86_64", 62}, {"EM_AARCH64", 183},
    {"SHT_NULL", 0}, {"SHT_PROGBITS", 1}, {"SHT_SYMTAB", 2}, {"SHT_STRTAB", 3}, {"SHT_RELA", 4},
    {"SHT_HASH", 5}, {"SHT_DYNAMIC", 6}, {"SHT_NOTE", 7}, {"SHT_NOBITS", 8}, {"SHT_REL", 9},
    {"SHT_SHLIB", 10}, {"SHT_DYNSYM", 11},
    {"SHF_WRITE", 1}, {"SHF_ALLOC", 2}, {"SHF_EXECINSTR", 4},
    {"PT_NULL", 0}, {"PT_LOAD", 1}, {"PT_DYNAMIC", 2}, {"PT_INTERP", 3}, {"PT_NOTE", 4},
    {"PT_SHLIB", 5}, {"PT_PHDR", 6}, {"PT_TLS", 7}, {"PT_GNU_EH_FRAME", 0x6474e550},
    {"PT_GNU_STACK", 0x6474e551},
    {"DT_NULL", 0}, {"DT_NEEDED", 1}, {"DT_PLTRELSZ", 2}, {"DT_PLTGOT", 3}, {"DT_HASH", 4},
    {"DT_STRTAB", 5}, {"DT_SYMTAB", 6}, {"DT_RELA", 7}, {"DT_RELASZ", 8}, {"DT_RELAENT", 9},
    {"DT_STRSZ", 10}, {"DT_SYMENT", 11}, {"DT_INIT", 12}, {"DT_FINI", 13}, {"DT_SONAME", 14},
    {"DT_RPATH", 15}, {"DT_SYMBOLIC", 16}, {"DT_REL", 17}, {"DT_RELSZ", 18}, {"DT_RELENT", 19},
    {"DT_PLTREL", 20}, {"DT_DEBUG", 21}, {"DT_TEXTREL", 22}, {"DT_JMPREL", 23}, {"DT_BIND_NOW", 24},
    {"DT_INIT_ARRAY", 25}, {"DT_FINI_ARRAY", 26}, {"DT_INIT_ARRAYSZ", 27}, {"DT_FINI_ARRAYSZ", 28},
    {"DT_RUNPATH", 29}, {"DT_FLAGS", 30}, {"DT_ENCODING", 32},
    {"STT_NOTYPE", 0}, {"STT_OBJECT", 1}, {"STT_FUNC", 2}, {"STT_SECTION", 3}, {"STT_FILE", 4},
    {"STT_COMMON", 5}, {"STT_TLS", 6},
    {"STB_LOCAL", 0}, {"STB_GLOBAL", 1}, {"STB_WEAK", 2},
    {"PF_X", 1}, {"PF_W", 2}, {"PF_R", 4},
};

/* ---- Declaration --------------------------------------------------------------- */

#define I(n) {n, KH_YT_INT, 0, NULL, NULL}
#define S(n) {n, KH_YT_STR, 0, NULL, NULL}
#define END {NULL, 0, 0, NULL, NULL}

/* Element structures, with the index of each field (declaration order). */
static const kh_ymember m_section[] = {
    I("type"), I("flags"), I("address"), S("name"), I("size"), I("offset"), END,
};
enum { SEC_TYPE, SEC_FLAGS, SEC_ADDRESS, SEC_NAME, SEC_SIZE, SEC_OFFSET };

static const kh_ymember m_segment[] = {
    I("type"), I("flags"), I("offset"), I("virtual_address"), I("physical_address"),
    I("file_size"), I("memory_size"), I("alignment"), END,
};
enum { SEG_TYPE, SEG_FLAGS, SEG_OFFSET, SEG_VADDR, SEG_PADDR, SEG_FILESZ, SEG_MEMSZ, SEG_ALIGN };

static const kh_ymember m_dyn[] = {I("type"), I("val"), END};
enum { DYN_TYPE, DYN_VAL };

static const kh_ymember m_sym[] = {
    S("name"), I("value"), I("size"), I("type"), I("bind"), I("shndx"), END,
};
enum { SYM_NAME, SYM_VALUE, SYM_SIZE, SYM_TYPE, SYM_BIND, SYM_SHNDX };

#define ARR(n, m) {n, KH_YT_ARRAY, KH_YT_STRUCT, m, NULL}

static const kh_ymember members[] = {
    I("ET_NONE"), I("ET_REL"), I("ET_EXEC"), I("ET_DYN"), I("ET_CORE"),
    I("EM_NONE"), I("EM_M32"), I("EM_SPARC"), I("EM_386"), I("EM_68K"), I("EM_88K"), I("EM_860"),
    I("EM_MIPS"), I("EM_MIPS_RS3_LE"), I("EM_PPC"), I("EM_PPC64"), I("EM_ARM"), I("EM_X86_64"),
    I("EM_AARCH64"),
    I("SHT_NULL"), I("SHT_PROGBITS"), I("SHT_SYMTAB"), I("SHT_STRTAB"), I("SHT_RELA"), I("SHT_HASH"),
    I("SHT_DYNAMIC"), I("SHT_NOTE"), I("SHT_NOBITS"), I("SHT_REL"), I("SHT_SHLIB"), I("SHT_DYNSYM"),
    I("SHF_WRITE"), I("SHF_ALLOC"), I("SHF_EXECINSTR"),
    I("type"), I("machine"), I("entry_point"),
    I("number_of_sections"), I("sh_offset"), I("sh_entry_size"),
    I("number_of_segments"), I("ph_offset"), I("ph_entry_size"),
    ARR("sections", m_section),
    I("PT_NULL"), I("PT_LOAD"), I("PT_DYNAMIC"), I("PT_INTERP"), I("PT_NOTE"), I("PT_SHLIB"),
    I("PT_PHDR"), I("PT_TLS"), I("PT_GNU_EH_FRAME"), I("PT_GNU_STACK"),
    I("DT_NULL"), I("DT_NEEDED"), I("DT_PLTRELSZ"), I("DT_PLTGOT"), I("DT_HASH"), I("DT_STRTAB"),
    I("DT_SYMTAB"), I("DT_RELA"), I("DT_RELASZ"), I("DT_RELAENT"), I("DT_STRSZ"), I("DT_SYMENT"),
    I("DT_INIT"), I("DT_FINI"), I("DT_SONAME"), I("DT_RPATH"), I("DT_SYMBOLIC"), I("DT_REL"),
    I("DT_RELSZ"), I("DT_RELENT"), I("DT_PLTREL"), I("DT_DEBUG"), I("DT_TEXTREL"), I("DT_JMPREL"),
    I("DT_BIND_NOW"), I("DT_INIT_ARRAY"), I("DT_FINI_ARRAY"), I("DT_INIT_ARRAYSZ"),
    I("DT_FINI_ARRAYSZ"), I("DT_RUNPATH"), I("DT_FLAGS"), I("DT_ENCODING"),
    I("STT_NOTYPE"), I("STT_OBJECT"), I("STT_FUNC"), I("STT_SECTION"), I("STT_FILE"), I("STT_COMMON"),
    I("STT_TLS"),
    I("STB_LOCAL"), I("STB_GLOBAL"), I("STB_WEAK"),
    I("PF_X"), I("PF_W"), I("PF_R"),
    ARR("segments", m_segment),
    I("dynamic_section_entries"),
    ARR("dynamic", m_dyn),
    I("symtab_entries"),
    ARR("symtab", m_sym),
    I("dynsym_entries"),
    ARR("dynsym", m_sym),
    END,
};

/* ---- Loading ----------------------------------------------------------------------- */

typedef struct loader {
    kh_yobj *root;
    kh_yarena *a;
    const kh_elf *e;
    size_t name_budget; /* bytes of names we may still examine */
} loader;

/* Sets an integer unless it is yara's UNDEFINED marker (which yara cannot store). */
#define SETI(L, v, ...)                                                                   \
    do {                                                                                  \
        uint64_t v_ = (uint64_t)(v);                                                      \
        if (v_ != YR_UNDEFINED && (rc = kh_yset_int((L)->root, (L)->a, (int64_t)v_, __VA_ARGS__)) < 0) \
            return rc;                                                                    \
    } while (0)

/* The array member `arr` of the root (arrays never move: the root's
 * members are allocated once). */
static kh_yobj *array(loader *L, const char *arr)
{
    kh_yobj *a = (kh_yobj *)kh_yobj_member(L->root, arr);
    return a && a->type == KH_YT_ARRAY ? a : NULL;
}

/* Element i of array `a` (the root's member `arr`), made through the path
 * API if it does not exist yet (by setting its integer field `field`). The
 * caller then writes the element's fields in place with put_int/put_str:
 * one path walk per element instead of one per field, which matters for
 * tables of tens of thousands of symbols. */
static kh_yobj *elem(loader *L, kh_yobj *a, const char *arr, const char *field, uint32_t i, int *rc)
{
    *rc = 0;
    if (!a) {
        *rc = KH_EINTERNAL;
        return NULL;
    }
    if (i >= a->nitems && (*rc = kh_yset_int(L->root, L->a, 0, "%s[%u].%s", arr, i, field)) < 0)
        return NULL;
    if (i >= a->nitems || !a->items[i].nitems) {
        *rc = KH_EINTERNAL;
        return NULL;
    }
    return &a->items[i];
}

/* Field k of an element; yara's UNDEFINED marker leaves it undefined. */
static void put_int(kh_yobj *el, unsigned k, uint64_t v)
{
    kh_yobj *f = &el->items[k];
    f->v.i = (int64_t)v;
    f->defined = v != YR_UNDEFINED;
}

static int put_str(loader *L, kh_yobj *el, unsigned k, const uint8_t *p, size_t n)
{
    kh_yobj *f = &el->items[k];
    const uint8_t *d = kh_yarena_dup(L->a, p, n); /* n <= KH_ELF_MAX_NAME */
    if (!d)
        return KH_ENOMEM;
    f->v.s.p = d;
    f->v.s.n = (uint32_t)n;
    f->defined = 1;
    return 0;
}

/* Looks a name up in [tab, tab_end) within the name budget; 1 if found. */
static int name_of(loader *L, uint64_t tab, uint64_t tab_end, uint64_t index, const uint8_t **p, size_t *n)
{
    size_t max = L->name_budget < KH_ELF_MAX_NAME ? L->name_budget : KH_ELF_MAX_NAME;
    if (max == 0)
        return 0;
    int rc = kh_elf_string(L->e, tab, tab_end, index, max, p, n);
    if (rc == KH_ENOTFOUND)
        return 0;
    /* Charge what was examined (at most max + 1 bytes, found or not). */
    size_t cost = rc == 0 ? *n + 1 : max + 1;
    L->name_budget = cost < L->name_budget ? L->name_budget - cost : 0;
    return rc == 0;
}

static int symbols(loader *L, const kh_elf_symtab *t, const char *arr)
{
    int rc;
    uint64_t n = t->count < KH_ELF_MAX_SYMBOLS ? t->count : KH_ELF_MAX_SYMBOLS;
    uint32_t j;
    kh_yobj *a = array(L, arr);
    for (j = 0; j < n; j++) {
        kh_elf_sym s;
        const uint8_t *p;
        size_t len;
        kh_yobj *el;
        if (kh_elf_symbol(L->e, t, j, &s) < 0)
            break; /* cannot happen: the table was checked */
        if (!(el = elem(L, a, arr, "bind", j, &rc)))
            return rc;
        if (name_of(L, t->stroff, t->stroff + t->strsize, s.name, &p, &len) &&
            (rc = put_str(L, el, SYM_NAME, p, len)) < 0)
            return rc;
        put_int(el, SYM_BIND, s.info >> 4);
        put_int(el, SYM_TYPE, s.info & 0xf);
        put_int(el, SYM_SHNDX, s.shndx);
        put_int(el, SYM_VALUE, s.value);
        put_int(el, SYM_SIZE, s.size);
    }
    SETI(L, j, "%s_entries", arr);
    return 0;
}

static int sections(loader *L)
{
    const kh_elf *e = L->e;
    kh_elf_shdr names;
    kh_elf_symtab symtab = {0}, dynsym = {0};
    int rc, have_symtab = 0, have_dynsym = 0;
    if (!kh_elf_sections_ok(e) || kh_elf_section(e, e->shstrndx, &names) < 0)
        return 0;
    /* yara compares sh_link with e_shnum as stored, unswapped, on its little-endian host. */
    uint32_t link_limit = e->be ? (uint16_t)(e->shnum << 8 | e->shnum >> 8) : e->shnum;
    uint64_t strtab = names.offset < e->len ? names.offset : 0; /* 0: no names */
    kh_yobj *a = array(L, "sections");
    for (uint32_t i = 0; i < e->shnum; i++) {
        kh_elf_shdr s;
        kh_elf_symtab t;
        const uint8_t *p;
        size_t n;
        kh_yobj *el;
        if (kh_elf_section(e, i, &s) < 0)
            break; /* cannot happen: the table was checked */
        if (!(el = elem(L, a, "sections", "type", i, &rc)))
            return rc;
        put_int(el, SEC_TYPE, s.type);
        put_int(el, SEC_FLAGS, s.flags);
        put_int(el, SEC_ADDRESS, s.addr);
        put_int(el, SEC_SIZE, s.size);
        put_int(el, SEC_OFFSET, s.offset);
        if (s.name < e->len && strtab > 0 && name_of(L, strtab, e->len, s.name, &p, &n) &&
            (rc = put_str(L, el, SEC_NAME, p, n)) < 0)
            return rc;
        if ((s.type == KH_SHT_SYMTAB || s.type == KH_SHT_DYNSYM) && s.link < link_limit &&
            kh_elf_symtab_of(e, &s, &t) == 0) {
            if (s.type == KH_SHT_SYMTAB)
                symtab = t, have_symtab = 1;
            else
                dynsym = t, have_dynsym = 1;
        }
    }
    if (have_symtab && kh_elf_range_ok(e, symtab.stroff, symtab.strsize) &&
        kh_elf_range_ok(e, symtab.off, symtab.size) && (rc = symbols(L, &symtab, "symtab")) < 0)
        return rc;
    if (have_dynsym && kh_elf_range_ok(e, dynsym.stroff, dynsym.strsize) &&
        kh_elf_range_ok(e, dynsym.off, dynsym.size) && (rc = symbols(L, &dynsym, "dynsym")) < 0)
        return rc;
    return 0;
}

static int segments(loader *L)
{
    const kh_elf *e = L->e;
    uint32_t dyn_left = DYN_TOTAL;
    kh_yobj *segs = array(L, "segments"), *dyns = array(L, "dynamic");
    int rc;
    if (!kh_elf_segments_ok(e))
        return 0;
    for (uint32_t i = 0; i < e->phnum; i++) {
        kh_elf_phdr ph;
        kh_yobj *el;
        if (kh_elf_segment(e, i, &ph) < 0)
            break; /* cannot happen: the table was checked */
        if (!(el = elem(L, segs, "segments", "type", i, &rc)))
            return rc;
        put_int(el, SEG_TYPE, ph.type);
        put_int(el, SEG_FLAGS, ph.flags);
        put_int(el, SEG_OFFSET, ph.offset);
        put_int(el, SEG_VADDR, ph.vaddr);
        put_int(el, SEG_PADDR, ph.paddr);
        put_int(el, SEG_FILESZ, ph.filesz);
        put_int(el, SEG_MEMSZ, ph.memsz);
        put_int(el, SEG_ALIGN, ph.align);
        if (ph.type != KH_PT_DYNAMIC)
            continue;
        /* Every dynamic segment rewrites dynamic[] from 0, as in yara. */
        uint32_t j = 0;
        kh_elf_dyn d;
        while (j < KH_ELF_MAX_DYN && dyn_left > 0 && kh_elf_dyn_at(e, ph.offset, j, &d) == 0) {
            dyn_left--;
            if (!(el = elem(L, dyns, "dynamic", "type", j, &rc)))
                return rc;
            put_int(el, DYN_TYPE, d.tag);
            put_int(el, DYN_VAL, d.val);
            j++;
            if (d.tag == KH_DT_NULL)
                break;
        }
        SETI(L, j, "dynamic_section_entries");
    }
    return 0;
}

static int load(kh_yobj *root, const uint8_t *data, size_t len, kh_yarena *a)
{
    kh_elf e;
    loader L = {root, a, &e, NAME_BUDGET};
    uint64_t ep;
    int rc;
    for (size_t i = 0; i < sizeof(consts) / sizeof(consts[0]); i++)
        if ((rc = kh_yset_int(root, a, consts[i].value, "%s", consts[i].name)) < 0)
            return rc;
    /* yara wants more bytes than the header itself. */
    if (kh_elf_parse(&e, data, len) < 0 || len <= e.ehdr_size)
        return 0;
    SETI(&L, e.type, "type");
    SETI(&L, e.machine, "machine");
    SETI(&L, e.shoff, "sh_offset");
    SETI(&L, e.shentsize, "sh_entry_size");
    SETI(&L, e.shnum, "number_of_sections");
    SETI(&L, e.phoff, "ph_offset");
    SETI(&L, e.phentsize, "ph_entry_size");
    SETI(&L, e.phnum, "number_of_segments");
    if (kh_elf_entry_offset(&e, &ep) == 0)
        SETI(&L, ep, "entry_point");
    if ((rc = sections(&L)) < 0)
        return rc;
    return segments(&L);
}

const kh_ymodule kh_ymod_elf = {"elf", {"elf", KH_YT_STRUCT, 0, members, NULL}, load};
