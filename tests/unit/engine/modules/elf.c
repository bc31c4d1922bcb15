/* Tests of src/engine/modules/elf.c: the module loaded on images built by
 * tests/unit/formats/elf_build.h (ELF32/64, LE/BE, ET_EXEC/ET_DYN), values
 * read back with kh_yget. The expected values are the builder's own
 * layout; the same images, written to files, give identical output from
 * yara 4.2.3 and tests/compat/elf_dump (checked when this test was
 * written, and continuously for real files by tests/compat/elf_module.sh).
 * Also: yara's corner cases kept on purpose (header-only files, the
 * big-endian sh_link comparison, the UNDEFINED marker, several dynamic
 * segments, a dynamic array without DT_NULL), every truncation and random
 * damage (never an error, never a crash), and the caps (symbols per table,
 * bytes of names per file) that keep hostile files cheap.
 */
#include <stdint.h>
#include <stdio.h>

#include "engine/modules/module.h"
#include "formats/elf.h"
#include "harness.h"
#include "unit/formats/elf_build.h"

extern const kh_ymodule kh_ymod_elf;

static kh_yarena *arena;
static kh_yobj root;

static int load(const uint8_t *data, size_t len)
{
    kh_yarena_destroy(arena);
    arena = kh_yarena_create();
    memset(&root, 0, sizeof(root));
    if (kh_yobj_init_struct(&root, kh_ymod_elf.decl.members, arena) < 0)
        return -1;
    return kh_ymod_elf.load(&root, data, len, arena);
}

/* The integer at a path, or INT64_MIN + 1 if undefined or absent. */
#define UNDEF (INT64_MIN + 1)
static int64_t geti(const char *path)
{
    const kh_yobj *o = kh_yget(&root, "%s", path);
    return o && o->defined && o->type == KH_YT_INT ? o->v.i : UNDEF;
}

/* The string at a path, or "(undefined)". */
static const char *gets_(const char *path)
{
    static char buf[256];
    const kh_yobj *o = kh_yget(&root, "%s", path);
    if (!o || !o->defined || o->type != KH_YT_STR)
        return "(undefined)";
    snprintf(buf, sizeof(buf), "%.*s", (int)o->v.s.n, (const char *)o->v.s.p);
    return buf;
}

static const int variants[4][2] = {{32, 0}, {32, 1}, {64, 0}, {64, 1}};

static void check_image(const kb_image *k, uint16_t type)
{
    KT_EQ_INT(load(k->data, k->len), 0);
    KT_EQ_INT(geti("type"), type);
    KT_EQ_INT(geti("machine"), k->bits == 64 ? 62 : 3);
    KT_EQ_INT(geti("entry_point"), k->text_off + 4);
    KT_EQ_INT(geti("number_of_sections"), KB_NSECT);
    KT_EQ_INT(geti("sh_offset"), k->shoff);
    KT_EQ_INT(geti("sh_entry_size"), k->shdr_size);
    KT_EQ_INT(geti("number_of_segments"), 3);
    KT_EQ_INT(geti("ph_offset"), k->phoff);
    KT_EQ_INT(geti("ph_entry_size"), k->phdr_size);

    KT_EQ_STR(gets_("sections[0].name"), "");
    KT_EQ_INT(geti("sections[0].type"), 0);
    KT_EQ_STR(gets_("sections[1].name"), ".text");
    KT_EQ_INT(geti("sections[1].type"), 1);
    KT_EQ_INT(geti("sections[1].flags"), 6);
    KT_EQ_INT(geti("sections[1].address"), KB_BASE + k->text_off);
    KT_EQ_INT(geti("sections[1].size"), 16);
    KT_EQ_INT(geti("sections[1].offset"), k->text_off);
    KT_EQ_STR(gets_("sections[5].name"), ".symtab");
    KT_EQ_INT(geti("sections[5].type"), 2);
    KT_EQ_STR(gets_("sections[8].name"), ".bss");
    KT_EQ_INT(geti("sections[8].type"), 8);
    KT_EQ_INT(geti("sections[8].offset"), k->len);
    KT_EQ_INT(geti("sections[8].size"), 0x100);
    KT_CHECK(kh_yget(&root, "sections[9]") == NULL); /* the spare header is past e_shnum */

    KT_EQ_INT(geti("segments[0].type"), 1);
    KT_EQ_INT(geti("segments[0].flags"), 5);
    KT_EQ_INT(geti("segments[0].offset"), 0);
    KT_EQ_INT(geti("segments[0].virtual_address"), KB_BASE);
    KT_EQ_INT(geti("segments[0].physical_address"), KB_BASE);
    KT_EQ_INT(geti("segments[0].file_size"), k->len);
    KT_EQ_INT(geti("segments[0].memory_size"), k->len);
    KT_EQ_INT(geti("segments[0].alignment"), 0x1000);
    KT_EQ_INT(geti("segments[1].type"), 2);
    KT_EQ_INT(geti("segments[1].offset"), k->dyn_off);
    KT_EQ_INT(geti("segments[2].type"), 0x6474e551);

    KT_EQ_INT(geti("dynamic_section_entries"), 4);
    KT_EQ_INT(geti("dynamic[0].type"), 1);
    KT_EQ_INT(geti("dynamic[0].val"), 1);
    KT_EQ_INT(geti("dynamic[1].val"), 11);
    KT_EQ_INT(geti("dynamic[2].type"), 10);
    KT_EQ_INT(geti("dynamic[2].val"), 26);
    KT_EQ_INT(geti("dynamic[3].type"), 0);

    KT_EQ_INT(geti("symtab_entries"), 3);
    KT_EQ_STR(gets_("symtab[0].name"), "");
    KT_EQ_STR(gets_("symtab[1].name"), "main");
    KT_EQ_INT(geti("symtab[1].bind"), 1);
    KT_EQ_INT(geti("symtab[1].type"), 2);
    KT_EQ_INT(geti("symtab[1].shndx"), 1);
    KT_EQ_INT(geti("symtab[1].value"), KB_BASE + k->text_off + 4);
    KT_EQ_INT(geti("symtab[1].size"), 12);
    KT_EQ_STR(gets_("symtab[2].name"), "helper");
    KT_EQ_INT(geti("symtab[2].bind"), 0);
    KT_EQ_INT(geti("dynsym_entries"), 2);
    KT_EQ_STR(gets_("dynsym[1].name"), "puts");
    KT_EQ_INT(geti("dynsym[1].shndx"), 0);
}

