/* Khiên — tests: build small ELF images in memory (32/64-bit, little or
 * big endian) for the tests of formats/elf.c and of the elf module.
 *
 * The image, with offsets in the order written:
 *   file header | 3 program headers (PT_LOAD of the whole file, PT_DYNAMIC
 *   over .dynamic, PT_GNU_STACK) | .text (16 bytes) | .dynstr | .dynsym
 *   (null, puts) | .strtab | .symtab (null, main, helper) | .dynamic
 *   (DT_NEEDED libc.so.6, DT_NEEDED libfoo.so, DT_STRSZ, DT_NULL) |
 *   .shstrtab | section headers: NULL, .text, .dynstr, .dynsym, .strtab,
 *   .symtab, .dynamic, .shstrtab, .bss (NOBITS) | one spare section
 *   header (a STRTAB pointing at .strtab, past e_shnum) for link tests.
 * Addresses are offsets plus KB_BASE. The entry point is the start of
 * .text plus 4, so its file offset is kb->text_off + 4 for ET_EXEC (via
 * PT_LOAD) and for ET_DYN (via the .text section).
 */
#ifndef KH_TEST_ELF_BUILD_H
#define KH_TEST_ELF_BUILD_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KB_BASE 0x400000u
#define KB_NSECT 9

typedef struct kb_image {
    uint8_t *data;
    size_t len;
    int bits, be;
    /* where things are, for tests that damage them */
    size_t phoff, shoff, text_off, dynstr_off, dynsym_off, strtab_off, symtab_off, dyn_off, shstr_off;
    size_t dynstr_len, strtab_len, shstr_len;
    unsigned shdr_size, phdr_size, sym_size, dyn_size;
} kb_image;

static inline void kb_put(kb_image *k, size_t off, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        k->data[off + (k->be ? n - 1 - i : i)] = (uint8_t)(v >> (8 * i));
}

/* A word of the class. */
static inline void kb_word(kb_image *k, size_t off, uint64_t v) { kb_put(k, off, v, k->bits / 8); }

static inline void kb_shdr(kb_image *k, unsigned i, uint32_t name, uint32_t type, uint64_t flags, uint64_t off,
                    uint64_t size, uint32_t link, uint64_t entsize)
{
    size_t p = k->shoff + (size_t)i * k->shdr_size;
    uint64_t addr = type == 0 ? 0 : KB_BASE + off;
    kb_put(k, p, name, 4);
    kb_put(k, p + 4, type, 4);
    if (k->bits == 64) {
        kb_put(k, p + 8, flags, 8);
        kb_put(k, p + 16, addr, 8);
        kb_put(k, p + 24, off, 8);
        kb_put(k, p + 32, size, 8);
        kb_put(k, p + 40, link, 4);
        kb_put(k, p + 48, 1, 8);
        kb_put(k, p + 56, entsize, 8);
    } else {
        kb_put(k, p + 8, flags, 4);
        kb_put(k, p + 12, addr, 4);
        kb_put(k, p + 16, off, 4);
        kb_put(k, p + 20, size, 4);
        kb_put(k, p + 24, link, 4);
        kb_put(k, p + 32, 1, 4);
        kb_put(k, p + 36, entsize, 4);
    }
}

static inline void kb_phdr(kb_image *k, unsigned i, uint32_t type, uint32_t flags, uint64_t off, uint64_t size)
{
    size_t p = k->phoff + (size_t)i * k->phdr_size;
    kb_put(k, p, type, 4);
    if (k->bits == 64) {
        kb_put(k, p + 4, flags, 4);
        kb_put(k, p + 8, off, 8);
        kb_put(k, p + 16, KB_BASE + off, 8);
        kb_put(k, p + 24, KB_BASE + off, 8);
        kb_put(k, p + 32, size, 8);
        kb_put(k, p + 40, size, 8);
        kb_put(k, p + 48, 0x1000, 8);
    } else {
        kb_put(k, p + 4, off, 4);
        kb_put(k, p + 8, KB_BASE + off, 4);
        kb_put(k, p + 12, KB_BASE + off, 4);
        kb_put(k, p + 16, size, 4);
        kb_put(k, p + 20, size, 4);
        kb_put(k, p + 24, flags, 4);
        kb_put(k, p + 28, 0x1000, 4);
    }
}

