/* Khiên — inventory: snapshots of a host, their JSON form, and their diff.
 *
 * A snapshot is deliberately shapeless: tables of rows of named text
 * fields, the way osquery sees a host. Collectors (collect_*.c) decide what
 * to read; this file only stores, orders, serialises and compares. That
 * keeps the diff generic: rows are matched by key within a table, a row
 * present on one side only is added or removed, and a row whose
 * non-volatile fields differ is changed, with the fields before and after.
 *
 * Determinism is the invariant everything here protects: rows are sorted
 * by key (ties broken by content), duplicate keys are made unique the same
 * way every time, values are normalised to valid UTF-8 when stored (an
 * invalid byte becomes the character of the same number, which is what a
 * JSON round trip would make of it), and the JSON writer emits members in
 * a fixed order. So a snapshot written, read back and compared with a fresh
 * collection of an unchanged host gives an empty diff.
 *
 * Not here: reading the host (collect_*.c), printing (the khien command).
 */
#include "inventory/inv_int.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KH_INV_JSON_LIMIT (512u << 20)

static const char *const category_names[KH_INV_NCATEGORIES] = {"hardware", "software", "account", "network",
                                                                "service"};

const char *kh_inv_category_name(kh_inv_category c)
{
    return (unsigned)c < KH_INV_NCATEGORIES ? category_names[c] : "unknown";
}

const char *kh_inv_change_name(kh_inv_change c)
{
    return c == KH_INV_ADDED ? "added" : c == KH_INV_REMOVED ? "removed" : c == KH_INV_CHANGED ? "changed" : "?";
}

static int category_from_name(const char *s, kh_inv_category *out)
{
    for (unsigned i = 0; i < KH_INV_NCATEGORIES; i++)
        if (strcmp(s, category_names[i]) == 0) {
            *out = (kh_inv_category)i;
            return 0;
        }
    return KH_EFORMAT;
}

/* ---- Object and builder ---------------------------------------------------- */

kh_inventory *kh_inv__new(void)
{
    return calloc(1, sizeof(kh_inventory));
}

static void row_free(kh_inv_row *r)
{
    kh_inv_field *f = (kh_inv_field *)r->fields;
    for (size_t i = 0; i < r->nfields; i++) {
        free((char *)f[i].name);
        free((char *)f[i].value);
    }
    free(f);
    free((char *)r->key);
}

void kh_inventory_destroy(kh_inventory *inv)
{
    if (!inv)
        return;
    for (size_t i = 0; i < inv->ntabs; i++) {
        kh_inv_row *rows = (kh_inv_row *)inv->tabs[i].t.rows;
        for (size_t j = 0; j < inv->tabs[i].t.nrows; j++)
            row_free(&rows[j]);
        free(rows);
        free((char *)inv->tabs[i].t.name);
    }
    for (size_t i = 0; i < inv->nwarnings; i++)
        free(inv->warnings[i]);
    free(inv->warnings);
    free(inv->tabs);
    free(inv->collected_at);
    free(inv->root);
    free(inv->generator);
    free(inv);
}

static void fail(kh_inventory *inv, int rc)
{
    if (!inv->err)
        inv->err = rc;
}

kh_inv_table *kh_inv__table(kh_inventory *inv, const char *name, kh_inv_category cat)
{
    if (inv->err)
        return NULL;
    for (size_t i = 0; i < inv->ntabs; i++)
        if (strcmp(inv->tabs[i].t.name, name) == 0)
            return &inv->tabs[i].t;
    int rc = kh_grow((void **)&inv->tabs, &inv->cap, inv->ntabs + 1, sizeof(*inv->tabs), 1000);
    char *n = rc ? NULL : kh_strdup(name);
    if (!n) {
        fail(inv, rc ? rc : KH_ENOMEM);
        return NULL;
    }
    kh_inv_tab *t = &inv->tabs[inv->ntabs++];
    memset(t, 0, sizeof(*t));
    t->t.name = n;
    t->t.category = cat;
    return &t->t;
}

static kh_inv_tab *tab_of(kh_inventory *inv, kh_inv_table *t)
{
    return (kh_inv_tab *)(void *)((char *)t - offsetof(kh_inv_tab, t));
}

