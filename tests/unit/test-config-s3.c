/* tests/unit/test-config-s3.c: orchestrator/config-s3.c, a store's `s3:` block in yunbakd.yaml:
 * read into fields (relative paths from the file's directory), and every mistake reported at its
 * line and column: unknown keys, the block on a store that is not s3://, an s3:// store without
 * it or without endpoint or credentials, a credentials file missing or open to others, a
 * retention without object_lock (and the reverse), object_lock other than compliance; and the
 * command line's rules for the same values (core/store/store-options.c), which the block
 * shares. */
#include <fcntl.h>
#include <sys/stat.h>

#include "core/store/store-options.h"
#include "orchestrator/daemon-config.h"
#include "tests/unit/test.h"

/* Line numbers matter: the tests edit it. */
static const char base[] = "catalog: /c.db\n"                                  /*  1 */
                           "policies: /p\n"                                    /*  2 */
                           "keys: /k\n"                                        /*  3 */
                           "stores:\n"                                         /*  4 */
                           "  oss:\n"                                          /*  5 */
                           "    url: s3://yunbak-hz/city\n"                    /*  6 */
                           "    s3:\n"                                         /*  7 */
                           "      endpoint: https://oss.example.gov.cn:7480\n" /*  8 */
                           "      region: zone-hz\n"                           /*  9 */
                           "      credentials: oss.credentials\n"              /* 10 */
                           "      style: virtual\n"                            /* 11 */
                           "      ca_file: ca.pem\n"                           /* 12 */
                           "      object_lock: compliance\n"                   /* 13 */
                           "      retention: 90d\n"                            /* 14 */
                           "      parallel: 8\n"                               /* 15 */
                           "  plain:\n"                                        /* 16 */
                           "    url: s3://yunbak-plain\n"                      /* 17 */
                           "    s3:\n"                                         /* 18 */
                           "      endpoint: http://127.0.0.1:7480\n"           /* 19 */
                           "      credentials: oss.credentials\n"              /* 20 */
                           "  nas:\n"                                          /* 21 */
                           "    url: /srv/backup\n";                           /* 22 */

/* A directory with the files the block names: oss.credentials (0600), open.credentials (0644),
 * ca.pem. */
static TestTmpdir *files(void) {
        TestTmpdir *d = test_tmpdir_new();

        test_write_file(d->fd, "oss.credentials", "[default]\n", 10);
        ASSERT_OK(fchmodat(d->fd, "oss.credentials", 0600, 0));
        test_write_file(d->fd, "open.credentials", "[default]\n", 10);
        ASSERT_OK(fchmodat(d->fd, "open.credentials", 0644, 0));
        test_write_file(d->fd, "ca.pem", "-----BEGIN CERTIFICATE-----\n", 28);
        return d;
}

/* base with old (once in it) replaced by new; the caller frees it. */
static char *edit(const char *old, const char *new) {
        const char *at = strstr(base, old);
        char *s;

        if (!at || strstr(at + 1, old))
                fail_msg("'%s' is not in the text exactly once", old);
        assert_true(asprintf(&s, "%.*s%s%s", (int) (at - base), base, new, at + strlen(old)) > 0);
        return s;
}

/* Parses base edited (old -> new) with the files of d and checks that exactly the lines want
 * (NULL-terminated, without "y.yaml:") come out, in that order. */
static void expect(const TestTmpdir *d, const char *old, const char *new,
                   const char *const want[]) {
        _cleanup_(yb_diagnostics_done) YbDiagnostics diag = { 0 };
        _cleanup_free_ char *text = edit(old, new);
        YbDaemonConfig *c = NULL;
        size_t n = 0;

        while (want[n])
                n++;
        ASSERT_ERR(yb_daemon_config_parse("y.yaml", text, strlen(text), d->path, &c, &diag),
                   EINVAL);
        ASSERT_TRUE(c == NULL);
        for (size_t i = 0; i < MAX(n, diag.n); i++) {
                const char *got = i < diag.n ? diag.lines[i] : NULL;

                if (i >= n || !got || strncmp(got, "y.yaml:", 7) != 0 || !streq(got + 7, want[i])) {
                        yb_diagnostics_print(&diag, stderr);
                        fail_msg("line %zu: got \"%s\", want \"y.yaml:%s\"", i,
                                 got ? got : "(none)", i < n ? want[i] : "(none)");
                }
        }
}

#define EXPECT(d, old, new, ...)                                                                   \
        expect((d), (old), (new), (const char *const[]){ __VA_ARGS__, NULL })

