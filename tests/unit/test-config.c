/* tests/unit/test-config.c: orchestrator/config.c: yunbakd.yaml read into fields, defaults,
 * every kind of error with its exact position, relative paths, and the cross-check of policies
 * against the stores and hosts. The people are real unix users of every Debian system (root,
 * daemon, nobody); their uids are looked up here too rather than assumed. */
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>

#include "orchestrator/daemon-config.h"
#include "tests/unit/test.h"

/* A full configuration: the tests edit it. Line numbers matter. */
static const char base[] = "catalog: /var/lib/yunbakd/catalog.db\n"             /*  1 */
                           "socket: /run/yunbak/api.sock\n"                     /*  2 */
                           "socket_mode: \"0660\"\n"                            /*  3 */
                           "metrics_listen: 127.0.0.1:9100\n"                   /*  4 */
                           "policies: policies.d\n"                             /*  5 */
                           "keys: /etc/yunbak/keys\n"                           /*  6 */
                           "state: ./state/\n"                                  /*  7 */
                           "max_jobs: 4\n"                                      /*  8 */
                           "job_timeout: 8h\n"                                  /*  9 */
                           "retries: 0\n"                                       /* 10 */
                           "retry_backoff: 10min\n"                             /* 11 */
                           "audit_seal_interval: 1min\n"                        /* 12 */
                           "stores:\n"                                          /* 13 */
                           "  nas-main:\n"                                      /* 14 */
                           "    url: /srv/backup\n"                             /* 15 */
                           "  dr-site:\n"                                       /* 16 */
                           "    url: sftp://yb@dr.example.gov.cn:2222/backup\n" /* 17 */
                           "    ssh_key: ssh/dr_ed25519\n"                      /* 18 */
                           "    known_hosts: /etc/yunbak/known_hosts\n"         /* 19 */
                           "  offsite:\n"                                       /* 20 */
                           "    url: file:///mnt/offsite//yunbak/\n"            /* 21 */
                           "hosts:\n"                                           /* 22 */
                           "  web-03:\n"                                        /* 23 */
                           "    ssh: backup@10.0.3.15\n"                        /* 24 */
                           "    ssh_key: /etc/yunbak/id_ed25519\n"              /* 25 */
                           "    known_hosts: /etc/yunbak/known_hosts\n"         /* 26 */
                           "    agent: /usr/local/bin/yunbak-agent\n"           /* 27 */
                           "    state_dir: /var/lib/yunbak-agent\n"             /* 28 */
                           "  backup-server:\n"                                 /* 29 */
                           "    local: true\n"                                  /* 30 */
                           "people:\n"                                          /* 31 */
                           "  - user: root\n"                                   /* 32 */
                           "    role: operator\n"                               /* 33 */
                           "  - user: daemon\n"                                 /* 34 */
                           "    role: department\n"                             /* 35 */
                           "    department: 市人力资源和社会保障局\n"           /* 36 */
                           "  - user: nobody\n"                                 /* 37 */
                           "    role: auditor\n";                               /* 38 */

#define MINIMAL "catalog: /c.db\npolicies: /p\nkeys: /k\n"

/* text with the one occurrence of old replaced by new; the caller frees it. */
static char *edit(const char *text, const char *old, const char *new) {
        const char *at = strstr(text, old);
        char *s;

        if (!at || strstr(at + 1, old))
                fail_msg("'%s' is not in the text exactly once", old);
        assert_true(asprintf(&s, "%.*s%s%s", (int) (at - text), text, new, at + strlen(old)) > 0);
        return s;
}

static uid_t uid_of(const char *user) {
        struct passwd *pw = getpwnam(user);

        if (!pw)
                fail_msg("this system has no user '%s'", user);
        return pw->pw_uid;
}

/* Parses text as "y.yaml" with base_dir and checks that exactly the expected lines
 * (NULL-terminated, without the "y.yaml:" prefix) come out, in that order. */
static void expect_in(const char *base_dir, const char *text, const char *const want[]) {
        _cleanup_(yb_diagnostics_done) YbDiagnostics d = { 0 };
        YbDaemonConfig *c = NULL;
        size_t n = 0;
        int r;

        while (want[n])
                n++;
        r = yb_daemon_config_parse("y.yaml", text, strlen(text), base_dir, &c, &d);
        ASSERT_ERR(r, EINVAL);
        ASSERT_TRUE(c == NULL);
        for (size_t i = 0; i < MAX(n, d.n); i++) {
                char *got = i < d.n ? d.lines[i] : NULL;

                if (i >= n || !got || strncmp(got, "y.yaml:", 7) != 0 || !streq(got + 7, want[i])) {
                        yb_diagnostics_print(&d, stderr);
                        fail_msg("line %zu: got \"%s\", want \"y.yaml:%s\"", i,
                                 got ? got : "(none)", i < n ? want[i] : "(none)");
                }
        }
}

#define EXPECT(text, ...)                                                                          \
        expect_in("/etc/yunbak", (text), (const char *const[]){ __VA_ARGS__, NULL })

/* Parses an edited base and checks the errors it must give. */
#define EXPECT_EDIT(old, new, ...)                                                                 \
        do {                                                                                       \
                _cleanup_free_ char *_t = edit(base, (old), (new));                                \
                EXPECT(_t, __VA_ARGS__);                                                           \
        } while (0)