kh_inv_row *kh_inv__row(kh_inventory *inv, kh_inv_table *t, const char *key)
{
    if (inv->err || !t)
        return NULL;
    kh_inv_tab *tab = tab_of(inv, t);
    kh_inv_row *rows = (kh_inv_row *)t->rows;
    int rc = kh_grow((void **)&rows, &tab->cap, t->nrows + 1, sizeof(*rows), KH_INV_MAX_ROWS);
    if (rc) {
        fail(inv, rc);
        return NULL;
    }
    t->rows = rows;
    kh_inv_row *r = &rows[t->nrows];
    memset(r, 0, sizeof(*r));
    /* keys go through the same normalisation as values */
    kh_inv_row tmp = {0};
    kh_inv__set(inv, &tmp, "", key ? key : "", 0);
    if (inv->err)
        return NULL;
    r->key = tmp.fields[0].value;
    free((char *)tmp.fields[0].name);
    free((void *)tmp.fields);
    t->nrows++;
    return r;
}

kh_inv_row *kh_inv__rowf(kh_inventory *inv, kh_inv_table *t, const char *fmt, ...)
{
    kh_buf b = KH_BUF_INIT(KH_INV_MAX_VALUE);
    va_list ap;
    va_start(ap, fmt);
    int rc = kh_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    kh_inv_row *r = NULL;
    if (rc)
        fail(inv, rc == KH_ELIMIT ? KH_ELIMIT : KH_ENOMEM);
    else
        r = kh_inv__row(inv, t, b.data);
    kh_buf_dispose(&b);
    return r;
}

/* Length of the valid UTF-8 sequence at p (1..4), 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned c = p[0], cp, min;
    size_t need;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0)
        need = 2, min = 0x80;
    else if ((c & 0xF0) == 0xE0)
        need = 3, min = 0x800;
    else if ((c & 0xF8) == 0xF0)
        need = 4, min = 0x10000;
    else
        return 0;
    if (n < need)
        return 0;
    cp = c & (0x7Fu >> need);
    for (size_t i = 1; i < need; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return need;
}

/* Copies [s, s+n) as valid UTF-8: an invalid byte B becomes U+00B. */
static char *utf8_clean(const char *s, size_t n)
{
    kh_buf b = KH_BUF_INIT(0);
    if (kh_buf_reserve(&b, n))
        return NULL;
    b.data[0] = 0;
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    int rc = 0;
    while (!rc && i < n) {
        size_t l = p[i] ? utf8_seq(p + i, n - i) : 0;
        if (p[i] == 0) {
            i++; /* a NUL cannot be stored in a C string: dropped */
        } else if (l) {
            rc = kh_buf_append(&b, p + i, l);
            i += l;
        } else {
            char e[2] = {(char)(0xC0 | p[i] >> 6), (char)(0x80 | (p[i] & 0x3F))};
            rc = kh_buf_append(&b, e, 2);
            i++;
        }
    }
    if (rc) {
        kh_buf_dispose(&b);
        return NULL;
    }
    return kh_buf_detach(&b, NULL);
}

void kh_inv__setn(kh_inventory *inv, kh_inv_row *r, const char *name, const char *value, size_t n, unsigned flags)
{
    if (inv->err || !r || !value)
        return;
    if (r->nfields >= KH_INV_MAX_FIELDS) {
        fail(inv, KH_ELIMIT);
        return;
    }
    if (n > KH_INV_MAX_VALUE)
        n = KH_INV_MAX_VALUE;
    kh_inv_field *f = realloc((void *)r->fields, (r->nfields + 1) * sizeof(*f));
    if (!f) {
        fail(inv, KH_ENOMEM);
        return;
    }
    r->fields = f;
    char *nm = kh_strdup(name), *v = utf8_clean(value, n);
    if (!nm || !v) {
        free(nm);
        free(v);
        fail(inv, KH_ENOMEM);
        return;
    }
    f[r->nfields].name = nm;
    f[r->nfields].value = v;
    f[r->nfields].flags = flags;
    r->nfields++;
}

void kh_inv__set(kh_inventory *inv, kh_inv_row *r, const char *name, const char *value, unsigned flags)
{
    if (value)
        kh_inv__setn(inv, r, name, value, strlen(value), flags);
}

void kh_inv__setf(kh_inventory *inv, kh_inv_row *r, const char *name, unsigned flags, const char *fmt, ...)
{
    if (inv->err || !r)
        return;
    kh_buf b = KH_BUF_INIT(KH_INV_MAX_VALUE);
    va_list ap;
    va_start(ap, fmt);
    int rc = kh_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (rc && rc != KH_ELIMIT)
        fail(inv, rc);
    else if (!rc)
        kh_inv__setn(inv, r, name, b.data, b.len, flags);
    kh_buf_dispose(&b);
}

