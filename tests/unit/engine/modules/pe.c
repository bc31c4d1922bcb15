/* Tests of src/engine/modules/pe.c: the pe module loaded on crafted files
 * (tests/unit/formats/pe_build.h). Checks the fields a rule reads (constants,
 * headers, sections, import_details with yara 4.2.3's running function
 * index, export_details, resources, version_info, overlay, Rich header),
 * the function overloads as yara declares them (imports by name, ordinal,
 * dll, flags; exports by name and ordinal; exports_index; section_index by
 * name and address; is_dll; is_32bit/is_64bit; rva_to_offset;
 * calculate_checksum; rich_signature.version/toolid; imphash), that a file
 * which is not a PE leaves everything but the constants and is_pe
 * undefined, and that truncated files load without crashing. */
#include <stdint.h>
#include <stdio.h>

#include "engine/modules/module.h"
#include "harness.h"
#include "unit/formats/pe_build.h"

extern const kh_ymodule kh_ymod_pe;

typedef struct loaded {
    kh_yarena *a;
    kh_yobj root;
    uint8_t *data;
    size_t len;
} loaded;

static int load_bytes(loaded *l, uint8_t *data, size_t len)
{
    memset(l, 0, sizeof(*l));
    l->a = kh_yarena_create();
    l->data = data;
    l->len = len;
    l->root.decl = &kh_ymod_pe.decl;
    if (!l->a || kh_yobj_init_struct(&l->root, kh_ymod_pe.decl.members, l->a))
        return -1;
    return kh_ymod_pe.load(&l->root, data, len, l->a);
}

static int load_built(loaded *l, const pe_opts *o)
{
    size_t n;
    uint8_t *f = pe_build(o, &n);
    return f ? load_bytes(l, f, n) : -1;
}

static void unload(loaded *l)
{
    kh_yarena_destroy(l->a);
    free(l->data);
}

static int64_t geti(const loaded *l, const char *path)
{
    const kh_yobj *o = kh_yget(&l->root, "%s", path);
    return o && o->defined && o->type == KH_YT_INT ? o->v.i : -999;
}

static int undefined(const loaded *l, const char *path)
{
    const kh_yobj *o = kh_yget(&l->root, "%s", path);
    return !o || !o->defined;
}

static int streq(const loaded *l, const char *path, const char *want)
{
    const kh_yobj *o = kh_yget(&l->root, "%s", path);
    return o && o->defined && o->type == KH_YT_STR && o->v.s.n == strlen(want) && memcmp(o->v.s.p, want, o->v.s.n) == 0;
}

/* Calls function `fn` of object `self` (overload `types`); -999 when undefined. */
static int64_t call(const loaded *l, const kh_yobj *self, const char *fn, const char *types, const kh_yval *args,
                    kh_yval *out_str)
{
    const kh_yobj *f = kh_yobj_member(self, fn);
    if (!f || !f->decl || !f->decl->funcs)
        return -998;
    for (const kh_yfunc *k = f->decl->funcs; k->fn; k++)
        if (strcmp(k->args, types) == 0) {
            kh_ycall c = {self, l->data, l->len, l->a, NULL, NULL, NULL};
            kh_yval out;
            memset(&out, 0, sizeof(out));
            if (k->fn(&c, args, &out) || !out.defined)
                return -999;
            if (out_str)
                *out_str = out;
            return out.v.i;
        }
    return -997;
}

static kh_yval S(const char *s)
{
    kh_yval v = {KH_YT_STR, 1, {.i = 0}};
    v.v.s.p = (const uint8_t *)s;
    v.v.s.n = (uint32_t)strlen(s);
    return v;
}

static kh_yval I(int64_t i)
{
    kh_yval v = {KH_YT_INT, 1, {.i = i}};
    return v;
}