static YbDaemonConfig *parse_ok(const char *text, const char *base_dir) {
        _cleanup_(yb_diagnostics_done) YbDiagnostics d = { 0 };
        YbDaemonConfig *c = NULL;
        int r = yb_daemon_config_parse("y.yaml", text, strlen(text), base_dir, &c, &d);

        if (r < 0) {
                yb_diagnostics_print(&d, stderr);
                fail_msg("the configuration does not parse: %d", r);
        }
        ASSERT_EQ(d.n, 0);
        return c;
}

TEST(full_config_reads_into_fields) {
        _cleanup_(yb_daemon_config_freep) YbDaemonConfig *c = parse_ok(base, "/etc/yunbak");
        const YbConfigStore *st;
        const YbConfigHost *h;

        ASSERT_STREQ(c->file, "y.yaml");
        ASSERT_STREQ(c->catalog, "/var/lib/yunbakd/catalog.db");
        ASSERT_STREQ(c->socket, "/run/yunbak/api.sock");
        ASSERT_EQ(c->socket_mode, 0660);
        ASSERT_STREQ(c->metrics_listen, "127.0.0.1:9100");
        /* Relative paths are relative to the file's directory; "." and "//" are dropped. */
        ASSERT_STREQ(c->policies, "/etc/yunbak/policies.d");
        ASSERT_STREQ(c->keys, "/etc/yunbak/keys");
        ASSERT_STREQ(c->state, "/etc/yunbak/state");
        ASSERT_EQ(c->max_jobs, 4);
        ASSERT_EQ(c->job_timeout_usec, 8 * YB_USEC_PER_HOUR);
        ASSERT_EQ(c->retries, 0);
        ASSERT_EQ(c->retry_backoff_usec, 10 * YB_USEC_PER_MINUTE);
        ASSERT_EQ(c->seal_interval_usec, YB_USEC_PER_MINUTE);

        ASSERT_EQ(c->n_stores, 3);
        st = yb_daemon_config_store(c, "nas-main");
        ASSERT_TRUE(st == &c->stores[0]);
        ASSERT_EQ(st->kind, YB_CONFIG_STORE_LOCAL);
        ASSERT_STREQ(st->url, "/srv/backup");
        ASSERT_STREQ(st->path, "/srv/backup");
        ASSERT_TRUE(st->ssh_key == NULL && st->known_hosts == NULL && st->user == NULL);
        ASSERT_EQ(st->line, 14);
        ASSERT_EQ(st->column, 3);
        st = yb_daemon_config_store(c, "dr-site");
        ASSERT_TRUE(st == &c->stores[1]);
        ASSERT_EQ(st->kind, YB_CONFIG_STORE_SFTP);
        ASSERT_STREQ(st->url, "sftp://yb@dr.example.gov.cn:2222/backup");
        ASSERT_STREQ(st->user, "yb");
        ASSERT_STREQ(st->address, "dr.example.gov.cn");
        ASSERT_EQ(st->port, 2222);
        ASSERT_STREQ(st->path, "/backup");
        ASSERT_STREQ(st->ssh_key, "/etc/yunbak/ssh/dr_ed25519");
        ASSERT_STREQ(st->known_hosts, "/etc/yunbak/known_hosts");
        st = yb_daemon_config_store(c, "offsite");
        ASSERT_EQ(st->kind, YB_CONFIG_STORE_LOCAL);
        ASSERT_STREQ(st->url, "/mnt/offsite/yunbak");
        ASSERT_STREQ(st->path, "/mnt/offsite/yunbak");
        ASSERT_TRUE(yb_daemon_config_store(c, "nas") == NULL);

        ASSERT_EQ(c->n_hosts, 2);
        h = yb_daemon_config_host(c, "web-03");
        ASSERT_TRUE(h == &c->hosts[0]);
        ASSERT_FALSE(h->local);
        ASSERT_STREQ(h->user, "backup");
        ASSERT_STREQ(h->address, "10.0.3.15");
        ASSERT_EQ(h->port, 22);
        ASSERT_STREQ(h->ssh_key, "/etc/yunbak/id_ed25519");
        ASSERT_STREQ(h->known_hosts, "/etc/yunbak/known_hosts");
        ASSERT_STREQ(h->agent, "/usr/local/bin/yunbak-agent");
        ASSERT_STREQ(h->state_dir, "/var/lib/yunbak-agent");
        h = yb_daemon_config_host(c, "backup-server");
        ASSERT_TRUE(h == &c->hosts[1]);
        ASSERT_TRUE(h->local);
        ASSERT_TRUE(h->user == NULL && h->address == NULL && h->ssh_key == NULL &&
                    h->known_hosts == NULL && h->state_dir == NULL);
        ASSERT_STREQ(h->agent, "yunbak-agent");
        ASSERT_TRUE(yb_daemon_config_host(c, "nas-main") == NULL);

        ASSERT_EQ(c->n_people, 3);
        ASSERT_STREQ(c->people[0].user, "root");
        ASSERT_EQ(c->people[0].uid, 0);
        ASSERT_EQ(c->people[0].role, YB_ROLE_OPERATOR);
        ASSERT_TRUE(c->people[0].department == NULL);
        ASSERT_STREQ(c->people[1].user, "daemon");
        ASSERT_EQ(c->people[1].uid, uid_of("daemon"));
        ASSERT_EQ(c->people[1].role, YB_ROLE_DEPARTMENT);
        ASSERT_STREQ(c->people[1].department, "市人力资源和社会保障局");
        ASSERT_EQ(c->people[1].line, 34);
        ASSERT_EQ(c->people[1].column, 11);
        ASSERT_STREQ(c->people[2].user, "nobody");
        ASSERT_EQ(c->people[2].uid, uid_of("nobody"));
        ASSERT_EQ(c->people[2].role, YB_ROLE_AUDITOR);
}

