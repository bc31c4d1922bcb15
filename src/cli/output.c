/* Khiên — cli: messages and shared helpers of the command-line front end. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "khien/khien.h"
#include "util/util.h"

void kh_cli_errorf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("khien: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void kh_cli_warnf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("khien: warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

char *kh_cli_state_dir(void)
{
    const char *e = getenv("KHIEN_STATE_DIR");
    if (e && *e)
        return kh_strdup(e);
    kh_buf b = KH_BUF_INIT(4096);
    if ((e = getenv("XDG_STATE_HOME")) && *e)
        kh_buf_printf(&b, "%s/khien", e);
    else if ((e = getenv("HOME")) && *e)
        kh_buf_printf(&b, "%s/.local/state/khien", e);
    else
        return NULL;
    return kh_buf_detach(&b, NULL);
}

void kh_cli_print_diags(const kh_compiler *c, int quiet)
{
    size_t n = kh_compiler_diag_count(c);
    for (size_t i = 0; i < n; i++) {
        const kh_diag *d = kh_compiler_diag(c, i);
        if (quiet && d->severity != KH_DIAG_ERROR)
            continue;
        const char *sev = d->severity == KH_DIAG_ERROR ? "error" : "warning";
        if (d->line && d->column)
            fprintf(stderr, "khien: %s:%u:%u: %s: %s\n", d->file, d->line, d->column, sev, d->message);
        else if (d->line)
            fprintf(stderr, "khien: %s:%u: %s: %s\n", d->file, d->line, sev, d->message);
        else if (d->file && *d->file)
            fprintf(stderr, "khien: %s: %s: %s\n", d->file, sev, d->message);
        else
            fprintf(stderr, "khien: %s: %s\n", sev, d->message);
    }
}
