/* core/store/ssh-session.h: an SSH connection to a host, up to a logged-in session (libssh2,
 * non-blocking): the TCP connection, the handshake, the host key checked against known_hosts
 * (core/store/known-hosts.h) and publickey authentication. Shared by the SFTP store and by
 * yunbakd's runner on remote hosts, which each go on from there (an SFTP channel, a command).
 * Every wait is bounded by a deadline (monotonic ns) and may be cut short by a cancel fd. */
#pragma once

#include <libssh2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct YbSshArena YbSshArena;

typedef struct YbSshSession {
        int fd;             /* the connected socket, or -EBADF */
        LIBSSH2_SESSION *s; /* after yb_ssh_handshake, else NULL */
        int cancel_fd;      /* readable: give up waiting (-ECANCELED); -EBADF: none */
        /* Every block libssh2 allocates for the session: what it forgets to free when a
         * connection is lost (a handle whose close could not be sent) is freed at the end. */
        YbSshArena *arena;
} YbSshSession;

#define YB_SSH_SESSION_INIT                                                                        \
        { .fd = -EBADF, .s = NULL, .cancel_fd = -EBADF, .arena = NULL }

/* Loads and initialises libssh2 once for the process: 0, or -ELIBACC (it cannot be loaded) or
 * -EIO, with a message for people in err. */
int yb_ssh_global_init(char *err, size_t err_size);

/* Each step below returns 0 or -errno with a message for people in err (err_size bytes, always
 * terminated), without naming the host (the caller does). -ETIMEDOUT when until (monotonic ns)
 * passed and -ECANCELED when cancel_fd became readable: then err holds only the phase
 * ("connecting", "in the SSH handshake", "authenticating") for the caller to word. */

/* Resolves host and connects to port: -EHOSTUNREACH (no such name, no route, nothing answers),
 * -ECONNREFUSED. The socket gets TCP keepalives and a user timeout, so that a dead peer or a NAT
 * that forgot us shows up within minutes even when nothing is sent. */
int yb_ssh_connect(YbSshSession *x, const char *host, int port, int64_t until, char *err,
                   size_t err_size);
/* The SSH handshake: -ECONNREFUSED when the peer closes (not an SSH server?), -EPROTO, -ENOMEM. */
int yb_ssh_handshake(YbSshSession *x, int64_t until, char *err, size_t err_size);
/* The host key against the known_hosts file (yb_known_hosts_check). */
int yb_ssh_check_host_key(YbSshSession *x, const char *known_hosts, const char *host, int port,
                          char *err, size_t err_size);
/* Logs in as user with the private key in key_file: -EPERM (refused), -EINVAL (a key libssh2
 * cannot use), -ECONNRESET, -EPROTO, or the errno of opening key_file. */
int yb_ssh_auth(YbSshSession *x, const char *user, const char *key_file, int64_t until, char *err,
                size_t err_size);

/* Waits until the socket is ready for what libssh2 waits for, until (monotonic ns; INT64_MAX:
 * no bound), or until cancel_fd (when watch_cancel) is readable. 0, -ETIMEDOUT or -ECANCELED. */
int yb_ssh_wait(YbSshSession *x, int64_t until, bool watch_cancel);
/* The same for what the caller knows it waits for (POLLIN, POLLOUT), rather than what libssh2
 * last said. */
int yb_ssh_wait_for(YbSshSession *x, short events, int64_t until, bool watch_cancel);
/* libssh2's last message for the session ("" without one). */
const char *yb_ssh_last_error(YbSshSession *x);
/* Whether a libssh2 return code says the connection itself failed or timed out. */
bool yb_ssh_rc_is_socket(int rc);

/* Ends the session: politely (a disconnect message, waiting at most a second) when polite,
 * otherwise by shutting the socket down first so that nothing waits for a peer that may never
 * answer. Leaves x as YB_SSH_SESSION_INIT (cancel_fd kept). */
void yb_ssh_close(YbSshSession *x, bool polite);