TEST(defaults) {
        _cleanup_(yb_daemon_config_freep) YbDaemonConfig *c = parse_ok(MINIMAL, NULL);

        ASSERT_STREQ(c->catalog, "/c.db");
        ASSERT_STREQ(c->policies, "/p");
        ASSERT_STREQ(c->keys, "/k");
        ASSERT_STREQ(c->socket, "/run/yunbak/yunbakd.sock");
        ASSERT_EQ(c->socket_mode, 0660);
        ASSERT_TRUE(c->metrics_listen == NULL);
        ASSERT_STREQ(c->state, "/var/lib/yunbakd");
        ASSERT_EQ(c->max_jobs, 2);
        ASSERT_EQ(c->job_timeout_usec, 6 * YB_USEC_PER_HOUR);
        ASSERT_EQ(c->retries, 3);
        ASSERT_EQ(c->retry_backoff_usec, 5 * YB_USEC_PER_MINUTE);
        ASSERT_EQ(c->seal_interval_usec, 5 * YB_USEC_PER_MINUTE);
        ASSERT_EQ(c->n_stores, 0);
        ASSERT_EQ(c->n_hosts, 0);
        ASSERT_EQ(c->n_people, 0);
}

TEST(addresses) {
        _cleanup_free_ char *t = edit(base, "    ssh: backup@10.0.3.15\n",
                                      "    ssh: yb.backup_1@[2001:db8::15]:2200\n");
        _cleanup_free_ char *t2 =
                edit(t, "metrics_listen: 127.0.0.1:9100\n", "metrics_listen: \"[::1]:9100\"\n");
        _cleanup_free_ char *t3 = edit(t2, "sftp://yb@dr.example.gov.cn:2222/backup",
                                       "sftp://yb@[fd00::2]/srv/yunbak");
        _cleanup_(yb_daemon_config_freep) YbDaemonConfig *c = parse_ok(t3, "/etc/yunbak");
        const YbConfigHost *h = yb_daemon_config_host(c, "web-03");
        const YbConfigStore *st = yb_daemon_config_store(c, "dr-site");

        ASSERT_STREQ(h->user, "yb.backup_1");
        ASSERT_STREQ(h->address, "2001:db8::15");
        ASSERT_EQ(h->port, 2200);
        ASSERT_STREQ(c->metrics_listen, "[::1]:9100");
        ASSERT_STREQ(st->address, "fd00::2");
        ASSERT_EQ(st->port, 22);
        ASSERT_STREQ(st->path, "/srv/yunbak");
}

TEST(not_a_configuration) {
        EXPECT("", "1:1: the file is empty: yunbakd's configuration needs at least catalog, "
                   "policies and keys");
        EXPECT("- a\n", "1:1: the configuration must be a mapping of catalog, policies, keys, "
                        "stores, hosts, ..., not a list");
        EXPECT("x: [\n", "2:1: syntax error: did not find expected node content (while parsing a "
                         "flow node at 2:1)");
}

TEST(missing_keys) {
        EXPECT("socket: /s\n",
               "1:1: missing key 'catalog' (the path of yunbakd's catalog, an SQLite file)",
               "1:1: missing key 'policies' (the directory of the policy files)",
               "1:1: missing key 'keys' (the directory of the systems' ID.pub files)");
}

/* The control socket is the group's, not everyone's: a named group must exist, and is resolved. */
TEST(socket_group) {
        _cleanup_(yb_daemon_config_freep) YbDaemonConfig *c =
                parse_ok(MINIMAL "socket_group: root\n", NULL);

        ASSERT_STREQ(c->socket_group, "root");
        ASSERT_EQ(c->socket_gid, 0);
        ASSERT_EQ(c->socket_mode, 0660);
        EXPECT(MINIMAL "socket_group: no-such-group-yb\n",
               "4:15: socket_group 'no-such-group-yb' is not a unix group of this machine: create "
               "it (groupadd --system no-such-group-yb) and add the people to it, or name another");
}

TEST(unknown_and_duplicate_keys) {
        EXPECT_EDIT("max_jobs: 4\n", "max_job: 4\n",
                    "8:1: unknown key 'max_job'; did you mean 'max_jobs'?");
        EXPECT_EDIT("retries: 0\n", "retries: 0\nretries: 1\n",
                    "11:1: duplicate key 'retries' (first at 10:1)");
        EXPECT_EDIT("    url: /srv/backup\n", "    url: /srv/backup\n    uri: /srv/b\n",
                    "16:5: unknown key 'uri' in stores.nas-main; did you mean 'url'?");
        EXPECT_EDIT("    local: true\n", "    local: true\n    agnet: /bin/a\n",
                    "31:5: unknown key 'agnet' in hosts.backup-server; did you mean 'agent'?");
        EXPECT_EDIT("    role: auditor\n", "    role: auditor\n    dept: x\n",
                    "39:5: unknown key 'dept' in people[2]");
        EXPECT_EDIT("  offsite:\n", "  nas-main:\n",
                    "20:3: duplicate key 'nas-main' (first at 14:3)");
}

