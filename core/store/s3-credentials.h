/* core/store/s3-credentials.h: an S3 store's credentials file, in AWS's format: a "[default]"
 * section with aws_access_key_id and aws_secret_access_key ("name = value" lines; '#' and ';'
 * start comments; other sections and names are ignored). The file must not be readable by others:
 * the secret never appears on a command line, in the environment or in a log. */
#pragma once

#include <stddef.h>

#include "core/base/macro.h"

typedef struct YbS3Credentials {
        char *access_key;
        char *secret_key; /* wiped when freed */
} YbS3Credentials;

/* Reads the file at path: refused (-EPERM) when others may read or write it, -ENOENT when it is
 * missing, -EINVAL when it is malformed or lacks a key. On failure writes why into err (err_size
 * bytes, terminated), naming the file and, for a bad line, "file:line". On success fills *ret
 * (free with yb_s3_credentials_done()). */
int yb_s3_credentials_load(const char *path, YbS3Credentials *ret, char *err, size_t err_size);
/* The same for the n bytes of text read from the file called path (used in messages only). */
int yb_s3_credentials_parse(const char *path, const char *text, size_t n, YbS3Credentials *ret,
                            char *err, size_t err_size);
/* Writes why for people into err (err_size bytes, terminated; nothing when err is NULL) and
 * returns r: for the S3 backend's failures that a person reads. */
int yb_s3_errf(char *err, size_t err_size, int r, const char *fmt, ...) _printf_(4, 5);
/* Wipes and frees what c holds, and zeroes it. */
void yb_s3_credentials_done(YbS3Credentials *c);
