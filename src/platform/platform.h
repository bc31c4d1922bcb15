/* Khiên — platform: the only place for operating-system specifics.
 *
 * Everything above uses these functions instead of #ifdefs. Only a POSIX
 * (Linux) implementation exists today: posix.c.
 */
#ifndef KH_PLATFORM_H
#define KH_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h" /* kh_buf */

/* A read-only view of a whole file. */
typedef struct kh_map {
    const uint8_t *data;
    size_t len;
    int mapped; /* 1: mmap'ed; 0: heap (empty files, or read fallback) */
} kh_map;

/* Maps fd's first len bytes read-only, hinting sequential access.
 * Returns 0, KH_EIO, KH_ENOMEM. */
int kh_map_fd(kh_map *m, int fd, size_t len);
void kh_map_release(kh_map *m);
void kh_unmap(void *p, size_t len);

/* Maps a whole file by path (for database files). Returns 0, KH_ENOENT,
 * KH_EACCES, KH_EIO, KH_ELIMIT (bigger than limit), KH_EINVAL (not a regular file). */
int kh_map_path(kh_map *m, const char *path, uint64_t limit);

/* Reads a whole file by path into b (NUL-terminated; cleared first): for
 * many small files (rule files), where a mapping costs page faults and an
 * unmap. Errors as kh_map_path. */
int kh_read_path(const char *path, uint64_t limit, kh_buf *b);

/* A zeroed allocation of `bytes`; from KH_ALLOC_MAP_MIN up, anonymous
 * memory with its pages populated at once (for a table filled right away:
 * one call instead of a page fault per page, dear in a virtual machine).
 * *mapped says how to free it: kh_free_zeroed(p, bytes, mapped). NULL when
 * out of memory. */
#define KH_ALLOC_MAP_MIN (64u << 10)
void *kh_alloc_zeroed(size_t bytes, int *mapped);
void kh_free_zeroed(void *p, size_t bytes, int mapped);

/* A buffer of anonymous memory for large data written at once: the files
 * a scanner reads whole, the matcher's databases at load. Placed on 2 MiB
 * boundaries and offered to the kernel for huge pages (MADV_HUGEPAGE). In
 * a virtual machine the first touch of every 4 KiB page of a fresh
 * mapping costs a trip to the hypervisor; a file mapped with mmap pays it
 * for every page of every file, a buffer kept across files and backed by
 * huge pages pays it once per 2 MiB. cap is a multiple of
 * KH_BIGBUF_ALIGN; the contents are not kept when it grows. */
#define KH_BIGBUF_ALIGN (2u << 20)
typedef struct kh_bigbuf {
    uint8_t *data;
    size_t cap;
} kh_bigbuf;
/* Makes b hold at least n bytes. Returns 0 or KH_ENOMEM (b unchanged). */
int kh_bigbuf_reserve(kh_bigbuf *b, size_t n);
/* Gives the pages beyond the first keep bytes back to the system (they
 * read as zeros when used again); the mapping stays. */
void kh_bigbuf_trim(kh_bigbuf *b, size_t keep);
void kh_bigbuf_free(kh_bigbuf *b);

/* Maps errno to a KH_E* code. */
int kh_errno_to_kh(int e);

/* Online processors (at least 1). */
unsigned kh_ncpu(void);

/* Opens a file for scanning: read-only, close-on-exec, without updating
 * its access time where permitted, without following a final symlink when
 * nofollow is set. Returns a descriptor or -errno. */
int kh_open_scan(int dirfd, const char *name, int nofollow);

/* Writes data to path atomically and durably, mode 0600; kh_write_atomic_mode
 * with another mode (e.g. 0644 for shared databases). Both are
 * kh_platform_write_durable() (include/khien/platform.h). */
int kh_write_atomic(const char *path, const void *data, size_t len);
int kh_write_atomic_mode(const char *path, const void *data, size_t len, unsigned mode);

/* The address of symbol sym in the shared module `file`, loaded from the
 * folder of the running program, or from ../lib/khien beside that folder
 * (not from the library search path: it must be the module built with
 * this program). NULL, with a message in
 * err, when the module or the symbol cannot be found. The module stays
 * loaded for the life of the process. */
void *kh_module_sym(const char *file, const char *sym, char *err, size_t errlen);

/* Identity of the running program's file (device, inode, size, mtime), so
 * caches built by another build of the program are not reused. Writes "" if unknown. */
void kh_self_id(char *out, size_t n);

/* Creates dir and its parents with the given mode (kh_platform_mkdir_p). */
int kh_mkdir_p(const char *dir, unsigned mode);

/* What a folder entry is, as the folder itself says (no stat): */
enum { KH_DT_UNKNOWN = 0, KH_DT_REG, KH_DT_DIR, KH_DT_LNK, KH_DT_OTHER };

/* Reads the entries of the open folder dfd in batches of up to buflen
 * bytes of buf (one system call for many names on Linux, getdents64, where
 * readdir() would also allocate its own stream), calling fn with each name
 * other than "." and ".." and its KH_DT_* type. Returns 0 at the end of the
 * folder, what fn returned when that was nonzero (the read stops), or a
 * negative KH_E* when the folder cannot be read. buf must be aligned to 8
 * bytes; buflen at least 4096. */
typedef int (*kh_dir_fn)(void *ud, const char *name, unsigned type);
int kh_dir_read(int dfd, void *buf, size_t buflen, kh_dir_fn fn, void *ud);

/* A hint to the processor inside a busy-wait loop (x86 PAUSE, ARM YIELD). */
void kh_cpu_relax(void);

#endif