TEST(wrong_types_and_values) {
        EXPECT_EDIT("catalog: /var/lib/yunbakd/catalog.db\n", "catalog: [a, b]\n",
                    "1:10: catalog must be a string, not a list");
        EXPECT_EDIT("socket_mode: \"0660\"\n", "socket_mode: 0668\n",
                    "3:14: socket_mode must be an octal mode from 0000 to 0777, such as \"0660\", "
                    "not '0668'");
        EXPECT_EDIT("socket_mode: \"0660\"\n", "socket_mode: 1777\n",
                    "3:14: socket_mode must be an octal mode from 0000 to 0777, such as \"0660\", "
                    "not '1777'");
        EXPECT_EDIT("max_jobs: 4\n", "max_jobs: 0\n",
                    "8:11: max_jobs must be a whole number from 1 to 256, not '0'");
        EXPECT_EDIT("max_jobs: 4\n", "max_jobs: 257\n",
                    "8:11: max_jobs must be a whole number from 1 to 256, not '257'");
        EXPECT_EDIT("retries: 0\n", "retries: many\n",
                    "10:10: retries must be a whole number from 0 to 20, not 'many'");
        EXPECT_EDIT("job_timeout: 8h\n", "job_timeout: 8 hrs\n",
                    "9:14: bad duration '8 hrs' for job_timeout: unknown unit 'hrs' (use s, min, "
                    "h, d, w, month or y)");
        EXPECT_EDIT("retry_backoff: 10min\n", "retry_backoff: 0s\n",
                    "11:16: retry_backoff must be longer than 0s");
        EXPECT_EDIT("audit_seal_interval: 1min\n", "audit_seal_interval:\n",
                    "12:21: audit_seal_interval is empty: write a duration such as 30s, 5min, 1h "
                    "or 7d");
        EXPECT_EDIT("policies: policies.d\n", "policies: \"\"\n", "5:11: policies is empty");
        EXPECT_EDIT("stores:\n  nas-main:\n    url: /srv/backup\n",
                    "stores:\n  - nas-main\nxstores:\n  nas-main:\n    url: /srv/backup\n",
                    "14:3: stores must be a mapping, not a list",
                    "15:1: unknown key 'xstores'; did you mean 'stores'?");
        EXPECT_EDIT("people:\n", "people: root\nxpeople:\n",
                    "31:9: people must be a list of mappings with user, role and department, not "
                    "'root'",
                    "32:1: unknown key 'xpeople'; did you mean 'people'?");
        EXPECT_EDIT("  - user: nobody\n    role: auditor\n", "  - nobody\n",
                    "37:5: people[2] must be a mapping, not 'nobody'");
}

TEST(addresses_are_checked) {
        EXPECT_EDIT("metrics_listen: 127.0.0.1:9100\n", "metrics_listen: 127.0.0.1\n",
                    "4:17: bad address '127.0.0.1' for metrics_listen: the port is missing: "
                    "write host:port, as 127.0.0.1:9100");
        /* yunbakd binds to an address, not a name. */
        EXPECT_EDIT("metrics_listen: 127.0.0.1:9100\n", "metrics_listen: localhost:9100\n",
                    "4:17: bad address 'localhost:9100' for metrics_listen: 'localhost' is not an "
                    "IP address: write one, as 127.0.0.1:9100 or [::1]:9100");
        EXPECT_EDIT("metrics_listen: 127.0.0.1:9100\n", "metrics_listen: 10.0.0.256:9100\n",
                    "4:17: bad address '10.0.0.256:9100' for metrics_listen: '10.0.0.256' is not "
                    "an IP address: write one, as 127.0.0.1:9100 or [::1]:9100");
        EXPECT_EDIT("metrics_listen: 127.0.0.1:9100\n", "metrics_listen: 127.0.0.1:99999\n",
                    "4:17: bad address '127.0.0.1:99999' for metrics_listen: the port must be a "
                    "number from 1 to 65535");
        EXPECT_EDIT("metrics_listen: 127.0.0.1:9100\n", "metrics_listen: ::1:9100\n",
                    "4:17: bad address '::1:9100' for metrics_listen: write an IPv6 address in "
                    "brackets, as [2001:db8::1]:22");
        EXPECT_EDIT("metrics_listen: 127.0.0.1:9100\n", "metrics_listen: \"[::g]:9100\"\n",
                    "4:17: bad address '[::g]:9100' for metrics_listen: '::g' is not an IPv6 "
                    "address");
        EXPECT_EDIT("    ssh: backup@10.0.3.15\n", "    ssh: 10.0.3.15\n",
                    "24:10: bad address '10.0.3.15' for hosts.web-03.ssh: the user is missing: "
                    "write user@host or user@host:port");
        EXPECT_EDIT("    ssh: backup@10.0.3.15\n", "    ssh: backup@web_03:22\n",
                    "24:10: bad address 'backup@web_03:22' for hosts.web-03.ssh: 'web_03' is "
                    "not a host name or IP address (letters, digits, '-' and '.')");
        EXPECT_EDIT("    ssh: backup@10.0.3.15\n", "    ssh: -oProxyCommand=x@h\n",
                    "24:10: bad address '-oProxyCommand=x@h' for hosts.web-03.ssh: the user "
                    "'-oProxyCommand=x' is not valid (letters, digits, '.', '_' and '-')");
        EXPECT_EDIT("    ssh: backup@10.0.3.15\n", "    ssh: backup@-host\n",
                    "24:10: bad address 'backup@-host' for hosts.web-03.ssh: '-host' is not a "
                    "host name or IP address (letters, digits, '-' and '.')");
}