KT_TEST(test_engine_modules_pe__fields)
{
    loaded l;
    pe_opts o = {0, 0, 100, NULL, 0};
    KT_EQ_INT(load_built(&l, &o), 0);
    KT_EQ_INT(geti(&l, "MACHINE_I386"), 0x14c);
    KT_EQ_INT(geti(&l, "MACHINE_AMD64"), 0x8664);
    KT_EQ_INT(geti(&l, "DLL"), 0x2000);
    KT_EQ_INT(geti(&l, "EXECUTABLE_IMAGE"), 2);
    KT_EQ_INT(geti(&l, "SECTION_MEM_EXECUTE"), 0x20000000);
    KT_EQ_INT(geti(&l, "RESOURCE_TYPE_ICON"), 3);
    KT_EQ_INT(geti(&l, "SUBSYSTEM_NATIVE"), 1);
    KT_EQ_INT(geti(&l, "IMPORT_ANY"), -1);
    KT_EQ_INT(geti(&l, "is_pe"), 1);
    KT_EQ_INT(geti(&l, "machine"), 0x14c);
    KT_EQ_INT(geti(&l, "entry_point"), 0x410);
    KT_EQ_INT(geti(&l, "entry_point_raw"), 0x1010);
    KT_EQ_INT(geti(&l, "image_base"), 0x400000);
    KT_EQ_INT(geti(&l, "linker_version.major"), 14);
    KT_EQ_INT(geti(&l, "linker_version.minor"), 29);
    KT_EQ_INT(geti(&l, "subsystem"), 2);
    KT_EQ_INT(geti(&l, "characteristics"), 0x102);
    KT_EQ_INT(geti(&l, "number_of_sections"), 3);
    KT_CHECK(streq(&l, "sections[0].name", ".text"));
    KT_EQ_INT(geti(&l, "sections[1].raw_data_offset"), 0x600);
    KT_EQ_INT(geti(&l, "sections[2].virtual_address"), 0x3000);
    KT_EQ_INT(geti(&l, "data_directories[1].virtual_address"), 0x2000);
    KT_EQ_INT(geti(&l, "overlay.offset"), 0x1000);
    KT_EQ_INT(geti(&l, "overlay.size"), 100);
    KT_EQ_INT(geti(&l, "rich_signature.offset"), 0x40);
    KT_EQ_INT(geti(&l, "rich_signature.key"), 0x11223344);
    KT_EQ_INT(geti(&l, "number_of_imports"), 2);
    KT_EQ_INT(geti(&l, "number_of_imported_functions"), 4);
    KT_CHECK(streq(&l, "import_details[0].library_name", "KERNEL32.dll"));
    KT_CHECK(streq(&l, "import_details[0].functions[1].name", "ExitProcess"));
    /* yara 4.2.3: the function index runs on across dlls */
    KT_CHECK(streq(&l, "import_details[1].functions[2].name", "socket"));
    KT_EQ_INT(geti(&l, "import_details[1].functions[2].ordinal"), 23);
    KT_EQ_INT(geti(&l, "import_details[1].number_of_functions"), 4);
    KT_CHECK(undefined(&l, "import_details[1].functions[0].name"));
    KT_EQ_INT(geti(&l, "number_of_exports"), 3);
    KT_CHECK(streq(&l, "dll_name", "test.dll"));
    KT_CHECK(streq(&l, "export_details[1].name", "FuncB"));
    KT_EQ_INT(geti(&l, "export_details[1].ordinal"), 2);
    KT_CHECK(streq(&l, "export_details[2].forward_name", "other.Func"));
    KT_CHECK(undefined(&l, "export_details[2].offset"));
    KT_EQ_INT(geti(&l, "number_of_resources"), 2);
    KT_EQ_INT(geti(&l, "resources[1].type"), 16);
    KT_EQ_INT(geti(&l, "resources[1].language"), 0x409);
    KT_CHECK(undefined(&l, "resources[0].id")); /* named: name_string instead */
    KT_EQ_INT(geti(&l, "resources[0].offset"), 0xf00);
    KT_CHECK(streq(&l, "version_info[CompanyName]", "Khien"));
    KT_CHECK(streq(&l, "version_info[ProductName]", "Shield"));
    KT_CHECK(streq(&l, "version_info_list[1].key", "ProductName"));
    KT_EQ_INT(geti(&l, "number_of_version_infos"), 2);
    KT_EQ_INT(geti(&l, "number_of_signatures"), 0);
    KT_CHECK(undefined(&l, "base_of_data") == 0);
    KT_CHECK(undefined(&l, "pdb_path"));
    KT_CHECK(undefined(&l, "delay_import_details[0].library_name"));
    unload(&l);
}

