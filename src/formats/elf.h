/* Khiên — formats: a bounded reader of ELF files (internal API).
 *
 * kh_elf_parse() decodes the file header of an ELF32 or ELF64 object of
 * either byte order; everything else is read on demand, one table entry at
 * a time, straight from the caller's buffer: nothing is allocated, nothing
 * is copied, and every read is checked against the buffer first. A reader
 * that would leave the buffer returns KH_EFORMAT and produces nothing.
 *
 * Ownership: a kh_elf borrows the buffer given to kh_elf_parse(); it must
 * outlive the kh_elf and everything read through it (strings point into
 * it). A kh_elf is plain data: copy it, share it between threads.
 *
 * Table entries are read with the fixed stride of their class (40/64-byte
 * section headers, 32/56-byte program headers, 16/24-byte symbols, 8/16-byte
 * dynamic entries), ignoring e_shentsize and e_phentsize, as the Linux
 * loader and yara do. Counts come from the header (at most 65535 by their
 * type) or from sizes divided by the entry size; callers cap the latter
 * (KH_ELF_MAX_SYMBOLS, KH_ELF_MAX_DYN) so no work is proportional to a
 * count an attacker chooses beyond those caps.
 */
#ifndef KH_FORMATS_ELF_H
#define KH_FORMATS_ELF_H

#include <stddef.h>
#include <stdint.h>

/* ---- Limits -------------------------------------------------------------- */
#define KH_ELF_MAX_SYMBOLS (1u << 18) /* symbols read from one table */
#define KH_ELF_MAX_DYN (1u << 16)     /* entries read from one dynamic segment */
#define KH_ELF_MAX_NAME (1u << 16)    /* longest name returned by kh_elf_string */

/* ---- Constants (the values yara's elf module exposes, and a few more) ---- */
enum kh_elf_const {
    KH_ELF_CLASS32 = 1,
    KH_ELF_CLASS64 = 2,
    KH_ELF_DATA2LSB = 1,
    KH_ELF_DATA2MSB = 2,

    KH_ET_NONE = 0, KH_ET_REL = 1, KH_ET_EXEC = 2, KH_ET_DYN = 3, KH_ET_CORE = 4,

    KH_SHT_NULL = 0, KH_SHT_PROGBITS = 1, KH_SHT_SYMTAB = 2, KH_SHT_STRTAB = 3, KH_SHT_RELA = 4,
    KH_SHT_HASH = 5, KH_SHT_DYNAMIC = 6, KH_SHT_NOTE = 7, KH_SHT_NOBITS = 8, KH_SHT_REL = 9,
    KH_SHT_SHLIB = 10, KH_SHT_DYNSYM = 11,

    KH_SHN_LORESERVE = 0xff00,
    KH_PN_XNUM = 0xffff,

    KH_PT_NULL = 0, KH_PT_LOAD = 1, KH_PT_DYNAMIC = 2, KH_PT_INTERP = 3, KH_PT_NOTE = 4,
    KH_PT_SHLIB = 5, KH_PT_PHDR = 6, KH_PT_TLS = 7,

    KH_DT_NULL = 0,
};

/* ---- Decoded structures ---------------------------------------------------- */

typedef struct kh_elf {
    const uint8_t *data; /* borrowed */
    size_t len;
    uint8_t bits;        /* 32 or 64 */
    uint8_t be;          /* 1: big-endian (ELFDATA2MSB) */
    uint8_t osabi;
    uint16_t type, machine;
    uint32_t version, flags;
    uint64_t entry, phoff, shoff;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
    /* sizes of the on-disk structures for this class */
    uint8_t ehdr_size, shdr_size, phdr_size, sym_size, dyn_size;
} kh_elf;

typedef struct kh_elf_shdr {
    uint32_t name, type, link, info;
    uint64_t flags, addr, offset, size, addralign, entsize;
} kh_elf_shdr;

typedef struct kh_elf_phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
} kh_elf_phdr;

typedef struct kh_elf_sym {
    uint32_t name;
    uint8_t info, other; /* bind = info >> 4, type = info & 0xf */
    uint16_t shndx;
    uint64_t value, size;
} kh_elf_sym;

/* d_tag is read as an unsigned word of the class (a 32-bit tag is
 * zero-extended), as yara reports it. */
typedef struct kh_elf_dyn {
    uint64_t tag, val;
} kh_elf_dyn;