TEST(stores_are_checked) {
        EXPECT_EDIT("  nas-main:\n", "  NAS_main:\n",
                    "14:3: store name 'NAS_main' is not valid: use 1 to 63 of a-z, 0-9 and '-', "
                    "not starting with '-'");
        EXPECT_EDIT("    url: /srv/backup\n", "    path: /srv/backup\n",
                    "14:3: missing key 'url' in stores.nas-main (a directory, file:///path, "
                    "sftp://user@host[:port]/path or s3://bucket[/prefix])",
                    "15:5: unknown key 'path' in stores.nas-main");
        /* "://" after something other than a scheme is part of a directory's name. */
        _cleanup_free_ char *odd = edit(base, "    url: /srv/backup\n", "    url: ./a/b://c\n");
        _cleanup_(yb_daemon_config_freep) YbDaemonConfig *c = parse_ok(odd, "/etc/yunbak");
        ASSERT_STREQ(c->stores[0].url, "/etc/yunbak/a/b:/c");
        EXPECT_EDIT("    url: /srv/backup\n", "    url: s3://bucket/x\n",
                    "14:3: missing key 's3' in stores.nas-main (where the bucket is and how to "
                    "log in: endpoint and credentials; see docs/s3.md)");
        EXPECT_EDIT("    url: /srv/backup\n", "    url: s4://bucket/x\n",
                    "15:10: bad url 's4://bucket/x' for stores.nas-main.url: unsupported kind of "
                    "store 's4': use a directory, file:///path, sftp://user@host[:port]/path or "
                    "s3://bucket[/prefix]");
        EXPECT_EDIT("    url: /srv/backup\n", "    url: file://srv/backup\n",
                    "15:10: bad url 'file://srv/backup' for stores.nas-main.url: a file URL "
                    "needs an absolute path, as file:///srv/backup");
        EXPECT_EDIT("    url: /srv/backup\n",
                    "    url: /srv/backup\n    ssh_key: /k\n    known_hosts: /kh\n",
                    "16:5: stores.nas-main.ssh_key is for sftp stores; this store is a directory",
                    "17:5: stores.nas-main.known_hosts is for sftp stores; this store is a "
                    "directory");
        EXPECT_EDIT("sftp://yb@dr.example.gov.cn:2222/backup", "sftp://dr.example.gov.cn/backup",
                    "17:10: bad url 'sftp://dr.example.gov.cn/backup' for stores.dr-site.url: "
                    "the user is missing: write user@host or user@host:port");
        EXPECT_EDIT("sftp://yb@dr.example.gov.cn:2222/backup", "sftp://yb@dr.example.gov.cn",
                    "17:10: bad url 'sftp://yb@dr.example.gov.cn' for stores.dr-site.url: the "
                    "path is missing: write sftp://user@host[:port]/path");
        EXPECT_EDIT("    ssh_key: ssh/dr_ed25519\n    known_hosts: /etc/yunbak/known_hosts\n", "",
                    "16:3: missing key 'ssh_key' in stores.dr-site (the private key yunbakd logs "
                    "in to the SFTP server with)",
                    "16:3: missing key 'known_hosts' in stores.dr-site (a known_hosts file with "
                    "the SFTP server's host key)");
        EXPECT_EDIT("  offsite:\n    url: file:///mnt/offsite//yunbak/\n", "  offsite: /mnt\n",
                    "20:12: stores.offsite must be a mapping, not '/mnt'");
}

