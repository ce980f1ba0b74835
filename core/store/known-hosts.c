/* core/store/known-hosts.c: yb_known_hosts_check. libssh2 matches hosts and keys;
 * the file is read here, line by line, so that a refusal can name its line and @revoked lines
 * count. */
#include "core/store/known-hosts.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>

#include "core/base/log.h"
#include "core/base/macro.h"

typedef struct Check {
        LIBSSH2_SESSION *s;
        const char *path;
        char *error;
        size_t error_size;
} Check;

/* Writes the message (%m is |err|) into ck->error and returns -|err|. */
_printf_(3, 4) static int fail(Check *ck, int err, const char *fmt, ...) {
        va_list ap;

        err = err < 0 ? -err : err;
        errno = err;
        va_start(ap, fmt);
        vsnprintf(ck->error, ck->error_size, fmt, ap);
        va_end(ap);
        return -err;
}

static const char *last_error(Check *ck) {
        char *msg = NULL;

        libssh2_session_last_error(ck->s, &msg, NULL, 0);
        return msg ? msg : "";
}

static const char *hostkey_name(int type, int *ret_knownhost_bit) {
        switch (type) {
        case LIBSSH2_HOSTKEY_TYPE_RSA:
                *ret_knownhost_bit = LIBSSH2_KNOWNHOST_KEY_SSHRSA;
                return "ssh-rsa";
        case LIBSSH2_HOSTKEY_TYPE_DSS:
                *ret_knownhost_bit = LIBSSH2_KNOWNHOST_KEY_SSHDSS;
                return "ssh-dss";
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
                *ret_knownhost_bit = LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
                return "ecdsa-sha2-nistp256";
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
                *ret_knownhost_bit = LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
                return "ecdsa-sha2-nistp384";
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:
                *ret_knownhost_bit = LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
                return "ecdsa-sha2-nistp521";
        case LIBSSH2_HOSTKEY_TYPE_ED25519:
                *ret_knownhost_bit = LIBSSH2_KNOWNHOST_KEY_ED25519;
                return "ssh-ed25519";
        default:
                *ret_knownhost_bit = 0;
                return "unknown";
        }
}

typedef struct KnownLine {
        struct libssh2_knownhost *entry;
        unsigned line;
} KnownLine;

/* The n-th whitespace-separated field of line (0-based), NUL-terminated in place; NULL if
 * there are fewer. */
static char *field(char *line, unsigned n) {
        char *save = NULL, *f = strtok_r(line, " \t\r\n", &save);

        while (f && n-- > 0)
                f = strtok_r(NULL, " \t\r\n", &save);
        return f;
}

/* Reads known_hosts line by line so that a match can be named by its line, @revoked lines are
 * honoured (libssh2 does not know markers), and lines libssh2 cannot read (certificates, key
 * types it lacks) are skipped rather than failing the whole file: they can only fail to match.
 * Sets *ret_revoked to the line revoking key_b64, if any. */
static int read_known_hosts(Check *ck, LIBSSH2_KNOWNHOSTS *kh, const char *key_b64,
                            KnownLine **ret_lines, size_t *ret_n, unsigned *ret_revoked) {
        const char *path = ck->path;
        _cleanup_free_ KnownLine *lines = NULL;
        _cleanup_free_ char *buf = NULL;
        struct libssh2_knownhost *last = NULL, *e;
        size_t n = 0, alloc = 0, bufsize = 0;
        unsigned lineno = 0;
        ssize_t len;
        FILE *f;

        f = fopen(path, "re");
        if (!f)
                return fail(ck, errno, "cannot read the known hosts file '%s': %m", path);
        while ((len = getline(&buf, &bufsize, f)) >= 0) {
                char *s = buf;

                lineno++;
                while (*s == ' ' || *s == '\t')
                        s++;
                if (*s == '\0' || *s == '\n' || *s == '#')
                        continue;
                if (*s == '@') {
                        _cleanup_free_ char *copy = strdup(s), *copy2 = strdup(s);
                        const char *marker, *key;

                        if (!copy || !copy2) {
                                fclose(f);
                                return fail(ck, ENOMEM, "Out of memory");
                        }
                        marker = field(copy, 0);
                        key = field(copy2, 3);
                        if (marker && streq(marker, "@revoked") && key && streq(key, key_b64))
                                *ret_revoked = lineno;
                        else
                                log_debug("known_hosts: %s:%u: %s lines are not used", path, lineno,
                                          marker ? marker : "@");
                        continue;
                }
                if (libssh2_knownhost_readline(kh, s, strlen(s), LIBSSH2_KNOWNHOST_FILE_OPENSSH) <
                    0) {
                        log_debug("known_hosts: %s:%u: skipped, libssh2 cannot read it (%s)", path,
                                  lineno, last_error(ck));
                        continue;
                }
                while (libssh2_knownhost_get(kh, &e, last) == 0) {
                        if (n == alloc) {
                                size_t na = alloc ? alloc * 2 : 16;
                                KnownLine *nl = realloc(lines, na * sizeof(*nl));

                                if (!nl) {
                                        fclose(f);
                                        return fail(ck, ENOMEM, "Out of memory");
                                }
                                lines = nl;
                                alloc = na;
                        }
                        lines[n++] = (KnownLine){ .entry = e, .line = lineno };
                        last = e;
                }
        }
        if (ferror(f)) {
                int err = errno;

                fclose(f);
                return fail(ck, err, "cannot read the known hosts file '%s': %m", path);
        }
        fclose(f);
        *ret_lines = TAKE_PTR(lines);
        *ret_n = n;
        return 0;
}

