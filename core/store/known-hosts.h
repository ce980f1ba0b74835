/* core/store/known-hosts.h: an SSH server's host key checked against an OpenSSH known_hosts
 * file, before anything is run on that host or written to it. */
#pragma once

#include <libssh2.h>
#include <stddef.h>

/* Checks the host key that session s received in its handshake with host (a name or address,
 * as written in known_hosts) on port against the known_hosts file at path: a line for that host
 * must hold that very key, and no @revoked line may name it. Lines it cannot read
 * (certificates, key types libssh2 lacks) are skipped. Returns 0 when the key matches; else
 * -errno and a message for people in error (error_size bytes, naming the key's type and
 * SHA256 fingerprint and the line of path that refused it): -EPERM for a key that is not there,
 * does not match, is revoked or cannot be checked; -EPROTO when the server sent none; -ENOMEM;
 * the errno of opening or reading path. */
int yb_known_hosts_check(LIBSSH2_SESSION *s, const char *path, const char *host, int port,
                         char *error, size_t error_size);
