/* core/store/ssh-session.c: the way up to a logged-in SSH session (ssh-session.h), non-blocking
 * throughout so that every wait has its deadline and its cancel fd. */
#include "core/store/ssh-session.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "core/base/log.h"
#include "core/base/macro.h"
#include "core/base/timeutil.h"
#include "core/store/dynlibs.h"
#include "core/store/known-hosts.h"

static pthread_once_t ssh_once = PTHREAD_ONCE_INIT;
static int ssh_init_rc;

static void ssh_init(void) {
        ssh_init_rc = libssh2_init(0);
}

int yb_ssh_global_init(char *err, size_t err_size) {
        if (yb_dynlib_load(&yb_libssh2) < 0) {
                snprintf(err, err_size, "%s", yb_dynlib_error(&yb_libssh2));
                return -ELIBACC;
        }
        pthread_once(&ssh_once, ssh_init);
        if (ssh_init_rc == 0)
                return 0;
        snprintf(err, err_size, "libssh2 failed to initialise");
        return -EIO;
}

/* Writes the message into err and returns -|e|. */
_printf_(4, 5) static int fail(char *err, size_t err_size, int e, const char *fmt, ...) {
        va_list ap;

        e = e < 0 ? -e : e;
        errno = e;
        va_start(ap, fmt);
        if (err && err_size > 0)
                vsnprintf(err, err_size, fmt, ap);
        va_end(ap);
        return -e;
}

const char *yb_ssh_last_error(YbSshSession *x) {
        char *msg = NULL;

        if (!x->s)
                return "";
        libssh2_session_last_error(x->s, &msg, NULL, 0);
        return msg ? msg : "";
}

bool yb_ssh_rc_is_socket(int rc) {
        return rc == LIBSSH2_ERROR_SOCKET_DISCONNECT || rc == LIBSSH2_ERROR_SOCKET_SEND ||
               rc == LIBSSH2_ERROR_SOCKET_RECV || rc == LIBSSH2_ERROR_SOCKET_TIMEOUT ||
               rc == LIBSSH2_ERROR_TIMEOUT;
}

int yb_ssh_wait(YbSshSession *x, int64_t until, bool watch_cancel) {
        int dir = x->s ? libssh2_session_block_directions(x->s) : LIBSSH2_SESSION_BLOCK_OUTBOUND;
        short events = 0;

        if (dir & LIBSSH2_SESSION_BLOCK_INBOUND)
                events |= POLLIN;
        if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
                events |= POLLOUT;
        return yb_ssh_wait_for(x, events ? events : POLLIN, until, watch_cancel);
}

int yb_ssh_wait_for(YbSshSession *x, short events, int64_t until, bool watch_cancel) {
        struct pollfd p[2];
        nfds_t n = 1;

        p[0] = (struct pollfd){ .fd = x->fd, .events = events };
        if (watch_cancel && x->cancel_fd >= 0)
                p[n++] = (struct pollfd){ .fd = x->cancel_fd, .events = POLLIN };
        for (;;) {
                int64_t now = yb_monotonic_ns();
                int k, ms = -1;

                if (until != INT64_MAX) {
                        if (now >= until)
                                return -ETIMEDOUT;
                        ms = yb_usec_to_ms_ceil(yb_ns_to_usec(until - now) + 1);
                }
                k = poll(p, n, ms);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                if (n > 1 && p[1].revents)
                        return -ECANCELED;
                if (k > 0)
                        return 0;
        }
}

/* A wait that ended without readiness: the phase for the caller to word. */
static int wait_fail(char *err, size_t err_size, int r, const char *phase) {
        if (r == -ETIMEDOUT || r == -ECANCELED)
                return fail(err, err_size, r, "%s", phase);
        return fail(err, err_size, r, "Failed to wait for the connection while %s: %m", phase);
}

/* The arena: a list of blocks, each behind a header that keeps the list. */
typedef union Block {
        struct {
                union Block *prev, *next;
        } l;
        max_align_t align;
} Block;

struct YbSshArena {
        Block head; /* a ring: head.l.next is the first block */
};

static void *arena_alloc(size_t n, void **abstract) {
        YbSshArena *a = *abstract;
        Block *b = malloc(sizeof(Block) + n);

        if (!b)
                return NULL;
        b->l.prev = &a->head;
        b->l.next = a->head.l.next;
        a->head.l.next->l.prev = b;
        a->head.l.next = b;
        return b + 1;
}

static void arena_free(void *p, void **abstract) {
        Block *b;

        (void) abstract;
        if (!p)
                return;
        b = (Block *) p - 1;
        b->l.prev->l.next = b->l.next;
        b->l.next->l.prev = b->l.prev;
        free(b);
}

static void *arena_realloc(void *p, size_t n, void **abstract) {
        Block *b, *nb;

        if (!p)
                return arena_alloc(n, abstract);
        b = (Block *) p - 1;
        nb = realloc(b, sizeof(Block) + n);
        if (!nb)
                return NULL;
        nb->l.prev->l.next = nb;
        nb->l.next->l.prev = nb;
        return nb + 1;
}

static void arena_free_all(YbSshArena *a) {
        while (a->head.l.next != &a->head)
                arena_free(a->head.l.next + 1, NULL);
        free(a);
}

static void tune_socket(int fd) {
        int one = 1, idle = 60, intvl = 15, cnt = 4;
        unsigned timeout_ms = 150000;

        /* A dead host or a NAT that forgot us shows up within minutes, even while a long
         * backup sends nothing. */
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        (void) setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
        (void) setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
        (void) setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
        (void) setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
        (void) setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout_ms, sizeof(timeout_ms));
}

