/* core/store/sftp-conn.c: an SFTP store's connection (sftp-conn.h): logging in, what the server
 * must offer, libssh2's errors mapped once, and the walk that keeps every path inside the
 * store root. */
#include "core/store/sftp-conn.h"

#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/base/log.h"
#include "core/base/timeutil.h"

#define SFTP_TIMEOUT_NS_DEFAULT (30 * YB_NSEC_PER_SEC)

/* Maps a libssh2 return code to -errno, once, here. A failed connection (a socket error, a
 * timeout, a closed channel) is remembered: the session cannot be trusted after it. */
int yb_sftp_map_rc(YbSftpConn *s, int rc, const char *what, const char *path) {
        int r;

        if (s->lost) /* a wait timed out, or an earlier call failed */
                return s->lost;

        if (rc == LIBSSH2_ERROR_SFTP_PROTOCOL) {
                unsigned long fx = libssh2_sftp_last_error(s->sftp);

                switch (fx) {
                case LIBSSH2_FX_NO_SUCH_FILE:
                case LIBSSH2_FX_NO_SUCH_PATH:
                        r = -ENOENT;
                        break;
                case LIBSSH2_FX_FILE_ALREADY_EXISTS:
                        r = -EEXIST;
                        break;
                case LIBSSH2_FX_PERMISSION_DENIED:
                case LIBSSH2_FX_WRITE_PROTECT:
                        r = -EACCES;
                        break;
                case LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM:
                case LIBSSH2_FX_QUOTA_EXCEEDED:
                        r = -ENOSPC;
                        break;
                case LIBSSH2_FX_OP_UNSUPPORTED:
                        r = -EOPNOTSUPP;
                        break;
                case LIBSSH2_FX_NOT_A_DIRECTORY:
                        r = -ENOTDIR;
                        break;
                case LIBSSH2_FX_DIR_NOT_EMPTY:
                        r = -ENOTEMPTY;
                        break;
                case LIBSSH2_FX_LINK_LOOP:
                        r = -ELOOP;
                        break;
                case LIBSSH2_FX_NO_CONNECTION:
                case LIBSSH2_FX_CONNECTION_LOST:
                        r = s->lost = -ECONNRESET;
                        break;
                default: /* FAILURE: OpenSSH's sftp-server says so for any other errno */
                        r = -EIO;
                        break;
                }
                log_debug("SFTP store '%s': %s '%s': status %lu", s->base.location, what, path, fx);
                return r;
        }
        if (rc == LIBSSH2_ERROR_ALLOC)
                return -ENOMEM;
        if (rc == LIBSSH2_ERROR_TIMEOUT || rc == LIBSSH2_ERROR_SOCKET_TIMEOUT)
                s->lost = -ETIMEDOUT;
        else
                s->lost = -ECONNRESET; /* a socket or channel error, or the protocol out of step */
        log_debug("SFTP store '%s': %s '%s': connection lost: %s (%d)", s->base.location, what,
                  path, yb_ssh_last_error(&s->ssh), rc);
        /* Nothing more is sent on it: every later call fails at once. */
        if (s->ssh.fd >= 0)
                (void) shutdown(s->ssh.fd, SHUT_RDWR);
        return s->lost;
}