/* A symbol table and its string table, as file ranges. */
typedef struct kh_elf_symtab {
    uint64_t off, size;       /* the symbols */
    uint64_t stroff, strsize; /* their names */
    uint64_t count;           /* size / sym_size (not capped) */
} kh_elf_symtab;

/* ---- Functions ------------------------------------------------------------ */

/** Decodes the file header.
 * @param[out] out  filled on success only.
 * @return 0; KH_EFORMAT if `data` is not ELF (magic, class, byte order) or is
 *         shorter than the file header of its class. */
int kh_elf_parse(kh_elf *out, const uint8_t *data, size_t len);

/** 1 if [off, off+size) lies inside the buffer, else 0. */
int kh_elf_range_ok(const kh_elf *e, uint64_t off, uint64_t size);

/** 1 if the section header table is usable: fewer than SHN_LORESERVE
 * entries, e_shstrndx one of them, the whole table inside the buffer. */
int kh_elf_sections_ok(const kh_elf *e);

/** 1 if the program header table is usable: 1 to PN_XNUM-1 entries, the
 * whole table inside the buffer. */
int kh_elf_segments_ok(const kh_elf *e);

/** Reads entry `i` of the section header table (i need not be below
 * e_shnum). @return 0, or KH_EFORMAT if the entry is not inside the buffer. */
int kh_elf_section(const kh_elf *e, uint64_t i, kh_elf_shdr *out);

/** Reads entry `i` of the program header table. @return 0 or KH_EFORMAT. */
int kh_elf_segment(const kh_elf *e, uint64_t i, kh_elf_phdr *out);

/** The symbol table described by section header `sec` (SHT_SYMTAB or
 * SHT_DYNSYM) and the string table its sh_link names, which must be a
 * section header inside the buffer of type SHT_STRTAB. The ranges are not
 * checked against the buffer (see kh_elf_range_ok). sh_link is not compared
 * with e_shnum: that policy is the caller's.
 * @return 0, or KH_EFORMAT. */
int kh_elf_symtab_of(const kh_elf *e, const kh_elf_shdr *sec, kh_elf_symtab *out);

/** The last section of type `type` (SHT_SYMTAB or SHT_DYNSYM) whose sh_link
 * is below `link_limit` and names a string table (kh_elf_symtab_of), provided
 * the section table is usable and both ranges lie inside the buffer.
 * Pass e->shnum as `link_limit` unless a compatibility rule says otherwise.
 * @return 0, or KH_ENOTFOUND. */
int kh_elf_find_symtab(const kh_elf *e, uint32_t type, uint32_t link_limit, kh_elf_symtab *out);

/** Reads symbol `i` of table `t`. @return 0, or KH_EFORMAT if outside the
 * table or the buffer. */
int kh_elf_symbol(const kh_elf *e, const kh_elf_symtab *t, uint64_t i, kh_elf_sym *out);

/** Reads the `i`-th dynamic entry of an array starting at file offset `off`.
 * @return 0, or KH_EFORMAT if the entry is not inside the buffer. */
int kh_elf_dyn_at(const kh_elf *e, uint64_t off, uint64_t i, kh_elf_dyn *out);

/** An entry of a string table occupying [tab, tab_end) of the buffer: the
 * table must start with a NUL byte, `index` must be below 2^31 and inside
 * the table, and the string must end with a NUL before tab_end.
 * @param[out] p,n  the string (not including its NUL), pointing into the buffer.
 * @return 0; KH_ENOTFOUND if any rule above fails; KH_ELIMIT if the string is
 *         longer than `max` bytes (at most `max`+1 bytes are examined). */
int kh_elf_string(const kh_elf *e, uint64_t tab, uint64_t tab_end, uint64_t index, size_t max,
                  const uint8_t **p, size_t *n);

/** The file offset of the entry point, computed as yara does: for ET_EXEC,
 * through the first program header (of any type) whose [p_vaddr, p_vaddr +
 * p_memsz) holds e_entry; for other types, through the first section that is
 * neither SHT_NULL nor SHT_NOBITS whose [sh_addr, sh_addr + sh_size) holds it.
 * Address arithmetic wraps at the class's word size, as in yara.
 * @return 0, or KH_ENOTFOUND (e_entry is 0, the table is unusable, no match). */
int kh_elf_entry_offset(const kh_elf *e, uint64_t *out);

#endif