KT_TEST(test_engine_modules_elf__images)
{
    for (int v = 0; v < 4; v++)
        for (uint16_t type = KH_ET_EXEC; type <= KH_ET_DYN; type++) {
            kb_image k;
            KT_EQ_INT(kb_build(&k, variants[v][0], variants[v][1], type), 0);
            check_image(&k, type);
            free(k.data);
        }
}

KT_TEST(test_engine_modules_elf__constants_and_not_elf)
{
    static const uint8_t junk[] = "MZ this is not an ELF file at all, but long enough to be one......";
    KT_EQ_INT(load(junk, sizeof(junk)), 0);
    KT_EQ_INT(geti("type"), UNDEF);
    KT_EQ_INT(geti("number_of_sections"), UNDEF);
    KT_EQ_INT(geti("symtab_entries"), UNDEF);
    /* yara defines the constants for every file. */
    KT_EQ_INT(geti("ET_EXEC"), 2);
    KT_EQ_INT(geti("ET_CORE"), 4);
    KT_EQ_INT(geti("EM_860"), 7);
    KT_EQ_INT(geti("EM_MIPS_RS3_LE"), 10);
    KT_EQ_INT(geti("EM_X86_64"), 62);
    KT_EQ_INT(geti("EM_AARCH64"), 183);
    KT_EQ_INT(geti("SHT_DYNSYM"), 11);
    KT_EQ_INT(geti("SHF_EXECINSTR"), 4);
    KT_EQ_INT(geti("PT_GNU_EH_FRAME"), 0x6474e550);
    KT_EQ_INT(geti("PT_GNU_STACK"), 0x6474e551);
    KT_EQ_INT(geti("DT_FLAGS"), 30);
    KT_EQ_INT(geti("DT_ENCODING"), 32);
    KT_EQ_INT(geti("STT_TLS"), 6);
    KT_EQ_INT(geti("STB_WEAK"), 2);
    KT_EQ_INT(geti("PF_R"), 4);
    KT_EQ_INT(load(NULL, 0), 0);
    KT_EQ_INT(geti("PF_X"), 1);
    KT_EQ_INT(geti("type"), UNDEF);
    /* Every declared member is either a constant that is now set, or undefined/empty. */
    for (const kh_ymember *m = kh_ymod_elf.decl.members; m->name; m++)
        if (m->name[0] >= 'A' && m->name[0] <= 'Z')
            KT_CHECK(geti(m->name) != UNDEF);
}

KT_TEST(test_engine_modules_elf__header_only)
{
    for (int v = 0; v < 4; v++) {
        kb_image k;
        size_t ehdr = variants[v][0] == 64 ? 64 : 52;
        KT_EQ_INT(kb_build(&k, variants[v][0], variants[v][1], KH_ET_EXEC), 0);
        /* yara needs more than the header itself. */
        KT_EQ_INT(load(k.data, ehdr), 0);
        KT_EQ_INT(geti("type"), UNDEF);
        KT_EQ_INT(load(k.data, ehdr + 1), 0);
        KT_EQ_INT(geti("type"), KH_ET_EXEC);
        KT_EQ_INT(geti("number_of_sections"), KB_NSECT);
        KT_EQ_INT(geti("entry_point"), UNDEF); /* program headers are not in the data */
        KT_CHECK(kh_yget(&root, "sections[0]") == NULL);
        KT_EQ_INT(geti("symtab_entries"), UNDEF);
        free(k.data);
    }
}