int yb_known_hosts_check(LIBSSH2_SESSION *s, const char *path, const char *host, int port,
                         char *error, size_t error_size) {
        Check c = { .s = s, .path = path, .error = error, .error_size = error_size }, *ck = &c;
        const char *tname;
        _cleanup_free_ KnownLine *lines = NULL;
        _cleanup_free_ char *key_b64 = NULL;
        struct libssh2_knownhost *found = NULL;
        LIBSSH2_KNOWNHOSTS *kh;
        const unsigned char *sha;
        unsigned revoked = 0;
        size_t len = 0, n = 0, b64len;
        const char *key;
        char fp[64];
        int type = 0, kbit, rc, r;

        key = libssh2_session_hostkey(s, &len, &type);
        sha = (const unsigned char *) libssh2_hostkey_hash(s, LIBSSH2_HOSTKEY_HASH_SHA256);
        if (!key || len == 0 || !sha)
                return fail(ck, EPROTO, "the server sent no host key");
        strcpy(fp, "SHA256:");
        sodium_bin2base64(fp + 7, sizeof(fp) - 7, sha, 32,
                          sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
        tname = hostkey_name(type, &kbit);
        if (kbit == 0)
                return fail(ck, EPERM, "the host key is of a type libssh2 cannot check (%s)", fp);
        b64len = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
        key_b64 = malloc(b64len);
        if (!key_b64)
                return fail(ck, ENOMEM, "Out of memory");
        sodium_bin2base64(key_b64, b64len, (const unsigned char *) key, len,
                          sodium_base64_VARIANT_ORIGINAL);

        kh = libssh2_knownhost_init(s);
        if (!kh)
                return fail(ck, ENOMEM, "Out of memory");
        r = read_known_hosts(ck, kh, key_b64, &lines, &n, &revoked);
        if (r < 0) {
                libssh2_knownhost_free(kh);
                return r;
        }
        rc = libssh2_knownhost_checkp(
                kh, host, port, key, len,
                LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | kbit, &found);
        if (revoked) {
                libssh2_knownhost_free(kh);
                return fail(ck, EPERM, "the host key (%s %s) is revoked in %s:%u", tname, fp, path,
                            revoked);
        }
        if (rc == LIBSSH2_KNOWNHOST_CHECK_MATCH) {
                libssh2_knownhost_free(kh);
                return 0;
        }
        if (rc == LIBSSH2_KNOWNHOST_CHECK_MISMATCH) {
                unsigned line = 0;

                for (size_t i = 0; i < n; i++)
                        if (lines[i].entry == found)
                                line = lines[i].line;
                libssh2_knownhost_free(kh);
                return fail(ck, EPERM,
                            "host key (%s %s) does not match %s:%u: the host was reinstalled "
                            "or someone is in the way; check the fingerprint with its "
                            "administrators before changing that line",
                            tname, fp, path, line);
        }
        libssh2_knownhost_free(kh);
        if (rc == LIBSSH2_KNOWNHOST_CHECK_NOTFOUND)
                return fail(ck, EPERM,
                            "host key not in %s (%s %s); add it once its fingerprint is "
                            "confirmed (docs/operations.md, \"Remote hosts (SSH)\")",
                            path, tname, fp);
        return fail(ck, EPERM, "cannot check the host key (%s %s) against %s: %s", tname, fp, path,
                    last_error(ck));
}
