/* core/store/store-options.c: an S3 store's options as people write them (store-options.h). */
#include "core/store/store-options.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/timeutil.h"

static const char *const option_names[_YB_S3_OPT_MAX] = {
        [YB_S3_OPT_ENDPOINT] = "s3-endpoint",
        [YB_S3_OPT_REGION] = "s3-region",
        [YB_S3_OPT_CREDENTIALS] = "s3-credentials",
        [YB_S3_OPT_STYLE] = "s3-style",
        [YB_S3_OPT_CA] = "s3-ca",
        [YB_S3_OPT_OBJECT_LOCK] = "s3-object-lock",
        [YB_S3_OPT_RETENTION] = "s3-retention",
        [YB_S3_OPT_PARALLEL] = "s3-parallel",
};

const char *yb_s3_option_name(int which) {
        return which >= 0 && which < _YB_S3_OPT_MAX ? option_names[which] : NULL;
}

const char *yb_s3_style_to_string(YbS3Style style) {
        return style == YB_S3_STYLE_VIRTUAL ? "virtual" : "path";
}

const char *yb_object_lock_to_string(YbObjectLockMode mode) {
        return mode == YB_OBJECT_LOCK_COMPLIANCE ? "compliance" : "none";
}

/* "http[s]://host[:port]", a '/' at the end allowed: where the S3 service answers, no path. */
static bool endpoint_valid(const char *s) {
        const char *host = strncmp(s, "https://", 8) == 0  ? s + 8
                           : strncmp(s, "http://", 7) == 0 ? s + 7
                                                           : NULL;
        size_t n;

        if (!host)
                return false;
        n = strcspn(host, " \t\r\n/?#@");
        return n > 0 && (host[n] == 0 || (host[n] == '/' && host[n + 1] == 0));
}

int yb_s3_option_set(YbS3Options *o, int which, const char *value, char *err, size_t err_size) {
        char *end;
        long n;

        switch (which) {
        case YB_S3_OPT_ENDPOINT:
                if (!endpoint_valid(value)) {
                        snprintf(err, err_size,
                                 "must be where the S3 service answers, http://HOST[:PORT] or "
                                 "https://HOST[:PORT] (no path, no user), not '%s'",
                                 value);
                        return -EINVAL;
                }
                o->endpoint = value;
                return 0;
        case YB_S3_OPT_REGION:
                if (!*value || strpbrk(value, " \t\r\n/")) {
                        snprintf(err, err_size,
                                 "must be the region's name (radosgw's zonegroup, 'default' "
                                 "unless it was renamed), not '%s'",
                                 value);
                        return -EINVAL;
                }
                o->region = value;
                return 0;
        case YB_S3_OPT_CREDENTIALS:
        case YB_S3_OPT_CA:
                if (!*value) {
                        snprintf(err, err_size, "must be the path of a file, not empty");
                        return -EINVAL;
                }
                if (which == YB_S3_OPT_CA)
                        o->ca_file = value;
                else
                        o->credentials = value;
                return 0;
        case YB_S3_OPT_STYLE:
                if (strcmp(value, "path") != 0 && strcmp(value, "virtual") != 0) {
                        snprintf(err, err_size,
                                 "must be path (https://ENDPOINT/BUCKET/KEY, radosgw's default) "
                                 "or virtual (https://BUCKET.ENDPOINT/KEY), not '%s'",
                                 value);
                        return -EINVAL;
                }
                o->style = strcmp(value, "virtual") == 0 ? YB_S3_STYLE_VIRTUAL : YB_S3_STYLE_PATH;
                return 0;
        case YB_S3_OPT_OBJECT_LOCK:
                if (strcmp(value, "compliance") != 0) {
                        snprintf(err, err_size,
                                 "must be compliance (nobody, the bucket's owner included, can "
                                 "delete a backup before its retention ends), not '%s'",
                                 value);
                        return -EINVAL;
                }
                o->object_lock = YB_OBJECT_LOCK_COMPLIANCE;
                return 0;
        case YB_S3_OPT_PARALLEL:
                errno = 0;
                n = strtol(value, &end, 10);
                if (errno || end == value || *end || n < 1 || n > YB_S3_PARALLEL_MAX) {
                        snprintf(err, err_size,
                                 "must be the number of requests in flight per file, 1 to %d, "
                                 "not '%s'",
                                 YB_S3_PARALLEL_MAX, value);
                        return -EINVAL;
                }
                o->parallel = (int) n;
                return 0;
        default:
                snprintf(err, err_size, "is not an option this function sets");
                return -EINVAL;
        }
}

int64_t yb_s3_retention_min_sec(void) {
#ifdef YB_FAULT_INJECTION
        const char *e = getenv("YUNBAK_TEST_SHORT_RETENTION");

        if (e && strcmp(e, "1") == 0)
                return 1;
#endif
        return 24 * 3600;
}

const char *yb_s3_retention_min_text(void) {
        return yb_s3_retention_min_sec() == 1 ? "1s" : "1d";
}