int yb_sftp_wait(YbSftpConn *s, int64_t until) {
        LIBSSH2_CHANNEL *ch = s->sftp ? libssh2_sftp_get_channel(s->sftp) : NULL;
        int r;

        int64_t t0;

        /* libssh2 1.10 may say "again" while the socket is ready for what it says it waits for
         * (sends refused by a shaped link although poll() calls the socket writable; the
         * server's channel window spent while it says it waits to send): a busy loop through
         * every slow link. After the third wait in a row that returned at once, pause 1 ms,
         * doubling to 8 ms, before waiting again; a wait that waited, or a call that ended
         * (YB_SFTP_RUN), resets it. */
        if (s->spins > 2) {
                int64_t pause =
                        MIN(YB_NSEC_PER_MSEC << MIN(s->spins - 3, 3u), until - yb_monotonic_ns());

                if (pause > 0)
                        (void) nanosleep(&(struct timespec){ .tv_sec = 0, .tv_nsec = pause }, NULL);
        }
        t0 = yb_monotonic_ns();
        if (ch && libssh2_channel_window_write(ch) == 0)
                /* Its window adjustment is what lets us go on: input, and libssh2 may still hold
                 * part of a packet to send. */
                r = yb_ssh_wait_for(&s->ssh, POLLIN | POLLOUT, until, false);
        else
                r = yb_ssh_wait(&s->ssh, until, false);
        if (r == 0 && yb_monotonic_ns() - t0 < 50 * YB_NSEC_PER_USEC)
                s->spins++;
        else
                s->spins = 0;
        if (r == 0)
                return 0;
        s->lost = r == -ETIMEDOUT ? -ETIMEDOUT : -ECONNRESET;
        log_debug("SFTP store '%s': no answer within %llds: %s", s->base.location,
                  (long long) (s->timeout_ns / YB_NSEC_PER_SEC), strerror(-r));
        if (s->ssh.fd >= 0)
                (void) shutdown(s->ssh.fd, SHUT_RDWR);
        return LIBSSH2_ERROR_TIMEOUT;
}

int yb_sftp_last_rc(YbSftpConn *s) {
        return libssh2_session_last_errno(s->ssh.s);
}

/* The path on the server of rel (a store path, or "" for the root). */
char *yb_sftp_full_path(YbSftpConn *s, const char *rel) {
        char *p;

        if (!*s->root && !*rel) /* the server's "/" */
                return strdup("/");
        if (asprintf(&p, "%s%s%s", s->root, *rel ? "/" : "", rel) < 0)
                return NULL;
        return p;
}

int yb_sftp_stat(YbSftpConn *s, const char *rel, int how, LIBSSH2_SFTP_ATTRIBUTES *ret) {
        _cleanup_free_ char *p = yb_sftp_full_path(s, rel);
        int rc;

        if (!p)
                return -ENOMEM;
        if (s->lost)
                return s->lost;
        rc = (int) YB_SFTP_RUN(s, libssh2_sftp_stat_ex(s->sftp, p, (unsigned) strlen(p), how, ret));
        if (rc < 0)
                return yb_sftp_map_rc(s, rc, "stat", p);
        if (!(ret->flags & LIBSSH2_SFTP_ATTR_PERMISSIONS)) {
                log_debug("SFTP store '%s': stat '%s' gave no file type", s->base.location, p);
                return -EIO;
        }
        return 0;
}

static bool dir_known(YbSftpConn *s, const char *rel, size_t n) {
        for (size_t i = 0; i < s->n_dirs; i++)
                if (strlen(s->dirs[i]) == n && memcmp(s->dirs[i], rel, n) == 0)
                        return true;
        return false;
}

static int dir_remember(YbSftpConn *s, const char *rel, size_t n) {
        if (s->n_dirs == s->alloc_dirs) {
                size_t a = s->alloc_dirs ? s->alloc_dirs * 2 : 32;
                char **d = realloc(s->dirs, a * sizeof(char *));

                if (!d)
                        return -ENOMEM;
                s->dirs = d;
                s->alloc_dirs = a;
        }
        s->dirs[s->n_dirs] = strndup(rel, n);
        if (!s->dirs[s->n_dirs])
                return -ENOMEM;
        s->n_dirs++;
        return 0;
}

/* Forgets rel and everything below it (renamed or removed). */
void yb_sftp_dir_forget(YbSftpConn *s, const char *rel) {
        size_t n = strlen(rel);

        for (size_t i = 0; i < s->n_dirs;) {
                const char *d = s->dirs[i];

                if (strncmp(d, rel, n) == 0 && (d[n] == 0 || d[n] == '/')) {
                        free(s->dirs[i]);
                        s->dirs[i] = s->dirs[--s->n_dirs];
                } else
                        i++;
        }
}

