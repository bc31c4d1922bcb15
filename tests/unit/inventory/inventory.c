/* Tests of src/inventory/inventory.c: the diff classifier (added, removed,
 * changed with before/after, typed by category, volatile fields ignored,
 * stable order), the JSON round trip, and malformed snapshots. */
#include <stdlib.h>

#include "harness.h"
#include "khien/inventory.h"

#define HEAD "{\"format\": \"khien-inventory\", \"format_version\": 1, \"collected_at\": \"t\", \"tables\": ["

static kh_inventory *load(const char *json)
{
    kh_inventory *inv = NULL;
    char err[256];
    int rc = kh_inventory_from_json(&inv, json, strlen(json), err, sizeof(err));
    if (rc) {
        kt_failed_checks++;
        fprintf(stderr, "  FAIL load: %s (%s)\n", kh_strerror(rc), err);
    }
    return inv;
}

static const char *before_json =
    HEAD
    "{\"name\": \"packages\", \"category\": \"software\", \"volatile\": [], \"rows\": ["
    "  {\"key\": \"openssl:amd64\", \"name\": \"openssl\", \"version\": \"3.0.11-1\", \"arch\": \"amd64\"},"
    "  {\"key\": \"bash:amd64\", \"name\": \"bash\", \"version\": \"5.2.15-2\", \"arch\": \"amd64\"},"
    "  {\"key\": \"telnet:amd64\", \"name\": \"telnet\", \"version\": \"0.17-44\", \"arch\": \"amd64\"}]},"
    "{\"name\": \"host\", \"category\": \"hardware\", \"volatile\": [\"uptime_seconds\"], \"rows\": ["
    "  {\"key\": \"host\", \"hostname\": \"pc1\", \"uptime_seconds\": 100}]},"
    "{\"name\": \"users\", \"category\": \"account\", \"volatile\": [], \"rows\": ["
    "  {\"key\": \"alice\", \"uid\": 1000, \"admin\": \"\"}]},"
    "{\"name\": \"usb\", \"category\": \"hardware\", \"volatile\": [], \"rows\": ["
    "  {\"key\": \"0781:5567 X\", \"product\": \"Cruzer\"}]}"
    "]}";

static const char *after_json =
    HEAD
    "{\"name\": \"users\", \"category\": \"account\", \"volatile\": [], \"rows\": ["
    "  {\"key\": \"alice\", \"uid\": 1000, \"admin\": \"group sudo\"},"
    "  {\"key\": \"bob\", \"uid\": 1001, \"admin\": \"\"}]},"
    "{\"name\": \"packages\", \"category\": \"software\", \"volatile\": [], \"rows\": ["
    "  {\"key\": \"bash:amd64\", \"name\": \"bash\", \"version\": \"5.2.15-2\", \"arch\": \"amd64\"},"
    "  {\"key\": \"openssl:amd64\", \"name\": \"openssl\", \"version\": \"3.0.13-1\", \"arch\": \"amd64\","
    "   \"state\": \"half-configured\"}]},"
    "{\"name\": \"host\", \"category\": \"hardware\", \"volatile\": [\"uptime_seconds\"], \"rows\": ["
    "  {\"key\": \"host\", \"hostname\": \"pc1\", \"uptime_seconds\": 4000}]},"
    "{\"name\": \"listening\", \"category\": \"network\", \"volatile\": [\"pid\"], \"rows\": ["
    "  {\"key\": \"tcp 0.0.0.0:4444\", \"process\": \"nc\", \"pid\": \"77\"}]}"
    "]}";

