/* Khiên — tests/compat: print what our `pe` module sees in a file, in the
 * shape yara 4.2.3 shows it, for a differential check against yara.
 *
 *   pe_dump FILE          every defined field of the module tree as one
 *                         "path = value" line (strings quoted, bytes that
 *                         are not printable as \xHH, as `yara -D` prints),
 *                         then "@ key=value" lines for function calls
 *   pe_dump --rule FILE   a yara rule set making the same function calls
 *                         with console.log("key=", call), one rule each
 *
 * tests/compat/pe_module.sh flattens `yara -D` output to the same lines,
 * runs the --rule set through yara, and diffs. The calls use arguments
 * taken from the file itself (its import, export and section names), so a
 * wrong name on our side shows up as a different answer from yara. It is
 * built from src/formats/pe.c, authenticode.c, src/engine/modules/{pe,
 * object}.c and src/util/util.c, so it needs neither the library nor the
 * rule evaluator.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/modules/module.h"

extern const kh_ymodule kh_ymod_pe;

static void put_str(const uint8_t *p, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f)
            putchar(p[i]);
        else
            printf("\\x%02x", p[i]);
    }
    putchar('"');
}

static void dump(const kh_yobj *o, char *path, size_t plen)
{
    switch (o->type) {
    case KH_YT_INT:
        if (o->defined)
            printf("%s = %lld\n", path, (long long)o->v.i);
        return;
    case KH_YT_STR:
        if (o->defined) {
            printf("%s = ", path);
            put_str(o->v.s.p, o->v.s.n);
            putchar('\n');
        }
        return;
    case KH_YT_STRUCT:
        for (uint32_t i = 0; i < o->nitems; i++) {
            const kh_yobj *m = &o->items[i];
            if (!m->decl || m->decl->name[0] == '\001' || m->type == KH_YT_FUNC)
                continue;
            int k = snprintf(path + plen, 1024 - plen, "%s%s", plen ? "." : "", m->decl->name);
            dump(m, path, plen + (size_t)k);
            path[plen] = 0;
        }
        return;
    case KH_YT_ARRAY:
    case KH_YT_DICT:
        for (uint32_t i = 0; i < o->nitems; i++) {
            int k = o->type == KH_YT_ARRAY ? snprintf(path + plen, 1024 - plen, "[%u]", i)
                                           : snprintf(path + plen, 1024 - plen, "[%s]", o->keys[i]);
            dump(&o->items[i], path, plen + (size_t)k);
            path[plen] = 0;
        }
        return;
    default: return;
    }
}

/* ---- Function calls ------------------------------------------------------------------------ */

typedef struct call {
    const char *fn;    /* member name, or "rich.version" style for nested */
    const char *types; /* overload */
    kh_yval args[3];
} call;

static kh_yval ival(int64_t v)
{
    kh_yval x = {KH_YT_INT, 1, {.i = v}};
    return x;
}
static kh_yval sval(const uint8_t *p, size_t n)
{
    kh_yval x = {KH_YT_STR, 1, {.i = 0}};
    x.v.s.p = p;
    x.v.s.n = (uint32_t)n;
    return x;
}

static const kh_yobj *member(const kh_yobj *o, const char *name) { return kh_yobj_member(o, name); }

static int run(const kh_yobj *self, const uint8_t *data, size_t len, kh_yarena *a, const char *fn, const char *types,
               const kh_yval *args, kh_yval *out)
{
    const kh_yobj *f = member(self, fn);
    if (!f || !f->decl || !f->decl->funcs)
        return 0;
    for (const kh_yfunc *k = f->decl->funcs; k->fn; k++)
        if (strcmp(k->args, types) == 0) {
            kh_ycall c = {self, data, len, a, NULL, NULL, NULL};
            memset(out, 0, sizeof(*out));
            return k->fn(&c, args, out) == 0 && out->defined;
        }
    return 0;
}