static inline void kb_sym(kb_image *k, size_t tab, unsigned i, uint32_t name, uint64_t value, uint64_t size,
                   uint8_t info, uint16_t shndx)
{
    size_t p = tab + (size_t)i * k->sym_size;
    kb_put(k, p, name, 4);
    if (k->bits == 64) {
        k->data[p + 4] = info;
        kb_put(k, p + 6, shndx, 2);
        kb_put(k, p + 8, value, 8);
        kb_put(k, p + 16, size, 8);
    } else {
        kb_put(k, p + 4, value, 4);
        kb_put(k, p + 8, size, 4);
        k->data[p + 12] = info;
        kb_put(k, p + 14, shndx, 2);
    }
}

static inline void kb_dyn(kb_image *k, unsigned i, uint64_t tag, uint64_t val)
{
    size_t p = k->dyn_off + (size_t)i * k->dyn_size;
    kb_word(k, p, tag);
    kb_word(k, p + k->dyn_size / 2, val);
}

static const char kb_dynstr[] = "\0libc.so.6\0libfoo.so\0puts";    /* 26 bytes with the NUL */
static const char kb_strtab[] = "\0main\0helper";                  /* 13 bytes with the NUL */
static const char kb_shstr[] = "\0.text\0.dynstr\0.dynsym\0.strtab\0.symtab\0.dynamic\0.shstrtab\0.bss";
/* name offsets in kb_shstr */
enum { KB_N_TEXT = 1, KB_N_DYNSTR = 7, KB_N_DYNSYM = 15, KB_N_STRTAB = 23, KB_N_SYMTAB = 31,
       KB_N_DYNAMIC = 39, KB_N_SHSTRTAB = 48, KB_N_BSS = 58 };

/* Builds an image of class `bits` (32, 64), byte order `be`, file type `type`
 * (2 ET_EXEC, 3 ET_DYN). Returns 0, or -1 if out of memory. Free kb->data. */
