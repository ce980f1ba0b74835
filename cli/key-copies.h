/* cli/key-copies.h: the copies of a system's private key as yunbakd registers them (docs/cli.md,
 * "yunbak key"; docs/decommission.md, "Key copies"): `yunbak key register|copy|list|destroy|
 * attest-destroyed|withdraw` (cli/key-copies.c, the destruction in cli/key-destroy.c, the
 * withdrawal of a copy registered by mistake in cli/key-withdraw.c), and the
 * registration `key init` makes of the key file it wrote (cli/cmd-key.c). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "cli/ctl.h"
#include "core/base/buf.h"
#include "core/crypto/keys.h"

/* Registers the private key file at path (this host's name, its absolute path) with yunbakd
 * through ctl as a copy held by holder (NULL: the caller). Prints nothing: returns 0 with the
 * copy in *ret (the caller owns it), or an exit code with why in why (why_size bytes). */
int cli_key_register_file(const CliCtl *ctl, const char *path, const char *holder, json_t **ret,
                          char *why, size_t why_size);

/* Reads the system and key id of the private key file at path without its passphrase into
 * *ret. Returns 0, or an exit code having printed what the file is instead (a public key, an
 * agent's key, not a key file) and that cmd takes private key files only. */
int cli_key_file_public(const char *path, const char *cmd, YbPublicKey *ret);
/* The same from the file's bytes (data, size), path naming it in messages. */
int cli_key_bytes_public(const char *path, const void *data, size_t size, const char *cmd,
                         YbPublicKey *ret);
/* Opens name of dir_fd (path names it in messages) for reading with flags added (O_NOFOLLOW),
 * never blocking on a FIFO, and reads it into b when it is a regular file small enough to be a
 * key file; its stat in *ret_st and, when ret_fd is given, the descriptor in *ret_fd (the caller
 * owns it). Returns 0, or an exit code having said what the file is instead and that cmd takes
 * private key files only. */
int cli_key_read(int dir_fd, const char *name, const char *path, int flags, const char *cmd,
                 YbBuf *b, struct stat *ret_st, int *ret_fd);
/* "directory", "FIFO (named pipe)", "socket", ... for a file's mode, in messages. */
const char *cli_key_file_kind(mode_t mode);

/* POSTs body (borrowed) to path and returns the answer in *ret (the caller owns it); for a
 * failure, an exit code with why in why: yunbakd's own sentence, or that it cannot be reached
 * at ctl's socket. Prints nothing. */
int cli_key_post(const CliCtl *ctl, const char *path, json_t *body, json_t **ret, char *why,
                 size_t why_size);

/* This host's name (256 bytes) and path's absolute form (PATH_MAX bytes) into host and abs;
 * false with why in why if either cannot be had. */
bool cli_key_host_and_path(const char *path, char *host, char *abs, char *why, size_t why_size);

/* "hr-app-1:/home/li/hr-portal.key", or "offline (paper, safe 3)" for a copy's JSON, in buf. */
const char *cli_key_copy_where(json_t *copy, char *buf, size_t size);

/* The subcommands: argv[0] is the subcommand's name. Each returns an exit code. */
int cli_key_register(int argc, char **argv);
int cli_key_copy(int argc, char **argv);
int cli_key_list(int argc, char **argv);
int cli_key_destroy(int argc, char **argv);
int cli_key_attest(int argc, char **argv);
int cli_key_withdraw(int argc, char **argv); /* cli/key-withdraw.c */