KT_TEST(test_engine_modules_elf__big_endian_link_quirk)
{
    /* .symtab's sh_link names the spare STRTAB header just past e_shnum.
     * yara compares sh_link with e_shnum as stored, unswapped: for a
     * big-endian file 9 becomes 0x0900, so the table is used; for a
     * little-endian one it is not. Checked against yara 4.2.3. */
    for (int v = 0; v < 4; v++) {
        kb_image k;
        KT_EQ_INT(kb_build(&k, variants[v][0], variants[v][1], KH_ET_EXEC), 0);
        kb_put(&k, kb_shdr_at(&k, 5, kb_link_field(&k)), KB_NSECT, 4);
        KT_EQ_INT(load(k.data, k.len), 0);
        if (k.be) {
            KT_EQ_INT(geti("symtab_entries"), 3);
            KT_EQ_STR(gets_("symtab[1].name"), "main");
        } else {
            KT_EQ_INT(geti("symtab_entries"), UNDEF);
        }
        KT_EQ_INT(geti("dynsym_entries"), 2);
        free(k.data);
    }
}

KT_TEST(test_engine_modules_elf__undefined_marker)
{
    /* yara cannot hold 0xFFFABADAFABADAFF in an integer: it reads as undefined. */
    kb_image k;
    KT_EQ_INT(kb_build(&k, 64, 0, KH_ET_EXEC), 0);
    kb_put(&k, kb_shdr_at(&k, 1, kb_addr_field(&k)), 0xFFFABADAFABADAFFull, 8);
    KT_EQ_INT(load(k.data, k.len), 0);
    KT_EQ_INT(geti("sections[1].address"), UNDEF);
    KT_EQ_INT(geti("sections[1].size"), 16);
    KT_EQ_INT(geti("sections[2].address"), KB_BASE + k.dynstr_off);
    free(k.data);
}

KT_TEST(test_engine_modules_elf__dynamic_segments)
{
    for (int v = 0; v < 4; v++) {
        kb_image k;
        KT_EQ_INT(kb_build(&k, variants[v][0], variants[v][1], KH_ET_EXEC), 0);
        /* A second PT_DYNAMIC starting at entry 1 rewrites dynamic[0..2]; entry 3 stays. */
        kb_phdr(&k, 2, KH_PT_DYNAMIC, 6, k.dyn_off + k.dyn_size, 3 * k.dyn_size);
        KT_EQ_INT(load(k.data, k.len), 0);
        KT_EQ_INT(geti("dynamic_section_entries"), 3);
        KT_EQ_INT(geti("dynamic[0].val"), 11);
        KT_EQ_INT(geti("dynamic[1].type"), 10);
        KT_EQ_INT(geti("dynamic[2].type"), 0);
        KT_EQ_INT(geti("dynamic[3].type"), 0);
        /* Without DT_NULL the array runs to the end of the data, whole entries only. */
        kb_phdr(&k, 2, KH_PT_DYNAMIC, 6, k.len - 3 * k.dyn_size - 1, 0);
        memset(k.data + k.len - 3 * k.dyn_size - 1, 0x41, 3 * k.dyn_size + 1);
        KT_EQ_INT(load(k.data, k.len), 0);
        KT_EQ_INT(geti("dynamic_section_entries"), 3);
        KT_EQ_INT(geti("dynamic[2].val"), k.bits == 64 ? 0x4141414141414141ll : 0x41414141ll);
        free(k.data);
    }
}

KT_TEST(test_engine_modules_elf__truncated_and_damaged)
{
    uint64_t x = 0x2545f4914f6cdd1dull;
    for (int v = 0; v < 4; v++) {
        kb_image k;
        KT_EQ_INT(kb_build(&k, variants[v][0], variants[v][1], v & 1 ? KH_ET_DYN : KH_ET_EXEC), 0);
        for (size_t len = 0; len <= k.len; len++) {
            uint8_t *cut = malloc(len ? len : 1);
            memcpy(cut, k.data, len);
            KT_EQ_INT(load(cut, len), 0);
            if (len < k.shoff + KB_NSECT * k.shdr_size)
                KT_CHECK(kh_yget(&root, "sections[0]") == NULL);
            else
                KT_EQ_STR(gets_("sections[1].name"), ".text");
            free(cut);
        }
        for (int it = 0; it < 500; it++) {
            uint8_t *d = malloc(k.len);
            memcpy(d, k.data, k.len);
            for (int f = 0; f < 1 + it % 6; f++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                d[(x >> 8) % (x & 1 ? 64 : k.len)] = (uint8_t)(x >> 40);
            }
            KT_EQ_INT(load(d, k.len), 0);
            free(d);
        }
        free(k.data);
    }
}

