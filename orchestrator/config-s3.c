/* orchestrator/config-s3.c: a store's `s3:` block (config-s3.h). The values are checked by the
 * same rules as the command line's --s3-* options (core/store/store-options.h); the credentials
 * file is looked at (never read: yunbakd reads it when it opens the store), so that a file that is
 * missing or open to others is said at load, at its line, rather than at the first job. */
#include "orchestrator/config-s3.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/timeutil.h"
#include "core/store/store-options.h"
#include "orchestrator/config-path.h"

static const char *const s3_keys[] = { "endpoint",  "region",   "credentials",
                                       "style",     "ca_file",  "object_lock",
                                       "retention", "parallel", NULL };

/* A text value of the block set through the command line's rules; st->s3 owns it then. */
static void read_option(YbSchema *s, const YbYamlNode *m, const char *path, const char *key,
                        int which, YbConfigStore *st) {
        const YbYamlPair *pair = yb_schema_get(s, m, key, path, NULL);
        char *text = NULL, err[300];
        YbSchemaPath p;

        if (!pair || !yb_schema_read_text(s, pair->value, yb_schema_join(p, path, key),
                                          YB_SCHEMA_TEXT_NO_SPACE, &text))
                return;
        if (yb_s3_option_set(&st->s3, which, text, err, sizeof(err)) < 0) {
                yb_schema_bad(s, pair->value, "%s %s", p, err);
                free(text);
        } else if (which != YB_S3_OPT_ENDPOINT && which != YB_S3_OPT_REGION)
                free(text); /* a word, kept as its value */
}

/* A file the block names (credentials, ca_file): it must be there; the credentials must not be
 * readable, or writable, by others. */
static void read_file(YbSchema *s, const YbYamlNode *m, const char *path, const char *key,
                      bool secret, const char *base_dir, const char **ret) {
        const YbYamlPair *pair = yb_schema_get(s, m, key, path, NULL);
        char *file = NULL;
        YbSchemaPath p;
        struct stat st;
        int r;

        if (!pair ||
            !orch_config_read_path(s, pair->value, yb_schema_join(p, path, key), base_dir, &file))
                return;
        *ret = file;
        r = stat(file, &st) < 0 ? -errno : 0;
        if (r == -ENOENT)
                yb_schema_bad(s, pair->value, "%s '%s' does not exist%s", p, file,
                              secret ? ": write the bucket's keys there (a [default] section with "
                                       "aws_access_key_id and aws_secret_access_key), readable by "
                                       "yunbakd and the agents only (chmod 600)"
                                     : "");
        else if (r < 0)
                yb_schema_bad(s, pair->value,
                              "%s '%s' cannot be looked at by this user (uid %u): %s", p, file,
                              (unsigned) geteuid(), strerror(-r));
        else if (!S_ISREG(st.st_mode))
                yb_schema_bad(s, pair->value, "%s '%s' is not a file", p, file);
        else if (secret && (st.st_mode & (S_IROTH | S_IWOTH))) /* as the store refuses it */
                yb_schema_bad(s, pair->value,
                              "%s '%s' is open to others (mode %04o): the keys in it must not be; "
                              "run chmod o-rwx '%s', and change the secret if others have read it",
                              p, file, (unsigned) (st.st_mode & 07777), file);
}

void orch_config_read_s3(YbSchema *s, const YbYamlPair *entry, const YbYamlNode *m,
                         const char *path, const char *base_dir, bool url_ok, YbConfigStore *st) {
        const YbYamlPair *block = yb_schema_get(s, m, "s3", path, NULL), *lock, *ret;
        const YbYamlNode *b;
        YbSchemaPath p, q;
        int64_t usec;

        if (!url_ok)
                return;
        if (st->kind != YB_CONFIG_STORE_S3) {
                if (block)
                        yb_schema_bad(s, block->key, "%s.s3 is for s3:// stores; this store is %s",
                                      path,
                                      st->kind == YB_CONFIG_STORE_LOCAL ? "a directory"
                                                                        : "an sftp store");
                return;
        }
        if (!block) {
                yb_schema_bad(s, entry->key,
                              "missing key 's3' in %s (where the bucket is and how to log in: "
                              "endpoint and credentials; see docs/s3.md)",
                              path);
                return;
        }
        yb_schema_join(p, path, "s3");
        b = block->value;
        if (!yb_schema_read_mapping(s, b, p))
                return;
        yb_schema_check_keys(s, b, p, s3_keys);
        read_option(s, b, p, "endpoint", YB_S3_OPT_ENDPOINT, st);
        read_option(s, b, p, "region", YB_S3_OPT_REGION, st);
        read_option(s, b, p, "style", YB_S3_OPT_STYLE, st);
        read_option(s, b, p, "object_lock", YB_S3_OPT_OBJECT_LOCK, st);
        read_file(s, b, p, "credentials", true, base_dir, &st->s3.credentials);
        read_file(s, b, p, "ca_file", false, base_dir, &st->s3.ca_file);
        if (!yb_schema_get(s, b, "endpoint", p, NULL))
                yb_schema_bad(s, block->key,
                              "missing key 'endpoint' in %s (where the S3 service answers: "
                              "https://HOST[:PORT])",
                              p);
        if (!yb_schema_get(s, b, "credentials", p, NULL))
                yb_schema_bad(s, block->key,
                              "missing key 'credentials' in %s (a file with the bucket's keys: a "
                              "[default] section with aws_access_key_id and "
                              "aws_secret_access_key)",
                              p);
        ret = yb_schema_get(s, b, "retention", p, NULL);
        if (ret &&
            yb_schema_read_duration(s, ret->value, yb_schema_join(q, p, "retention"), &usec)) {
                if (yb_s3_retention_set(&st->s3, yb_usec_to_ns(usec)) < 0)
                        yb_schema_bad(s, ret->value,
                                      "%s must be at least %s: %s; write one much longer than a "
                                      "backup takes, such as 90d",
                                      q, yb_s3_retention_min_text(), YB_S3_RETENTION_WHY);
        }
        lock = yb_schema_get(s, b, "object_lock", p, NULL);
        if (ret && !lock)
                yb_schema_bad(s, ret->key,
                              "%s.retention is for a bucket with Object Lock: add object_lock: "
                              "compliance, or leave retention out",
                              p);
        if (lock && !ret)
                yb_schema_bad(s, lock->key,
                              "%s.object_lock needs a retention: how long each backup stays "
                              "undeletable, such as retention: 90d",
                              p);
        ret = yb_schema_get(s, b, "parallel", p, NULL);
        if (ret)
                (void) yb_schema_read_int_range(s, ret->value, yb_schema_join(q, p, "parallel"), 1,
                                                YB_S3_PARALLEL_MAX, &st->s3.parallel);
}