void kh_inv__set_u64(kh_inventory *inv, kh_inv_row *r, const char *name, uint64_t v, unsigned flags)
{
    if (v > (uint64_t)INT64_MAX)
        flags &= ~KH_INV_FIELD_NUMBER;
    else
        flags |= KH_INV_FIELD_NUMBER;
    kh_inv__setf(inv, r, name, flags, "%llu", (unsigned long long)v);
}

void kh_inv__warn(kh_inventory *inv, const char *fmt, ...)
{
    if (inv->err || inv->nwarnings >= KH_INV_MAX_WARNINGS)
        return;
    kh_buf b = KH_BUF_INIT(4096);
    va_list ap;
    va_start(ap, fmt);
    int rc = kh_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (!rc)
        rc = kh_grow((void **)&inv->warnings, &inv->wcap, inv->nwarnings + 1, sizeof(char *), KH_INV_MAX_WARNINGS);
    if (!rc) {
        char *w = utf8_clean(b.data, b.len);
        if (w)
            inv->warnings[inv->nwarnings++] = w;
        else
            rc = KH_ENOMEM;
    }
    if (rc == KH_ENOMEM)
        fail(inv, rc);
    kh_buf_dispose(&b);
}

/* ---- Ordering ------------------------------------------------------------------ */

static int cmp_rows(const void *a, const void *b)
{
    const kh_inv_row *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    for (size_t i = 0; !c && i < x->nfields && i < y->nfields; i++) {
        c = strcmp(x->fields[i].name, y->fields[i].name);
        if (!c)
            c = strcmp(x->fields[i].value, y->fields[i].value);
    }
    if (!c)
        c = (x->nfields > y->nfields) - (x->nfields < y->nfields);
    return c;
}

static void sort_table(kh_inventory *inv, kh_inv_table *t)
{
    kh_inv_row *rows = (kh_inv_row *)t->rows;
    if (t->nrows < 2)
        return;
    kh_qsort(rows, t->nrows, sizeof(*rows), cmp_rows);
    int renamed = 0;
    for (size_t i = 1; i < t->nrows; i++) {
        size_t first = i - 1, k = 2;
        while (i < t->nrows && strcmp(rows[i].key, rows[first].key) == 0) {
            kh_buf b = KH_BUF_INIT(0);
            if (kh_buf_printf(&b, "%s #%zu", rows[first].key, k++)) {
                fail(inv, KH_ENOMEM);
                return;
            }
            free((char *)rows[i].key);
            rows[i].key = kh_buf_detach(&b, NULL);
            renamed = 1;
            i++;
        }
    }
    if (renamed)
        kh_qsort(rows, t->nrows, sizeof(*rows), cmp_rows);
}

void kh_inv__finish(kh_inventory *inv)
{
    size_t w = 0;
    for (size_t i = 0; i < inv->ntabs; i++) {
        if (inv->tabs[i].t.nrows == 0) {
            free((void *)inv->tabs[i].t.rows);
            free((char *)inv->tabs[i].t.name);
            continue;
        }
        sort_table(inv, &inv->tabs[i].t);
        inv->tabs[w++] = inv->tabs[i];
    }
    inv->ntabs = w;
}

/* ---- Getters ---------------------------------------------------------------------- */

size_t kh_inventory_table_count(const kh_inventory *inv) { return inv ? inv->ntabs : 0; }

const kh_inv_table *kh_inventory_table_at(const kh_inventory *inv, size_t i)
{
    return inv && i < inv->ntabs ? &inv->tabs[i].t : NULL;
}

const kh_inv_table *kh_inventory_table(const kh_inventory *inv, const char *name)
{
    for (size_t i = 0; inv && name && i < inv->ntabs; i++)
        if (strcmp(inv->tabs[i].t.name, name) == 0)
            return &inv->tabs[i].t;
    return NULL;
}

static const kh_inv_field *row_field(const kh_inv_row *row, const char *field)
{
    for (size_t i = 0; row && field && i < row->nfields; i++)
        if (strcmp(row->fields[i].name, field) == 0)
            return &row->fields[i];
    return NULL;
}

const char *kh_inv_row_get(const kh_inv_row *row, const char *field)
{
    const kh_inv_field *f = row_field(row, field);
    return f ? f->value : NULL;
}