TEST(hosts_are_checked) {
        EXPECT_EDIT("  web-03:\n", "  -web:\n",
                    "23:3: host name '-web' is not valid: use 1 to 63 of a-z, 0-9 and '-', not "
                    "starting with '-'");
        EXPECT_EDIT("    ssh: backup@10.0.3.15\n    ssh_key: /etc/yunbak/id_ed25519\n"
                    "    known_hosts: /etc/yunbak/known_hosts\n",
                    "",
                    "23:3: missing key 'ssh' in hosts.web-03 (user@host or user@host:port to "
                    "reach it by SSH; or local: true for this machine)",
                    "23:3: missing key 'ssh_key' in hosts.web-03 (the private key yunbakd logs "
                    "in with)",
                    "23:3: missing key 'known_hosts' in hosts.web-03 (a known_hosts file with the "
                    "host's key)");
        EXPECT_EDIT("    local: true\n", "    local: true\n    ssh: root@localhost\n",
                    "31:5: hosts.backup-server.ssh is for hosts reached by SSH; this one is "
                    "local: true");
        /* A bad local: one message, not three about missing SSH keys. */
        EXPECT_EDIT("    local: true\n", "    local: yes\n",
                    "30:12: hosts.backup-server.local must be true or false, not 'yes'");
        EXPECT_EDIT("    agent: /usr/local/bin/yunbak-agent\n", "    agent: bin/yunbak-agent\n",
                    "27:12: hosts.web-03.agent must be an absolute path on the host or a command "
                    "name found in PATH, not 'bin/yunbak-agent'");
        EXPECT_EDIT("    state_dir: /var/lib/yunbak-agent\n", "    state_dir: state\n",
                    "28:16: hosts.web-03.state_dir must be an absolute path on the host, not "
                    "'state'");
        /* agent_key: 32 bytes of base64 exactly; 31 or 33 bytes are refused. */
        EXPECT_EDIT("    state_dir: /var/lib/yunbak-agent\n",
                    "    state_dir: /var/lib/yunbak-agent\n    agent_key: "
                    "ek9ZRYhwbaMPxs10H2LcrCcgiDKrvURzKjTUZvGVLg==\n",
                    "29:16: hosts.web-03.agent_key must be the agent's key as 'yunbak-agent "
                    "identity' prints it on the host (44 characters of base64), not "
                    "'ek9ZRYhwbaMPxs10H2LcrCcgiDKrvURzKjTUZvGVLg=='");
        EXPECT_EDIT("    state_dir: /var/lib/yunbak-agent\n",
                    "    state_dir: /var/lib/yunbak-agent\n    agent_key: yes\n",
                    "29:16: hosts.web-03.agent_key must be the agent's key as 'yunbak-agent "
                    "identity' prints it on the host (44 characters of base64), not 'yes'");
}

TEST(people_are_checked) {
        EXPECT_EDIT("  - user: root\n", "  - user: no-such-user-yb\n",
                    "32:11: people[0].user 'no-such-user-yb' is not a unix user of this machine: "
                    "create the account or correct the name");
        EXPECT_EDIT("  - user: nobody\n", "  - user: root\n",
                    "37:11: people[2].user 'root' is already listed (at line 32): list each "
                    "person once");
        EXPECT_EDIT("    role: operator\n", "    role: admin\n",
                    "33:11: people[0].role must be operator, department or auditor, not 'admin'");
        EXPECT_EDIT("    role: operator\n", "    role: operater\n",
                    "33:11: people[0].role must be operator, department or auditor, not "
                    "'operater'; did you mean 'operator'?");
        EXPECT_EDIT("    department: 市人力资源和社会保障局\n", "",
                    "34:5: missing key 'department' in people[1] (the department whose systems "
                    "this person sees and acts on)");
        EXPECT_EDIT("    role: auditor\n", "    role: auditor\n    department: x\n",
                    "39:5: people[2].department is only for role department: an auditor sees the "
                    "systems of every department");
        EXPECT_EDIT("    role: operator\n", "", "32:5: missing key 'role' in people[0]");
}

/* Every problem of the file at once, sorted by position, whatever order they were found in. */
TEST(all_errors_are_reported) {
        _cleanup_free_ char *t1 = edit(base, "max_jobs: 4\n", "max_jobs: lots\n");
        _cleanup_free_ char *t2 = edit(t1, "  - user: root\n", "  - user: no-such-user-yb\n");
        _cleanup_free_ char *t3 = edit(t2, "    url: /srv/backup\n", "    url: [x]\n");
        _cleanup_free_ char *t4 = edit(t3, "catalog: /var/lib/yunbakd/catalog.db\n",
                                       "catalog: /var/lib/yunbakd/catalog.db\ncatalog: x\n");

        EXPECT(t4, "2:1: duplicate key 'catalog' (first at 1:1)",
               "9:11: max_jobs must be a whole number from 1 to 256, not 'lots'",
               "16:10: stores.nas-main.url must be a string, not a list",
               "33:11: people[0].user 'no-such-user-yb' is not a unix user of this machine: "
               "create the account or correct the name");
}

TEST(relative_paths_without_a_base) {
        expect_in(NULL, "catalog: c.db\npolicies: /p\nkeys: ../k\n",
                  (const char *const[]){ "1:10: catalog must be an absolute path, not 'c.db'",
                                         "3:7: keys must be an absolute path, not '../k'", NULL });
}

TEST(socket_path_length) {
        char long_path[120], line[160];

        memset(long_path, 'a', sizeof(long_path) - 1);
        long_path[0] = '/';
        long_path[sizeof(long_path) - 1] = 0;
        snprintf(line, sizeof(line), "socket: %s\n", long_path);
        EXPECT_EDIT("socket: /run/yunbak/api.sock\n", line,
                    "2:9: socket is 119 bytes long; the path of a Unix socket can have at most "
                    "107: choose a shorter one");
}

/* Loading a file: relative paths are resolved against its directory, also when the file itself
 * is named relative to the working directory. */
