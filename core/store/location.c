/* core/store/location.c: the store location grammar (location.h), parsed in one place for
 * yb_store_open() and yunbakd's configuration. */
#include "core/store/location.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/excerpt.h"
#include "core/base/macro.h"

#define SCHEME_SFTP "sftp://"
#define SCHEME_S3 "s3://"
#define SCHEME_FILE "file://"
#define SCHEMES_HINT                                                                               \
        "use a directory, file:///path, sftp://user@host[:port]/path or s3://bucket[/prefix]"

static bool is_digit(char ch) {
        return ch >= '0' && ch <= '9';
}

static bool is_alnum(char ch) {
        return is_digit(ch) || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* A host name (letters, digits and '-' in dot-separated labels of up to 63) or an IPv4 address. */
static bool host_name_valid(const char *h, size_t n) {
        size_t label = 0;

        if (n == 0 || n > 253)
                return false;
        for (size_t i = 0; i <= n; i++) {
                if (i == n || h[i] == '.') {
                        if (label == 0 || label > 63 || h[i - 1] == '-' || h[i - label] == '-')
                                return false;
                        label = 0;
                } else if (is_alnum(h[i]) || h[i] == '-')
                        label++;
                else
                        return false;
        }
        return true;
}

/* A user name as SSH servers take it: letters, digits, '.', '_' and '-', not starting with
 * '-' (it must never read as an option). */
static bool user_name_valid(const char *u, size_t n) {
        if (n == 0 || n > 64 || u[0] == '-')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!(is_alnum(u[i]) || u[i] == '.' || u[i] == '_' || u[i] == '-'))
                        return false;
        return true;
}

void yb_location_endpoint_done(YbEndpoint *e) {
        free(e->user);
        free(e->address);
        *e = (YbEndpoint){ 0 };
}

