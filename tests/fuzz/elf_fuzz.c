/* Khiên — tests/fuzz: libFuzzer target for the ELF reader and the elf module.
 *
 * Each input is decoded by kh_elf_parse() and every reader of formats/elf.h
 * runs over it (sections and their names, both symbol tables with names,
 * program headers, dynamic entries, the entry point); then the elf module
 * loads it into a fresh arena and a few fields are read back. Invariants
 * checked beyond "no crash, no leak, no undefined behaviour": the module
 * never fails on well-formed memory (only KH_ENOMEM may come back), and the
 * *_entries counts never exceed the caps. Built only with -DKH_FUZZ=ON and
 * clang (tests/fuzz/CMakeLists.txt); seeds are in corpus/elf/ (images made
 * by tests/unit/formats/elf_build.h and small objects compiled here).
 *   build/tests/elf_fuzz -max_total_time=300 -artifact_prefix=/tmp/ /tmp/elf_corpus tests/fuzz/corpus/elf
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/modules/module.h"
#include "formats/elf.h"
#include "khien/error.h"

extern const kh_ymodule kh_ymod_elf;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

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
            break;
        if (have_names && kh_elf_string(e, names.offset, e->len, s.name, 256, &p, &n) == 0)
            h += n ? p[n - 1] : 0;
        if (kh_elf_symtab_of(e, &s, &t) == 0)
            h += t.count;
    }
    for (uint32_t type = KH_SHT_SYMTAB; type <= KH_SHT_DYNSYM; type += KH_SHT_DYNSYM - KH_SHT_SYMTAB) {
        kh_elf_symtab t;
        if (kh_elf_find_symtab(e, type, e->shnum, &t) < 0)
            continue;
        for (uint64_t j = 0; j < t.count && j < 1024; j++) {
            kh_elf_sym s;
            if (kh_elf_symbol(e, &t, j, &s) < 0)
                abort(); /* find_symtab checked the whole table */
            if (kh_elf_string(e, t.stroff, t.stroff + t.strsize, s.name, 256, &p, &n) == 0)
                h += n ? p[0] : 1;
        }
    }
    for (uint32_t i = 0; i < e->phnum; i++) {
        kh_elf_phdr ph;
        if (kh_elf_segment(e, i, &ph) < 0)
            break;
        if (ph.type == KH_PT_DYNAMIC)
            for (uint64_t j = 0; j < 256; j++) {
                kh_elf_dyn d;
                if (kh_elf_dyn_at(e, ph.offset, j, &d) < 0 || d.tag == 0)
                    break;
                h += d.val;
            }
    }
    if (kh_elf_entry_offset(e, &off) == 0)
        h += off;
    return h;
}

static void check_count(const kh_yobj *root, const char *name, uint64_t cap)
{
    const kh_yobj *o = kh_yobj_member(root, name);
    if (o && o->defined && (o->v.i < 0 || (uint64_t)o->v.i > cap))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    kh_elf e;
    volatile uint64_t sink = 0;
    if (kh_elf_parse(&e, data, len) == 0) {
        if (kh_elf_sections_ok(&e) && !kh_elf_range_ok(&e, e.shoff, (uint64_t)e.shnum * e.shdr_size))
            abort();
        sink += walk(&e);
    }
    kh_yarena *a = kh_yarena_create();
    if (!a)
        return 0;
    kh_yobj root;
    memset(&root, 0, sizeof(root));
    root.decl = &kh_ymod_elf.decl;
    if (kh_yobj_init_struct(&root, kh_ymod_elf.decl.members, a) == 0) {
        int rc = kh_ymod_elf.load(&root, data, len, a);
        if (rc < 0 && rc != KH_ENOMEM)
            abort();
        check_count(&root, "symtab_entries", KH_ELF_MAX_SYMBOLS);
        check_count(&root, "dynsym_entries", KH_ELF_MAX_SYMBOLS);
        check_count(&root, "dynamic_section_entries", KH_ELF_MAX_DYN);
        const kh_yobj *name = kh_yget(&root, "sections[1].name");
        if (name && name->defined && name->v.s.n > KH_ELF_MAX_NAME)
            abort();
    }
    kh_yarena_destroy(a);
    (void)sink;
    return 0;
}