const char *kh_inventory_meta(const kh_inventory *inv, const char *name)
{
    if (!inv || !name)
        return NULL;
    if (strcmp(name, "collected_at") == 0)
        return inv->collected_at;
    if (strcmp(name, "root") == 0)
        return inv->root;
    if (strcmp(name, "generator") == 0)
        return inv->generator;
    return NULL;
}

size_t kh_inventory_warning_count(const kh_inventory *inv) { return inv ? inv->nwarnings : 0; }

const char *kh_inventory_warning(const kh_inventory *inv, size_t i)
{
    return inv && i < inv->nwarnings ? inv->warnings[i] : NULL;
}

/* ---- JSON writing ----------------------------------------------------------------- */

static int jstr(kh_buf *b, const char *s) { return kh_json_str(b, s ? s : "", s ? strlen(s) : 0); }

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Writes the fields of r as JSON members (", name": value ...). only: a
 * field name list to restrict to (NULL: all); volatile fields are skipped
 * when skip_volatile. */
static int write_fields(kh_buf *b, const kh_inv_row *r, int skip_volatile, int *first)
{
    int rc = 0;
    for (size_t i = 0; !rc && r && i < r->nfields; i++) {
        const kh_inv_field *f = &r->fields[i];
        if (skip_volatile && (f->flags & KH_INV_FIELD_VOLATILE))
            continue;
        rc = kh_buf_puts(b, *first ? "" : ", ");
        *first = 0;
        if (!rc)
            rc = jstr(b, f->name);
        if (!rc)
            rc = kh_buf_puts(b, ": ");
        if (!rc)
            rc = (f->flags & KH_INV_FIELD_NUMBER) ? kh_buf_puts(b, f->value) : jstr(b, f->value);
    }
    return rc;
}

static int write_table(kh_buf *b, const kh_inv_table *t)
{
    int rc = kh_buf_puts(b, "    {\"name\": ");
    if (!rc)
        rc = jstr(b, t->name);
    if (!rc)
        rc = kh_buf_printf(b, ", \"category\": \"%s\", \"volatile\": [", kh_inv_category_name(t->category));
    /* names of volatile fields, sorted, unique */
    KH_VEC(const char *) vol = {0};
    for (size_t i = 0; !rc && i < t->nrows; i++)
        for (size_t j = 0; !rc && j < t->rows[i].nfields; j++) {
            const kh_inv_field *f = &t->rows[i].fields[j];
            if (!(f->flags & KH_INV_FIELD_VOLATILE))
                continue;
            size_t k = 0;
            while (k < vol.n && strcmp(vol.v[k], f->name) != 0)
                k++;
            if (k == vol.n && !(rc = KH_VEC_RESERVE(vol, 1, KH_INV_MAX_FIELDS * 4)))
                vol.v[vol.n++] = f->name;
        }
    if (vol.n > 1)
        kh_qsort(vol.v, vol.n, sizeof(*vol.v), cmp_str);
    for (size_t k = 0; !rc && k < vol.n; k++) {
        rc = kh_buf_puts(b, k ? ", " : "");
        if (!rc)
            rc = jstr(b, vol.v[k]);
    }
    KH_VEC_FREE(vol);
    if (!rc)
        rc = kh_buf_puts(b, "], \"rows\": [\n");
    for (size_t i = 0; !rc && i < t->nrows; i++) {
        int first = 0;
        rc = kh_buf_puts(b, "      {\"key\": ");
        if (!rc)
            rc = jstr(b, t->rows[i].key);
        if (!rc)
            rc = write_fields(b, &t->rows[i], 0, &first);
        if (!rc)
            rc = kh_buf_puts(b, i + 1 < t->nrows ? "},\n" : "}\n");
    }
    if (!rc)
        rc = kh_buf_puts(b, "    ]}");
    return rc;
}