static inline int kb_build(kb_image *k, int bits, int be, uint16_t type)
{
    memset(k, 0, sizeof(*k));
    k->bits = bits;
    k->be = be;
    k->shdr_size = bits == 64 ? 64 : 40;
    k->phdr_size = bits == 64 ? 56 : 32;
    k->sym_size = bits == 64 ? 24 : 16;
    k->dyn_size = bits == 64 ? 16 : 8;
    size_t ehdr = bits == 64 ? 64 : 52, o = ehdr;
    k->phoff = o, o += 3 * k->phdr_size;
    k->text_off = o, o += 16;
    k->dynstr_off = o, k->dynstr_len = sizeof(kb_dynstr), o += sizeof(kb_dynstr);
    o = (o + 7) & ~(size_t)7;
    k->dynsym_off = o, o += 2 * k->sym_size;
    k->strtab_off = o, k->strtab_len = sizeof(kb_strtab), o += sizeof(kb_strtab);
    o = (o + 7) & ~(size_t)7;
    k->symtab_off = o, o += 3 * k->sym_size;
    k->dyn_off = o, o += 4 * k->dyn_size;
    k->shstr_off = o, k->shstr_len = sizeof(kb_shstr), o += sizeof(kb_shstr);
    o = (o + 7) & ~(size_t)7;
    k->shoff = o, o += (KB_NSECT + 1) * k->shdr_size;
    k->len = o;
    if (!(k->data = calloc(1, k->len)))
        return -1;

    memcpy(k->data, "\x7f" "ELF", 4);
    k->data[4] = bits == 64 ? 2 : 1;
    k->data[5] = be ? 2 : 1;
    k->data[6] = 1;
    kb_put(k, 16, type, 2);
    kb_put(k, 18, bits == 64 ? 62 : 3, 2); /* EM_X86_64, EM_386 */
    kb_put(k, 20, 1, 4);
    size_t p = 24;
    kb_word(k, p, KB_BASE + k->text_off + 4), p += bits / 8;
    kb_word(k, p, k->phoff), p += bits / 8;
    kb_word(k, p, k->shoff), p += bits / 8;
    kb_put(k, p, 0, 4), p += 4;
    kb_put(k, p, ehdr, 2), p += 2;
    kb_put(k, p, k->phdr_size, 2), p += 2;
    kb_put(k, p, 3, 2), p += 2;
    kb_put(k, p, k->shdr_size, 2), p += 2;
    kb_put(k, p, KB_NSECT, 2), p += 2;
    kb_put(k, p, 7, 2);

    kb_phdr(k, 0, 1, 5, 0, k->len);                          /* PT_LOAD R+X */
    kb_phdr(k, 1, 2, 6, k->dyn_off, 4 * k->dyn_size);        /* PT_DYNAMIC R+W */
    kb_phdr(k, 2, 0x6474e551, 6, 0, 0);                      /* PT_GNU_STACK */

    memset(k->data + k->text_off, 0x90, 16);
    memcpy(k->data + k->dynstr_off, kb_dynstr, sizeof(kb_dynstr));
    memcpy(k->data + k->strtab_off, kb_strtab, sizeof(kb_strtab));
    memcpy(k->data + k->shstr_off, kb_shstr, sizeof(kb_shstr));
    kb_sym(k, k->dynsym_off, 1, 21, 0, 0, 0x12, 0);                       /* puts: GLOBAL FUNC UND */
    kb_sym(k, k->symtab_off, 1, 1, KB_BASE + k->text_off + 4, 12, 0x12, 1); /* main: GLOBAL FUNC */
    kb_sym(k, k->symtab_off, 2, 6, KB_BASE + k->text_off, 4, 0x02, 1);      /* helper: LOCAL FUNC */
    kb_dyn(k, 0, 1, 1);                        /* DT_NEEDED libc.so.6 */
    kb_dyn(k, 1, 1, 11);                       /* DT_NEEDED libfoo.so */
    kb_dyn(k, 2, 10, sizeof(kb_dynstr));       /* DT_STRSZ */
    kb_dyn(k, 3, 0, 0);                        /* DT_NULL */

    kb_shdr(k, 0, 0, 0, 0, 0, 0, 0, 0);
    kb_shdr(k, 1, KB_N_TEXT, 1, 6, k->text_off, 16, 0, 0);
    kb_shdr(k, 2, KB_N_DYNSTR, 3, 2, k->dynstr_off, k->dynstr_len, 0, 0);
    kb_shdr(k, 3, KB_N_DYNSYM, 11, 2, k->dynsym_off, 2 * k->sym_size, 2, k->sym_size);
    kb_shdr(k, 4, KB_N_STRTAB, 3, 0, k->strtab_off, k->strtab_len, 0, 0);
    kb_shdr(k, 5, KB_N_SYMTAB, 2, 0, k->symtab_off, 3 * k->sym_size, 4, k->sym_size);
    kb_shdr(k, 6, KB_N_DYNAMIC, 6, 3, k->dyn_off, 4 * k->dyn_size, 2, k->dyn_size);
    kb_shdr(k, 7, KB_N_SHSTRTAB, 3, 0, k->shstr_off, k->shstr_len, 0, 0);
    kb_shdr(k, 8, KB_N_BSS, 8, 3, k->len, 0x100, 0, 0);
    kb_shdr(k, 9, KB_N_STRTAB, 3, 0, k->strtab_off, k->strtab_len, 0, 0); /* spare, past e_shnum */
    return 0;
}

/* Offset of field `field_off` in section header i. */
static inline size_t kb_shdr_at(const kb_image *k, unsigned i, size_t field_off)
{
    return k->shoff + (size_t)i * k->shdr_size + field_off;
}

/* sh_link's offset within a section header. */
static inline size_t kb_link_field(const kb_image *k) { return k->bits == 64 ? 40 : 24; }

/* sh_addr's offset within a section header. */
static inline size_t kb_addr_field(const kb_image *k) { return k->bits == 64 ? 16 : 12; }

/* Header field offsets: e_shnum, e_shstrndx, e_phnum, e_shoff, e_entry. */
static inline size_t kb_e_shnum(const kb_image *k) { return k->bits == 64 ? 60 : 48; }
static inline size_t kb_e_shstrndx(const kb_image *k) { return k->bits == 64 ? 62 : 50; }
static inline size_t kb_e_phnum(const kb_image *k) { return k->bits == 64 ? 56 : 44; }
static inline size_t kb_e_shoff(const kb_image *k) { return k->bits == 64 ? 40 : 32; }
static inline size_t kb_e_entry(const kb_image *k) { (void)k; return 24; }

#endif
