/* core/store/s3-credentials.c: the credentials file (s3-credentials.h). Read as AWS's own tools
 * read ~/.aws/credentials, but strictly: a line that is neither a section, a "name = value" nor
 * a comment is an error with its file:line, not skipped. */
#include "core/store/s3-credentials.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CREDENTIALS_MAX ((size_t) 64 << 10)

int yb_s3_errf(char *err, size_t err_size, int r, const char *fmt, ...) {
        va_list ap;

        if (err && err_size > 0) {
                va_start(ap, fmt);
                vsnprintf(err, err_size, fmt, ap);
                va_end(ap);
        }
        return r;
}

static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\r';
}

/* Trims [*b, *e) of blanks. */
static void trim(const char **b, const char **e) {
        while (*b < *e && is_space(**b))
                (*b)++;
        while (*e > *b && is_space((*e)[-1]))
                (*e)--;
}

void yb_s3_credentials_done(YbS3Credentials *c) {
        if (c->secret_key) {
                sodium_memzero(c->secret_key, strlen(c->secret_key));
                free(c->secret_key);
        }
        free(c->access_key);
        *c = (YbS3Credentials){ 0 };
}

int yb_s3_credentials_parse(const char *path, const char *text, size_t n, YbS3Credentials *ret,
                            char *err, size_t err_size) {
        _cleanup_(yb_s3_credentials_done) YbS3Credentials c = { 0 };
        const char *p = text, *end = text + n;
        bool in_default = false, seen_default = false;
        unsigned line = 0;

        while (p < end) {
                const char *eol = memchr(p, '\n', (size_t) (end - p));
                const char *b = p, *e = eol ? eol : end;
                const char *eq;
                char **slot;

                p = eol ? eol + 1 : end;
                line++;
                trim(&b, &e);
                if (b == e || *b == '#' || *b == ';')
                        continue;
                if (memchr(b, 0, (size_t) (e - b)))
                        return yb_s3_errf(err, err_size, -EINVAL, "%s:%u: a NUL byte", path, line);
                if (*b == '[') {
                        const char *nb = b + 1, *ne = e - 1;

                        if (e - b < 2 || *ne != ']')
                                return yb_s3_errf(err, err_size, -EINVAL,
                                                  "%s:%u: a section is written [name]", path, line);
                        trim(&nb, &ne);
                        in_default = (size_t) (ne - nb) == 7 && memcmp(nb, "default", 7) == 0;
                        if (in_default) {
                                if (seen_default)
                                        return yb_s3_errf(err, err_size, -EINVAL,
                                                          "%s:%u: a second [default] section", path,
                                                          line);
                                seen_default = true;
                        }
                        continue;
                }
                eq = memchr(b, '=', (size_t) (e - b));
                if (!eq)
                        return yb_s3_errf(err, err_size, -EINVAL,
                                          "%s:%u: neither [section] nor name = value", path, line);
                if (!in_default)
                        continue;
                {
                        const char *kb = b, *ke = eq, *vb = eq + 1, *ve = e;

                        trim(&kb, &ke);
                        trim(&vb, &ve);
                        if ((size_t) (ke - kb) == 17 && memcmp(kb, "aws_access_key_id", 17) == 0)
                                slot = &c.access_key;
                        else if ((size_t) (ke - kb) == 21 &&
                                 memcmp(kb, "aws_secret_access_key", 21) == 0)
                                slot = &c.secret_key;
                        else
                                continue;
                        if (*slot)
                                return yb_s3_errf(err, err_size, -EINVAL, "%s:%u: %.*s given twice",
                                                  path, line, (int) (ke - kb), kb);
                        if (vb == ve)
                                return yb_s3_errf(err, err_size, -EINVAL, "%s:%u: %.*s is empty",
                                                  path, line, (int) (ke - kb), kb);
                        *slot = strndup(vb, (size_t) (ve - vb));
                        if (!*slot)
                                return -ENOMEM;
                }
        }
        if (!seen_default)
                return yb_s3_errf(err, err_size, -EINVAL,
                                  "%s has no [default] section: write [default], then "
                                  "aws_access_key_id = ... and aws_secret_access_key = ...",
                                  path);
        if (!c.access_key || !c.secret_key)
                return yb_s3_errf(err, err_size, -EINVAL, "%s: [default] has no %s", path,
                                  !c.access_key ? "aws_access_key_id" : "aws_secret_access_key");
        *ret = c;
        c = (YbS3Credentials){ 0 };
        return 0;
}

int yb_s3_credentials_load(const char *path, YbS3Credentials *ret, char *err, size_t err_size) {
        _cleanup_close_ int fd = -EBADF;
        char *buf = NULL;
        struct stat st;
        size_t n = 0;
        int r;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return yb_s3_errf(err, err_size, -errno, "cannot open the credentials file %s: %s",
                                  path, strerror(errno));
        if (fstat(fd, &st) < 0)
                return yb_s3_errf(err, err_size, -errno, "cannot stat %s: %s", path,
                                  strerror(errno));
        if (!S_ISREG(st.st_mode))
                return yb_s3_errf(err, err_size, -EINVAL, "the credentials file %s is not a file",
                                  path);
        if (st.st_mode & (S_IROTH | S_IWOTH))
                return yb_s3_errf(err, err_size, -EPERM,
                                  "the credentials file %s is open to others (mode %04o): "
                                  "chmod o-rwx %s, and change the secret if others have read it",
                                  path, (unsigned) (st.st_mode & 07777), path);
        if ((uint64_t) st.st_size > CREDENTIALS_MAX)
                return yb_s3_errf(err, err_size, -EFBIG,
                                  "the credentials file %s is over %zu bytes", path,
                                  CREDENTIALS_MAX);
        if (sodium_init() < 0)
                return yb_s3_errf(err, err_size, -EIO, "libsodium cannot start");
        buf = sodium_malloc(CREDENTIALS_MAX);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t k = read(fd, buf + n, CREDENTIALS_MAX - n);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        r = yb_s3_errf(err, err_size, -errno, "cannot read %s: %s", path,
                                       strerror(errno));
                        sodium_free(buf);
                        return r;
                }
                if (k == 0 || (n += (size_t) k) == CREDENTIALS_MAX)
                        break;
        }
        r = yb_s3_credentials_parse(path, buf, n, ret, err, err_size);
        sodium_free(buf);
        return r;
}
