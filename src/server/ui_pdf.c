/* Khiên — server/ui_pdf: report documents as PDF (libharu enters here only).
 *
 * The reports the centre produces (the incident report to the police, the
 * personal-data breach notice, a unit's compliance inspection report) are
 * one JSON shape (docs/api.md: issuer, number, place and date, title,
 * addressee, basis, deadline, sections of labelled fields, paragraphs or
 * tables, recipients, signature block). kh_ui_pdf_render() lays that shape
 * out on A4 pages in the administrative document layout of Decree 30/2020:
 * issuing body and number on the left, the national motto and subtitle on
 * the right with the place and date under it, the title centred, "Kính
 * gửi", the body, "Nơi nhận" bottom left and the signature block bottom
 * right; margins 20/15/20/30 mm; page numbers from page 2, top centre.
 *
 * Text is UTF-8 in Liberation Serif (see load_fonts), embedded, so every
 * Vietnamese letter renders and pdftotext gives the text back. A
 * simple line breaker (greedy, by spaces, long words split by character)
 * measures with the font. Limits: 300 pages, 20,000 lines per paragraph,
 * 8 MiB of output; the input is bounded by the request body limit.
 */
#include <hpdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "khien/error.h"
#include "server/server_int.h"
#include "server/ui.h"

#define MM(x) ((float)(x) * 72.0f / 25.4f)
#define PAGE_W 595.276f
#define PAGE_H 841.89f
#define MAX_PAGES 300
#define MAX_LINES 20000

typedef struct ctx {
    HPDF_Doc pdf;
    HPDF_Page page;
    HPDF_Page pages[MAX_PAGES];
    int npages;
    HPDF_Font reg, bold, ital, bital;
    float y, left, right, top, bottom;
    int failed;      /* libharu reported an error */
    unsigned long code;
    int limit;       /* a limit was hit */
} ctx;

static void on_error(HPDF_STATUS e, HPDF_STATUS detail, void *user)
{
    ctx *c = user;
    (void)detail;
    if (!c->failed)
        c->code = (unsigned long)e;
    c->failed = 1;
}

/* ---- UTF-8 helpers ------------------------------------------------------ */

static size_t u8_len(unsigned char b)
{
    return b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 1;
}

static unsigned u8_dec(const char *s, size_t *n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t l = u8_len(p[0]);
    unsigned cp = l == 1 ? p[0] : l == 2 ? p[0] & 0x1f : l == 3 ? p[0] & 0x0f : p[0] & 0x07;
    for (size_t i = 1; i < l; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            *n = 1;
            return p[0];
        }
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    *n = l;
    return cp;
}