TEST(load_resolves_relative_paths) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_diagnostics_done) YbDiagnostics diag = { 0 };
        _cleanup_free_ char *file = test_tmpdir_path(d, "etc/yunbakd.yaml");
        _cleanup_free_ char *want = NULL, *cwd = getcwd(NULL, 0);
        static const char text[] = "catalog: catalog.db\n"
                                   "policies: ./policies.d/\n"
                                   "keys: ../keys\n"
                                   "stores:\n"
                                   "  here:\n"
                                   "    url: store\n";
        YbDaemonConfig *c = NULL;

        ASSERT_OK(mkdirat(d->fd, "etc", 0755));
        test_write_file(d->fd, "etc/yunbakd.yaml", text, strlen(text));
        ASSERT_OK(yb_daemon_config_load(file, &c, &diag));
        ASSERT_EQ(diag.n, 0);
        assert_true(asprintf(&want, "%s/etc/catalog.db", d->path) > 0);
        ASSERT_STREQ(c->catalog, want);
        free(want);
        assert_true(asprintf(&want, "%s/etc/policies.d", d->path) > 0);
        ASSERT_STREQ(c->policies, want);
        free(want);
        assert_true(asprintf(&want, "%s/etc/../keys", d->path) > 0);
        ASSERT_STREQ(c->keys, want);
        free(want);
        assert_true(asprintf(&want, "%s/etc/store", d->path) > 0);
        ASSERT_STREQ(c->stores[0].url, want);
        c = yb_daemon_config_free(c);

        /* The same file named relative to the working directory. */
        ASSERT_TRUE(cwd != NULL);
        ASSERT_OK(chdir(d->path));
        int r = yb_daemon_config_load("etc/yunbakd.yaml", &c, &diag);
        ASSERT_OK(chdir(cwd));
        ASSERT_OK(r);
        ASSERT_STREQ(c->file, "etc/yunbakd.yaml");
        ASSERT_STREQ(c->stores[0].url, want);
        yb_daemon_config_free(c);
}

TEST(load_errors_name_the_file) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_diagnostics_done) YbDiagnostics diag = { 0 };
        _cleanup_free_ char *missing = test_tmpdir_path(d, "none.yaml");
        _cleanup_free_ char *bad = test_tmpdir_path(d, "bad.yaml");
        _cleanup_free_ char *want1 = NULL, *want2 = NULL;
        YbDaemonConfig *c = NULL;

        ASSERT_ERR(yb_daemon_config_load(missing, &c, &diag), ENOENT);
        test_write_file(d->fd, "bad.yaml", MINIMAL "max_jobs: 0\n", strlen(MINIMAL) + 12);
        ASSERT_ERR(yb_daemon_config_load(bad, &c, &diag), EINVAL);
        ASSERT_TRUE(c == NULL);
        ASSERT_EQ(diag.n, 2);
        assert_true(asprintf(&want1, "%s: cannot read: No such file or directory", missing) > 0);
        assert_true(asprintf(&want2,
                             "%s:4:11: max_jobs must be a whole number from 1 to 256, not '0'",
                             bad) > 0);
        ASSERT_STREQ(diag.lines[0], want1);
        ASSERT_STREQ(diag.lines[1], want2);
}

/* A valid policy whose host and stores the tests change; line numbers matter. */
static const char policy[] = "version: 1\n"                   /*  1 */
                             "system:\n"                      /*  2 */
                             "  id: hr-portal\n"              /*  3 */
                             "  name: HR\n"                   /*  4 */
                             "  department: HR\n"             /*  5 */
                             "  contact: hr@example.gov.cn\n" /*  6 */
                             "  classification: important\n"  /*  7 */
                             "sources:\n"                     /*  8 */
                             "  host: web-03\n"               /*  9 */
                             "  paths: [/srv/hr]\n"           /* 10 */
                             "tier1:\n"                       /* 11 */
                             "  store: nas-main\n"            /* 12 */
                             "  full: weekly\n"               /* 13 */
                             "  incremental: daily\n"         /* 14 */
                             "tier2:\n"                       /* 15 */
                             "  store: dr-site\n"             /* 16 */
                             "  max_lag: 30s\n"               /* 17 */
                             "  checkpoint: daily\n"          /* 18 */
                             "tier3:\n"                       /* 19 */
                             "  store: offsite\n"             /* 20 */
                             "  on_request: true\n"           /* 21 */
                             "objectives:\n"                  /* 22 */
                             "  rpo: 1min\n"                  /* 23 */
                             "  rto: 4h\n"                    /* 24 */
                             "drill:\n"                       /* 25 */
                             "  every: 90d\n";                /* 26 */

static YbPolicy *policy_ok(const char *text) {
        _cleanup_(yb_diagnostics_done) YbDiagnostics d = { 0 };
        YbPolicy *p = NULL;

        if (yb_policy_parse("p.yaml", text, strlen(text), &p, &d) < 0) {
                yb_diagnostics_print(&d, stderr);
                fail_msg("the policy does not parse");
        }
        return p;
}