KT_TEST(test_inventory_inventory__diff_classifies)
{
    kh_inventory *a = load(before_json), *b = load(after_json);
    kh_inv_diff *d = NULL;
    KT_CHECK(a && b);
    if (!a || !b)
        goto out;
    KT_EQ_INT(kh_inventory_diff(&d, a, b), 0);
    /* sorted by category (hardware, software, account, network), table, key */
    KT_EQ_INT(kh_inv_diff_count(d), 6);
    const kh_inv_diff_entry *e = kh_inv_diff_at(d, 0);
    KT_EQ_INT(e->category, KH_INV_HARDWARE);
    KT_EQ_INT(e->change, KH_INV_REMOVED);
    KT_EQ_STR(e->table, "usb");
    KT_CHECK(e->after == NULL && e->before != NULL);

    e = kh_inv_diff_at(d, 1);
    KT_EQ_INT(e->category, KH_INV_SOFTWARE);
    KT_EQ_INT(e->change, KH_INV_CHANGED);
    KT_EQ_STR(e->key, "openssl:amd64");
    KT_EQ_INT(e->nfields, 2); /* version changed, state appeared */
    if (e->nfields == 2) {
        KT_EQ_STR(e->fields[0], "version");
        KT_EQ_STR(e->fields[1], "state");
    }
    KT_EQ_STR(kh_inv_row_get(e->before, "version"), "3.0.11-1");
    KT_EQ_STR(kh_inv_row_get(e->after, "version"), "3.0.13-1");
    KT_CHECK(kh_inv_row_get(e->before, "state") == NULL);

    e = kh_inv_diff_at(d, 2);
    KT_EQ_INT(e->change, KH_INV_REMOVED);
    KT_EQ_STR(e->key, "telnet:amd64");

    e = kh_inv_diff_at(d, 3);
    KT_EQ_INT(e->category, KH_INV_ACCOUNT);
    KT_EQ_INT(e->change, KH_INV_CHANGED);
    KT_EQ_STR(e->key, "alice");
    KT_EQ_INT(e->nfields, 1);

    e = kh_inv_diff_at(d, 4);
    KT_EQ_INT(e->change, KH_INV_ADDED);
    KT_EQ_STR(e->key, "bob");
    KT_CHECK(e->before == NULL && e->after != NULL);

    e = kh_inv_diff_at(d, 5);
    KT_EQ_INT(e->category, KH_INV_NETWORK);
    KT_EQ_INT(e->change, KH_INV_ADDED);
    KT_EQ_STR(e->table, "listening");
    KT_EQ_STR(kh_inv_change_name(e->change), "added");
    KT_EQ_STR(kh_inv_category_name(e->category), "network");

    /* no entry for host: only the volatile uptime changed */
    for (size_t i = 0; i < kh_inv_diff_count(d); i++)
        KT_CHECK(strcmp(kh_inv_diff_at(d, i)->table, "host") != 0);

    char *text = NULL;
    KT_EQ_INT(kh_inv_diff_to_json(d, &text, NULL), 0);
    KT_CHECK(text && strstr(text, "\"summary\": {\"added\": 2, \"removed\": 2, \"changed\": 2}"));
    KT_CHECK(text && strstr(text, "\"before\": {\"version\": \"3.0.11-1\", \"state\": null}"));
    KT_CHECK(text && strstr(text, "\"type\": \"network\", \"change\": \"added\""));
    KT_CHECK(text && !strstr(text, "\"pid\"")); /* volatile fields are not reported */
    free(text);
out:
    kh_inv_diff_destroy(d);
    kh_inventory_destroy(a);
    kh_inventory_destroy(b);
}

KT_TEST(test_inventory_inventory__same_snapshot_empty_diff)
{
    kh_inventory *a = load(before_json), *b = load(before_json);
    kh_inv_diff *d = NULL;
    if (a && b) {
        KT_EQ_INT(kh_inventory_diff(&d, a, b), 0);
        KT_EQ_INT(kh_inv_diff_count(d), 0);
        KT_CHECK(kh_inv_diff_at(d, 0) == NULL);
    }
    kh_inv_diff_destroy(d);
    /* reversed: added and removed swap */
    kh_inventory *c = load(after_json);
    d = NULL;
    if (a && c) {
        KT_EQ_INT(kh_inventory_diff(&d, c, a), 0);
        KT_EQ_INT(kh_inv_diff_count(d), 6);
        KT_EQ_INT(kh_inv_diff_at(d, 0)->change, KH_INV_ADDED); /* the usb stick */
    }
    kh_inv_diff_destroy(d);
    kh_inventory_destroy(a);
    kh_inventory_destroy(b);
    kh_inventory_destroy(c);
}

KT_TEST(test_inventory_inventory__json_round_trip)
{
    kh_inventory *a = load(after_json), *b = NULL;
    char *t1 = NULL, *t2 = NULL;
    size_t n1 = 0, n2 = 0;
    if (!a)
        return;
    KT_EQ_INT(kh_inventory_to_json(a, &t1, &n1), 0);
    KT_EQ_INT(kh_inventory_from_json(&b, t1, n1, NULL, 0), 0);
    KT_EQ_INT(kh_inventory_to_json(b, &t2, &n2), 0);
    KT_CHECK(t1 && t2 && n1 == n2 && memcmp(t1, t2, n1) == 0);
    /* rows come out sorted whatever the input order */
    const kh_inv_table *t = kh_inventory_table(a, "packages");
    KT_CHECK(t && t->nrows == 2 && strcmp(t->rows[0].key, "bash:amd64") == 0);
    /* numbers stay numbers, volatile stays volatile */
    t = kh_inventory_table(b, "host");
    KT_CHECK(t && t->nrows == 1);
    if (t && t->nrows == 1)
        for (size_t i = 0; i < t->rows[0].nfields; i++)
            if (strcmp(t->rows[0].fields[i].name, "uptime_seconds") == 0)
                KT_EQ_INT(t->rows[0].fields[i].flags, KH_INV_FIELD_NUMBER | KH_INV_FIELD_VOLATILE);
    KT_CHECK(t1 && strstr(t1, "\"uptime_seconds\": 4000"));
    KT_EQ_STR(kh_inventory_meta(b, "collected_at"), "t");
    free(t1);
    free(t2);
    kh_inventory_destroy(a);
    kh_inventory_destroy(b);
}

static void expect_bad(const char *json, const char *msg_part)
{
    kh_inventory *inv = (kh_inventory *)0x1;
    char err[256] = "";
    int rc = kh_inventory_from_json(&inv, json, strlen(json), err, sizeof(err));
    if (rc != KH_EFORMAT || inv != (kh_inventory *)0x1 || !strstr(err, msg_part)) {
        kt_failed_checks++;
        fprintf(stderr, "  FAIL malformed snapshot accepted or bad message: rc %d, err '%s', want '%s'\n", rc, err,
                msg_part);
    }
}