/* Checks that the first n bytes of rel name a directory of the store, reached through
 * directories only: each component is looked at with lstat, and a symlink anywhere is refused
 * (-ENOTDIR), as the local store's walk with O_NOFOLLOW refuses it, so that nothing outside the
 * store root is ever touched whatever the server's symlinks say. */
int yb_sftp_check_dir(YbSftpConn *s, const char *rel, size_t n) {
        for (size_t i = 0; i <= n; i++) {
                LIBSSH2_SFTP_ATTRIBUTES a;
                _cleanup_free_ char *prefix = NULL;
                int r;

                if (i < n && rel[i] != '/')
                        continue;
                if (i == 0 || dir_known(s, rel, i))
                        continue;
                prefix = strndup(rel, i);
                if (!prefix)
                        return -ENOMEM;
                r = yb_sftp_stat(s, prefix, LIBSSH2_SFTP_LSTAT, &a);
                if (r < 0)
                        return r;
                if (!LIBSSH2_SFTP_S_ISDIR(a.permissions)) {
                        log_debug("SFTP store '%s': '%s' is not a directory%s", s->base.location,
                                  prefix,
                                  LIBSSH2_SFTP_S_ISLNK(a.permissions) ? " (a symlink)" : "");
                        return -ENOTDIR;
                }
                r = dir_remember(s, rel, i);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Checks the directories above path's last component (check_dir). */
int yb_sftp_check_parents(YbSftpConn *s, const char *path) {
        const char *slash = strrchr(path, '/');

        return slash ? yb_sftp_check_dir(s, path, (size_t) (slash - path)) : 0;
}

/* The directories above path, then path itself, which must not be a symlink: -ELOOP, as
 * O_NOFOLLOW says. */
int yb_sftp_check_file(YbSftpConn *s, const char *path, LIBSSH2_SFTP_ATTRIBUTES *ret) {
        int r = yb_sftp_check_parents(s, path);

        if (r >= 0)
                r = yb_sftp_stat(s, path, LIBSSH2_SFTP_LSTAT, ret);
        if (r < 0)
                return r;
        return LIBSSH2_SFTP_S_ISLNK(ret->permissions) ? -ELOOP : 0;
}

void yb_sftp_conn_close(YbStore *base) {
        YbSftpConn *s = ((YbSftpConn *) base);

        /* After a lost connection nothing more is sent: what libssh2 holds for the channel and
         * its handles is freed with the session (ssh-session.c's arena). */
        if (s->sftp && !s->lost)
                (void) YB_SFTP_RUN(s, libssh2_sftp_shutdown(s->sftp));
        yb_ssh_close(&s->ssh, !s->lost && s->sftp);
        for (size_t i = 0; i < s->n_dirs; i++)
                free(s->dirs[i]);
        free(s->dirs);
        free(s->root);
        free(s->base.location);
        pthread_mutex_destroy(&s->lock);
        free(s);
}

int yb_sftp_open_handle(YbSftpConn *s, const char *path, unsigned long flags, long mode, int type,
                        LIBSSH2_SFTP_HANDLE **ret) {
        _cleanup_free_ char *p = yb_sftp_full_path(s, path);
        LIBSSH2_SFTP_HANDLE *h;

        if (!p)
                return -ENOMEM;
        if (s->lost)
                return s->lost;
        h = YB_SFTP_RUN_PTR(
                s, libssh2_sftp_open_ex(s->sftp, p, (unsigned) strlen(p), flags, mode, type));
        if (!h) {
                int r = yb_sftp_map_rc(s, yb_sftp_last_rc(s), "open", p);
                LIBSSH2_SFTP_ATTRIBUTES a;

                /* SFTP version 3 has no "already exists": OpenSSH answers FAILURE. */
                if (r == -EIO && (flags & LIBSSH2_FXF_EXCL) &&
                    yb_sftp_stat(s, path, LIBSSH2_SFTP_LSTAT, &a) >= 0)
                        return -EEXIST;
                return r;
        }
        *ret = h;
        return 0;
}

int yb_sftp_fsync_handle(YbSftpConn *s, LIBSSH2_SFTP_HANDLE *h, const char *what) {
        int rc;

        if (s->lost)
                return s->lost;
        rc = (int) YB_SFTP_RUN(s, libssh2_sftp_fsync(h));
        return rc < 0 ? yb_sftp_map_rc(s, rc, "fsync", what) : 0;
}

/* $HOME/.ssh/name (the account's home without HOME), or NULL. */
static char *home_ssh_file(const char *name) {
        const char *home = getenv("HOME");
        struct passwd *pw;
        char *p;

        if (!home || !*home) {
                pw = getpwuid(getuid());
                home = pw ? pw->pw_dir : "/";
        }
        if (asprintf(&p, "%s/.ssh/%s", home, name) < 0)
                return NULL;
        return p;
}

/* The key to log in with: the one given, else the first of ~/.ssh/id_ed25519, id_ecdsa, id_rsa
 * that exists (the first when none does, for the message). */
static char *default_key(const YbStoreOptions *opts) {
        static const char *const names[] = { "id_ed25519", "id_ecdsa", "id_rsa" };
        char *first = NULL;

        if (opts->ssh_key)
                return strdup(opts->ssh_key);
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                char *p = home_ssh_file(names[i]);

                if (!p || access(p, F_OK) == 0) {
                        free(first);
                        return p;
                }
                if (!first)
                        first = p;
                else
                        free(p);
        }
        return first;
}

/* Connects, checks the host key and logs in: 0, or -errno and why in err. */
static int sftp_login(YbSftpConn *s, const YbLocation *where, const char *user,
                      const YbStoreOptions *opts, int64_t timeout_ns, char *err, size_t err_size) {
        _cleanup_free_ char *key = default_key(opts), *kh = NULL;
        const char *host = where->endpoint.address;
        int port = where->endpoint.port;
        int64_t until = yb_monotonic_ns() + timeout_ns;
        int r;

        kh = opts->known_hosts ? strdup(opts->known_hosts) : home_ssh_file("known_hosts");
        if (!key || !kh)
                return -ENOMEM;
        r = yb_ssh_connect(&s->ssh, host, port, until, err, err_size);
        if (r >= 0)
                r = yb_ssh_handshake(&s->ssh, until, err, err_size);
        if (r >= 0)
                r = yb_ssh_check_host_key(&s->ssh, kh, host, port, err, err_size);
        if (r >= 0)
                r = yb_ssh_auth(&s->ssh, user, key, until, err, err_size);
        if (r == -ETIMEDOUT) {
                char phase[64];

                snprintf(phase, sizeof(phase), "%s", err);
                snprintf(err, err_size, "no answer within %llds while %s",
                         (long long) (timeout_ns / YB_NSEC_PER_SEC), phase);
        }
        return r;
}

/* What the server must offer, asked without writing anything: fsync@openssh.com on a handle
 * of the root (an answer other than "unsupported" means the server knows it), and whether it
 * opens a directory as a file, so that fsync reaches directories too. */
static int sftp_probe(YbSftpConn *s, char *err, size_t err_size) {
        LIBSSH2_SFTP_HANDLE *h = NULL;
        int r;

        r = yb_sftp_open_handle(s, "", LIBSSH2_FXF_READ, 0, LIBSSH2_SFTP_OPENFILE, &h);
        if (r >= 0)
                s->dir_sync = true;
        else if (r == -EIO || r == -EACCES || r == -EISDIR || r == -EOPNOTSUPP)
                r = yb_sftp_open_handle(s, "", 0, 0, LIBSSH2_SFTP_OPENDIR, &h);
        if (r < 0) {
                snprintf(err, err_size, "cannot open the store's directory %s: %s",
                         *s->root ? s->root : "/", strerror(-r));
                return r;
        }
        r = yb_sftp_fsync_handle(s, h, "the store's directory");
        if (!s->lost)
                (void) YB_SFTP_RUN(s, libssh2_sftp_close_handle(h));
        if (r == -EOPNOTSUPP) {
                snprintf(err, err_size,
                         "the SFTP server lacks fsync@openssh.com, without which nothing written "
                         "can be made durable; use an OpenSSH server (sftp-server or "
                         "internal-sftp)");
                return -EPROTONOSUPPORT;
        }
        if (r < 0 && s->lost) {
                snprintf(err, err_size, "the connection was lost: %s", strerror(-r));
                return r;
        }
        /* Otherwise it knows fsync: not on a directory handle (another server), or not for this
         * account (-EACCES: a read-only one, "internal-sftp -R", which can be read from;
         * writing there fails anyway). */
        if (r < 0)
                s->dir_sync = false;
        log_debug("SFTP store '%s': directories %s synced", s->base.location,
                  s->dir_sync ? "are" : "cannot be");
        return 0;
}

int yb_sftp_conn_open(const char *location, const YbLocation *where, const YbStoreOptions *opts,
                      const YbStoreOps *ops, YbStore **ret, char *err, size_t err_size) {
        int64_t timeout_ns = opts->timeout_ns > 0 ? opts->timeout_ns : SFTP_TIMEOUT_NS_DEFAULT;
        const char *user = where->endpoint.user;
        struct passwd *pw = NULL;
        LIBSSH2_SFTP_ATTRIBUTES a;
        char why[768], peer[320];
        YbSftpConn *s;
        size_t n;
        int r;

        assert(where->kind == YB_LOCATION_SFTP);
        if (!user) {
                pw = getpwuid(getuid());
                user = pw ? pw->pw_name : "root";
        }
        snprintf(peer, sizeof(peer), "%s@%s:%d", user, where->endpoint.address,
                 where->endpoint.port);
        r = yb_ssh_global_init(err, err_size);
        if (r < 0)
                return r;
        s = new0(YbSftpConn, 1);
        if (!s)
                return -ENOMEM;
        s->ssh = (YbSshSession) YB_SSH_SESSION_INIT;
        s->timeout_ns = timeout_ns;
        {
                pthread_mutexattr_t attr;

                pthread_mutexattr_init(&attr);
                pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
                pthread_mutex_init(&s->lock, &attr);
                pthread_mutexattr_destroy(&attr);
        }
        s->base.ops = ops;
        s->base.location = strdup(location);
        s->root = strdup(where->path);
        if (!s->base.location || !s->root) {
                yb_sftp_conn_close(&s->base);
                return -ENOMEM;
        }
        n = strlen(s->root);
        while (n > 0 && s->root[n - 1] == '/')
                s->root[--n] = 0;

        why[0] = 0;
        r = sftp_login(s, where, user, opts, timeout_ns, why, sizeof(why));
        if (r >= 0) {
                s->sftp = YB_SFTP_RUN_PTR(s, libssh2_sftp_init(s->ssh.s));
                if (!s->sftp) {
                        r = yb_ssh_rc_is_socket(yb_sftp_last_rc(s)) ? -ECONNRESET
                                                                    : -EPROTONOSUPPORT;
                        snprintf(why, sizeof(why),
                                 "the server runs no SFTP subsystem (%s): sshd_config needs "
                                 "\"Subsystem sftp internal-sftp\" or the path of sftp-server",
                                 yb_ssh_last_error(&s->ssh));
                }
        }
        if (r >= 0) {
                r = yb_sftp_stat(s, "", LIBSSH2_SFTP_STAT, &a);
                if (r == -ENOENT || (r >= 0 && !LIBSSH2_SFTP_S_ISDIR(a.permissions))) {
                        snprintf(why, sizeof(why),
                                 "the directory %s does not exist there: create it on the server "
                                 "first",
                                 *s->root ? s->root : "/");
                        r = -ENOENT;
                } else if (r < 0)
                        snprintf(why, sizeof(why), "cannot look at the directory %s: %s",
                                 *s->root ? s->root : "/", strerror(-r));
        }
        if (r >= 0)
                r = sftp_probe(s, why, sizeof(why));
        if (r < 0) {
                snprintf(err, err_size, "%s: %s; nothing was written", peer, why);
                yb_sftp_conn_close(&s->base);
                return r;
        }
        *ret = &s->base;
        return 0;
}