static void u8_put(kh_buf *b, unsigned cp)
{
    char o[4];
    size_t n;
    if (cp < 0x80) {
        o[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        o[0] = (char)(0xf0 | (cp >> 18));
        o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    kh_buf_append(b, o, n);
}

/* Upper case of the letters Vietnamese uses (ASCII, Latin-1, ă đ ĩ ũ ơ ư, U+1EA0-1EF9). */
static unsigned vi_upper(unsigned cp)
{
    if (cp >= 'a' && cp <= 'z')
        return cp - 32;
    if (cp >= 0xe0 && cp <= 0xfe && cp != 0xf7)
        return cp - 0x20;
    switch (cp) {
    case 0x103: case 0x111: case 0x129: case 0x169:
        return cp - 1;
    case 0x1a1:
        return 0x1a0;
    case 0x1b0:
        return 0x1af;
    default:
        break;
    }
    if (cp >= 0x1ea1 && cp <= 0x1ef9 && (cp & 1))
        return cp - 1;
    return cp;
}

static char *upper_dup(const char *s)
{
    kh_buf b = KH_BUF_INIT(1u << 20);
    for (size_t n; *s; s += n)
        u8_put(&b, vi_upper(u8_dec(s, &n)));
    char *out = kh_buf_detach(&b, NULL);
    return out ? out : kh_strdup("");
}

/* ---- pages and text ------------------------------------------------------ */

static void new_page(ctx *c)
{
    if (c->npages >= MAX_PAGES) {
        c->limit = 1;
        return;
    }
    c->page = HPDF_AddPage(c->pdf);
    HPDF_Page_SetSize(c->page, HPDF_PAGE_SIZE_A4, HPDF_PAGE_PORTRAIT);
    c->pages[c->npages++] = c->page;
    c->y = c->top;
}

static void ensure(ctx *c, float h)
{
    if (c->y - h < c->bottom)
        new_page(c);
}

static float width(ctx *c, HPDF_Font f, float size, const char *s)
{
    HPDF_Page_SetFontAndSize(c->page, f, size);
    return HPDF_Page_TextWidth(c->page, s);
}

static void draw(ctx *c, HPDF_Font f, float size, float x, float y, const char *s)
{
    if (!*s || c->limit)
        return;
    HPDF_Page_BeginText(c->page);
    HPDF_Page_SetFontAndSize(c->page, f, size);
    HPDF_Page_TextOut(c->page, x, y, s);
    HPDF_Page_EndText(c->page);
}

typedef struct lines {
    char **v;
    size_t n, cap;
} lines;

static void lines_free(lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static int lines_add(lines *l, const char *s, size_t n)
{
    if (l->n >= MAX_LINES)
        return KH_ELIMIT;
    if (kh_grow((void **)&l->v, &l->cap, l->n + 1, sizeof(char *), MAX_LINES) < 0)
        return KH_ENOMEM;
    char *d = kh_strndup(s, n);
    if (!d)
        return KH_ENOMEM;
    l->v[l->n++] = d;
    return 0;
}

/* Breaks text into lines no wider than first_w (first line) and rest_w. */
static int wrap(ctx *c, HPDF_Font f, float size, const char *text, float first_w, float rest_w, lines *out)
{
    kh_buf line = KH_BUF_INIT(1u << 20), word = KH_BUF_INIT(1u << 20);
    int rc = 0;
    float maxw = first_w;
    const char *p = text ? text : "";
    for (;;) {
        /* next word (up to a space or newline) */
        kh_buf_clear(&word);
        while (*p && *p != ' ' && *p != '\n' && *p != '\t' && *p != '\r')
            kh_buf_putc(&word, *p++);
        if (word.len) {
            kh_buf trial = KH_BUF_INIT(1u << 20);
            kh_buf_printf(&trial, "%s%s%s", line.data ? line.data : "", line.len ? " " : "", word.data);
            if (width(c, f, size, trial.data ? trial.data : "") <= maxw) {
                kh_buf_clear(&line);
                kh_buf_append(&line, trial.data, trial.len);
            } else {
                if (line.len) {
                    if ((rc = lines_add(out, line.data, line.len)) < 0) {
                        kh_buf_dispose(&trial);
                        break;
                    }
                    maxw = rest_w;
                    kh_buf_clear(&line);
                }
                /* a word wider than the line is split by character */
                const char *w = word.data;
                while (*w) {
                    size_t n;
                    u8_dec(w, &n);
                    kh_buf probe = KH_BUF_INIT(1u << 20);
                    kh_buf_printf(&probe, "%s%.*s", line.data ? line.data : "", (int)n, w);
                    if (line.len && width(c, f, size, probe.data) > maxw) {
                        if ((rc = lines_add(out, line.data, line.len)) < 0) {
                            kh_buf_dispose(&probe);
                            break;
                        }
                        maxw = rest_w;
                        kh_buf_clear(&line);
                        kh_buf_dispose(&probe);
                        continue;
                    }
                    kh_buf_clear(&line);
                    kh_buf_append(&line, probe.data, probe.len);
                    kh_buf_dispose(&probe);
                    w += n;
                }
            }
            kh_buf_dispose(&trial);
            if (rc < 0)
                break;
        }
        if (!*p || *p == '\n') {
            if ((rc = lines_add(out, line.data ? line.data : "", line.len)) < 0)
                break;
            maxw = rest_w;
            kh_buf_clear(&line);
            if (!*p)
                break;
        }
        p++;
    }
    kh_buf_dispose(&line);
    kh_buf_dispose(&word);
    return rc;
}

enum { LEFT, CENTER, RIGHT };

/* A paragraph in [x, x+w]; returns 0 or a limit error. */
static int para(ctx *c, HPDF_Font f, float size, const char *text, float x, float w, int align, float lead)
{
    lines l = {0};
    int rc = wrap(c, f, size, text, w, w, &l);
    for (size_t i = 0; rc == 0 && i < l.n && !c->limit; i++) {
        ensure(c, lead);
        c->y -= lead;
        float tw = align == LEFT ? 0 : width(c, f, size, l.v[i]);
        draw(c, f, size, align == LEFT ? x : align == CENTER ? x + (w - tw) / 2 : x + w - tw, c->y, l.v[i]);
    }
    lines_free(&l);
    return rc;
}

static const char *js(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* Any JSON scalar as text (numbers, booleans). */
static void scalar(const json_t *v, char *buf, size_t size)
{
    if (json_is_string(v))
        snprintf(buf, size, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(buf, size, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, size, "%g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, size, "%s", json_is_true(v) ? "Có / Yes" : "Không / No");
    else
        buf[0] = 0;
}

/* "Label: value" with the label bold, the value wrapped after it. */
static int labelled(ctx *c, const char *label, const char *value, float size, float lead)
{
    float w = c->right - c->left, x = c->left;
    const char *val = value && *value ? value : "……………………";
    int rc = 0;
    if (!*label)
        return para(c, c->reg, size, val, x, w, LEFT, lead);
    kh_buf lab = KH_BUF_INIT(4096);
    kh_buf_printf(&lab, "%s: ", label);
    float lw = width(c, c->bold, size, lab.data);
    if (lw > w * 0.6f) { /* a long label: on its own lines */
        lab.data[lab.len - 1] = 0;
        rc = para(c, c->bold, size, lab.data, x, w, LEFT, lead);
        if (rc == 0)
            rc = para(c, c->reg, size, val, x + MM(5), w - MM(5), LEFT, lead);
        kh_buf_dispose(&lab);
        return rc;
    }
    lines l = {0};
    rc = wrap(c, c->reg, size, val, w - lw, w, &l);
    for (size_t i = 0; rc == 0 && i < l.n && !c->limit; i++) {
        ensure(c, lead);
        c->y -= lead;
        if (i == 0) {
            draw(c, c->bold, size, x, c->y, lab.data);
            draw(c, c->reg, size, x + lw, c->y, l.v[i]);
        } else {
            draw(c, c->reg, size, x, c->y, l.v[i]);
        }
    }
    lines_free(&l);
    kh_buf_dispose(&lab);
    return rc;
}

/* One table row (the header row in bold on grey); breaks the page first if it
 * does not fit, repeating the header (hdr) on the new page. */
static int table_row(ctx *c, const json_t *row, const json_t *hdr, size_t nc, const float *cw, int header)
{
    const float size = 9.5f, lead = 12, pad = 3;
    float w = c->right - c->left;
    lines cell[16];
    int rc = 0;
    memset(cell, 0, sizeof(cell));
    size_t maxl = 1;
    for (size_t i = 0; i < nc && rc == 0; i++) {
        char buf[2048];
        scalar(json_array_get(row, i), buf, sizeof(buf));
        rc = wrap(c, header ? c->bold : c->reg, size, buf, cw[i] - 2 * pad, cw[i] - 2 * pad, &cell[i]);
        if (cell[i].n > maxl)
            maxl = cell[i].n;
    }
    float h = (float)maxl * lead + 2 * pad;
    if (rc == 0 && c->y - h < c->bottom) {
        new_page(c);
        if (!header && hdr && !c->limit)
            rc = table_row(c, hdr, NULL, nc, cw, 1);
    }
    if (rc == 0 && !c->limit) {
        float x = c->left;
        if (header) {
            HPDF_Page_SetRGBFill(c->page, 0.92f, 0.93f, 0.95f);
            HPDF_Page_Rectangle(c->page, c->left, c->y - h, w, h);
            HPDF_Page_Fill(c->page);
            HPDF_Page_SetRGBFill(c->page, 0, 0, 0);
        }
        HPDF_Page_SetLineWidth(c->page, 0.5f);
        for (size_t i = 0; i < nc; i++) {
            for (size_t k = 0; k < cell[i].n; k++)
                draw(c, header ? c->bold : c->reg, size, x + pad, c->y - pad - (float)(k + 1) * lead + 2.5f, cell[i].v[k]);
            HPDF_Page_Rectangle(c->page, x, c->y - h, cw[i], h);
            HPDF_Page_Stroke(c->page);
            x += cw[i];
        }
        c->y -= h;
    }
    for (size_t i = 0; i < nc; i++)
        lines_free(&cell[i]);
    return rc;
}

/* A table: {"columns": [...], "rows": [[...], ...], "widths": [relative widths]?}. */
static int table(ctx *c, const json_t *t)
{
    const json_t *cols = json_object_get(t, "columns"), *rows = json_object_get(t, "rows"),
                 *widths = json_object_get(t, "widths");
    size_t nc = json_array_size(cols), i;
    float w = c->right - c->left, cw[16], total = 0;
    if (nc == 0 || nc > 16)
        return 0;
    for (i = 0; i < nc; i++) {
        double f = json_number_value(json_array_get(widths, i));
        cw[i] = f > 0 ? (float)f : 1.0f;
        total += cw[i];
    }
    for (i = 0; i < nc; i++)
        cw[i] = cw[i] / total * w;
    c->y -= 5;
    int rc = table_row(c, cols, NULL, nc, cw, 1);
    const json_t *row;
    json_array_foreach(rows, i, row)
    {
        if (rc < 0 || c->limit)
            break;
        rc = table_row(c, row, cols, nc, cw, 0);
    }
    c->y -= 4;
    return rc;
}

/* Liberation Serif (Debian fonts-liberation2; the metrics of Times New
 * Roman, the face Decree 30 prescribes), else GNU FreeSerif
 * (fonts-freefont-ttf). Not DejaVu: its Vietnamese letters are composite
 * glyphs, and Debian's libharu 2.3.0 drops the marks of composite glyphs
 * when it subsets an embedded font ("Hạnh" prints as "Hanh"). */
static int load_fonts(ctx *c, const char *dir, char *err, size_t errsz)
{
    static const struct {
        const char *dir;
        const char *file[4];
    } sets[] = {
        {"/usr/share/fonts/truetype/liberation2",
         {"LiberationSerif-Regular.ttf", "LiberationSerif-Bold.ttf", "LiberationSerif-Italic.ttf", "LiberationSerif-BoldItalic.ttf"}},
        {"/usr/share/fonts/truetype/liberation",
         {"LiberationSerif-Regular.ttf", "LiberationSerif-Bold.ttf", "LiberationSerif-Italic.ttf", "LiberationSerif-BoldItalic.ttf"}},
        {"/usr/share/fonts/truetype/freefont",
         {"FreeSerif.ttf", "FreeSerifBold.ttf", "FreeSerifItalic.ttf", "FreeSerifBoldItalic.ttf"}},
    };
    HPDF_Font *slots[4] = {&c->reg, &c->bold, &c->ital, &c->bital};
    char path[1100];
    int set = -1;
    for (size_t k = 0; k < KH_ARRAY_LEN(sets) && set < 0; k++) {
        set = (int)k;
        for (int i = 0; i < 4; i++) {
            snprintf(path, sizeof(path), "%s/%s", dir ? dir : sets[k].dir, sets[k].file[i]);
            if (access(path, R_OK) != 0)
                set = -1;
        }
    }
    if (set < 0) {
        snprintf(err, errsz, "thiếu phông chữ Liberation Serif hoặc FreeSerif (gói fonts-liberation2 hoặc fonts-freefont-ttf, hoặc thư mục KHIEN_FONT_DIR) /"
                 " Liberation Serif or FreeSerif fonts missing (package fonts-liberation2 or fonts-freefont-ttf, or folder KHIEN_FONT_DIR)");
        return KH_ENOENT;
    }
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir ? dir : sets[set].dir, sets[set].file[i]);
        const char *fname = HPDF_LoadTTFontFromFile(c->pdf, path, HPDF_TRUE);
        *slots[i] = fname ? HPDF_GetFont(c->pdf, fname, "UTF-8") : NULL;
        if (!*slots[i] || c->failed) {
            snprintf(err, errsz, "libharu không nạp được %s / libharu cannot load %s (lỗi / error 0x%04lX)", path, path, c->code);
            return KH_EINTERNAL;
        }
    }
    return 0;
}

static void layout(ctx *c, const json_t *doc)
{
    const json_t *iss = json_object_get(doc, "issuer"), *sig = json_object_get(doc, "signature");
    float w = c->right - c->left, lw = w * 0.40f, rx = c->left + lw + MM(4), rw = c->right - rx;
    float top = c->y, ly, ry;
    char *up;

    /* left: issuing body, rule, number */
    c->y = top;
    if (json_is_string(iss)) {
        up = upper_dup(json_string_value(iss));
        para(c, c->bold, 12, up, c->left, lw, CENTER, 15);
        free(up);
    } else {
        if (*js(iss, "parent")) {
            up = upper_dup(js(iss, "parent"));
            para(c, c->reg, 12, up, c->left, lw, CENTER, 15);
            free(up);
        }
        up = upper_dup(js(iss, "name"));
        para(c, c->bold, 12, up, c->left, lw, CENTER, 15);
        free(up);
    }
    c->y -= 4;
    HPDF_Page_SetLineWidth(c->page, 0.6f);
    HPDF_Page_MoveTo(c->page, c->left + lw * 0.33f, c->y);
    HPDF_Page_LineTo(c->page, c->left + lw * 0.67f, c->y);
    HPDF_Page_Stroke(c->page);
    c->y -= 3;
    para(c, c->reg, 12, js(doc, "number"), c->left, lw, CENTER, 16);
    ly = c->y;

    /* right: motto, subtitle underlined, place and date */
    c->y = top;
    const char *motto = *js(doc, "motto") ? js(doc, "motto") : "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM";
    const char *sub = *js(doc, "motto_sub") ? js(doc, "motto_sub") : "Độc lập - Tự do - Hạnh phúc";
    para(c, c->bold, 12, motto, rx, rw, CENTER, 15);
    para(c, c->bold, 13, sub, rx, rw, CENTER, 16);
    float sw = width(c, c->bold, 13, sub);
    HPDF_Page_SetLineWidth(c->page, 0.6f);
    HPDF_Page_MoveTo(c->page, rx + (rw - sw) / 2, c->y - 3);
    HPDF_Page_LineTo(c->page, rx + (rw + sw) / 2, c->y - 3);
    HPDF_Page_Stroke(c->page);
    c->y -= 8;
    para(c, c->ital, 12, js(doc, "place_date"), rx, rw, CENTER, 16);
    ry = c->y;
    c->y = (ly < ry ? ly : ry) - 18;

    /* title, subtitle, addressee */
    up = upper_dup(js(doc, "title"));
    para(c, c->bold, 14, up, c->left, w, CENTER, 18);
    free(up);
    if (*js(doc, "subtitle"))
        para(c, c->bold, 12.5f, js(doc, "subtitle"), c->left, w, CENTER, 16);
    c->y -= 6;
    if (*js(doc, "addressee")) {
        float kw = width(c, c->reg, 13, "Kính gửi: ");
        lines l = {0};
        if (wrap(c, c->reg, 13, js(doc, "addressee"), w - kw - MM(20), w - kw - MM(20), &l) == 0) {
            for (size_t i = 0; i < l.n; i++) {
                ensure(c, 17);
                c->y -= 17;
                if (i == 0)
                    draw(c, c->reg, 13, c->left + MM(20), c->y, "Kính gửi: ");
                draw(c, c->reg, 13, c->left + MM(20) + kw, c->y, l.v[i]);
            }
        }
        lines_free(&l);
        c->y -= 6;
    }
    if (*js(doc, "basis"))
        labelled(c, "Căn cứ / Basis", js(doc, "basis"), 12, 15.5f);
    if (*js(doc, "deadline"))
        labelled(c, "Thời hạn / Deadline", js(doc, "deadline"), 12, 15.5f);

    /* sections */
    size_t i, k;
    const json_t *s, *f;
    json_array_foreach(json_object_get(doc, "sections"), i, s)
    {
        if (c->limit)
            break;
        c->y -= 5;
        if (*js(s, "heading")) {
            ensure(c, 40); /* no heading alone at the foot of a page */
            para(c, c->bold, 12.5f, js(s, "heading"), c->left, w, LEFT, 16.5f);
        }
        const json_t *text = json_object_get(s, "text");
        if (json_is_string(text))
            para(c, c->reg, 12, json_string_value(text), c->left, w, LEFT, 15.5f);
        json_array_foreach(text, k, f)
        {
            if (json_is_string(f))
                para(c, c->reg, 12, json_string_value(f), c->left, w, LEFT, 15.5f);
        }
        json_array_foreach(json_object_get(s, "fields"), k, f)
        {
            char val[16384];
            scalar(json_object_get(f, "value"), val, sizeof(val));
            if (labelled(c, js(f, "label"), val, 12, 15.5f) < 0)
                break;
        }
        if (json_is_object(json_object_get(s, "table")))
            table(c, json_object_get(s, "table"));
    }

    /* recipients (left) and signature block (right) */
    c->y -= 14;
    ensure(c, 130);
    top = c->y;
    c->y = top;
    para(c, c->bital, 12, "Nơi nhận:", c->left, lw, LEFT, 15);
    para(c, c->reg, 11, *js(doc, "recipients") ? js(doc, "recipients") : "- Như trên;\n- Lưu: VT.", c->left, lw, LEFT, 14);
    ly = c->y;
    c->y = top;
    up = upper_dup(js(sig, "authority"));
    para(c, c->bold, 12, up, rx, rw, CENTER, 15);
    free(up);
    para(c, c->ital, 12, js(sig, "title"), rx, rw, CENTER, 15);
    c->y -= 60;
    para(c, c->bold, 12, js(sig, "name"), rx, rw, CENTER, 15);
    c->y = ly < c->y ? ly : c->y;

    /* page numbers: from page 2, top centre */
    for (int p = 1; p < c->npages; p++) {
        char num[16];
        snprintf(num, sizeof(num), "%d", p + 1);
        HPDF_Page pg = c->pages[p];
        HPDF_Page_BeginText(pg);
        HPDF_Page_SetFontAndSize(pg, c->reg, 12);
        HPDF_Page_TextOut(pg, (c->left + c->right) / 2 - HPDF_Page_TextWidth(pg, num) / 2, PAGE_H - MM(12), num);
        HPDF_Page_EndText(pg);
    }
}

int kh_ui_pdf_render(const json_t *doc, const char *font_dir, kh_buf *out, char *err, size_t errsz)
{
    ctx *c;
    int rc = 0;
    if (!json_is_object(doc) || !json_is_string(json_object_get(doc, "title")) || !out) {
        snprintf(err, errsz, "tài liệu phải là đối tượng JSON có 'title' / the document must be a JSON object with 'title'");
        return KH_EINVAL;
    }
    if (!font_dir)
        font_dir = getenv("KHIEN_FONT_DIR");
    if (font_dir && !*font_dir)
        font_dir = NULL;
    if (!(c = calloc(1, sizeof(*c))))
        return KH_ENOMEM;
    c->pdf = HPDF_New(on_error, c);
    if (!c->pdf) {
        free(c);
        snprintf(err, errsz, "libharu: hết bộ nhớ / out of memory");
        return KH_ENOMEM;
    }
    HPDF_UseUTFEncodings(c->pdf);
    HPDF_SetCompressionMode(c->pdf, HPDF_COMP_ALL);
    HPDF_SetInfoAttr(c->pdf, HPDF_INFO_CREATOR, "Khien");
    HPDF_SetInfoAttr(c->pdf, HPDF_INFO_PRODUCER, "Khien (libharu)");
    if ((rc = load_fonts(c, font_dir, err, errsz)) < 0)
        goto done;
    c->left = MM(30);
    c->right = PAGE_W - MM(15);
    c->top = PAGE_H - MM(20);
    c->bottom = MM(20);
    new_page(c);
    layout(c, doc);
    if (c->limit) {
        snprintf(err, errsz, "báo cáo quá dài (tối đa %d trang) / report too long (at most %d pages)", MAX_PAGES, MAX_PAGES);
        rc = KH_ELIMIT;
        goto done;
    }
    if (c->failed || HPDF_SaveToStream(c->pdf) != HPDF_OK) {
        snprintf(err, errsz, "libharu: lỗi 0x%04lX khi tạo PDF / error 0x%04lX while making the PDF", c->code, c->code);
        rc = KH_EINTERNAL;
        goto done;
    }
    HPDF_UINT32 size = HPDF_GetStreamSize(c->pdf);
    if (size > KH_UI_PDF_MAX) {
        snprintf(err, errsz, "PDF quá lớn / PDF too large");
        rc = KH_ELIMIT;
        goto done;
    }
    if ((rc = kh_buf_reserve(out, size)) < 0)
        goto done;
    for (;;) {
        HPDF_UINT32 n = 65536;
        if ((rc = kh_buf_reserve(out, n)) < 0)
            break;
        HPDF_STATUS st = HPDF_ReadFromStream(c->pdf, (HPDF_BYTE *)out->data + out->len, &n);
        out->len += n;
        out->data[out->len] = 0;
        if (st == HPDF_STREAM_EOF || n == 0)
            break;
        if (st != HPDF_OK) {
            snprintf(err, errsz, "libharu: không đọc được PDF / cannot read the PDF back");
            rc = KH_EINTERNAL;
            break;
        }
    }
done:
    HPDF_Free(c->pdf);
    free(c);
    return rc;
}

void kh_ui_reply_pdf(kh_req *r, const kh_buf *pdf, const char *file_name)
{
    char hdr[1024];
    snprintf(hdr, sizeof(hdr), KH_UI_SECURITY_HEADERS "Content-Disposition: attachment; filename=\"%s\"\r\n", file_name);
    kh_req_reply(r, 200, "application/pdf", hdr, pdf->data ? pdf->data : "", pdf->len);
}

/* POST /ui/pdf?name=FILE.pdf with a report document: the PDF of that document.
 * The caller already read the document from the API (its rights were checked
 * there); this only lays it out. */
void kh_ui_route_pdf(kh_req *r, void *payload)
{
    (void)payload;
    char name[128] = "khien-bao-cao.pdf", err[512] = "";
    int n = kh_req_query(r, "name", name, sizeof(name));
    if (n == -2 || (n >= 0 && (n < 5 || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != (size_t)n ||
                               strcmp(name + n - 4, ".pdf") != 0))) {
        kh_reply_error(r, 400, "bad_request", "tên tệp: chữ, số, . _ - và đuôi .pdf / file name: letters, digits, . _ - ending in .pdf");
        return;
    }
    if (n < 0)
        snprintf(name, sizeof(name), "khien-bao-cao.pdf");
    if (kh_req_body(r, KH_BODY_MAX_USER) < 0)
        return;
    kh_buf pdf = KH_BUF_INIT(KH_UI_PDF_MAX + 65536);
    int rc = kh_ui_pdf_render(r->body, NULL, &pdf, err, sizeof(err));
    if (rc < 0) {
        kh_buf_dispose(&pdf);
        kh_reply_error(r, rc == KH_EINVAL ? 400 : rc == KH_ELIMIT ? 413 : 500,
                       rc == KH_EINVAL ? "bad_request" : rc == KH_ELIMIT ? "too_large" : "internal", "%s", err);
        return;
    }
    kh_audit(r, "pdf", "report", js(r->body, "title"));
    kh_ui_reply_pdf(r, &pdf, name);
    kh_buf_dispose(&pdf);
}