int kh_inventory_to_json(const kh_inventory *inv, char **out, size_t *len_out)
{
    if (!inv || !out)
        return KH_EINVAL;
    kh_buf b = KH_BUF_INIT(KH_INV_JSON_LIMIT);
    int rc = kh_buf_puts(&b, "{\n  \"format\": \"khien-inventory\",\n  \"format_version\": 1,\n  \"generator\": ");
    if (!rc)
        rc = jstr(&b, inv->generator);
    if (!rc)
        rc = kh_buf_puts(&b, ",\n  \"collected_at\": ");
    if (!rc)
        rc = jstr(&b, inv->collected_at);
    if (!rc)
        rc = kh_buf_puts(&b, ",\n  \"root\": ");
    if (!rc)
        rc = jstr(&b, inv->root);
    if (!rc)
        rc = kh_buf_puts(&b, ",\n  \"warnings\": [");
    for (size_t i = 0; !rc && i < inv->nwarnings; i++) {
        rc = kh_buf_puts(&b, i ? ",\n    " : "\n    ");
        if (!rc)
            rc = jstr(&b, inv->warnings[i]);
    }
    if (!rc)
        rc = kh_buf_puts(&b, inv->nwarnings ? "\n  ],\n  \"tables\": [\n" : "],\n  \"tables\": [\n");
    for (size_t i = 0; !rc && i < inv->ntabs; i++) {
        rc = write_table(&b, &inv->tabs[i].t);
        if (!rc)
            rc = kh_buf_puts(&b, i + 1 < inv->ntabs ? ",\n" : "\n");
    }
    if (!rc)
        rc = kh_buf_puts(&b, "  ]\n}\n");
    if (rc) {
        kh_buf_dispose(&b);
        return rc == KH_ELIMIT ? KH_ELIMIT : KH_ENOMEM;
    }
    *out = kh_buf_detach(&b, len_out);
    return *out ? 0 : KH_ENOMEM;
}

/* ---- JSON reading ----------------------------------------------------------------- */

static char *meta_str(json_t *root, const char *name)
{
    json_t *v = json_object_get(root, name);
    return json_is_string(v) ? kh_strdup(json_string_value(v)) : NULL;
}

static int load_table(kh_inventory *inv, json_t *jt, size_t ti, char *err, size_t errlen)
{
    json_t *jname = json_object_get(jt, "name"), *jcat = json_object_get(jt, "category");
    json_t *jvol = json_object_get(jt, "volatile"), *jrows = json_object_get(jt, "rows");
    kh_inv_category cat;
    if (!json_is_object(jt) || !json_is_string(jname) || !json_is_string(jcat) || !json_is_array(jrows)) {
        kh_errf(err, errlen, 0, "tables[%zu]: expected an object with \"name\", \"category\" and \"rows\"", ti);
        return KH_EFORMAT;
    }
    const char *tname = json_string_value(jname);
    if (category_from_name(json_string_value(jcat), &cat)) {
        kh_errf(err, errlen, 0, "table '%s': unknown category '%s'", tname, json_string_value(jcat));
        return KH_EFORMAT;
    }
    if (jvol && !json_is_array(jvol)) {
        kh_errf(err, errlen, 0, "table '%s': \"volatile\" is not an array", tname);
        return KH_EFORMAT;
    }
    if (kh_inventory_table((const kh_inventory *)inv, tname)) {
        kh_errf(err, errlen, 0, "table '%s' appears twice", tname);
        return KH_EFORMAT;
    }
    kh_inv_table *t = kh_inv__table(inv, tname, cat);
    size_t ri;
    json_t *jr;
    json_array_foreach(jrows, ri, jr)
    {
        json_t *jkey = json_object_get(jr, "key");
        if (!json_is_object(jr) || !json_is_string(jkey)) {
            kh_errf(err, errlen, 0, "table '%s' row %zu: expected an object with a string \"key\"", tname, ri);
            return KH_EFORMAT;
        }
        kh_inv_row *r = kh_inv__row(inv, t, json_string_value(jkey));
        const char *fname;
        json_t *jv;
        json_object_foreach(jr, fname, jv)
        {
            if (strcmp(fname, "key") == 0)
                continue;
            unsigned flags = 0;
            size_t vi;
            json_t *jn;
            json_array_foreach(jvol, vi, jn) if (json_is_string(jn) && strcmp(json_string_value(jn), fname) == 0)
                flags |= KH_INV_FIELD_VOLATILE;
            if (json_is_string(jv)) {
                kh_inv__setn(inv, r, fname, json_string_value(jv), json_string_length(jv), flags);
            } else if (json_is_integer(jv) && json_integer_value(jv) >= 0) {
                kh_inv__setf(inv, r, fname, flags | KH_INV_FIELD_NUMBER, "%lld", (long long)json_integer_value(jv));
            } else {
                kh_errf(err, errlen, 0, "table '%s' row '%s' field '%s': expected a string or a non-negative integer",
                        tname, json_string_value(jkey), fname);
                return KH_EFORMAT;
            }
        }
        if (inv->err)
            return inv->err;
    }
    return inv->err;
}

