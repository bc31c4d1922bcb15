/* Khiên — common definitions shared by every public header.
 *
 * KH_API marks the functions libkhien exports; everything else is hidden
 * (-fvisibility=hidden). Version macros follow semantic versioning. */
#ifndef KHIEN_COMMON_H
#define KHIEN_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define KH_API __attribute__((visibility("default")))
#else
#define KH_API
#endif

#define KH_VERSION_MAJOR 0
#define KH_VERSION_MINOR 1
#define KH_VERSION_PATCH 0
#define KH_VERSION_STRING "0.1.0"

/** Returns the library's version string ("0.1.0"). */
KH_API const char *kh_version(void);

#endif