KT_TEST(test_inventory_inventory__malformed)
{
    expect_bad("", "line");
    expect_bad("{\"format\": \"khien-inventory\", ", "line 1");
    expect_bad("[1, 2]", "not a Khiên inventory snapshot");
    expect_bad("{\"format\": \"other\", \"format_version\": 1, \"tables\": []}", "not a Khiên");
    expect_bad("{\"format\": \"khien-inventory\", \"format_version\": 9, \"tables\": []}", "format_version");
    expect_bad("{\"format\": \"khien-inventory\", \"format_version\": 1}", "\"tables\"");
    expect_bad(HEAD "42]}", "tables[0]");
    expect_bad(HEAD "{\"name\": \"x\", \"category\": \"weather\", \"rows\": []}]}", "unknown category");
    expect_bad(HEAD "{\"name\": \"x\", \"category\": \"software\", \"rows\": [{\"nokey\": 1}]}]}", "\"key\"");
    expect_bad(HEAD "{\"name\": \"x\", \"category\": \"software\", \"rows\": [{\"key\": \"a\", \"f\": [1]}]}]}",
               "field 'f'");
    expect_bad(HEAD "{\"name\": \"x\", \"category\": \"software\", \"rows\": [{\"key\": \"a\", \"f\": -3}]}]}",
               "field 'f'");
    expect_bad(HEAD "{\"name\": \"x\", \"category\": \"software\", \"rows\": [{\"key\": \"a\"}, {\"key\": \"a\"}]}]}",
               "appears twice");
    expect_bad(HEAD "{\"name\": \"x\", \"category\": \"software\", \"rows\": []},"
                    "{\"name\": \"x\", \"category\": \"software\", \"rows\": []}]}",
               "appears twice");
    expect_bad("{\"format\": \"khien-inventory\", \"format\": \"khien-inventory\"}", "duplicate");
    /* invalid arguments */
    KT_EQ_INT(kh_inventory_from_json(NULL, "{}", 2, NULL, 0), KH_EINVAL);
    kh_inventory *inv = NULL;
    KT_EQ_INT(kh_inventory_diff(NULL, inv, inv), KH_EINVAL);
    kh_inventory_destroy(NULL);
    kh_inv_diff_destroy(NULL);
}

KT_TEST(test_inventory_inventory__collect_missing_root)
{
    kh_inventory *inv = NULL;
    kh_inventory_options o = KH_INVENTORY_OPTIONS_INIT;
    o.root = "/nonexistent-khien-root";
    KT_EQ_INT(kh_inventory_collect(&inv, &o), KH_ENOENT);
    KT_CHECK(inv == NULL);
    o.version = 99;
    KT_EQ_INT(kh_inventory_collect(&inv, &o), KH_EINVAL);
}

/* Random damage to a snapshot: a clean error or a snapshot, never a crash. */
KT_TEST(test_inventory_inventory__mutations)
{
    unsigned seed = 777;
    size_t n = strlen(after_json);
    char *buf = malloc(n + 1);
    for (int round = 0; round < 3000 && buf; round++) {
        memcpy(buf, after_json, n + 1);
        size_t len = n;
        for (int k = 0; k < 1 + round % 6; k++) {
            seed = seed * 1103515245u + 12345u;
            static const char pick[] = "{}[]\",:0-9aA \\\377";
            buf[(seed >> 8) % len] = pick[(seed >> 4) % (sizeof(pick) - 1)];
        }
        if (round % 7 == 0)
            len = (seed >> 3) % len;
        kh_inventory *a = NULL, *b = NULL;
        kh_inv_diff *d = NULL;
        char err[128];
        int rc = kh_inventory_from_json(&a, buf, len, err, sizeof(err));
        KT_CHECK(rc == 0 || rc == KH_EFORMAT);
        KT_CHECK(rc != 0 || a != NULL);
        if (rc == 0 && kh_inventory_from_json(&b, after_json, strlen(after_json), NULL, 0) == 0 &&
            kh_inventory_diff(&d, a, b) == 0) {
            char *t = NULL;
            KT_EQ_INT(kh_inv_diff_to_json(d, &t, NULL), 0);
            free(t);
            KT_EQ_INT(kh_inventory_to_json(a, &t, NULL), 0);
            free(t);
        }
        kh_inv_diff_destroy(d);
        kh_inventory_destroy(a);
        kh_inventory_destroy(b);
    }
    free(buf);
}

KT_MAIN({
    KT_CASE(test_inventory_inventory__diff_classifies),
    KT_CASE(test_inventory_inventory__same_snapshot_empty_diff),
    KT_CASE(test_inventory_inventory__json_round_trip),
    KT_CASE(test_inventory_inventory__malformed),
    KT_CASE(test_inventory_inventory__collect_missing_root),
    KT_CASE(test_inventory_inventory__mutations),
})