KT_TEST(test_engine_modules_pe__functions)
{
    loaded l;
    pe_opts o = {0, 1, 0, NULL, 0};
    KT_EQ_INT(load_built(&l, &o), 0);
    const kh_yobj *r = &l.root;
    kh_yval a[3];
    a[0] = S("kernel32.DLL"), a[1] = S("createfilea");
    KT_EQ_INT(call(&l, r, "imports", "ss", a, NULL), 1);
    a[1] = S("CreateFileW");
    KT_EQ_INT(call(&l, r, "imports", "ss", a, NULL), 0);
    KT_EQ_INT(call(&l, r, "imports", "s", a, NULL), 2);
    a[0] = S("ws2_32.dll"), a[1] = I(115);
    KT_EQ_INT(call(&l, r, "imports", "si", a, NULL), 1);
    a[1] = I(116);
    KT_EQ_INT(call(&l, r, "imports", "si", a, NULL), 0);
    a[0] = S("ws2_32.dll"), a[1] = S("WSAStartup");
    KT_EQ_INT(call(&l, r, "imports", "ss", a, NULL), 1);
    a[0] = I(1), a[1] = S("KERNEL32.dll"), a[2] = S("ExitProcess");
    KT_EQ_INT(call(&l, r, "imports", "iss", a, NULL), 1);
    a[0] = I(2); /* delay-load imports only: there are none */
    KT_EQ_INT(call(&l, r, "imports", "iss", a, NULL), 0);
    a[0] = I(3), a[1] = S("ws2_32.dll"), a[2] = I(23);
    KT_EQ_INT(call(&l, r, "imports", "isi", a, NULL), 1);
    a[0] = I(3), a[1] = S("ws2_32.dll");
    KT_EQ_INT(call(&l, r, "imports", "is", a, NULL), 2);
    a[0] = S("funca");
    KT_EQ_INT(call(&l, r, "exports", "s", a, NULL), 1);
    KT_EQ_INT(call(&l, r, "exports_index", "s", a, NULL), 0);
    a[0] = S("Nope");
    KT_EQ_INT(call(&l, r, "exports", "s", a, NULL), 0);
    KT_EQ_INT(call(&l, r, "exports_index", "s", a, NULL), -999);
    a[0] = I(3);
    KT_EQ_INT(call(&l, r, "exports", "i", a, NULL), 1);
    KT_EQ_INT(call(&l, r, "exports_index", "i", a, NULL), 2);
    a[0] = I(4);
    KT_EQ_INT(call(&l, r, "exports", "i", a, NULL), 0);
    a[0] = S(".rdata");
    KT_EQ_INT(call(&l, r, "section_index", "s", a, NULL), 1);
    a[0] = S(".bss");
    KT_EQ_INT(call(&l, r, "section_index", "s", a, NULL), -999);
    a[0] = I(0xc10);
    KT_EQ_INT(call(&l, r, "section_index", "i", a, NULL), 2);
    KT_EQ_INT(call(&l, r, "is_dll", "", a, NULL), 0x2000);
    KT_EQ_INT(call(&l, r, "is_32bit", "", a, NULL), 1);
    KT_EQ_INT(call(&l, r, "is_64bit", "", a, NULL), 0);
    a[0] = I(0x2010);
    KT_EQ_INT(call(&l, r, "rva_to_offset", "i", a, NULL), 0x610);
    a[0] = I(0x7fff0000);
    KT_EQ_INT(call(&l, r, "rva_to_offset", "i", a, NULL), -999);
    a[0] = I(0x409);
    KT_EQ_INT(call(&l, r, "locale", "i", a, NULL), 1);
    a[0] = I(0x09);
    KT_EQ_INT(call(&l, r, "language", "i", a, NULL), 1);
    a[0] = I(0x419);
    KT_EQ_INT(call(&l, r, "locale", "i", a, NULL), 0);
    KT_CHECK(call(&l, r, "calculate_checksum", "", a, NULL) > 0);
    kh_yval s;
    KT_CHECK(call(&l, r, "imphash", "", a, &s) != -999 && s.type == KH_YT_STR && s.v.s.n == 32);
    const kh_yobj *rich = kh_yobj_member(r, "rich_signature");
    a[0] = I(5);
    KT_EQ_INT(call(&l, rich, "version", "i", a, NULL), 3);
    a[0] = I(2);
    KT_EQ_INT(call(&l, rich, "toolid", "i", a, NULL), 7);
    a[0] = I(2), a[1] = I(6);
    KT_EQ_INT(call(&l, rich, "toolid", "ii", a, NULL), 7);
    a[0] = I(6), a[1] = I(1);
    KT_EQ_INT(call(&l, rich, "version", "ii", a, NULL), 0);
    unload(&l);
}

