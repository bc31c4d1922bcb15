/* Khiên — inventory: reading a host's files under an optional root prefix.
 *
 * Every path the inventory, vulnerability and audit modules read from the
 * host (/proc, /sys, /etc, /var/lib/dpkg ...) goes through these helpers, so
 * that `--root DIR` can point them at a copy of a system (a mounted image,
 * or a fake tree written by a test). A NULL, empty or "/" root means the
 * running system. Reads are bounded: a file larger than the caller's limit
 * fails with KH_ELIMIT instead of filling memory.
 *
 * The root is a prefix, not a jail: an absolute symbolic link inside the
 * tree points out of it. That is acceptable for reading a trusted image and
 * for tests; do not use it to contain hostile trees.
 */
#ifndef KH_INVENTORY_ROOTFS_H
#define KH_INVENTORY_ROOTFS_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

/* 1 when root names the running system (NULL, "" or "/"). */
int kh_root_is_host(const char *root);

/* Writes root + path into out (cleared first). @return 0, KH_ENOMEM, KH_ELIMIT. */
int kh_root_path(kh_buf *out, const char *root, const char *path);

/* Reads a whole file (works for /proc and /sys, whose sizes are 0) into out
 * (cleared first, NUL-terminated). At most limit bytes (0: 64 MiB).
 * @return 0, KH_ENOENT, KH_EACCES, KH_EIO, KH_ELIMIT, KH_ENOMEM. */
int kh_root_read(const char *root, const char *path, size_t limit, kh_buf *out);

/* Reads a small file's first line, without the newline and trailing
 * blanks, into a malloc'ed string (caller frees). NULL if unreadable/empty. */
char *kh_root_read_line(const char *root, const char *path);

/* The names in a folder (without "." and ".."), sorted bytewise. The caller
 * frees with kh_root_names_free(). At most 100000 names.
 * @return 0, KH_ENOENT, KH_EACCES, KH_EIO, KH_ENOMEM, KH_ELIMIT. */
int kh_root_list(const char *root, const char *dir, char ***names_out, size_t *n_out);
void kh_root_names_free(char **names, size_t n);

/* readlink() of root + path into a malloc'ed string; NULL on failure. */
char *kh_root_readlink(const char *root, const char *path);

/* Kinds for kh_root_kind(). */
#define KH_ROOT_NONE 0
#define KH_ROOT_FILE 1
#define KH_ROOT_DIR 2
#define KH_ROOT_OTHER 3
/* What root + path is, following symbolic links. */
int kh_root_kind(const char *root, const char *path);
/* Like kh_root_kind() but does not follow a final symbolic link (4: link). */
#define KH_ROOT_LINK 4
int kh_root_lkind(const char *root, const char *path);

/* Line iteration over a NUL-terminated text: returns the next line (not
 * terminated; its length in *len) and advances *pos; NULL at the end. */
const char *kh_next_line(const char *text, size_t size, size_t *pos, size_t *len);

/* The value of KEY in an os-release text (quotes and escapes removed), or
 * NULL. Caller frees. */
char *kh_osrelease_value(const char *text, size_t len, const char *key);
/* The same, reading ROOT/etc/os-release or ROOT/usr/lib/os-release. */
char *kh_osrelease_get(const char *root, const char *key);

/* Writes "dir/name" into out (n bytes). @return 0, or KH_ELIMIT if it does not fit. */
int kh_path_join(char *out, size_t n, const char *dir, const char *name);

/* Trims blanks (space, tab, CR) at both ends of [s, s+*n). */
const char *kh_trim(const char *s, size_t *n);

#endif