TEST(block_reads_into_fields) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = files();
        _cleanup_(yb_diagnostics_done) YbDiagnostics diag = { 0 };
        _cleanup_(yb_daemon_config_freep) YbDaemonConfig *c = NULL;
        _cleanup_free_ char *creds = test_tmpdir_path(d, "oss.credentials");
        _cleanup_free_ char *ca = test_tmpdir_path(d, "ca.pem");
        const YbConfigStore *st;

        if (yb_daemon_config_parse("y.yaml", base, strlen(base), d->path, &c, &diag) < 0) {
                yb_diagnostics_print(&diag, stderr);
                fail_msg("the configuration does not parse");
        }
        st = yb_daemon_config_store(c, "oss");
        ASSERT_EQ(st->kind, YB_CONFIG_STORE_S3);
        ASSERT_STREQ(st->url, "s3://yunbak-hz/city");
        ASSERT_STREQ(st->bucket, "yunbak-hz");
        ASSERT_STREQ(st->path, "city");
        ASSERT_STREQ(st->s3.endpoint, "https://oss.example.gov.cn:7480");
        ASSERT_STREQ(st->s3.region, "zone-hz");
        ASSERT_STREQ(st->s3.credentials, creds); /* relative: from the file's directory */
        ASSERT_EQ(st->s3.style, YB_S3_STYLE_VIRTUAL);
        ASSERT_STREQ(st->s3.ca_file, ca);
        ASSERT_EQ(st->s3.object_lock, YB_OBJECT_LOCK_COMPLIANCE);
        ASSERT_EQ(st->s3.retention_sec, 90 * 24 * 3600);
        ASSERT_EQ(st->s3.parallel, 8);
        ASSERT_TRUE(st->ssh_key == NULL && st->user == NULL);
        st = yb_daemon_config_store(c, "plain");
        ASSERT_EQ(st->kind, YB_CONFIG_STORE_S3);
        ASSERT_STREQ(st->bucket, "yunbak-plain");
        ASSERT_STREQ(st->path, "");
        ASSERT_TRUE(st->s3.region == NULL && st->s3.ca_file == NULL);
        ASSERT_EQ(st->s3.style, YB_S3_STYLE_PATH);
        ASSERT_EQ(st->s3.object_lock, YB_OBJECT_LOCK_NONE);
        ASSERT_EQ(st->s3.retention_sec, 0);
        ASSERT_EQ(st->s3.parallel, 0);
        st = yb_daemon_config_store(c, "nas");
        ASSERT_EQ(st->kind, YB_CONFIG_STORE_LOCAL);
        ASSERT_TRUE(st->s3.endpoint == NULL && st->bucket == NULL);
}

TEST(block_where_it_does_not_belong_or_is_missing) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = files();

        EXPECT(d, "    url: /srv/backup\n",
               "    url: /srv/backup\n    s3:\n      endpoint: http://127.0.0.1:7480\n",
               "23:5: stores.nas.s3 is for s3:// stores; this store is a directory");
        EXPECT(d, "    url: /srv/backup\n",
               "    url: sftp://yb@dr.example.gov.cn/backup\n    ssh_key: /k\n"
               "    known_hosts: /kh\n    s3: {}\n",
               "25:5: stores.nas.s3 is for s3:// stores; this store is an sftp store");
        EXPECT(d,
               "    s3:\n      endpoint: http://127.0.0.1:7480\n"
               "      credentials: oss.credentials\n",
               "",
               "16:3: missing key 's3' in stores.plain (where the bucket is and how to log in: "
               "endpoint and credentials; see docs/s3.md)");
        EXPECT(d, "      endpoint: http://127.0.0.1:7480\n      credentials: oss.credentials\n",
               "      region: default\n",
               "18:5: missing key 'endpoint' in stores.plain.s3 (where the S3 service answers: "
               "https://HOST[:PORT])",
               "18:5: missing key 'credentials' in stores.plain.s3 (a file with the bucket's "
               "keys: a [default] section with aws_access_key_id and aws_secret_access_key)");
        EXPECT(d, "    url: s3://yunbak-plain\n",
               "    url: s3://yunbak-plain\n    ssh_key: /k\n    known_hosts: /kh\n",
               "18:5: stores.plain.ssh_key is for sftp stores; this store is an s3 store",
               "19:5: stores.plain.known_hosts is for sftp stores; this store is an s3 store");
        EXPECT(d,
               "    s3:\n      endpoint: http://127.0.0.1:7480\n"
               "      credentials: oss.credentials\n",
               "    s3: oss\n", "18:9: stores.plain.s3 must be a mapping, not 'oss'");
}