KT_TEST(test_engine_modules_pe__pe64)
{
    loaded l;
    pe_opts o = {1, 0, 0, NULL, 0};
    KT_EQ_INT(load_built(&l, &o), 0);
    kh_yval a[1];
    KT_EQ_INT(geti(&l, "opthdr_magic"), 0x20b);
    KT_EQ_INT(geti(&l, "image_base"), 0x140000000ll);
    KT_CHECK(undefined(&l, "base_of_data"));
    KT_EQ_INT(call(&l, &l.root, "is_64bit", "", a, NULL), 1);
    KT_EQ_INT(call(&l, &l.root, "is_32bit", "", a, NULL), 0);
    unload(&l);
}

KT_TEST(test_engine_modules_pe__not_pe)
{
    loaded l;
    uint8_t *d = calloc(1, 512);
    memcpy(d, "\x7f" "ELF", 4);
    KT_EQ_INT(load_bytes(&l, d, 512), 0);
    KT_EQ_INT(geti(&l, "is_pe"), 0);
    KT_EQ_INT(geti(&l, "MACHINE_I386"), 0x14c);
    KT_CHECK(undefined(&l, "machine"));
    KT_CHECK(undefined(&l, "entry_point"));
    KT_CHECK(undefined(&l, "number_of_signatures"));
    KT_CHECK(undefined(&l, "number_of_sections"));
    kh_yval a[2] = {S("kernel32.dll"), S("CreateFileA")};
    KT_EQ_INT(call(&l, &l.root, "imports", "ss", a, NULL), -999);
    KT_EQ_INT(call(&l, &l.root, "exports", "s", a, NULL), -999);
    KT_EQ_INT(call(&l, &l.root, "imphash", "", a, NULL), -999);
    KT_EQ_INT(call(&l, &l.root, "is_dll", "", a, NULL), -999);
    KT_EQ_INT(call(&l, &l.root, "calculate_checksum", "", a, NULL), -999);
    unload(&l);
}

KT_TEST(test_engine_modules_pe__truncated)
{
    pe_opts o = {0, 0, 8, NULL, 0};
    size_t n;
    uint8_t *f = pe_build(&o, &n);
    for (size_t cut = 0; f && cut <= n; cut += 3) {
        loaded l;
        uint8_t *g = malloc(cut ? cut : 1);
        memcpy(g, f, cut);
        KT_EQ_INT(load_bytes(&l, g, cut), 0);
        kh_yval a[2] = {S("KERNEL32.dll"), S("ExitProcess")};
        int64_t v = call(&l, &l.root, "imports", "ss", a, NULL);
        KT_CHECK(v == 0 || v == 1 || v == -999);
        (void)call(&l, &l.root, "imphash", "", a, NULL);
        unload(&l);
    }
    free(f);
}

KT_MAIN({
    KT_CASE(test_engine_modules_pe__fields),
    KT_CASE(test_engine_modules_pe__functions),
    KT_CASE(test_engine_modules_pe__pe64),
    KT_CASE(test_engine_modules_pe__not_pe),
    KT_CASE(test_engine_modules_pe__truncated),
})
