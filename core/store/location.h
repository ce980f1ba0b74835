/* core/store/location.h: where a store is, as written on command lines and in yunbakd.yaml, and
 * its parser, the only one. The grammar:
 *   a directory    "/srv/backup", "backup" (relative) or "file:///srv/backup"
 *   an SFTP URL    "sftp://user@host[:port]/path": host a name, an IPv4 address or an IPv6
 *                  address in brackets ("[fd00::2]"); port 1 to 65535, default 22
 *   an S3 URL      "s3://bucket[/prefix]": bucket 3 to 63 of a-z, 0-9, '.' and '-' (S3's
 *                  rule), starting and ending with a letter or digit; the prefix, if any, a
 *                  path of keys ("city/hz", no empty, "." or ".." part, no trailing '/').
 *                  Where the bucket is (endpoint, region, credentials) is the store's options
 *                  (store.h), never the URL
 * A URL starts with a scheme of a-z, 0-9 and '+' followed by "://"; anything else is a directory,
 * even with "://" further on. The "[user@]host[:port]" part (an endpoint) has its own parser here
 * too: yunbakd's SSH hosts and listen addresses are written the same way. */
#pragma once

#include <stddef.h>

#define YB_ENDPOINT_DEFAULT_PORT 22 /* SSH's */

typedef enum YbLocationKind {
        YB_LOCATION_LOCAL, /* a directory on this machine */
        YB_LOCATION_SFTP,  /* a directory on an SFTP server */
        YB_LOCATION_S3,    /* a prefix in an S3 bucket */
        _YB_LOCATION_KIND_MAX,
} YbLocationKind;

/* "[user@]host[:port]". */
typedef struct YbEndpoint {
        char *user;    /* NULL when not written */
        char *address; /* a host name or IP address (IPv6 without brackets) */
        int port;      /* YB_ENDPOINT_DEFAULT_PORT when not written */
} YbEndpoint;

typedef struct YbLocation {
        YbLocationKind kind;
        /* local: the directory as written, without "file://" (relative ones stay relative);
         * sftp: the path on the server, everything from the '/' after the endpoint, as written;
         * s3: the prefix without its leading '/' ("" for none) */
        char *path;
        char *bucket;        /* s3 only */
        YbEndpoint endpoint; /* sftp only: user, host and port; all NULL and 0 for local */
} YbLocation;

/* Frees what l holds (not l) and zeroes it. */
void yb_location_done(YbLocation *l);
void yb_location_endpoint_done(YbEndpoint *e); /* The same for an endpoint. */

/* The kind of location text names by its scheme alone, without checking the rest: a
 * YbLocationKind, or -EPROTONOSUPPORT for a URL of another scheme ("s3://bucket"). */
int yb_location_kind(const char *text);

/* Parses a location. On success fills *ret (the caller frees it with yb_location_done()). On
 * failure returns -EPROTONOSUPPORT (a URL of a scheme not listed above), -EINVAL (a malformed
 * one, or text is empty) or -ENOMEM, and, if err is non-NULL, writes why into err (size
 * err_size, always terminated) for people, such as "the path is missing: write
 * sftp://user@host[:port]/path" or "a file URL needs an absolute path, as file:///srv/backup". */
int yb_location_parse(const char *text, YbLocation *ret, char *err, size_t err_size);

enum {
        YB_ENDPOINT_USER = 1 << 0,    /* user@ is required (else refused) */
        YB_ENDPOINT_PORT = 1 << 1,    /* :port is required (else it defaults to 22) */
        YB_ENDPOINT_NUMERIC = 1 << 2, /* an IP address, not a name */
};

/* Parses "[user@]host[:port]" (the n bytes at s, not necessarily terminated) as flags say. On
 * success fills *ret (free it with yb_location_endpoint_done()); on failure returns -EINVAL and
 * writes why into err (size err_size, always terminated), or -ENOMEM. */
int yb_location_endpoint_parse(const char *s, size_t n, int flags, YbEndpoint *ret, char *err,
                               size_t err_size);