TEST(values_are_checked) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = files();

        EXPECT(d, "      parallel: 8\n", "      paralel: 8\n",
               "15:7: unknown key 'paralel' in stores.oss.s3; did you mean 'parallel'?");
        EXPECT(d, "https://oss.example.gov.cn:7480", "oss.example.gov.cn:7480",
               "8:17: stores.oss.s3.endpoint must be where the S3 service answers, "
               "http://HOST[:PORT] or https://HOST[:PORT] (no path, no user), not "
               "'oss.example.gov.cn:7480'");
        EXPECT(d, "      style: virtual\n", "      style: host\n",
               "11:14: stores.oss.s3.style must be path (https://ENDPOINT/BUCKET/KEY, radosgw's "
               "default) or virtual (https://BUCKET.ENDPOINT/KEY), not 'host'");
        EXPECT(d, "      object_lock: compliance\n", "      object_lock: governance\n",
               "13:20: stores.oss.s3.object_lock must be compliance (nobody, the bucket's owner "
               "included, can delete a backup before its retention ends), not 'governance'");
        EXPECT(d, "      object_lock: compliance\n", "",
               "13:7: stores.oss.s3.retention is for a bucket with Object Lock: add "
               "object_lock: compliance, or leave retention out");
        EXPECT(d, "      retention: 90d\n", "",
               "13:7: stores.oss.s3.object_lock needs a retention: how long each backup stays "
               "undeletable, such as retention: 90d");
        EXPECT(d, "      retention: 90d\n", "      retention: 12h\n",
               "14:18: stores.oss.s3.retention must be at least 1d: each backup object is locked "
               "for it from its own writing, so a snapshot stays whole under the lock only until "
               "its first object's date (its start plus the retention); write one much longer "
               "than a backup takes, such as 90d");
        EXPECT(d, "      parallel: 8\n", "      parallel: 65\n",
               "15:17: stores.oss.s3.parallel must be a whole number from 1 to 64, not '65'");
}

TEST(credentials_file_is_checked) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = files();
        _cleanup_free_ char *open = test_tmpdir_path(d, "open.credentials");
        _cleanup_free_ char *none = test_tmpdir_path(d, "none.credentials");
        _cleanup_free_ char *want_open = NULL, *want_none = NULL, *want_dir = NULL;

        assert_true(
                asprintf(&want_open,
                         "20:20: stores.plain.s3.credentials '%s' is open to others (mode "
                         "0644): the keys in it must not be; run chmod o-rwx '%s', and change the "
                         "secret if others have read it",
                         open, open) > 0);
        EXPECT(d, "      credentials: oss.credentials\n  nas:",
               "      credentials: open.credentials\n  nas:", want_open);
        assert_true(asprintf(&want_none,
                             "20:20: stores.plain.s3.credentials '%s' does not exist: write the "
                             "bucket's keys there (a [default] section with aws_access_key_id "
                             "and aws_secret_access_key), readable by yunbakd and the agents "
                             "only (chmod 600)",
                             none) > 0);
        EXPECT(d, "      credentials: oss.credentials\n  nas:",
               "      credentials: none.credentials\n  nas:", want_none);
        assert_true(asprintf(&want_dir, "20:20: stores.plain.s3.credentials '%s' is not a file",
                             d->path) > 0);
        EXPECT(d, "      credentials: oss.credentials\n  nas:", "      credentials: .\n  nas:",
               want_dir);
}

