/* Khiên — tests/fuzz: libFuzzer target for the PE parser and the pe module.
 *
 * Each input is parsed by kh_pe_parse() and loaded by the pe module into a
 * fresh arena; then the functions that read the file again (imphash,
 * rva_to_offset, calculate_checksum) and the lookups over the loaded tree
 * (imports, exports, section_index) run on it. Built only with
 * -DKH_FUZZ=ON and clang (-fsanitize=fuzzer,address,undefined); seeds are
 * in corpus/pe/ (crafted files made by tests/unit/formats/pe_build.h).
 */
#include <stdint.h>
#include <string.h>

#include "engine/modules/module.h"
#include "formats/pe.h"

extern const kh_ymodule kh_ymod_pe;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static void call(const kh_yobj *self, const uint8_t *data, size_t len, kh_yarena *a, const char *fn,
                 const char *types, const kh_yval *args)
{
    const kh_yobj *f = kh_yobj_member(self, fn);
    if (!f || !f->decl || !f->decl->funcs)
        return;
    for (const kh_yfunc *k = f->decl->funcs; k->fn; k++)
        if (strcmp(k->args, types) == 0) {
            kh_ycall c = {self, data, len, a, NULL, NULL, NULL};
            kh_yval out;
            memset(&out, 0, sizeof(out));
            (void)k->fn(&c, args, &out);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    kh_pe *pe = NULL;
    if (kh_pe_parse(&pe, data, len) == 0) {
        char h[33];
        (void)kh_pe_imphash(pe, h);
        (void)kh_pe_rva_to_offset(pe, pe->entry_point_raw);
        (void)kh_pe_checksum(data, len);
        kh_pe_destroy(pe);
    }
    kh_yarena *a = kh_yarena_create();
    if (!a)
        return 0;
    kh_yobj root;
    memset(&root, 0, sizeof(root));
    root.decl = &kh_ymod_pe.decl;
    if (kh_yobj_init_struct(&root, kh_ymod_pe.decl.members, a) == 0 && kh_ymod_pe.load(&root, data, len, a) == 0) {
        kh_yval s[3] = {{KH_YT_STR, 1, {.i = 0}}, {KH_YT_STR, 1, {.i = 0}}, {KH_YT_INT, 1, {.i = 3}}};
        s[0].v.s.p = (const uint8_t *)"kernel32.dll", s[0].v.s.n = 12;
        s[1].v.s.p = (const uint8_t *)"ExitProcess", s[1].v.s.n = 11;
        call(&root, data, len, a, "imphash", "", s);
        call(&root, data, len, a, "imports", "ss", s);
        call(&root, data, len, a, "imports", "s", s);
        call(&root, data, len, a, "exports", "s", s + 1);
        call(&root, data, len, a, "section_index", "s", s + 1);
        call(&root, data, len, a, "calculate_checksum", "", s);
        call(&root, data, len, a, "exports", "i", s + 2);
        call(&root, data, len, a, "rva_to_offset", "i", s + 2);
        call(&root, data, len, a, "locale", "i", s + 2);
        const kh_yobj *rich = kh_yobj_member(&root, "rich_signature");
        call(rich, data, len, a, "version", "i", s + 2);
    }
    kh_yarena_destroy(a);
    return 0;
}