/* Sets *dup to a key present twice in t (or leaves it NULL). */
static int find_dup_key(const kh_inv_table *t, const char **dup)
{
    if (t->nrows < 2)
        return 0;
    const char **keys = malloc(t->nrows * sizeof(*keys));
    if (!keys)
        return KH_ENOMEM;
    for (size_t i = 0; i < t->nrows; i++)
        keys[i] = t->rows[i].key;
    kh_qsort(keys, t->nrows, sizeof(*keys), cmp_str);
    for (size_t i = 1; i < t->nrows && !*dup; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0)
            *dup = keys[i];
    free(keys);
    return 0;
}

int kh_inventory_from_json(kh_inventory **out, const char *text, size_t len, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = 0;
    if (!out || (!text && len)) {
        kh_errf(err, errlen, 0, "invalid argument");
        return KH_EINVAL;
    }
    if (len > KH_INV_JSON_LIMIT) {
        kh_errf(err, errlen, 0, "snapshot larger than %u MiB", KH_INV_JSON_LIMIT >> 20);
        return KH_ELIMIT;
    }
    json_error_t je;
    json_t *root = json_loadb(text ? text : "", len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        kh_errf(err, errlen, 0, "line %d, column %d: %s", je.line, je.column, je.text);
        return KH_EFORMAT;
    }
    int rc = KH_EFORMAT;
    kh_inventory *inv = NULL;
    json_t *jfmt = json_object_get(root, "format"), *jver = json_object_get(root, "format_version");
    json_t *jtabs = json_object_get(root, "tables"), *jw = json_object_get(root, "warnings");
    if (!json_is_object(root) || !json_is_string(jfmt) || strcmp(json_string_value(jfmt), "khien-inventory") != 0) {
        kh_errf(err, errlen, 0, "not a Khiên inventory snapshot (no \"format\": \"khien-inventory\")");
        goto done;
    }
    if (!json_is_integer(jver) || json_integer_value(jver) != 1) {
        kh_errf(err, errlen, 0, "unsupported snapshot format_version (this program reads version 1)");
        goto done;
    }
    if (!json_is_array(jtabs)) {
        kh_errf(err, errlen, 0, "\"tables\" is missing or not an array");
        goto done;
    }
    if (!(inv = kh_inv__new())) {
        rc = KH_ENOMEM;
        goto done;
    }
    inv->collected_at = meta_str(root, "collected_at");
    inv->root = meta_str(root, "root");
    inv->generator = meta_str(root, "generator");
    size_t i;
    json_t *v;
    json_array_foreach(jw, i, v) if (json_is_string(v)) kh_inv__warn(inv, "%s", json_string_value(v));
    json_array_foreach(jtabs, i, v)
    {
        if ((rc = load_table(inv, v, i, err, errlen)) != 0)
            goto done;
    }
    if ((rc = inv->err) != 0)
        goto done;
    for (size_t t = 0; t < inv->ntabs; t++) {
        const char *dup = NULL;
        if ((rc = find_dup_key(&inv->tabs[t].t, &dup)) != 0)
            goto done;
        if (dup) {
            kh_errf(err, errlen, 0, "table '%s': row key '%s' appears twice", inv->tabs[t].t.name, dup);
            rc = KH_EFORMAT;
            goto done;
        }
    }
    kh_inv__finish(inv);
    if ((rc = inv->err) != 0)
        goto done;
    *out = inv;
    inv = NULL;
done:
    if (rc == KH_ENOMEM)
        kh_errf(err, errlen, 0, "out of memory");
    kh_inventory_destroy(inv);
    json_decref(root);
    return rc;
}

/* ---- Diff -------------------------------------------------------------------------- */

struct kh_inv_diff {
    kh_inv_diff_entry *v;
    size_t n, cap;
    char *before_at, *after_at, *before_root, *after_root;
    size_t counts[3];
};

void kh_inv_diff_destroy(kh_inv_diff *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++)
        free((void *)d->v[i].fields);
    free(d->v);
    free(d->before_at);
    free(d->after_at);
    free(d->before_root);
    free(d->after_root);
    free(d);
}

size_t kh_inv_diff_count(const kh_inv_diff *d) { return d ? d->n : 0; }

