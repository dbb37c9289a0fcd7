/*
 * Writing a statistics segment file (export_format.h) safely: the file is
 * made under a hidden name in the directory (O_EXCL, O_NOFOLLOW, the mode
 * asked for whatever the umask), filled, and renamed into place, so a
 * reader never sees a half-made segment and a bigger segment replaces a
 * smaller one whole. Updates in place go between export_seq_begin and
 * export_seq_end (readers copy between two equal even sequence numbers).
 */
#ifndef POOL_EXPORT_FILE_H
#define POOL_EXPORT_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Makes DIR/poolmalloc.<pid> of `size` bytes, mapped shared; fill(map, arg)
 * writes it before the rename. Returns the mapping, or NULL with a sentence
 * in err. path receives the file's name. */
void *export_file_create(const char *dir, pid_t pid, mode_t mode, size_t size,
                         void (*fill)(void *map, void *arg), void *arg, char *path,
                         size_t path_len, char *err, size_t err_len);

/* The segment's sequence counter: odd while it is being written. */
void export_seq_begin(uint64_t *seq);
void export_seq_end(uint64_t *seq);

/* The process's name as /proc shows it (NUL-padded, 15 characters at most). */
void export_process_name(pid_t pid, char out[16]);

uint64_t export_realtime_ns(void);

#endif
