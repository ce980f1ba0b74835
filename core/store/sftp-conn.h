/* core/store/sftp-conn.h: the connection of an SFTP store (core/store/store-sftp.c builds the
 * store's operations on it): one SSH session and its SFTP channel per open store, libssh2
 * non-blocking, every call run through YB_SFTP_RUN so that each wait for the server lasts at most
 * the store's timeout (a slow link that keeps moving is never cut; a silent one is). Once the
 * connection fails, every call fails with the same error at once (lost). Paths are store paths
 * (store.h), "" the root. */
#pragma once

#include <libssh2.h>
#include <libssh2_sftp.h>
#include <pthread.h>
#include <stdbool.h>

#include "core/base/timeutil.h"
#include "core/store/ssh-session.h"
#include "core/store/store.h"

/* A store on an SFTP server: the YbStore its operations get. */
typedef struct YbSftpConn {
        YbStore base;
        /* One libssh2 session serves every thread that uses the store (a backup writes its
         * volumes from a thread of their own): each operation holds this lock (recursive: a
         * listing's callback may use the store). */
        pthread_mutex_t lock;
        YbSshSession ssh;
        LIBSSH2_SFTP *sftp;
        char *root;         /* the store's directory on the server, without a trailing '/' */
        int64_t timeout_ns; /* the longest one wait for the server may last */
        int lost;           /* 0, or how the connection failed: every later operation fails so */
        unsigned spins;     /* waits in a row that found the socket ready and libssh2 not */
        bool dir_sync; /* the server opens directories as files, so fsync@openssh.com syncs them */
        /* Directories of the store (relative paths) already seen to be directories, not
         * symlinks, in this session. */
        char **dirs;
        size_t n_dirs, alloc_dirs;
} YbSftpConn;

/* Opens the connection to where for the store at location with ops: logs in, checks the host
 * key, starts SFTP and checks that the root is a directory and that the server offers
 * fsync@openssh.com. -errno and why (naming the host) in err on failure. */
int yb_sftp_conn_open(const char *location, const YbLocation *where, const YbStoreOptions *opts,
                      const YbStoreOps *ops, YbStore **ret, char *err, size_t err_size);
/* Ends the connection (politely unless lost) and frees the store. */
void yb_sftp_conn_close(YbStore *base);

/* Waits until the socket is ready for what libssh2 waits for, or until (monotonic ns): 0, or
 * LIBSSH2_ERROR_TIMEOUT with the connection marked lost (-ETIMEDOUT) and shut down. */
int yb_sftp_wait(YbSftpConn *s, int64_t until);
/* Runs the libssh2 call (returning an int or ssize_t) again while it says EAGAIN, after each
 * yb_sftp_wait; its final result (LIBSSH2_ERROR_TIMEOUT when the call did not end within the
 * store's timeout). The bound is on the whole call, not on each wait: libssh2 1.10 says EAGAIN
 * with the socket ready when the server's channel window is spent (a link gone black after we
 * sent a window's worth), so a bound on each wait would be met again and again, for ever. */
#define YB_SFTP_RUN(s, call)                                                                       \
        ({                                                                                         \
                int64_t _until = yb_monotonic_ns() + (s)->timeout_ns;                              \
                ssize_t _rc;                                                                       \
                while ((_rc = (call)) == LIBSSH2_ERROR_EAGAIN &&                                   \
                       (_rc = yb_sftp_wait(s, _until)) == 0)                                       \
                        ;                                                                          \
                (s)->spins = 0;                                                                    \
                _rc;                                                                               \
        })
/* The same for a call returning a pointer (NULL: failed, libssh2's last error says why). */
#define YB_SFTP_RUN_PTR(s, call)                                                                   \
        ({                                                                                         \
                int64_t _until = yb_monotonic_ns() + (s)->timeout_ns;                              \
                __typeof__(call) _ptr;                                                             \
                while (!(_ptr = (call)) &&                                                         \
                       libssh2_session_last_errno((s)->ssh.s) == LIBSSH2_ERROR_EAGAIN &&           \
                       yb_sftp_wait(s, _until) == 0)                                               \
                        ;                                                                          \
                (s)->spins = 0;                                                                    \
                _ptr;                                                                              \
        })

/* libssh2's return code rc of the operation what on path, as -errno (the one place that maps
 * them): a lost connection is remembered in s->lost and its socket shut down. */
int yb_sftp_map_rc(YbSftpConn *s, int rc, const char *what, const char *path);
/* The session's last libssh2 error code. */
int yb_sftp_last_rc(YbSftpConn *s);
/* The server's path of the store path rel; NULL when out of memory. The caller frees it. */
char *yb_sftp_full_path(YbSftpConn *s, const char *rel);
/* stat or lstat (how: LIBSSH2_SFTP_STAT or _LSTAT) of rel, whose attributes must include the
 * file type. */
int yb_sftp_stat(YbSftpConn *s, const char *rel, int how, LIBSSH2_SFTP_ATTRIBUTES *ret);
/* Checks that the first n bytes of rel name a directory reached through directories only (no
 * symlink on the way: -ENOTDIR), remembering what it saw for the session. */
int yb_sftp_check_dir(YbSftpConn *s, const char *rel, size_t n);
/* yb_sftp_check_dir for the directories above path's last component. */
int yb_sftp_check_parents(YbSftpConn *s, const char *path);
/* yb_sftp_check_parents, then checks that path exists and is not a symlink (-ELOOP, as
 * O_NOFOLLOW); its attributes in *ret. */
int yb_sftp_check_file(YbSftpConn *s, const char *path, LIBSSH2_SFTP_ATTRIBUTES *ret);
/* Forgets what was seen of rel and below (renamed or removed). */
void yb_sftp_dir_forget(YbSftpConn *s, const char *rel);
/* Opens path (type LIBSSH2_SFTP_OPENFILE or _OPENDIR) with flags and mode: -EEXIST when
 * CREAT|EXCL finds something there. */
int yb_sftp_open_handle(YbSftpConn *s, const char *path, unsigned long flags, long mode, int type,
                        LIBSSH2_SFTP_HANDLE **ret);
/* fsync@openssh.com on h (what names it for the debug log): -EOPNOTSUPP if the server lacks
 * it. */
int yb_sftp_fsync_handle(YbSftpConn *s, LIBSSH2_SFTP_HANDLE *h, const char *what);