const kh_inv_diff_entry *kh_inv_diff_at(const kh_inv_diff *d, size_t i)
{
    return d && i < d->n ? &d->v[i] : NULL;
}

static int is_volatile(const kh_inv_field *f) { return f && (f->flags & KH_INV_FIELD_VOLATILE); }

static int add_entry(kh_inv_diff *d, const kh_inv_table *t, kh_inv_change ch, const kh_inv_row *before,
                     const kh_inv_row *after, const char **fields, size_t nfields)
{
    int rc = kh_grow((void **)&d->v, &d->cap, d->n + 1, sizeof(*d->v), 0);
    if (rc) {
        free(fields);
        return rc;
    }
    kh_inv_diff_entry *e = &d->v[d->n++];
    e->category = t->category;
    e->change = ch;
    e->table = t->name;
    e->key = after ? after->key : before->key;
    e->before = before;
    e->after = after;
    e->fields = (const char *const *)fields;
    e->nfields = nfields;
    d->counts[ch]++;
    return 0;
}

/* Compares two rows with the same key; adds a CHANGED entry if needed. */
static int diff_rows(kh_inv_diff *d, const kh_inv_table *t, const kh_inv_row *a, const kh_inv_row *b)
{
    const char **names = NULL;
    size_t n = 0;
    for (int side = 0; side < 2; side++) {
        const kh_inv_row *x = side ? a : b, *y = side ? b : a; /* first pass: fields of the new row */
        for (size_t i = 0; i < x->nfields; i++) {
            const kh_inv_field *fx = &x->fields[i], *fy = row_field(y, fx->name);
            if (is_volatile(fx) || is_volatile(fy))
                continue;
            if (side == 1 && fy) /* present in both: already seen in the first pass */
                continue;
            if (fy && strcmp(fx->value, fy->value) == 0)
                continue;
            const char **nn = realloc(names, (n + 1) * sizeof(*names));
            if (!nn) {
                free(names);
                return KH_ENOMEM;
            }
            names = nn;
            names[n++] = fx->name;
        }
    }
    return n ? add_entry(d, t, KH_INV_CHANGED, a, b, names, n) : 0;
}

static int diff_tables(kh_inv_diff *d, const kh_inv_table *ta, const kh_inv_table *tb)
{
    size_t i = 0, j = 0, na = ta ? ta->nrows : 0, nb = tb ? tb->nrows : 0;
    int rc = 0;
    const kh_inv_table *t = tb ? tb : ta;
    while (!rc && (i < na || j < nb)) {
        int c = i >= na ? 1 : j >= nb ? -1 : strcmp(ta->rows[i].key, tb->rows[j].key);
        if (c < 0)
            rc = add_entry(d, t, KH_INV_REMOVED, &ta->rows[i++], NULL, NULL, 0);
        else if (c > 0)
            rc = add_entry(d, t, KH_INV_ADDED, NULL, &tb->rows[j++], NULL, 0);
        else
            rc = diff_rows(d, t, &ta->rows[i++], &tb->rows[j++]);
    }
    return rc;
}

static int cmp_entries(const void *a, const void *b)
{
    const kh_inv_diff_entry *x = a, *y = b;
    if (x->category != y->category)
        return x->category < y->category ? -1 : 1;
    int c = strcmp(x->table, y->table);
    return c ? c : strcmp(x->key, y->key);
}

int kh_inventory_diff(kh_inv_diff **out, const kh_inventory *before, const kh_inventory *after)
{
    if (!out || !before || !after)
        return KH_EINVAL;
    kh_inv_diff *d = calloc(1, sizeof(*d));
    if (!d)
        return KH_ENOMEM;
    int rc = 0;
    for (size_t i = 0; !rc && i < after->ntabs; i++) {
        const kh_inv_table *tb = &after->tabs[i].t;
        rc = diff_tables(d, kh_inventory_table(before, tb->name), tb);
    }
    for (size_t i = 0; !rc && i < before->ntabs; i++) {
        const kh_inv_table *ta = &before->tabs[i].t;
        if (!kh_inventory_table(after, ta->name))
            rc = diff_tables(d, ta, NULL);
    }
    if (!rc && d->n > 1)
        kh_qsort(d->v, d->n, sizeof(*d->v), cmp_entries);
    if (!rc && ((before->collected_at && !(d->before_at = kh_strdup(before->collected_at))) ||
                (after->collected_at && !(d->after_at = kh_strdup(after->collected_at))) ||
                (before->root && !(d->before_root = kh_strdup(before->root))) ||
                (after->root && !(d->after_root = kh_strdup(after->root)))))
        rc = KH_ENOMEM;
    if (rc) {
        kh_inv_diff_destroy(d);
        return rc;
    }
    *out = d;
    return 0;
}