TEST(command_line_rules) {
        YbS3Options o = { 0 };
        char err[300];
        int which = -1;

        ASSERT_ERR(yb_s3_options_check(&o, &which), EINVAL);
        ASSERT_EQ(which, YB_S3_OPT_ENDPOINT);
        ASSERT_OK(yb_s3_option_set(&o, YB_S3_OPT_ENDPOINT, "http://127.0.0.1:7480/", err,
                                   sizeof(err)));
        ASSERT_ERR(yb_s3_option_set(&o, YB_S3_OPT_ENDPOINT, "https://u@h", err, sizeof(err)),
                   EINVAL);
        ASSERT_ERR(yb_s3_option_set(&o, YB_S3_OPT_ENDPOINT, "https://h/path", err, sizeof(err)),
                   EINVAL);
        ASSERT_STREQ(o.endpoint, "http://127.0.0.1:7480/");
        ASSERT_ERR(yb_s3_options_check(&o, &which), EINVAL);
        ASSERT_EQ(which, YB_S3_OPT_CREDENTIALS);
        ASSERT_OK(yb_s3_option_set(&o, YB_S3_OPT_CREDENTIALS, "/c", err, sizeof(err)));
        ASSERT_OK(yb_s3_options_check(&o, &which));
        o.retention_sec = 60;
        ASSERT_ERR(yb_s3_options_check(&o, &which), EINVAL);
        ASSERT_EQ(which, YB_S3_OPT_OBJECT_LOCK);
        ASSERT_OK(yb_s3_option_set(&o, YB_S3_OPT_OBJECT_LOCK, "compliance", err, sizeof(err)));
        ASSERT_OK(yb_s3_options_check(&o, &which));
        o.retention_sec = 0;
        ASSERT_ERR(yb_s3_options_check(&o, &which), EINVAL);
        ASSERT_EQ(which, YB_S3_OPT_RETENTION);
        ASSERT_ERR(yb_s3_option_set(&o, YB_S3_OPT_PARALLEL, "0", err, sizeof(err)), EINVAL);
        ASSERT_ERR(yb_s3_option_set(&o, YB_S3_OPT_PARALLEL, "4x", err, sizeof(err)), EINVAL);
        ASSERT_OK(yb_s3_option_set(&o, YB_S3_OPT_PARALLEL, "64", err, sizeof(err)));
        ASSERT_EQ(o.parallel, 64);
        ASSERT_ERR(yb_s3_option_set(&o, YB_S3_OPT_REGION, "a b", err, sizeof(err)), EINVAL);
        ASSERT_STREQ(yb_s3_option_name(YB_S3_OPT_CA), "s3-ca");
}

/* The environment stands in for what the command line leaves out, never over it. */
TEST(environment_is_a_fallback) {
        YbS3Options o = { .endpoint = "http://flag:1" };

        ASSERT_OK(setenv("YUNBAK_S3_ENDPOINT", "http://env:2", 1));
        ASSERT_OK(setenv("YUNBAK_S3_CREDENTIALS", "/env/creds", 1));
        ASSERT_OK(setenv("YUNBAK_S3_REGION", "", 1));
        yb_s3_options_from_env(&o);
        ASSERT_STREQ(o.endpoint, "http://flag:1");
        ASSERT_STREQ(o.credentials, "/env/creds");
        ASSERT_TRUE(o.region == NULL); /* empty: not set */
        unsetenv("YUNBAK_S3_ENDPOINT");
        unsetenv("YUNBAK_S3_CREDENTIALS");
        unsetenv("YUNBAK_S3_REGION");
}

/* What yunbakd hands an agent: every option set, the retention in seconds, never a key. */
static int collect(void *ud, const char *name, const char *value) {
        return yb_buf_printf(ud, "--%s=%s\n", name, value);
}

TEST(agent_flags) {
        YbS3Options o = { .endpoint = "https://oss:7480",
                          .credentials = "/etc/yunbak/oss.credentials",
                          .style = YB_S3_STYLE_VIRTUAL,
                          .ca_file = "/etc/yunbak/ca.pem",
                          .object_lock = YB_OBJECT_LOCK_COMPLIANCE,
                          .retention_sec = 7776000,
                          .parallel = 8 };
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        YbS3Options copy;

        ASSERT_OK(yb_s3_options_to_args(&o, collect, &b));
        ASSERT_OK(yb_buf_append_u8(&b, 0));
        ASSERT_STREQ((const char *) b.data, "--s3-endpoint=https://oss:7480\n"
                                            "--s3-credentials=/etc/yunbak/oss.credentials\n"
                                            "--s3-style=virtual\n"
                                            "--s3-ca=/etc/yunbak/ca.pem\n"
                                            "--s3-object-lock=compliance\n"
                                            "--s3-retention=7776000s\n"
                                            "--s3-parallel=8\n");
        ASSERT_OK(yb_s3_options_copy(&o, &copy));
        ASSERT_TRUE(copy.endpoint != o.endpoint);
        ASSERT_STREQ(copy.credentials, o.credentials);
        ASSERT_EQ(copy.retention_sec, o.retention_sec);
        yb_s3_options_done(&copy);
        ASSERT_TRUE(copy.endpoint == NULL);
        o.endpoint = NULL; /* not an S3 store: nothing */
        yb_buf_done(&b);
        ASSERT_OK(yb_s3_options_to_args(&o, collect, &b));
        ASSERT_EQ(b.size, 0);
}
