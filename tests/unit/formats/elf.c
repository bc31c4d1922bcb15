/* Tests of src/formats/elf.c, the bounded ELF reader.
 *
 * Images come from elf_build.h: ELF32 and ELF64, little and big endian,
 * ET_EXEC and ET_DYN, with known tables. Checks:
 *  - every decoded field of each variant, names through the string
 *    tables, symbols, dynamic entries and the entry point's file offset;
 *  - not ELF (magic, class, byte order, shorter than its header);
 *  - every truncation of every variant, copied into a buffer of exactly
 *    that size so AddressSanitizer sees any read past it: tables cut by
 *    the end become unusable, nothing reads outside;
 *  - damaged fields: huge offsets and counts, e_shstrndx out of the table,
 *    overflowing index arithmetic, string table rules (leading NUL,
 *    termination, 2^31 indices, the length cap);
 *  - yara's entry point rules, including 32-bit address wrap-around;
 *  - thousands of deterministic random damages, everything walked.
 */
#include <stdint.h>
#include <stdio.h>

#include "formats/elf.h"
#include "harness.h"
#include "khien/error.h"
#include "unit/formats/elf_build.h"

static const int variants[4][2] = {{32, 0}, {32, 1}, {64, 0}, {64, 1}};

/* Reads everything the API offers, bounded; returns a number that depends on it all. */
static uint64_t walk(const kh_elf *e)
{
    uint64_t h = 0, off;
    const uint8_t *p;
    size_t n;
    kh_elf_shdr names;
    int have_names = kh_elf_sections_ok(e) && kh_elf_section(e, e->shstrndx, &names) == 0;
    for (uint32_t i = 0; i < e->shnum; i++) {
        kh_elf_shdr s;
        kh_elf_symtab t;
        if (kh_elf_section(e, i, &s) < 0)
            continue;
        h += s.type + s.offset + s.size;
        if (have_names && kh_elf_string(e, names.offset, e->len, s.name, 4096, &p, &n) == 0)
            h += n + (n ? p[0] : 0);
        if (kh_elf_symtab_of(e, &s, &t) == 0)
            h += t.count;
    }
    for (uint32_t type = KH_SHT_SYMTAB; type <= KH_SHT_DYNSYM; type += KH_SHT_DYNSYM - KH_SHT_SYMTAB) {
        kh_elf_symtab t;
        if (kh_elf_find_symtab(e, type, e->shnum, &t) < 0)
            continue;
        for (uint64_t j = 0; j < t.count && j < 4096; j++) {
            kh_elf_sym s;
            if (kh_elf_symbol(e, &t, j, &s) < 0)
                break;
            h += s.value + s.info;
            if (kh_elf_string(e, t.stroff, t.stroff + t.strsize, s.name, 4096, &p, &n) == 0)
                h += n + (n ? p[n - 1] : 0);
        }
    }
    for (uint32_t i = 0; i < e->phnum; i++) {
        kh_elf_phdr ph;
        if (kh_elf_segment(e, i, &ph) < 0)
            continue;
        h += ph.type + ph.vaddr;
        if (ph.type == KH_PT_DYNAMIC)
            for (uint64_t j = 0; j < 1024; j++) {
                kh_elf_dyn d;
                if (kh_elf_dyn_at(e, ph.offset, j, &d) < 0)
                    break;
                h += d.tag ^ d.val;
                if (d.tag == 0)
                    break;
            }
    }
    if (kh_elf_entry_offset(e, &off) == 0)
        h += off;
    return h;
}

static int str_is(const kh_elf *e, uint64_t tab, uint64_t end, uint64_t idx, const char *want)
{
    const uint8_t *p;
    size_t n;
    return kh_elf_string(e, tab, end, idx, 4096, &p, &n) == 0 && n == strlen(want) && memcmp(p, want, n) == 0;
}

