/* core/store/s3-query.h: the parts of an S3 request's URL that AWS Signature Version 4 signs as
 * they are sent: keys and query values percent-encoded as SigV4 says (every byte but A-Z, a-z,
 * 0-9, '-', '.', '_', '~', as %XX in upper case; '/' kept in a key's path), and the query string
 * in canonical form (parameters sorted by name, then value; "uploads=" for a parameter without a
 * value). libcurl signs the URL as given, so the URL must already be canonical. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "core/base/buf.h"

/* One query parameter; value NULL is the same as "" ("?uploads" is sent as "uploads="). */
typedef struct YbS3Param {
        const char *name;
        const char *value;
} YbS3Param;

/* Appends s percent-encoded (keep_slash: '/' stays as it is, for a key in a path). Returns 0 or
 * -ENOMEM. */
int yb_s3_uri_encode(YbBuf *b, const char *s, bool keep_slash);
/* The canonical query string of the n parameters (NULL name entries are skipped) in *ret (the
 * caller frees it; "" for none). Returns 0 or -ENOMEM. */
int yb_s3_query(const YbS3Param *p, size_t n, char **ret);
