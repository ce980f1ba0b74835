/* core/store/store-options.h: an S3 store's options (YbS3Options, store.h) as people write them:
 * on command lines (--s3-endpoint URL, ...: the same names for yunbak and yunbak-agent), in the
 * environment (YUNBAK_S3_ENDPOINT, YUNBAK_S3_CREDENTIALS, YUNBAK_S3_REGION) and in yunbakd.yaml's
 * `s3:` block; owned copies for who keeps them; and the flags that hand them to an agent. The
 * secret keys never appear here: only the path of the credentials file that holds them. */
#pragma once

#include <stddef.h>

#include "core/store/store.h"

#define YB_S3_PARALLEL_MAX 64

/* The options of the command line, in this order: getopt's code is base + one of these. */
enum {
        YB_S3_OPT_ENDPOINT,
        YB_S3_OPT_REGION,
        YB_S3_OPT_CREDENTIALS,
        YB_S3_OPT_STYLE,
        YB_S3_OPT_CA,
        YB_S3_OPT_OBJECT_LOCK,
        YB_S3_OPT_RETENTION,
        YB_S3_OPT_PARALLEL,
        _YB_S3_OPT_MAX,
};

/* getopt_long's entries of the S3 options (the includer includes <getopt.h>), each with code
 * base + YB_S3_OPT_*. */
/* clang-format off */
#define YB_S3_GETOPT_OPTIONS(base)                                                                 \
        { "s3-endpoint", required_argument, NULL, (base) + YB_S3_OPT_ENDPOINT },                   \
        { "s3-region", required_argument, NULL, (base) + YB_S3_OPT_REGION },                       \
        { "s3-credentials", required_argument, NULL, (base) + YB_S3_OPT_CREDENTIALS },             \
        { "s3-style", required_argument, NULL, (base) + YB_S3_OPT_STYLE },                         \
        { "s3-ca", required_argument, NULL, (base) + YB_S3_OPT_CA },                               \
        { "s3-object-lock", required_argument, NULL, (base) + YB_S3_OPT_OBJECT_LOCK },             \
        { "s3-retention", required_argument, NULL, (base) + YB_S3_OPT_RETENTION },                 \
        { "s3-parallel", required_argument, NULL, (base) + YB_S3_OPT_PARALLEL }
/* clang-format on */

/* The option's name without "--" ("s3-endpoint"), for messages; NULL for another value. */
const char *yb_s3_option_name(int which);

/* Sets the option which (YB_S3_OPT_*, not YB_S3_OPT_RETENTION: a duration, which each program
 * reads with its own duration parser) of o from value, which o borrows. Returns 0, or -EINVAL
 * with why in err (size err_size, terminated), for people, without the option's name: "must be
 * path or virtual, not 'x'". */
int yb_s3_option_set(YbS3Options *o, int which, const char *value, char *err, size_t err_size);

/* "path" or "virtual"; "compliance" or "none". */
const char *yb_s3_style_to_string(YbS3Style style);
const char *yb_object_lock_to_string(YbObjectLockMode mode);

/* The shortest retention (seconds) a store declared object_lock: compliance takes: a day. Each
 * backup object is locked for the retention from its own writing, so a snapshot is whole under
 * the lock only until its first object's date (docs/s3.md, "The dates"): a retention near a
 * backup's length protects nothing. In builds with YB_FAULT_INJECTION,
 * YUNBAK_TEST_SHORT_RETENTION=1 lowers it to 1 s (a test hook: tests wait for a 20 s retention to
 * pass). */
int64_t yb_s3_retention_min_sec(void);
/* Why, for the messages that refuse a shorter one. */
#define YB_S3_RETENTION_WHY                                                                        \
        "each backup object is locked for it from its own writing, so a snapshot stays whole "     \
        "under the lock only until its first object's date (its start plus the retention)"
/* The same as people write it: "1d" or "1s". */
const char *yb_s3_retention_min_text(void);
/* Sets o's retention to ns (rounded down to whole seconds), or returns -ERANGE and leaves o as it
 * was when ns is shorter than yb_s3_retention_min_sec(): the one place that rule is applied, for
 * the command lines and yunbakd.yaml alike (each says it in its own words). */
int yb_s3_retention_set(YbS3Options *o, int64_t ns);

/* Fills what the command line left unset of o from the environment: endpoint from
 * $YUNBAK_S3_ENDPOINT, credentials from $YUNBAK_S3_CREDENTIALS, region from $YUNBAK_S3_REGION
 * (each when set and not empty; o borrows the environment's strings). */
void yb_s3_options_from_env(YbS3Options *o);

/* Checks that o can open an S3 store: an endpoint and a credentials file are given, and
 * object_lock and a retention come together. Returns 0, or -EINVAL with the option that is
 * missing in *ret_which (YB_S3_OPT_*: a retention without object_lock lacks
 * YB_S3_OPT_OBJECT_LOCK), which the caller names its own way: a flag or a key. */
int yb_s3_options_check(const YbS3Options *o, int *ret_which);

/* What a command line lacks when yb_s3_options_check gave which, for "Store 'LOC' needs %s.":
 * the flag to give and the environment variable that may stand in for it, with what it is. */
const char *yb_s3_option_need_text(int which);

/* Copies from into *ret, strings included: *ret owns them (free with yb_s3_options_done). 0 or
 * -ENOMEM (then *ret holds nothing to free). */
int yb_s3_options_copy(const YbS3Options *from, YbS3Options *ret);
/* Frees the strings of an owned copy (yb_s3_options_copy) and zeroes it. */
void yb_s3_options_done(YbS3Options *o);

/* The command-line flags that give o to an agent: calls add(ud, name, value) for each option set
 * (name "s3-endpoint", ...; the retention in seconds, "7776000s"; value lives until add returns).
 * Nothing when o has no endpoint (not an S3 store). Returns 0 or add's first negative value. */
int yb_s3_options_to_args(const YbS3Options *o,
                          int (*add)(void *ud, const char *name, const char *value), void *ud);