static void check_variant(int bits, int be, uint16_t type)
{
    kb_image k;
    kh_elf e;
    uint64_t off;
    KT_EQ_INT(kb_build(&k, bits, be, type), 0);
    KT_EQ_INT(kh_elf_parse(&e, k.data, k.len), 0);
    KT_EQ_INT(e.bits, bits);
    KT_EQ_INT(e.be, be);
    KT_EQ_INT(e.type, type);
    KT_EQ_INT(e.machine, bits == 64 ? 62 : 3);
    KT_EQ_INT(e.version, 1);
    KT_EQ_INT(e.entry, KB_BASE + k.text_off + 4);
    KT_EQ_INT(e.phoff, k.phoff);
    KT_EQ_INT(e.shoff, k.shoff);
    KT_EQ_INT(e.phnum, 3);
    KT_EQ_INT(e.shnum, KB_NSECT);
    KT_EQ_INT(e.shstrndx, 7);
    KT_EQ_INT(e.shentsize, k.shdr_size);
    KT_EQ_INT(e.phentsize, k.phdr_size);
    KT_EQ_INT(e.ehsize, bits == 64 ? 64 : 52);
    KT_CHECK(kh_elf_sections_ok(&e));
    KT_CHECK(kh_elf_segments_ok(&e));

    /* Sections and their names. */
    static const char *const names[KB_NSECT] = {"", ".text", ".dynstr", ".dynsym", ".strtab",
                                                ".symtab", ".dynamic", ".shstrtab", ".bss"};
    static const uint32_t types[KB_NSECT] = {0, 1, 3, 11, 3, 2, 6, 3, 8};
    kh_elf_shdr s;
    for (unsigned i = 0; i < KB_NSECT; i++) {
        KT_EQ_INT(kh_elf_section(&e, i, &s), 0);
        KT_EQ_INT(s.type, types[i]);
        KT_CHECK(str_is(&e, k.shstr_off, k.shstr_off + k.shstr_len, s.name, names[i]));
    }
    KT_EQ_INT(kh_elf_section(&e, 1, &s), 0);
    KT_EQ_INT(s.offset, k.text_off);
    KT_EQ_INT(s.addr, KB_BASE + k.text_off);
    KT_EQ_INT(s.size, 16);
    KT_EQ_INT(s.flags, 6);
    KT_EQ_INT(s.addralign, 1);
    KT_EQ_INT(kh_elf_section(&e, 5, &s), 0);
    KT_EQ_INT(s.link, 4);
    KT_EQ_INT(s.entsize, k.sym_size);
    /* The spare header past e_shnum is readable (it is in the file). */
    KT_EQ_INT(kh_elf_section(&e, KB_NSECT, &s), 0);
    KT_EQ_INT(s.type, 3);
    KT_EQ_INT(kh_elf_section(&e, KB_NSECT + 1, &s), KH_EFORMAT);

    /* Segments. */
    kh_elf_phdr ph;
    KT_EQ_INT(kh_elf_segment(&e, 0, &ph), 0);
    KT_EQ_INT(ph.type, 1);
    KT_EQ_INT(ph.flags, 5);
    KT_EQ_INT(ph.offset, 0);
    KT_EQ_INT(ph.vaddr, KB_BASE);
    KT_EQ_INT(ph.paddr, KB_BASE);
    KT_EQ_INT(ph.filesz, k.len);
    KT_EQ_INT(ph.memsz, k.len);
    KT_EQ_INT(ph.align, 0x1000);
    KT_EQ_INT(kh_elf_segment(&e, 1, &ph), 0);
    KT_EQ_INT(ph.type, 2);
    KT_EQ_INT(ph.offset, k.dyn_off);
    KT_EQ_INT(kh_elf_segment(&e, 2, &ph), 0);
    KT_EQ_INT(ph.type, 0x6474e551);

    /* Symbols. */
    kh_elf_symtab t;
    kh_elf_sym sym;
    KT_EQ_INT(kh_elf_find_symtab(&e, KH_SHT_SYMTAB, e.shnum, &t), 0);
    KT_EQ_INT(t.off, k.symtab_off);
    KT_EQ_INT(t.count, 3);
    KT_EQ_INT(t.stroff, k.strtab_off);
    KT_EQ_INT(t.strsize, k.strtab_len);
    KT_EQ_INT(kh_elf_symbol(&e, &t, 1, &sym), 0);
    KT_CHECK(str_is(&e, t.stroff, t.stroff + t.strsize, sym.name, "main"));
    KT_EQ_INT(sym.info, 0x12);
    KT_EQ_INT(sym.shndx, 1);
    KT_EQ_INT(sym.value, KB_BASE + k.text_off + 4);
    KT_EQ_INT(sym.size, 12);
    KT_EQ_INT(kh_elf_symbol(&e, &t, 2, &sym), 0);
    KT_CHECK(str_is(&e, t.stroff, t.stroff + t.strsize, sym.name, "helper"));
    KT_EQ_INT(sym.info, 0x02);
    KT_EQ_INT(kh_elf_symbol(&e, &t, 3, &sym), KH_EFORMAT);
    KT_EQ_INT(kh_elf_find_symtab(&e, KH_SHT_DYNSYM, e.shnum, &t), 0);
    KT_EQ_INT(t.count, 2);
    KT_EQ_INT(kh_elf_symbol(&e, &t, 1, &sym), 0);
    KT_CHECK(str_is(&e, t.stroff, t.stroff + t.strsize, sym.name, "puts"));

    /* Dynamic entries. */
    kh_elf_dyn d;
    KT_EQ_INT(kh_elf_dyn_at(&e, k.dyn_off, 0, &d), 0);
    KT_EQ_INT(d.tag, 1);
    KT_CHECK(str_is(&e, k.dynstr_off, k.dynstr_off + k.dynstr_len, d.val, "libc.so.6"));
    KT_EQ_INT(kh_elf_dyn_at(&e, k.dyn_off, 1, &d), 0);
    KT_CHECK(str_is(&e, k.dynstr_off, k.dynstr_off + k.dynstr_len, d.val, "libfoo.so"));
    KT_EQ_INT(kh_elf_dyn_at(&e, k.dyn_off, 2, &d), 0);
    KT_EQ_INT(d.tag, 10);
    KT_EQ_INT(d.val, sizeof(kb_dynstr));
    KT_EQ_INT(kh_elf_dyn_at(&e, k.dyn_off, 3, &d), 0);
    KT_EQ_INT(d.tag, 0);

    /* Entry point: through PT_LOAD for ET_EXEC, through .text otherwise. */
    KT_EQ_INT(kh_elf_entry_offset(&e, &off), 0);
    KT_EQ_INT(off, k.text_off + 4);
    free(k.data);
}