int yb_location_endpoint_parse(const char *s, size_t n, int flags, YbEndpoint *ret, char *err,
                               size_t err_size) {
        bool need_user = flags & YB_ENDPOINT_USER, need_port = flags & YB_ENDPOINT_PORT;
        _cleanup_(yb_location_endpoint_done) YbEndpoint e = { .port = YB_ENDPOINT_DEFAULT_PORT };
        const char *at = memchr(s, '@', n), *h, *end = s + n, *colon;
        char tmp[64];

        if (!err)
                err_size = 0;
        if (need_user && !at) {
                snprintf(err, err_size, "the user is missing: write user@host or user@host:port");
                return -EINVAL;
        }
        if (!need_user && at) {
                snprintf(err, err_size, "no user is needed here: write host:port");
                return -EINVAL;
        }
        if (at) {
                if (!user_name_valid(s, (size_t) (at - s))) {
                        snprintf(err, err_size,
                                 "the user '%s' is not valid (letters, digits, '.', '_' and '-')",
                                 yb_excerpt(strndupa(s, MIN((size_t) (at - s), (size_t) 64)), tmp,
                                            sizeof(tmp)));
                        return -EINVAL;
                }
                e.user = strndup(s, (size_t) (at - s));
                if (!e.user)
                        return -ENOMEM;
                h = at + 1;
        } else
                h = s;

        if (h < end && *h == '[') {
                const char *close = memchr(h, ']', (size_t) (end - h));
                char addr[INET6_ADDRSTRLEN + 1];
                struct in6_addr a6;

                if (!close || (size_t) (close - h - 1) >= sizeof(addr)) {
                        snprintf(err, err_size,
                                 "an IPv6 address in brackets is not closed "
                                 "or too long: write [2001:db8::1]");
                        return -EINVAL;
                }
                memcpy(addr, h + 1, (size_t) (close - h - 1));
                addr[close - h - 1] = 0;
                if (inet_pton(AF_INET6, addr, &a6) != 1) {
                        snprintf(err, err_size, "'%s' is not an IPv6 address",
                                 yb_excerpt(addr, tmp, sizeof(tmp)));
                        return -EINVAL;
                }
                e.address = strdup(addr);
                colon = close + 1;
                if (colon < end && *colon != ':') {
                        snprintf(err, err_size, "unexpected text after ']'");
                        return -EINVAL;
                }
        } else {
                colon = memchr(h, ':', (size_t) (end - h));
                if (colon && memchr(colon + 1, ':', (size_t) (end - colon - 1))) {
                        snprintf(err, err_size,
                                 "write an IPv6 address in brackets, as [2001:db8::1]:22");
                        return -EINVAL;
                }
                if (!colon)
                        colon = end;
                if (colon == h) {
                        snprintf(err, err_size, "the host is missing");
                        return -EINVAL;
                }
                if (flags & YB_ENDPOINT_NUMERIC) {
                        char addr[INET_ADDRSTRLEN + 1];
                        struct in_addr a4;
                        size_t len = (size_t) (colon - h);

                        if (len < sizeof(addr)) {
                                memcpy(addr, h, len);
                                addr[len] = 0;
                        }
                        if (len >= sizeof(addr) || inet_pton(AF_INET, addr, &a4) != 1) {
                                snprintf(err, err_size,
                                         "'%s' is not an IP address: write one, as "
                                         "127.0.0.1:9100 or [::1]:9100",
                                         yb_excerpt(strndupa(h, MIN(len, (size_t) 64)), tmp,
                                                    sizeof(tmp)));
                                return -EINVAL;
                        }
                } else if (!host_name_valid(h, (size_t) (colon - h))) {
                        snprintf(err, err_size,
                                 "'%s' is not a host name or IP address (letters, digits, '-' "
                                 "and '.')",
                                 yb_excerpt(strndupa(h, MIN((size_t) (colon - h), (size_t) 64)),
                                            tmp, sizeof(tmp)));
                        return -EINVAL;
                }
                e.address = strndup(h, (size_t) (colon - h));
        }
        if (!e.address)
                return -ENOMEM;

        if (colon < end) {
                const char *p = colon + 1;
                long port = 0;

                for (; p < end && is_digit(*p) && port <= 65535; p++)
                        port = port * 10 + (*p - '0');
                if (p == colon + 1 || p < end || port < 1 || port > 65535) {
                        snprintf(err, err_size, "the port must be a number from 1 to 65535");
                        return -EINVAL;
                }
                e.port = (int) port;
        } else if (need_port) {
                snprintf(err, err_size, "the port is missing: write host:port, as 127.0.0.1:9100");
                return -EINVAL;
        }
        *ret = e;
        e = (YbEndpoint){ 0 };
        return 0;
}

/* The length of the scheme of a URL ("s3" of "s3://b"), or 0 when text is a directory path. */
static size_t scheme_len(const char *text) {
        const char *sep = strstr(text, "://");

        if (!sep || sep == text)
                return 0;
        for (const char *c = text; c < sep; c++)
                if (!((*c >= 'a' && *c <= 'z') || is_digit(*c) || *c == '+'))
                        return 0;
        return (size_t) (sep - text);
}

int yb_location_kind(const char *text) {
        size_t n = scheme_len(text);

        if (n == 0 || strncmp(text, SCHEME_FILE, n + 3) == 0)
                return YB_LOCATION_LOCAL;
        if (strncmp(text, SCHEME_SFTP, n + 3) == 0)
                return YB_LOCATION_SFTP;
        if (strncmp(text, SCHEME_S3, n + 3) == 0)
                return YB_LOCATION_S3;
        return -EPROTONOSUPPORT;
}

void yb_location_done(YbLocation *l) {
        free(l->path);
        free(l->bucket);
        yb_location_endpoint_done(&l->endpoint);
        *l = (YbLocation){ 0 };
}

static bool bucket_valid(const char *b, size_t n) {
        if (n < 3 || n > 63)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = b[i];
                bool alnum = (c >= 'a' && c <= 'z') || is_digit(c);

                if (!alnum && c != '.' && c != '-')
                        return false;
                if ((i == 0 || i == n - 1) && !alnum)
                        return false;
        }
        return true;
}