int yb_ssh_connect(YbSshSession *x, const char *host, int port, int64_t until, char *err,
                   size_t err_size) {
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
        struct addrinfo *ai = NULL;
        int last = EHOSTUNREACH, r;
        char portstr[16];

        snprintf(portstr, sizeof(portstr), "%d", port);
        r = getaddrinfo(host, portstr, &hints, &ai);
        if (r != 0)
                return fail(err, err_size, EHOSTUNREACH, "cannot resolve the host name: %s",
                            r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
        for (struct addrinfo *a = ai; a; a = a->ai_next) {
                int fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                                a->ai_protocol);
                socklen_t len = sizeof(last);
                int soerr = 0;

                if (fd < 0) {
                        last = errno;
                        continue;
                }
                x->fd = fd;
                if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS) {
                        last = errno;
                        x->fd = safe_close(x->fd);
                        continue;
                }
                r = yb_ssh_wait(x, until, true);
                if (r < 0) {
                        freeaddrinfo(ai);
                        return wait_fail(err, err_size, r, "connecting");
                }
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
                        soerr = errno;
                if (soerr != 0) {
                        last = soerr;
                        x->fd = safe_close(x->fd);
                        continue;
                }
                freeaddrinfo(ai);
                tune_socket(fd);
                return 0;
        }
        freeaddrinfo(ai);
        if (last == ECONNREFUSED)
                return fail(err, err_size, ECONNREFUSED,
                            "connection refused (is sshd running and listening on port %d?)", port);
        return fail(err, err_size, EHOSTUNREACH, "cannot connect: %s", strerror(last));
}

int yb_ssh_handshake(YbSshSession *x, int64_t until, char *err, size_t err_size) {
        int rc;

        x->arena = new0(YbSshArena, 1);
        if (!x->arena)
                return fail(err, err_size, ENOMEM, "Out of memory starting an SSH session");
        x->arena->head.l.prev = x->arena->head.l.next = &x->arena->head;
        x->s = libssh2_session_init_ex(arena_alloc, arena_free, arena_realloc, x->arena);
        if (!x->s)
                return fail(err, err_size, ENOMEM, "Out of memory starting an SSH session");
        libssh2_session_set_blocking(x->s, 0);
        while ((rc = libssh2_session_handshake(x->s, x->fd)) == LIBSSH2_ERROR_EAGAIN) {
                int r = yb_ssh_wait(x, until, true);

                if (r < 0)
                        return wait_fail(err, err_size, r, "in the SSH handshake");
        }
        if (rc == 0)
                return 0;
        if (yb_ssh_rc_is_socket(rc) || rc == LIBSSH2_ERROR_BANNER_RECV)
                return fail(err, err_size, ECONNREFUSED,
                            "the connection was closed in the SSH handshake (%s): is this an SSH "
                            "server?",
                            yb_ssh_last_error(x));
        return fail(err, err_size, EPROTO, "the SSH handshake failed: %s", yb_ssh_last_error(x));
}

int yb_ssh_check_host_key(YbSshSession *x, const char *known_hosts, const char *host, int port,
                          char *err, size_t err_size) {
        return yb_known_hosts_check(x->s, known_hosts, host, port, err, err_size);
}

int yb_ssh_auth(YbSshSession *x, const char *user, const char *key_file, int64_t until, char *err,
                size_t err_size) {
        _cleanup_close_ int fd = -EBADF;
        int rc;

        /* libssh2 says only "Unable to open private key file": ask the file system first. */
        fd = open(key_file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return fail(err, err_size, errno, "cannot read the SSH key '%s': %m", key_file);
        while ((rc = libssh2_userauth_publickey_fromfile_ex(x->s, user, (unsigned) strlen(user),
                                                            NULL, key_file, NULL)) ==
               LIBSSH2_ERROR_EAGAIN) {
                int r = yb_ssh_wait(x, until, true);

                if (r < 0)
                        return wait_fail(err, err_size, r, "authenticating");
        }
        switch (rc) {
        case 0:
                return 0;
        case LIBSSH2_ERROR_AUTHENTICATION_FAILED:
        case LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED:
                return fail(err, err_size, EPERM,
                            "the host refused user '%s' with the key '%s' (is its public key in "
                            "that account's authorized_keys?)",
                            user, key_file);
        case LIBSSH2_ERROR_FILE:
        case LIBSSH2_ERROR_METHOD_NOT_SUPPORTED:
                return fail(err, err_size, EINVAL,
                            "cannot use the SSH key '%s' (%s): it must be an unencrypted private "
                            "key in OpenSSH format",
                            key_file, yb_ssh_last_error(x));
        default:
                if (yb_ssh_rc_is_socket(rc))
                        return fail(err, err_size, ECONNRESET,
                                    "the connection was lost while authenticating (%s)",
                                    yb_ssh_last_error(x));
                return fail(err, err_size, EPROTO, "authentication failed: %s",
                            yb_ssh_last_error(x));
        }
}

void yb_ssh_close(YbSshSession *x, bool polite) {
        if (x->s) {
                libssh2_session_set_blocking(x->s, 1);
                libssh2_session_set_timeout(x->s, 1000);
                if (polite)
                        libssh2_session_disconnect(x->s, "yunbak: done");
                else if (x->fd >= 0)
                        /* Otherwise libssh2 would wait for a peer that may never answer (and
                         * give up without freeing): make every send and receive fail now. */
                        (void) shutdown(x->fd, SHUT_RDWR);
                libssh2_session_free(x->s);
                x->s = NULL;
        }
        if (x->arena) {
                arena_free_all(x->arena);
                x->arena = NULL;
        }
        x->fd = safe_close(x->fd);
}