KT_TEST(test_formats_elf__variants)
{
    for (int v = 0; v < 4; v++) {
        check_variant(variants[v][0], variants[v][1], KH_ET_EXEC);
        check_variant(variants[v][0], variants[v][1], KH_ET_DYN);
    }
}

KT_TEST(test_formats_elf__not_elf)
{
    kh_elf e;
    kb_image k;
    KT_EQ_INT(kh_elf_parse(&e, NULL, 0), KH_EFORMAT);
    KT_EQ_INT(kh_elf_parse(&e, (const uint8_t *)"", 0), KH_EFORMAT);
    KT_EQ_INT(kh_elf_parse(&e, (const uint8_t *)"MZ\x90\0\3\0\0\0\4\0\0\0\xff\xff\0\0\xb8", 17), KH_EFORMAT);
    for (int v = 0; v < 4; v++) {
        KT_EQ_INT(kb_build(&k, variants[v][0], variants[v][1], KH_ET_EXEC), 0);
        size_t ehdr = variants[v][0] == 64 ? 64 : 52;
        uint8_t saved;
        /* Exactly the header is enough for the reader (yara's module wants one byte more). */
        KT_EQ_INT(kh_elf_parse(&e, k.data, ehdr), 0);
        KT_EQ_INT(kh_elf_parse(&e, k.data, ehdr - 1), KH_EFORMAT);
        KT_EQ_INT(kh_elf_parse(&e, k.data, 15), KH_EFORMAT);
        for (int b = 0; b < 4; b++) {
            saved = k.data[b];
            k.data[b] ^= 0x20;
            KT_EQ_INT(kh_elf_parse(&e, k.data, k.len), KH_EFORMAT);
            k.data[b] = saved;
        }
        static const uint8_t bad[] = {0, 3, 0xff};
        for (size_t b = 0; b < sizeof(bad); b++) {
            saved = k.data[4];
            k.data[4] = bad[b]; /* class */
            KT_EQ_INT(kh_elf_parse(&e, k.data, k.len), KH_EFORMAT);
            k.data[4] = saved;
            saved = k.data[5];
            k.data[5] = bad[b]; /* byte order */
            KT_EQ_INT(kh_elf_parse(&e, k.data, k.len), KH_EFORMAT);
            k.data[5] = saved;
        }
        KT_EQ_INT(kh_elf_parse(&e, k.data, k.len), 0);
        free(k.data);
    }
}