/* {"f": value, ...} with only the listed fields of r (null when absent). */
static int write_some(kh_buf *b, const kh_inv_row *r, const char *const *names, size_t n)
{
    int rc = kh_buf_putc(b, '{');
    for (size_t i = 0; !rc && i < n; i++) {
        const kh_inv_field *f = row_field(r, names[i]);
        rc = kh_buf_puts(b, i ? ", " : "");
        if (!rc)
            rc = jstr(b, names[i]);
        if (!rc)
            rc = kh_buf_puts(b, ": ");
        if (!rc)
            rc = !f ? kh_buf_puts(b, "null")
                    : (f->flags & KH_INV_FIELD_NUMBER) ? kh_buf_puts(b, f->value)
                                                        : jstr(b, f->value);
    }
    return rc ? rc : kh_buf_putc(b, '}');
}

int kh_inv_diff_to_json(const kh_inv_diff *d, char **out, size_t *len_out)
{
    if (!d || !out)
        return KH_EINVAL;
    kh_buf b = KH_BUF_INIT(KH_INV_JSON_LIMIT);
    int rc = kh_buf_puts(&b, "{\n  \"format\": \"khien-inventory-diff\",\n  \"format_version\": 1,\n"
                             "  \"before\": {\"collected_at\": ");
    if (!rc)
        rc = jstr(&b, d->before_at);
    if (!rc)
        rc = kh_buf_puts(&b, ", \"root\": ");
    if (!rc)
        rc = jstr(&b, d->before_root);
    if (!rc)
        rc = kh_buf_puts(&b, "},\n  \"after\": {\"collected_at\": ");
    if (!rc)
        rc = jstr(&b, d->after_at);
    if (!rc)
        rc = kh_buf_puts(&b, ", \"root\": ");
    if (!rc)
        rc = jstr(&b, d->after_root);
    if (!rc)
        rc = kh_buf_printf(&b, "},\n  \"summary\": {\"added\": %zu, \"removed\": %zu, \"changed\": %zu},\n"
                               "  \"changes\": [",
                           d->counts[KH_INV_ADDED], d->counts[KH_INV_REMOVED], d->counts[KH_INV_CHANGED]);
    for (size_t i = 0; !rc && i < d->n; i++) {
        const kh_inv_diff_entry *e = &d->v[i];
        rc = kh_buf_printf(&b, "%s\n    {\"type\": \"%s\", \"change\": \"%s\", \"table\": ", i ? "," : "",
                           kh_inv_category_name(e->category), kh_inv_change_name(e->change));
        if (!rc)
            rc = jstr(&b, e->table);
        if (!rc)
            rc = kh_buf_puts(&b, ", \"key\": ");
        if (!rc)
            rc = jstr(&b, e->key);
        if (!rc)
            rc = kh_buf_puts(&b, ", \"before\": ");
        if (!rc && e->change == KH_INV_CHANGED) {
            rc = write_some(&b, e->before, e->fields, e->nfields);
            if (!rc)
                rc = kh_buf_puts(&b, ", \"after\": ");
            if (!rc)
                rc = write_some(&b, e->after, e->fields, e->nfields);
        } else if (!rc) {
            int first = 1;
            const kh_inv_row *r = e->before ? e->before : e->after;
            if (e->before)
                rc = kh_buf_putc(&b, '{');
            else
                rc = kh_buf_puts(&b, "null, \"after\": {");
            if (!rc)
                rc = write_fields(&b, r, 1, &first);
            if (!rc)
                rc = kh_buf_puts(&b, e->before ? "}, \"after\": null" : "}");
        }
        if (!rc)
            rc = kh_buf_putc(&b, '}');
    }
    if (!rc)
        rc = kh_buf_puts(&b, d->n ? "\n  ]\n}\n" : "]\n}\n");
    if (rc) {
        kh_buf_dispose(&b);
        return rc == KH_ELIMIT ? KH_ELIMIT : KH_ENOMEM;
    }
    *out = kh_buf_detach(&b, len_out);
    return *out ? 0 : KH_ENOMEM;
}
