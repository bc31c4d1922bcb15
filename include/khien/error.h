/* Khiên — error codes.
 *
 * Every fallible function returns 0 on success or one negative KH_E* code
 * from this one table. A detection is a result, never an error. The detailed
 * message (file, line, column for bad input) lives on the object that failed:
 * see kh_compiler_diag() and kh_scanner_last_error(). */
#ifndef KHIEN_ERROR_H
#define KHIEN_ERROR_H

#include "common.h"

#define KH_ERRORS(X)                                                  \
    X(OK, 0, "success")                                               \
    X(ENOMEM, -1, "out of memory")                                    \
    X(EINVAL, -2, "invalid argument")                                 \
    X(EIO, -3, "input/output error")                                  \
    X(ESYNTAX, -4, "syntax error")                                    \
    X(ELIMIT, -5, "limit exceeded")                                   \
    X(ETIMEOUT, -6, "timed out")                                      \
    X(EFORMAT, -7, "malformed input")                                 \
    X(EUSER, -8, "stopped by callback")                               \
    X(EINTERNAL, -9, "internal error")                                \
    X(ENOENT, -10, "no such file or directory")                       \
    X(EACCES, -11, "permission denied")                               \
    X(EUNSUPPORTED, -12, "not supported")                             \
    X(ENOTFOUND, -13, "not found")

typedef enum kh_err {
#define KH_ERR_ENUM_(name, code, text) KH_##name = code,
    KH_ERRORS(KH_ERR_ENUM_)
#undef KH_ERR_ENUM_
} kh_err;

/** Short English description of an error code ("out of memory"). Never NULL. */
KH_API const char *kh_strerror(int err);
/** Symbolic name of an error code ("KH_ENOMEM"). Never NULL. */
KH_API const char *kh_err_name(int err);

#endif