KT_TEST(test_formats_elf__truncated)
{
    for (int v = 0; v < 4; v++) {
        kb_image k;
        KT_EQ_INT(kb_build(&k, variants[v][0], variants[v][1], v & 1 ? KH_ET_DYN : KH_ET_EXEC), 0);
        for (size_t len = 0; len <= k.len; len++) {
            uint8_t *cut = malloc(len ? len : 1);
            kh_elf e;
            memcpy(cut, k.data, len);
            int rc = kh_elf_parse(&e, cut, len);
            if (len < (size_t)(variants[v][0] == 64 ? 64 : 52)) {
                KT_EQ_INT(rc, KH_EFORMAT);
            } else {
                KT_EQ_INT(rc, 0);
                (void)walk(&e);
                /* The section table is usable exactly when all of it is in the buffer. */
                KT_EQ_INT(kh_elf_sections_ok(&e), len >= k.shoff + KB_NSECT * k.shdr_size);
                KT_EQ_INT(kh_elf_segments_ok(&e), len >= k.phoff + 3 * k.phdr_size);
                kh_elf_symtab t;
                KT_EQ_INT(kh_elf_find_symtab(&e, KH_SHT_SYMTAB, e.shnum, &t) == 0,
                          len >= k.shoff + KB_NSECT * k.shdr_size);
            }
            free(cut);
        }
        free(k.data);
    }
}