int yb_s3_retention_set(YbS3Options *o, int64_t ns) {
        if (ns / YB_NSEC_PER_SEC < yb_s3_retention_min_sec())
                return -ERANGE;
        o->retention_sec = ns / YB_NSEC_PER_SEC;
        return 0;
}

void yb_s3_options_from_env(YbS3Options *o) {
        static const struct {
                const char *name;
                size_t offset;
        } vars[] = {
                { "YUNBAK_S3_ENDPOINT", offsetof(YbS3Options, endpoint) },
                { "YUNBAK_S3_CREDENTIALS", offsetof(YbS3Options, credentials) },
                { "YUNBAK_S3_REGION", offsetof(YbS3Options, region) },
        };

        for (size_t i = 0; i < ELEMENTSOF(vars); i++) {
                const char **field = (const char **) ((char *) o + vars[i].offset);
                const char *v = getenv(vars[i].name);

                if (!*field && v && *v)
                        *field = v;
        }
}

int yb_s3_options_check(const YbS3Options *o, int *ret_which) {
        int which = !o->endpoint      ? YB_S3_OPT_ENDPOINT
                    : !o->credentials ? YB_S3_OPT_CREDENTIALS
                    : o->object_lock != YB_OBJECT_LOCK_NONE && o->retention_sec <= 0
                            ? YB_S3_OPT_RETENTION
                    : o->object_lock == YB_OBJECT_LOCK_NONE && o->retention_sec > 0
                            ? YB_S3_OPT_OBJECT_LOCK
                            : -1;

        if (which < 0)
                return 0;
        *ret_which = which;
        return -EINVAL;
}

const char *yb_s3_option_need_text(int which) {
        switch (which) {
        case YB_S3_OPT_ENDPOINT:
                return "--s3-endpoint URL (or YUNBAK_S3_ENDPOINT in the environment): where the "
                       "S3 service answers, such as https://oss.example.gov.cn:7480";
        case YB_S3_OPT_CREDENTIALS:
                return "--s3-credentials FILE (or YUNBAK_S3_CREDENTIALS in the environment): the "
                       "file with the bucket's keys, a [default] section with aws_access_key_id "
                       "and aws_secret_access_key";
        case YB_S3_OPT_RETENTION:
                return "--s3-retention DURATION with --s3-object-lock compliance: how long each "
                       "backup stays undeletable, such as 90d";
        case YB_S3_OPT_OBJECT_LOCK:
                return "--s3-object-lock compliance with --s3-retention: only a bucket with "
                       "Object Lock keeps a retention";
        default:
                return "its options";
        }
}

static int dup_field(const char *from, const char **ret) {
        *ret = NULL;
        if (!from)
                return 0;
        *ret = strdup(from);
        return *ret ? 0 : -ENOMEM;
}

int yb_s3_options_copy(const YbS3Options *from, YbS3Options *ret) {
        YbS3Options o = *from;

        if (dup_field(from->endpoint, &o.endpoint) < 0 || dup_field(from->region, &o.region) < 0 ||
            dup_field(from->credentials, &o.credentials) < 0 ||
            dup_field(from->ca_file, &o.ca_file) < 0) {
                yb_s3_options_done(&o);
                return -ENOMEM;
        }
        *ret = o;
        return 0;
}

void yb_s3_options_done(YbS3Options *o) {
        /* An owned copy: the const is the borrowed view's, not this memory's. */
        free((char *) o->endpoint);
        free((char *) o->region);
        free((char *) o->credentials);
        free((char *) o->ca_file);
        *o = (YbS3Options){ 0 };
}

int yb_s3_options_to_args(const YbS3Options *o,
                          int (*add)(void *ud, const char *name, const char *value), void *ud) {
        char number[32];
        int r;

        if (!o->endpoint)
                return 0;
        r = add(ud, option_names[YB_S3_OPT_ENDPOINT], o->endpoint);
        if (r >= 0 && o->region)
                r = add(ud, option_names[YB_S3_OPT_REGION], o->region);
        if (r >= 0 && o->credentials)
                r = add(ud, option_names[YB_S3_OPT_CREDENTIALS], o->credentials);
        if (r >= 0 && o->style != YB_S3_STYLE_PATH)
                r = add(ud, option_names[YB_S3_OPT_STYLE], yb_s3_style_to_string(o->style));
        if (r >= 0 && o->ca_file)
                r = add(ud, option_names[YB_S3_OPT_CA], o->ca_file);
        if (r >= 0 && o->object_lock != YB_OBJECT_LOCK_NONE)
                r = add(ud, option_names[YB_S3_OPT_OBJECT_LOCK],
                        yb_object_lock_to_string(o->object_lock));
        if (r >= 0 && o->retention_sec > 0) {
                snprintf(number, sizeof(number), "%" PRId64 "s", o->retention_sec);
                r = add(ud, option_names[YB_S3_OPT_RETENTION], number);
        }
        if (r >= 0 && o->parallel > 0) {
                snprintf(number, sizeof(number), "%d", o->parallel);
                r = add(ud, option_names[YB_S3_OPT_PARALLEL], number);
        }
        return r;
}