/* The yara expression of a call, for the --rule output. */
static void expr(const char *prefix, const char *fn, const char *types, const kh_yval *args)
{
    printf("%s%s(", prefix, fn);
    for (size_t i = 0; types[i]; i++) {
        if (i)
            printf(", ");
        if (types[i] == 'i')
            printf("%lld", (long long)args[i].v.i);
        else
            put_str(args[i].v.s.p, args[i].v.s.n);
    }
    printf(")");
}

static int nrule;

static void emit(int rule_mode, const kh_yobj *self, const char *prefix, const uint8_t *data, size_t len,
                 kh_yarena *a, const char *fn, const char *types, const kh_yval *args)
{
    char key[512];
    int k = snprintf(key, sizeof(key), "%s%s(", prefix, fn);
    for (size_t i = 0; types[i] && k < 400; i++) {
        if (types[i] == 'i')
            k += snprintf(key + k, sizeof(key) - (size_t)k, "%s%lld", i ? "," : "", (long long)args[i].v.i);
        else
            k += snprintf(key + k, sizeof(key) - (size_t)k, "%s%.*s", i ? "," : "", (int)KH_MIN(args[i].v.s.n, 64u),
                          (const char *)args[i].v.s.p);
    }
    snprintf(key + k, sizeof(key) - (size_t)k, ")");
    for (char *q = key; *q; q++)
        if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f || *q == '"' || *q == '\\')
            *q = '?';
    if (rule_mode) {
        printf("rule c%d { condition: console.log(\"@ %s=\", ", nrule++, key);
        expr(prefix, fn, types, args);
        printf(") }\n");
        return;
    }
    kh_yval out;
    if (!run(self, data, len, a, fn, types, args, &out))
        return;
    if (out.type == KH_YT_STR)
        printf("@ %s=%.*s\n", key, (int)out.v.s.n, (const char *)out.v.s.p);
    else
        printf("@ %s=%lld\n", key, (long long)out.v.i);
}

static int64_t geti(const kh_yobj *o, const char *path)
{
    const kh_yobj *x = kh_yget(o, "%s", path);
    return x && x->defined && x->type == KH_YT_INT ? x->v.i : -1;
}