KT_TEST(test_formats_elf__damaged_fields)
{
    for (int v = 0; v < 4; v++) {
        kb_image k;
        kh_elf e;
        kh_elf_shdr s;
        kh_elf_dyn d;
        kh_elf_symtab t;
        kh_elf_sym sym;
        int bits = variants[v][0];
        KT_EQ_INT(kb_build(&k, bits, variants[v][1], KH_ET_EXEC), 0);
        uint64_t ones = bits == 64 ? UINT64_MAX : UINT32_MAX;

        /* e_shoff at the far end of the address space. */
        kb_word(&k, kb_e_shoff(&k), ones);
        KT_EQ_INT(kh_elf_parse(&e, k.data, k.len), 0);
        KT_CHECK(!kh_elf_sections_ok(&e));
        KT_EQ_INT(kh_elf_section(&e, 0, &s), KH_EFORMAT);
        KT_EQ_INT(kh_elf_section(&e, UINT64_MAX, &s), KH_EFORMAT);
        KT_EQ_INT(kh_elf_find_symtab(&e, KH_SHT_SYMTAB, e.shnum, &t), KH_ENOTFOUND);
        (void)walk(&e);
        kb_word(&k, kb_e_shoff(&k), k.shoff);

        /* Counts past what yara accepts, and e_shstrndx outside the table. */
        kb_put(&k, kb_e_shnum(&k), 0xff00, 2);
        KT_EQ_INT(kh_elf_parse(&e, k.data, k.len), 0);
        KT_CHECK(!kh_elf_sections_ok(&e));
        kb_put(&k, kb_e_shnum(&k), KB_NSECT, 2);
        kb_put(&k, kb_e_shstrndx(&k), KB_NSECT, 2);
        KT_EQ_INT(kh_elf_parse(&e, k.data, k.len), 0);
        KT_CHECK(!kh_elf_sections_ok(&e));
        kb_put(&k, kb_e_shstrndx(&k), 7, 2);
        kb_put(&k, kb_e_phnum(&k), 0xffff, 2);
        KT_EQ_INT(kh_elf_parse(&e, k.data, k.len), 0);
        KT_CHECK(!kh_elf_segments_ok(&e));
        kb_put(&k, kb_e_phnum(&k), 0, 2);
        KT_EQ_INT(kh_elf_parse(&e, k.data, k.len), 0);
        KT_CHECK(!kh_elf_segments_ok(&e));
        kb_put(&k, kb_e_phnum(&k), 3, 2);

        /* A symbol table claiming to be huge: found by symtab_of, refused by find_symtab. */
        size_t size_field = kb_shdr_at(&k, 5, bits == 64 ? 32 : 20);
        kb_word(&k, size_field, ones);
        KT_EQ_INT(kh_elf_parse(&e, k.data, k.len), 0);
        KT_EQ_INT(kh_elf_section(&e, 5, &s), 0);
        KT_EQ_INT(kh_elf_symtab_of(&e, &s, &t), 0);
        KT_EQ_INT(t.count, ones / k.sym_size);
        KT_EQ_INT(kh_elf_symbol(&e, &t, 2, &sym), 0);
        KT_EQ_INT(kh_elf_symbol(&e, &t, t.count - 1, &sym), KH_EFORMAT);
        KT_EQ_INT(kh_elf_symbol(&e, &t, (k.len - k.symtab_off) / k.sym_size, &sym), KH_EFORMAT);
        KT_EQ_INT(kh_elf_find_symtab(&e, KH_SHT_SYMTAB, e.shnum, &t), KH_ENOTFOUND);
        kb_word(&k, size_field, 3 * k.sym_size);

        /* sh_link: out of the table, to a non-STRTAB, and to the spare header past e_shnum. */
        size_t link = kb_shdr_at(&k, 5, kb_link_field(&k));
        kb_put(&k, link, 0xffffffffu, 4);
        KT_EQ_INT(kh_elf_parse(&e, k.data, k.len), 0);
        KT_EQ_INT(kh_elf_section(&e, 5, &s), 0);
        KT_EQ_INT(kh_elf_symtab_of(&e, &s, &t), KH_EFORMAT);
        kb_put(&k, link, 1, 4); /* .text */
        KT_EQ_INT(kh_elf_parse(&e, k.data, k.len), 0);
        KT_EQ_INT(kh_elf_section(&e, 5, &s), 0);
        KT_EQ_INT(kh_elf_symtab_of(&e, &s, &t), KH_EFORMAT);
        kb_put(&k, link, KB_NSECT, 4);
        KT_EQ_INT(kh_elf_parse(&e, k.data, k.len), 0);
        KT_EQ_INT(kh_elf_find_symtab(&e, KH_SHT_SYMTAB, e.shnum, &t), KH_ENOTFOUND);
        KT_EQ_INT(kh_elf_find_symtab(&e, KH_SHT_SYMTAB, KB_NSECT + 1, &t), 0);
        KT_EQ_INT(t.stroff, k.strtab_off);
        kb_put(&k, link, 4, 4);

        /* Offsets whose index arithmetic would overflow. */
        KT_EQ_INT(kh_elf_parse(&e, k.data, k.len), 0);
        KT_EQ_INT(kh_elf_dyn_at(&e, UINT64_MAX - 3, 1, &d), KH_EFORMAT);
        KT_EQ_INT(kh_elf_dyn_at(&e, 0, UINT64_MAX / 2, &d), KH_EFORMAT);
        KT_EQ_INT(kh_elf_dyn_at(&e, k.len - k.dyn_size, 0, &d), 0);
        KT_EQ_INT(kh_elf_dyn_at(&e, k.len - k.dyn_size + 1, 0, &d), KH_EFORMAT);
        KT_CHECK(kh_elf_range_ok(&e, k.len, 0));
        KT_CHECK(!kh_elf_range_ok(&e, k.len + 1, 0));
        KT_CHECK(!kh_elf_range_ok(&e, 1, UINT64_MAX));
        KT_CHECK(!kh_elf_range_ok(&e, UINT64_MAX, 2));
        free(k.data);
    }
}