/* "bucket[/prefix]" (after "s3://") into l's bucket and path. */
static int parse_s3(const char *s, YbLocation *l, char *err, size_t err_size) {
        const char *slash = strchrnul(s, '/'), *prefix;
        char tmp[80];

        if (!bucket_valid(s, (size_t) (slash - s))) {
                snprintf(err, err_size,
                         "'%s' is not an S3 bucket name: 3 to 63 of a-z, 0-9, '.' and '-', "
                         "starting and ending with a letter or digit (write s3://bucket[/prefix])",
                         yb_excerpt(strndupa(s, MIN((size_t) (slash - s), (size_t) 64)), tmp,
                                    sizeof(tmp)));
                return -EINVAL;
        }
        prefix = *slash ? slash + 1 : slash;
        for (const char *p = prefix; *p;) {
                const char *e = strchrnul(p, '/');
                size_t n = (size_t) (e - p);

                if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) {
                        snprintf(err, err_size,
                                 "the prefix '%s' has an empty, '.' or '..' part (write "
                                 "s3://bucket/a/b, without a trailing '/')",
                                 yb_excerpt(prefix, tmp, sizeof(tmp)));
                        return -EINVAL;
                }
                for (const char *c = p; c < e; c++)
                        if ((unsigned char) *c < 0x20 || *c == 0x7f || *c == '\\') {
                                snprintf(err, err_size,
                                         "the prefix '%s' has a control character or '\\'",
                                         yb_excerpt(prefix, tmp, sizeof(tmp)));
                                return -EINVAL;
                        }
                p = *e ? e + 1 : e;
                if (*e && !*p) {
                        snprintf(err, err_size,
                                 "the prefix '%s' ends with '/': write s3://bucket/a/b",
                                 yb_excerpt(prefix, tmp, sizeof(tmp)));
                        return -EINVAL;
                }
        }
        l->bucket = strndup(s, (size_t) (slash - s));
        l->path = strdup(prefix);
        return l->bucket && l->path ? 0 : -ENOMEM;
}

int yb_location_parse(const char *text, YbLocation *ret, char *err, size_t err_size) {
        _cleanup_(yb_location_done) YbLocation l = { 0 };
        const char *path = text;
        int r;

        if (!err)
                err_size = 0;
        else if (err_size > 0)
                err[0] = 0;
        r = yb_location_kind(text);
        if (r < 0) {
                snprintf(err, err_size, "unsupported kind of store '%.*s': " SCHEMES_HINT,
                         (int) MIN(scheme_len(text), (size_t) 16), text);
                return r;
        }
        l.kind = r;
        if (l.kind == YB_LOCATION_SFTP) {
                const char *auth = text + strlen(SCHEME_SFTP);

                path = strchr(auth, '/');
                if (!path) {
                        snprintf(err, err_size,
                                 "the path is missing: write sftp://user@host[:port]/path");
                        return -EINVAL;
                }
                r = yb_location_endpoint_parse(auth, (size_t) (path - auth), YB_ENDPOINT_USER,
                                               &l.endpoint, err, err_size);
                if (r < 0)
                        return r;
        } else if (l.kind == YB_LOCATION_S3) {
                r = parse_s3(text + strlen(SCHEME_S3), &l, err, err_size);
                if (r < 0)
                        return r;
                *ret = l;
                l = (YbLocation){ 0 };
                return 0;
        } else if (scheme_len(text) > 0) {
                path = text + strlen(SCHEME_FILE);
                if (*path != '/') { /* file://host/... is not ours to reach */
                        snprintf(err, err_size,
                                 "a file URL needs an absolute path, as file:///srv/backup");
                        return -EINVAL;
                }
        } else if (!*path) {
                snprintf(err, err_size, "the location is empty: " SCHEMES_HINT);
                return -EINVAL;
        }
        l.path = strdup(path);
        if (!l.path)
                return -ENOMEM;
        *ret = l;
        l = (YbLocation){ 0 };
        return 0;
}