static void calls(int rule_mode, const kh_yobj *root, const uint8_t *data, size_t len, kh_yarena *a)
{
    kh_yval v[3];
#define E(fn, types) emit(rule_mode, root, "pe.", data, len, a, fn, types, v)
    E("imphash", "");
    E("is_dll", "");
    E("is_32bit", "");
    E("is_64bit", "");
    E("calculate_checksum", "");
    int64_t ep = geti(root, "entry_point_raw"), epo = geti(root, "entry_point");
    v[0] = ival(ep);
    E("rva_to_offset", "i");
    v[0] = ival(epo);
    E("section_index", "i");
    static const char *const snames[] = {".text", ".data", ".rsrc", "UPX0", "CODE"};
    for (size_t i = 0; i < KH_ARRAY_LEN(snames); i++) {
        v[0] = sval((const uint8_t *)snames[i], strlen(snames[i]));
        E("section_index", "s");
    }
    for (int l = 0; l < 3; l++) {
        static const int64_t loc[] = {0x409, 0x419, 0};
        v[0] = ival(loc[l]);
        E("locale", "i");
        v[0] = ival(loc[l] & 0xff);
        E("language", "i");
    }
    /* Imports: the first functions of the first dlls, by name and ordinal, and counts. */
    const kh_yobj *imp = member(root, "import_details");
    for (uint32_t d = 0; imp && d < imp->nitems && d < 4; d++) {
        const kh_yobj *dn = member(&imp->items[d], "library_name"), *fs = member(&imp->items[d], "functions");
        if (!dn || !dn->defined)
            continue;
        v[0] = sval(dn->v.s.p, dn->v.s.n);
        E("imports", "s");
        v[1] = v[0], v[0] = ival(3);
        E("imports", "is");
        v[0] = v[1];
        int shown = 0;
        for (uint32_t f = 0; fs && f < fs->nitems && shown < 4; f++) {
            const kh_yobj *fn = member(&fs->items[f], "name"), *fo = member(&fs->items[f], "ordinal");
            if (fn && fn->defined && fn->v.s.n < 100) {
                v[1] = sval(fn->v.s.p, fn->v.s.n);
                E("imports", "ss");
                shown++;
            }
            if (fo && fo->defined) {
                v[1] = ival(fo->v.i);
                E("imports", "si");
            }
        }
        v[1] = sval((const uint8_t *)"NoSuchFunction", 14);
        E("imports", "ss");
    }
    /* Exports: names, ordinals and indices of the first few. */
    const kh_yobj *exp = member(root, "export_details");
    for (uint32_t i = 0; exp && i < exp->nitems && i < 6; i++) {
        const kh_yobj *n = member(&exp->items[i], "name"), *o = member(&exp->items[i], "ordinal");
        if (n && n->defined && n->v.s.n < 100) {
            v[0] = sval(n->v.s.p, n->v.s.n);
            E("exports", "s");
            E("exports_index", "s");
        }
        if (o && o->defined) {
            v[0] = ival(o->v.i);
            E("exports", "i");
            E("exports_index", "i");
        }
    }
    v[0] = sval((const uint8_t *)"NoSuchExport", 12);
    E("exports", "s");
#undef E
    /* Rich header entries. */
    const kh_yobj *rs = member(root, "rich_signature"), *cd = rs ? member(rs, "clear_data") : NULL;
    for (uint32_t off = 16; cd && cd->defined && off + 8 <= cd->v.s.n && off < 16 + 8 * 4; off += 8) {
        uint32_t idv;
        memcpy(&idv, cd->v.s.p + off, 4);
        v[0] = ival(idv & 0xffff);
        emit(rule_mode, rs, "pe.rich_signature.", data, len, a, "version", "i", v);
        v[0] = ival(idv >> 16);
        emit(rule_mode, rs, "pe.rich_signature.", data, len, a, "toolid", "i", v);
        v[1] = ival(idv & 0xffff);
        emit(rule_mode, rs, "pe.rich_signature.", data, len, a, "toolid", "ii", v);
    }
    /* Signatures: valid_on at both ends of the validity. */
    const kh_yobj *sg = member(root, "signatures");
    for (uint32_t i = 0; sg && i < sg->nitems && i < 4; i++) {
        char prefix[64];
        snprintf(prefix, sizeof(prefix), "pe.signatures[%u].", i);
        int64_t nb = geti(&sg->items[i], "not_before");
        v[0] = ival(nb);
        emit(rule_mode, &sg->items[i], prefix, data, len, a, "valid_on", "i", v);
        v[0] = ival(nb - 1);
        emit(rule_mode, &sg->items[i], prefix, data, len, a, "valid_on", "i", v);
    }
}

int main(int argc, char **argv)
{
    int rule_mode = argc > 1 && strcmp(argv[1], "--rule") == 0;
    if (argc != 2 + rule_mode) {
        fprintf(stderr, "usage: pe_dump [--rule] FILE\n");
        return 2;
    }
    FILE *f = fopen(argv[1 + rule_mode], "rb");
    if (!f)
        return 2;
    size_t cap = 1 << 20, n = 0;
    uint8_t *data = malloc(cap);
    for (size_t r; data && (r = fread(data + n, 1, cap - n, f)) > 0;) {
        n += r;
        if (n == cap)
            data = realloc(data, cap *= 2);
    }
    fclose(f);
    if (!data)
        return 2;
    kh_yarena *a = kh_yarena_create();
    kh_yobj root;
    memset(&root, 0, sizeof(root));
    root.decl = &kh_ymod_pe.decl;
    if (!a || kh_yobj_init_struct(&root, kh_ymod_pe.decl.members, a) || kh_ymod_pe.load(&root, data, n, a)) {
        fprintf(stderr, "pe_dump: load failed\n");
        return 1;
    }
    if (rule_mode) {
        printf("import \"pe\"\nimport \"console\"\n");
    } else {
        char path[1024] = "";
        dump(&root, path, 0);
    }
    calls(rule_mode, &root, data, n, a);
    kh_yarena_destroy(a);
    free(data);
    return 0;
}