KT_TEST(test_formats_elf__strings)
{
    kb_image k;
    kh_elf e;
    const uint8_t *p;
    size_t n;
    KT_EQ_INT(kb_build(&k, 64, 0, KH_ET_EXEC), 0);
    KT_EQ_INT(kh_elf_parse(&e, k.data, k.len), 0);
    uint64_t tab = k.strtab_off, end = tab + k.strtab_len;
    KT_EQ_INT(kh_elf_string(&e, tab, end, 1, 100, &p, &n), 0);
    KT_EQ_INT(n, 4);
    KT_EQ_INT(kh_elf_string(&e, tab, end, 0, 100, &p, &n), 0);
    KT_EQ_INT(n, 0);
    /* The last string ends exactly at the table's end (its NUL is the last byte). */
    KT_EQ_INT(kh_elf_string(&e, tab, end, 6, 100, &p, &n), 0);
    KT_EQ_INT(n, 6);
    /* Without its NUL it is not terminated inside the table. */
    KT_EQ_INT(kh_elf_string(&e, tab, end - 1, 6, 100, &p, &n), KH_ENOTFOUND);
    /* Index at or past the end, or at 2^31 and beyond. */
    KT_EQ_INT(kh_elf_string(&e, tab, end, end - tab, 100, &p, &n), KH_ENOTFOUND);
    KT_EQ_INT(kh_elf_string(&e, tab, end, 0x80000000u, 100, &p, &n), KH_ENOTFOUND);
    KT_EQ_INT(kh_elf_string(&e, tab, end, UINT64_MAX, 100, &p, &n), KH_ENOTFOUND);
    /* The table must start with a NUL. */
    KT_EQ_INT(kh_elf_string(&e, tab + 1, end, 0, 100, &p, &n), KH_ENOTFOUND);
    /* Empty table, table past the buffer. */
    KT_EQ_INT(kh_elf_string(&e, tab, tab, 0, 100, &p, &n), KH_ENOTFOUND);
    KT_EQ_INT(kh_elf_string(&e, tab, k.len + 1, 1, 100, &p, &n), KH_ENOTFOUND);
    KT_EQ_INT(kh_elf_string(&e, UINT64_MAX - 1, UINT64_MAX, 0, 100, &p, &n), KH_ENOTFOUND);
    /* The length cap: "helper" is 6 bytes. */
    KT_EQ_INT(kh_elf_string(&e, tab, end, 6, 6, &p, &n), 0);
    KT_EQ_INT(kh_elf_string(&e, tab, end, 6, 5, &p, &n), KH_ELIMIT);
    KT_EQ_INT(kh_elf_string(&e, tab, end, 6, 0, &p, &n), KH_ELIMIT);
    KT_EQ_INT(kh_elf_string(&e, tab, end, 0, 0, &p, &n), 0);
    free(k.data);
}

