/* Khiên — tests/compat: print what our `elf` module sees in a file, the way
 * a yara rule made of console.log calls prints what yara sees.
 *
 *   elf_dump --rule     prints that yara rule (built from the same tables)
 *   elf_dump FILE...    loads the elf module on each FILE and prints, for
 *                       every field that is defined, the line the rule's
 *                       console.log would print, then "elf_dump_rule FILE"
 *                       (the line yara prints for the match)
 *
 * tests/compat/elf_module.sh runs both and diffs the outputs. It builds
 * this file together with src/formats/elf.c and src/engine/modules/{elf,
 * object}.c, so it needs neither the library nor the rule evaluator; once
 * `khien yara` exists the same rule can go through it instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/modules/module.h"

extern const kh_ymodule kh_ymod_elf;

static const char *const scalars[] = {
    "type", "machine", "entry_point", "number_of_sections", "sh_offset", "sh_entry_size",
    "number_of_segments", "ph_offset", "ph_entry_size", "dynamic_section_entries",
    "symtab_entries", "dynsym_entries", NULL,
};

typedef struct array {
    const char *name, *count; /* the array and the field that gives its length */
    const char *fields[9];
} array;

static const array arrays[] = {
    {"sections", "number_of_sections", {"type", "flags", "address", "name", "size", "offset", NULL}},
    {"segments", "number_of_segments",
     {"type", "flags", "offset", "virtual_address", "physical_address", "file_size", "memory_size",
      "alignment", NULL}},
    {"dynamic", "dynamic_section_entries", {"type", "val", NULL}},
    {"symtab", "symtab_entries", {"name", "value", "size", "type", "bind", "shndx", NULL}},
    {"dynsym", "dynsym_entries", {"name", "value", "size", "type", "bind", "shndx", NULL}},
};

static int is_const(const char *n)
{
    return n[0] >= 'A' && n[0] <= 'Z';
}

static void print_rule(void)
{
    const kh_ymember *m = kh_ymod_elf.decl.members;
    printf("import \"elf\"\nimport \"console\"\nrule elf_dump_rule { condition:\n");
    for (; m->name; m++)
        if (is_const(m->name))
            printf("  (console.log(\"%s=\", elf.%s) or true) and\n", m->name, m->name);
    for (int i = 0; scalars[i]; i++)
        printf("  (console.log(\"%s=\", elf.%s) or true) and\n", scalars[i], scalars[i]);
    for (size_t a = 0; a < sizeof(arrays) / sizeof(arrays[0]); a++) {
        const array *A = &arrays[a];
        printf("  (for all i in (0..elf.%s - 1): ((console.log(\"%s.i=\", i) or true)", A->count, A->name);
        for (int f = 0; A->fields[f]; f++)
            printf(" and\n     (console.log(\"%s.%s=\", elf.%s[i].%s) or true)", A->name, A->fields[f], A->name,
                   A->fields[f]);
        printf(") or true)%s\n", a + 1 < sizeof(arrays) / sizeof(arrays[0]) ? " and" : "");
    }
    printf("}\n");
}

/* console.log(string, string): the message, then the string with every byte
 * outside 0x20-0x7e written as \xNN. */
static void print_str(const char *prefix, const kh_yobj *o)
{
    printf("%s", prefix);
    for (uint32_t i = 0; i < o->v.s.n; i++) {
        uint8_t c = o->v.s.p[i];
        if (c >= 0x20 && c < 0x7f)
            putchar(c);
        else
            printf("\\x%02x", c);
    }
    putchar('\n');
}

static void print_val(const char *prefix, const kh_yobj *o)
{
    if (!o || !o->defined)
        return;
    if (o->type == KH_YT_STR)
        print_str(prefix, o);
    else
        printf("%s%lld\n", prefix, (long long)o->v.i);
}

static int dump(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *data = malloc(cap);
    for (size_t k; data && (k = fread(data + n, 1, cap - n, f)) > 0;) {
        n += k;
        if (n == cap)
            data = realloc(data, cap *= 2);
    }
    fclose(f);
    kh_yarena *a = kh_yarena_create();
    kh_yobj root;
    memset(&root, 0, sizeof(root));
    if (!data || !a || kh_yobj_init_struct(&root, kh_ymod_elf.decl.members, a) < 0 ||
        kh_ymod_elf.load(&root, data, n, a) < 0) {
        fprintf(stderr, "%s: load failed\n", path);
        return 1;
    }
    char prefix[128];
    for (const kh_ymember *m = kh_ymod_elf.decl.members; m->name; m++)
        if (is_const(m->name)) {
            snprintf(prefix, sizeof(prefix), "%s=", m->name);
            print_val(prefix, kh_yobj_member(&root, m->name));
        }
    for (int i = 0; scalars[i]; i++) {
        snprintf(prefix, sizeof(prefix), "%s=", scalars[i]);
        print_val(prefix, kh_yobj_member(&root, scalars[i]));
    }
    for (size_t k = 0; k < sizeof(arrays) / sizeof(arrays[0]); k++) {
        const array *A = &arrays[k];
        const kh_yobj *cnt = kh_yobj_member(&root, A->count);
        if (!cnt || !cnt->defined)
            continue;
        for (long long i = 0; i < cnt->v.i; i++) {
            printf("%s.i=%lld\n", A->name, i);
            for (int f = 0; A->fields[f]; f++) {
                snprintf(prefix, sizeof(prefix), "%s.%s=", A->name, A->fields[f]);
                print_val(prefix, kh_yget(&root, "%s[%lld].%s", A->name, i, A->fields[f]));
            }
        }
    }
    printf("elf_dump_rule %s\n", path);
    kh_yarena_destroy(a);
    free(data);
    return 0;
}

int main(int argc, char **argv)
{
    int rc = 0;
    if (argc == 2 && strcmp(argv[1], "--rule") == 0) {
        print_rule();
        return 0;
    }
    if (argc < 2) {
        fprintf(stderr, "usage: elf_dump --rule | elf_dump FILE...\n");
        return 64;
    }
    for (int i = 1; i < argc; i++)
        rc |= dump(argv[i]);
    return rc;
}