TEST(policy_cross_check) {
        _cleanup_(yb_daemon_config_freep) YbDaemonConfig *c = parse_ok(base, "/etc/yunbak");
        _cleanup_(yb_diagnostics_done) YbDiagnostics d = { 0 };
        _cleanup_(yb_policy_freep) YbPolicy *good = policy_ok(policy);
        _cleanup_free_ char *t1 = edit(policy, "  host: web-03\n", "  host: web-3\n");
        _cleanup_free_ char *t2 = edit(t1, "  store: dr-site\n", "  store: tape\n");
        _cleanup_free_ char *t3 = edit(t2, "  store: offsite\n", "  store: ofsite\n");
        _cleanup_(yb_policy_freep) YbPolicy *bad = policy_ok(t3);
        _cleanup_free_ char *t4 = edit(policy, "  store: nas-main\n", "  store: nas-2\n");
        _cleanup_free_ char *t5 = edit(t4,
                                       "tier2:\n  store: dr-site\n  max_lag: 30s\n"
                                       "  checkpoint: daily\ntier3:\n  store: offsite\n"
                                       "  on_request: true\n",
                                       "");
        _cleanup_free_ char *t6 = edit(t5, "important", "general");
        _cleanup_(yb_policy_freep) YbPolicy *one_tier = policy_ok(t6);

        ASSERT_OK(yb_daemon_config_check_policy(c, good, &d));
        ASSERT_EQ(d.n, 0);

        ASSERT_ERR(yb_daemon_config_check_policy(c, bad, &d), EINVAL);
        ASSERT_EQ(d.n, 3);
        ASSERT_STREQ(d.lines[0], "p.yaml:9:9: sources.host 'web-3' is not one of the hosts of "
                                 "y.yaml; did you mean 'web-03'?");
        ASSERT_STREQ(d.lines[1], "p.yaml:16:10: tier2.store 'tape' is not one of the stores of "
                                 "y.yaml: add it under stores there");
        ASSERT_STREQ(d.lines[2], "p.yaml:20:10: tier3.store 'ofsite' is not one of the stores of "
                                 "y.yaml; did you mean 'offsite'?");

        /* Lines of earlier calls stay; a policy without tiers 2 and 3 is checked for tier 1. */
        ASSERT_ERR(yb_daemon_config_check_policy(c, one_tier, &d), EINVAL);
        ASSERT_EQ(d.n, 4);
        ASSERT_STREQ(d.lines[3], "p.yaml:12:10: tier1.store 'nas-2' is not one of the stores of "
                                 "y.yaml: add it under stores there");
}

static char *source_path(const char *rel) {
        const char *me = __FILE__, *tail = strstr(me, "tests/unit/test-config.c");
        char *s;

        if (!tail || tail == me)
                return NULL;
        assert_true(asprintf(&s, "%.*s%s", (int) (tail - me), me, rel) > 0);
        return s;
}

/* The full example of docs/operations.md is valid, with its people's user names replaced by
 * users every system has, and the example policies pass the cross-check against it. */
TEST(documented_example) {
        static const char *const users[] = { "root", "daemon", "bin" };
        _cleanup_free_ char *doc = source_path("docs/operations.md");
        _cleanup_free_ char *dir = source_path("policies/examples");
        _cleanup_(yb_buf_done) YbBuf md = YB_BUF_INIT, yaml = YB_BUF_INIT;
        _cleanup_(yb_daemon_config_freep) YbDaemonConfig *c = NULL;
        static const char *const examples[] = { "hr-portal.yaml", "hotline-12345.yaml",
                                                "social-insurance.yaml" };
        const char *start, *end, *line;
        size_t n_users = 0;

        if (!doc)
                skip();
        test_read_file(AT_FDCWD, doc, &md);
        ASSERT_OK(yb_buf_append_u8(&md, 0));
        start = strstr((const char *) md.data, "## Configuration (yunbakd.yaml)\n");
        ASSERT_TRUE(start != NULL);
        start = strstr(start, "```yaml\n");
        ASSERT_TRUE(start != NULL);
        start += 8;
        end = strstr(start, "```\n");
        ASSERT_TRUE(end != NULL);
        for (line = start; line < end; line = strchr(line, '\n') + 1) {
                size_t len = (size_t) (strchr(line, '\n') + 1 - line);

                if (strncmp(line, "  - user: ", 10) == 0) {
                        ASSERT_LT(n_users, ELEMENTSOF(users));
                        ASSERT_OK(yb_buf_printf(&yaml, "  - user: %s\n", users[n_users++]));
                } else
                        ASSERT_OK(yb_buf_append(&yaml, line, len));
        }
        ASSERT_EQ(n_users, 3);
        ASSERT_OK(yb_buf_append_u8(&yaml, 0));
        c = parse_ok((const char *) yaml.data, "/etc/yunbak");
        ASSERT_STREQ(c->policies, "/etc/yunbak/policies.d");
        ASSERT_STREQ(c->stores[1].ssh_key, "/etc/yunbak/ssh/id_ed25519");
        ASSERT_EQ(c->n_people, 3);
        ASSERT_EQ(c->people[1].role, YB_ROLE_DEPARTMENT);
        ASSERT_FALSE(c->hosts[0].has_agent_key);
        ASSERT_STREQ(c->hosts[1].name, "hotline-db-01");
        ASSERT_TRUE(c->hosts[1].has_agent_key);
        ASSERT_EQ(c->hosts[1].agent_key[0], 0x7a); /* 'ek9Z' decodes to 7a 4f 59 */

        for (size_t i = 0; i < ELEMENTSOF(examples); i++) {
                _cleanup_(yb_diagnostics_done) YbDiagnostics d = { 0 };
                _cleanup_(yb_policy_freep) YbPolicy *p = NULL;
                _cleanup_free_ char *path = NULL;

                assert_true(asprintf(&path, "%s/%s", dir, examples[i]) > 0);
                ASSERT_OK(yb_policy_load(path, &p, &d));
                if (yb_daemon_config_check_policy(c, p, &d) < 0) {
                        yb_diagnostics_print(&d, stderr);
                        fail_msg("%s does not match the documented configuration", path);
                }
        }
}