KT_TEST(test_formats_elf__entry_point)
{
    for (int v = 0; v < 4; v++) {
        kb_image k;
        kh_elf e;
        uint64_t off;
        int bits = variants[v][0];
        KT_EQ_INT(kb_build(&k, bits, variants[v][1], KH_ET_EXEC), 0);
        /* e_entry 0: none. */
        kb_word(&k, kb_e_entry(&k), 0);
        KT_EQ_INT(kh_elf_parse(&e, k.data, k.len), 0);
        KT_EQ_INT(kh_elf_entry_offset(&e, &off), KH_ENOTFOUND);
        /* Outside every segment. */
        kb_word(&k, kb_e_entry(&k), KB_BASE + k.len);
        KT_EQ_INT(kh_elf_parse(&e, k.data, k.len), 0);
        KT_EQ_INT(kh_elf_entry_offset(&e, &off), KH_ENOTFOUND);
        /* PT_LOAD at 0xfffff000 of 0x2000 bytes: its end wraps in 32 bits (yara finds
         * nothing), not in 64 bits. */
        kb_phdr(&k, 0, 1, 5, 0x100, 0x2000);
        size_t ph0 = k.phoff;
        if (bits == 64) {
            kb_put(&k, ph0 + 16, 0xfffff000u, 8);
        } else {
            kb_put(&k, ph0 + 8, 0xfffff000u, 4);
        }
        kb_word(&k, kb_e_entry(&k), 0xfffff800u);
        KT_EQ_INT(kh_elf_parse(&e, k.data, k.len), 0);
        if (bits == 64) {
            KT_EQ_INT(kh_elf_entry_offset(&e, &off), 0);
            KT_EQ_INT(off, 0x100 + 0x800);
        } else {
            KT_EQ_INT(kh_elf_entry_offset(&e, &off), KH_ENOTFOUND);
        }
        /* The first matching program header wins, whatever its type: segment 0
         * maps KB_BASE+0x30 to file offset 0x30, segment 1 (a PT_NOTE) maps
         * KB_BASE+0x20 to 0x1000; both hold the entry. */
        kb_phdr(&k, 0, 1, 5, 0x30, k.len);
        kb_phdr(&k, 1, 4, 4, 0x20, 0x40);
        kb_put(&k, k.phoff + k.phdr_size + (bits == 64 ? 8 : 4), 0x1000, bits / 8);
        kb_word(&k, kb_e_entry(&k), KB_BASE + 0x40);
        KT_EQ_INT(kh_elf_parse(&e, k.data, k.len), 0);
        KT_EQ_INT(kh_elf_entry_offset(&e, &off), 0);
        KT_EQ_INT(off, 0x40); /* segment 0 */
        /* e_phoff 0 or e_phnum 0: none. */
        kb_word(&k, 24 + bits / 8, 0);
        KT_EQ_INT(kh_elf_parse(&e, k.data, k.len), 0);
        KT_EQ_INT(kh_elf_entry_offset(&e, &off), KH_ENOTFOUND);
        free(k.data);

        /* ET_DYN: sections; NULL and NOBITS sections never match. */
        KT_EQ_INT(kb_build(&k, bits, variants[v][1], KH_ET_DYN), 0);
        kb_word(&k, kb_e_entry(&k), KB_BASE + k.len + 8); /* inside .bss only */
        KT_EQ_INT(kh_elf_parse(&e, k.data, k.len), 0);
        KT_EQ_INT(kh_elf_entry_offset(&e, &off), KH_ENOTFOUND);
        kb_word(&k, kb_e_entry(&k), KB_BASE + k.dynstr_off + 3);
        KT_EQ_INT(kh_elf_parse(&e, k.data, k.len), 0);
        KT_EQ_INT(kh_elf_entry_offset(&e, &off), 0);
        KT_EQ_INT(off, k.dynstr_off + 3);
        /* A section table that does not fit: none. */
        kb_put(&k, kb_e_shnum(&k), 0x1000, 2);
        KT_EQ_INT(kh_elf_parse(&e, k.data, k.len), 0);
        KT_EQ_INT(kh_elf_entry_offset(&e, &off), KH_ENOTFOUND);
        free(k.data);
    }
}

KT_TEST(test_formats_elf__random_damage)
{
    uint64_t x = 0x9e3779b97f4a7c15ull, sum = 0;
    for (int it = 0; it < 20000; it++) {
        kb_image k;
        kh_elf e;
        int v = it & 3;
        KT_EQ_INT(kb_build(&k, variants[v][0], variants[v][1], it & 4 ? KH_ET_DYN : KH_ET_EXEC), 0);
        int flips = 1 + (int)(x % 8);
        for (int f = 0; f < flips; f++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            /* Half of the damage in the file header, the rest anywhere. */
            size_t at = (x >> 8) % (x & 1 ? 64 : k.len);
            k.data[at] = (uint8_t)(x >> 32);
        }
        size_t len = x & 16 ? k.len : (x >> 20) % (k.len + 1);
        uint8_t *cut = malloc(len ? len : 1);
        memcpy(cut, k.data, len);
        if (kh_elf_parse(&e, cut, len) == 0)
            sum += walk(&e);
        free(cut);
        free(k.data);
    }
    KT_CHECK(sum != 1); /* keep the walks */
}

KT_MAIN({
    KT_CASE(test_formats_elf__variants),
    KT_CASE(test_formats_elf__not_elf),
    KT_CASE(test_formats_elf__truncated),
    KT_CASE(test_formats_elf__damaged_fields),
    KT_CASE(test_formats_elf__strings),
    KT_CASE(test_formats_elf__entry_point),
    KT_CASE(test_formats_elf__random_damage),
})