KT_TEST(test_engine_modules_elf__symbol_cap)
{
    /* A 32-bit symbol table of KH_ELF_MAX_SYMBOLS + 100 entries (all naming
     * the empty string): only the first KH_ELF_MAX_SYMBOLS are listed. */
    kb_image k;
    KT_EQ_INT(kb_build(&k, 32, 0, KH_ET_EXEC), 0);
    size_t n = KH_ELF_MAX_SYMBOLS + 100, off = k.len, len = k.len + n * 16;
    uint8_t *d = calloc(1, len);
    KT_CHECK(d != NULL);
    if (!d)
        return;
    memcpy(d, k.data, k.len);
    free(k.data);
    k.data = d;
    kb_put(&k, kb_shdr_at(&k, 5, 16), off, 4);
    kb_put(&k, kb_shdr_at(&k, 5, 20), n * 16, 4);
    KT_EQ_INT(load(d, len), 0);
    KT_EQ_INT(geti("symtab_entries"), KH_ELF_MAX_SYMBOLS);
    char path[64];
    snprintf(path, sizeof(path), "symtab[%u].name", KH_ELF_MAX_SYMBOLS - 1);
    KT_EQ_STR(gets_(path), "");
    snprintf(path, sizeof(path), "symtab[%u].name", KH_ELF_MAX_SYMBOLS);
    KT_EQ_STR(gets_(path), "(undefined)");
    free(d);
}

KT_TEST(test_engine_modules_elf__name_budget)
{
    /* 0xfe00 sections all named by a 65535-byte string: yara would copy 4 GB
     * of names; the module stops at its per-file budget (64 MiB), so about
     * the first thousand names are set and the rest stay undefined. */
    const unsigned nsec = 0xfe00;
    const size_t name_len = 65535, shoff = 4096 + name_len + 8, len = shoff + (size_t)nsec * 64;
    uint8_t *d = calloc(1, len);
    kb_image k;
    KT_CHECK(d != NULL);
    if (!d)
        return;
    memset(&k, 0, sizeof(k));
    k.data = d, k.len = len, k.bits = 64, k.shoff = shoff, k.shdr_size = 64;
    memcpy(d, "\x7f" "ELF\2\1\1", 7);
    kb_put(&k, 16, KH_ET_REL, 2);
    kb_put(&k, 40, shoff, 8);
    kb_put(&k, 58, 64, 2);
    kb_put(&k, 60, nsec, 2);
    kb_put(&k, 62, 0, 2); /* section 0 is the name table */
    memset(d + 4097, 'A', name_len); /* table at 4096: NUL, then the name, then NUL */
    for (unsigned i = 0; i < nsec; i++) {
        kb_put(&k, shoff + (size_t)i * 64, 1, 4); /* sh_name */
        kb_put(&k, shoff + (size_t)i * 64 + 4, KH_SHT_STRTAB, 4);
        kb_put(&k, shoff + (size_t)i * 64 + 24, 4096, 8); /* sh_offset */
    }
    KT_EQ_INT(load(d, len), 0);
    KT_EQ_INT(geti("number_of_sections"), nsec);
    const kh_yobj *first = kh_yget(&root, "sections[0].name");
    KT_CHECK(first && first->defined && first->v.s.n == name_len);
    KT_CHECK(kh_yget(&root, "sections[900].name") && kh_yget(&root, "sections[900].name")->defined);
    KT_EQ_STR(gets_("sections[2000].name"), "(undefined)");
    KT_EQ_INT(geti("sections[65000].type"), KH_SHT_STRTAB);
    free(d);
}

static void cleanup(void)
{
    kh_yarena_destroy(arena);
    arena = NULL;
}

KT_TEST(test_engine_modules_elf__cleanup) { cleanup(); }

KT_MAIN({
    KT_CASE(test_engine_modules_elf__images),
    KT_CASE(test_engine_modules_elf__constants_and_not_elf),
    KT_CASE(test_engine_modules_elf__header_only),
    KT_CASE(test_engine_modules_elf__big_endian_link_quirk),
    KT_CASE(test_engine_modules_elf__undefined_marker),
    KT_CASE(test_engine_modules_elf__dynamic_segments),
    KT_CASE(test_engine_modules_elf__truncated_and_damaged),
    KT_CASE(test_engine_modules_elf__symbol_cap),
    KT_CASE(test_engine_modules_elf__name_budget),
    KT_CASE(test_engine_modules_elf__cleanup),
})
