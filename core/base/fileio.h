/* core/base/fileio.h: whole-buffer I/O, atomic file replacement, directory helpers.
 * In builds with YB_FAULT_INJECTION, YB_FAULT="write:N" makes the Nth yb_write_all() fail with
 * ENOSPC, YB_FAULT="fsync:N" the Nth yb_fsync() with EIO, and YB_FAULT="kill:N" raises SIGKILL
 * at the Nth of either, so tests can prove that a failed write or a crash never leaves a
 * committed snapshot, deterministically and without timing. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/base/buf.h"

/* Writes all n bytes (retrying short writes and EINTR). Returns 0 or -errno. */
int yb_write_all(int fd, const void *data, size_t n);
/* pwrite() of all n bytes at off. */
int yb_pwrite_all(int fd, const void *data, size_t n, uint64_t off);
/* Reads until n bytes or end of file. Returns the count read (< n only at EOF) or -errno. */
ssize_t yb_read_all(int fd, void *data, size_t n);
/* pread() until n bytes or end of file; returns the count read or -errno. */
ssize_t yb_pread_all(int fd, void *data, size_t n, uint64_t off);
/* fsync() with fault injection. */
int yb_fsync(int fd);
/* Reads a whole file into *ret (appending); fails with -EFBIG above max bytes. */
int yb_read_file_at(int dir_fd, const char *path, size_t max, YbBuf *ret);
/* Writes a file via a temporary name, fsync, rename, fsync of the directory. */
int yb_write_file_atomic_at(int dir_fd, const char *path, const void *data, size_t n, mode_t mode);
/* fsyncs the directory path (relative to dir_fd; "." for dir_fd itself). */
int yb_fsync_dir_at(int dir_fd, const char *path);
/* Creates path and its missing parents. Existing directories are fine. */
int yb_mkdir_p_at(int dir_fd, const char *path, mode_t mode);
/* Opens path under dir_fd with flags (and O_NOFOLLOW, O_CLOEXEC; with O_PATH a symlink at its end
 * is opened as itself, without it refused with -ELOOP), following no symlink and crossing no
 * mount point on the way: -ELOOP when a directory on the way is a symlink, -EXDEV when it is a
 * mount point; -errno otherwise. Where the kernel has no openat2 (before Linux 5.6), one
 * directory at a time, each with O_NOFOLLOW (mount points are then crossed). */
int yb_open_beneath(int dir_fd, const char *path, int flags);
/* Removes path recursively (no error if it does not exist). Never follows symlinks, never
 * crosses a mount point (what is mounted in the tree stays, and the result is -EXDEV), and
 * holds a bounded number of fds however deep the tree. */
int yb_rm_rf_at(int dir_fd, const char *path);
/* Reads a line-oriented secret (a passphrase file): the first line without its newline. */
int yb_read_secret_file(const char *path, char **ret);
