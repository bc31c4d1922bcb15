/* Khiên — server: paged listings, the one shape of every list endpoint.
 *
 * A list endpoint builds a WHERE clause (its filters and the caller's unit
 * scope, all values bound as parameters) and hands it here with the columns,
 * the tables and the order: the total is counted with the same WHERE and
 * the same parameters, the page is read with LIMIT/OFFSET bound after them,
 * and a failure of either is the store error reply (a count that fails is
 * never answered as total 0).
 */
#include <stdio.h>

#include "khien/error.h"
#include "server/server_int.h"

void kh_reply_page(kh_req *r, const char *cols, const char *from, const char *count_from, const char *where,
                   const char *order, const kh_sval *p, size_t n, int64_t limit, int64_t offset,
                   void (*fix)(json_t *row))
{
    char sql[6144];
    kh_sval q[KH_PAGE_MAX_PARAMS + 2];
    if (n > KH_PAGE_MAX_PARAMS) {
        kh_reply_error(r, 500, "internal", "too many parameters in a listing (%zu)", n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        q[i] = p[i];
    q[n] = KH_SV_I(limit);
    q[n + 1] = KH_SV_I(offset);
    int64_t total = 0;
    int w = snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s WHERE %s", count_from, where);
    if (w < 0 || (size_t)w >= sizeof(sql)) {
        kh_reply_error(r, 500, "internal", "listing query too long");
        return;
    }
    int rc = kh_store_query_int(r->srv->st, &total, sql, q, n);
    if (rc < 0) {
        kh_reply_store_error(r, rc);
        return;
    }
    w = snprintf(sql, sizeof(sql), "SELECT %s FROM %s WHERE %s ORDER BY %s LIMIT ?%zu OFFSET ?%zu", cols, from, where,
                 order, n + 1, n + 2);
    if (w < 0 || (size_t)w >= sizeof(sql)) {
        kh_reply_error(r, 500, "internal", "listing query too long");
        return;
    }
    json_t *rows = NULL;
    if ((rc = kh_store_query(r->srv->st, &rows, sql, q, n + 2)) < 0) {
        kh_reply_store_error(r, rc);
        return;
    }
    if (fix) {
        size_t i;
        json_t *row;
        json_array_foreach(rows, i, row) fix(row);
    }
    kh_reply_json(r, 200, kh_page_json(rows, total, limit, offset));
}
