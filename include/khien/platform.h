/* Khiên — files that survive a crash or a power loss, folders and paths.
 *
 * One durable-write routine for the whole program (the engine's caches,
 * signature databases, the agent's state and queue files, the centre's keys
 * and certificates), so that each of them gets the same care: the data goes
 * to a fresh temporary file next to the target, is fsync'ed, renamed over
 * the target, and the folder is fsync'ed, so after a return of 0 the file
 * holds exactly the new data even if the machine loses power, and at no
 * moment can a reader see a half-written file.
 */
#ifndef KHIEN_PLATFORM_H
#define KHIEN_PLATFORM_H

#include <stddef.h>

#include "khien/common.h"

/** Replaces path with data (len bytes), durably and atomically. mode: the
 * permission bits of the file, applied exactly (not reduced by the umask).
 * A symbolic link at path is replaced, never followed.
 * @return 0, KH_EINVAL, KH_ELIMIT (path too long), KH_ENOENT (no folder),
 *         KH_EACCES, KH_EIO (write, fsync or rename failed; path unchanged) */
KH_API int kh_platform_write_durable(const char *path, const void *data, size_t len, unsigned mode);

/** fsyncs the folder holding path, making a rename or unlink done in it
 * durable. @return 0, KH_ENOMEM, KH_ENOENT, KH_EIO */
KH_API int kh_platform_sync_parent(const char *path);

/** Creates dir and its missing parents, each with mode. Existing ones are
 * left as they are. @return 0, KH_EINVAL, KH_ENOENT, KH_EACCES, KH_EIO */
KH_API int kh_platform_mkdir_p(const char *dir, unsigned mode);

/** dir + "/" + name into out (n bytes). @return 0, KH_ELIMIT (does not fit) */
KH_API int kh_platform_path_join(char *out, size_t n, const char *dir, const char *name);

#endif
