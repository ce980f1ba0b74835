/* orchestrator/daemon-config.c: reads yunbakd.yaml with the typed readers of policies/schema.h. As
 * with policies, checking goes on after a problem, so that one run reports everything; a section or
 * entry that cannot be read is skipped and the rest is still checked. */
#include "orchestrator/daemon-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "core/base/buf.h"
#include "core/base/excerpt.h"
#include "core/base/fileio.h"
#include "core/base/ident.h"
#include "core/crypto/keys.h"
#include "core/store/location.h"
#include "core/store/store-options.h"
#include "orchestrator/config-path.h"
#include "orchestrator/config-people.h"
#include "orchestrator/config-s3.h"
#include "policies/schema.h"
#include "policies/yamltree.h"

static const char *const top_keys[] = { "catalog",
                                        "socket",
                                        "socket_mode",
                                        "socket_group",
                                        "metrics_listen",
                                        "policies",
                                        "keys",
                                        "state",
                                        "max_jobs",
                                        "job_timeout",
                                        "retries",
                                        "retry_backoff",
                                        "audit_seal_interval",
                                        "stores",
                                        "hosts",
                                        "people",
                                        NULL };
static const char *const store_keys[] = { "url",       "ssh_key", "known_hosts", "s3",
                                          "bandwidth", "windows", NULL };
static const char *const host_keys[] = { "local", "ssh",       "ssh_key",   "known_hosts",
                                         "agent", "state_dir", "agent_key", NULL };

/* ---- values ---- */

/* Reads an optional path into *field, replacing its default. */
static void read_path_into(YbSchema *s, const YbYamlNode *map, const char *key,
                           const char *base_dir, char **field) {
        const YbYamlPair *pair = yb_schema_get(s, map, key, "", NULL);
        char *v = NULL;

        if (pair && orch_config_read_path(s, pair->value, key, base_dir, &v)) {
                free(*field);
                *field = v;
        }
}

/* "0660": three or four octal digits, at most 0777. */
static bool read_mode(YbSchema *s, const YbYamlNode *v, const char *path, mode_t *ret) {
        char buf[80];

        if (v->kind == YB_YAML_INVALID)
                return false;
        if (v->kind == YB_YAML_SCALAR && (v->length == 3 || v->length == 4)) {
                unsigned m = 0;
                size_t i = 0;

                for (; i < v->length && v->value[i] >= '0' && v->value[i] <= '7'; i++)
                        m = m * 8 + (unsigned) (v->value[i] - '0');
                if (i == v->length && m <= 0777) {
                        *ret = (mode_t) m;
                        return true;
                }
        }
        yb_schema_bad(s, v, "%s must be an octal mode from 0000 to 0777, such as \"0660\", not %s",
                      path, yb_schema_describe(v, buf, sizeof(buf)));
        return false;
}

/* ---- sections ---- */

/* The path "section.name" for messages, with the name quoted safely. */
static const char *entry_path(YbSchemaPath buf, const char *section, const char *name) {
        char tmp[64];

        return yb_schema_join(buf, section, yb_excerpt(name, tmp, sizeof(tmp)));
}

/* Checks an entry's name (the key node k) and returns its mapping, or NULL. */
static const YbYamlNode *read_entry(YbSchema *s, const YbYamlPair *pair, const char *section,
                                    const char *what, const char *const known[], char **ret_name,
                                    YbSchemaPath ret_path) {
        const YbYamlNode *k = pair->key;
        char buf[80];

        entry_path(ret_path, section, k->value);
        if (!yb_system_id_valid(k->value)) /* store and host names follow the system id rule */
                yb_schema_bad(s, k, "%s name %s is not valid: " YB_SYSTEM_ID_RULE, what,
                              yb_schema_describe(k, buf, sizeof(buf)));
        if (!yb_schema_read_mapping(s, pair->value, ret_path))
                return NULL;
        yb_schema_check_keys(s, pair->value, ret_path, known);
        *ret_name = strdup(k->value);
        if (!*ret_name)
                s->oom = true;
        return *ret_name ? pair->value : NULL;
}

/* A store's url (core/store/location.h): a directory, file:///path,
 * sftp://user@host[:port]/path or s3://bucket[/prefix]; fills the kind, url, path and the SFTP or
 * S3 fields of st. */
static bool read_url(YbSchema *s, const YbYamlNode *v, const char *path, const char *base_dir,
                     YbConfigStore *st) {
        _cleanup_(yb_location_done) YbLocation loc = { 0 };
        _cleanup_free_ char *text = NULL;
        char buf[80], err[160];
        int r;

        if (!yb_schema_read_text(s, v, path, 0, &text))
                return false;
        r = yb_location_parse(text, &loc, err, sizeof(err));
        if (r == -ENOMEM) {
                s->oom = true;
                return false;
        }
        if (r < 0) {
                yb_schema_bad(s, v, "bad url %s for %s: %s",
                              yb_schema_describe(v, buf, sizeof(buf)), path, err);
                return false;
        }
        if (loc.kind == YB_LOCATION_S3) {
                st->kind = YB_CONFIG_STORE_S3;
                st->bucket = TAKE_PTR(loc.bucket);
                st->path = TAKE_PTR(loc.path);
                st->url = TAKE_PTR(text);
                return true;
        }
        if (loc.kind == YB_LOCATION_SFTP) {
                st->kind = YB_CONFIG_STORE_SFTP;
                st->user = TAKE_PTR(loc.endpoint.user);
                st->address = TAKE_PTR(loc.endpoint.address);
                st->port = loc.endpoint.port;
                st->path = TAKE_PTR(loc.path);
                st->url = TAKE_PTR(text);
                return true;
        }
        /* A directory: yunbak-agent's --store takes the directory itself, made absolute. */
        assert(loc.kind == YB_LOCATION_LOCAL);
        st->kind = YB_CONFIG_STORE_LOCAL;
        if (!orch_config_resolve_path(s, v, path, base_dir, loc.path, &st->path))
                return false; /* orch_config_resolve_path() said why, or ran out of memory */
        st->url = strdup(st->path);
        if (!st->url)
                s->oom = true;
        return !s->oom;
}

/* A store's `bandwidth` and `windows` (orchestrator/store-limits.h): how fast and when copies
 * may write to it. */
static void read_limits(YbSchema *s, const YbYamlNode *m, const char *path, YbConfigStore *st) {
        const YbYamlPair *bw = yb_schema_get(s, m, "bandwidth", path, NULL),
                         *win = yb_schema_get(s, m, "windows", path, NULL);
        char buf[80], err[300];
        YbSchemaPath p;

        if (bw) {
                _cleanup_free_ char *text = NULL;

                if (bw->value->kind == YB_YAML_SCALAR && streq(bw->value->value, "0"))
                        st->rate_bps = 0;
                else if (yb_schema_read_text(s, bw->value, yb_schema_join(p, path, "bandwidth"), 0,
                                             &text) &&
                         yb_bandwidth_parse(text, &st->rate_bps, err, sizeof(err)) < 0)
                        yb_schema_bad(s, bw->value, "%s: %s", p, err);
        }
        if (!win)
                return;
        yb_schema_join(p, path, "windows");
        if (win->value->kind != YB_YAML_SEQUENCE || win->value->n_items == 0) {
                yb_schema_bad(s, win->value,
                              "%s must be a list of windows like [\"22:00-06:00 Asia/Shanghai\"], "
                              "not %s (leave it out for a store that is always open)",
                              p, yb_schema_describe(win->value, buf, sizeof(buf)));
                return;
        }
        st->windows = new0(YbStoreWindow, win->value->n_items);
        if (!st->windows) {
                s->oom = true;
                return;
        }
        for (size_t i = 0; i < win->value->n_items; i++) {
                const YbYamlNode *v = win->value->items[i];
                _cleanup_free_ char *text = NULL;
                int r;

                if (!yb_schema_read_text(s, v, p, 0, &text))
                        continue;
                r = yb_store_window_parse(text, &st->windows[st->n_windows], err, sizeof(err));
                if (r == -ENOMEM)
                        s->oom = true;
                else if (r < 0)
                        yb_schema_bad(s, v, "%s: %s", p, err);
                else
                        st->n_windows++;
        }
}

static void read_store(YbSchema *s, const YbYamlPair *pair, const char *base_dir,
                       YbConfigStore *st) {
        const YbYamlPair *url, *key, *kh;
        YbSchemaPath path, p;
        const YbYamlNode *m;
        bool url_ok = false;

        m = read_entry(s, pair, "stores", "store", store_keys, &st->name, path);
        if (!m)
                return;
        st->line = pair->key->line;
        st->column = pair->key->column;
        url = yb_schema_get(s, m, "url", path, NULL);
        if (!url)
                yb_schema_bad(s, pair->key,
                              "missing key 'url' in %s (a directory, file:///path, "
                              "sftp://user@host[:port]/path or s3://bucket[/prefix])",
                              path);
        else
                url_ok = read_url(s, url->value, yb_schema_join(p, path, "url"), base_dir, st);
        read_limits(s, m, path, st);
        orch_config_read_s3(s, pair, m, path, base_dir, url_ok, st);
        key = yb_schema_get(s, m, "ssh_key", path, NULL);
        kh = yb_schema_get(s, m, "known_hosts", path, NULL);
        if (url_ok && st->kind != YB_CONFIG_STORE_SFTP) {
                const char *what =
                        st->kind == YB_CONFIG_STORE_LOCAL ? "a directory" : "an s3 store";

                if (key)
                        yb_schema_bad(s, key->key,
                                      "%s.ssh_key is for sftp stores; this store is %s", path,
                                      what);
                if (kh)
                        yb_schema_bad(s, kh->key,
                                      "%s.known_hosts is for sftp stores; this store is %s", path,
                                      what);
                return;
        }
        if (url_ok && !key)
                yb_schema_bad(s, pair->key,
                              "missing key 'ssh_key' in %s (the private key yunbakd logs in to "
                              "the SFTP server with)",
                              path);
        if (url_ok && !kh)
                yb_schema_bad(s, pair->key,
                              "missing key 'known_hosts' in %s (a known_hosts file with the SFTP "
                              "server's host key)",
                              path);
        if (key)
                (void) orch_config_read_path(s, key->value, yb_schema_join(p, path, "ssh_key"),
                                             base_dir, &st->ssh_key);
        if (kh)
                (void) orch_config_read_path(s, kh->value, yb_schema_join(p, path, "known_hosts"),
                                             base_dir, &st->known_hosts);
}

static void read_host(YbSchema *s, const YbYamlPair *pair, const char *base_dir, YbConfigHost *h) {
        const YbYamlPair *local, *ssh, *key, *kh, *agent, *state, *pin;
        YbSchemaPath path, p;
        const YbYamlNode *m;
        char buf[80], err[160];
        bool local_ok = true;

        m = read_entry(s, pair, "hosts", "host", host_keys, &h->name, path);
        if (!m)
                return;
        h->line = pair->key->line;
        h->column = pair->key->column;
        h->port = YB_ENDPOINT_DEFAULT_PORT;
        local = yb_schema_get(s, m, "local", path, NULL);
        if (local)
                local_ok = yb_schema_read_bool(s, local->value, yb_schema_join(p, path, "local"),
                                               &h->local);
        ssh = yb_schema_get(s, m, "ssh", path, NULL);
        key = yb_schema_get(s, m, "ssh_key", path, NULL);
        kh = yb_schema_get(s, m, "known_hosts", path, NULL);
        if (h->local) {
                const YbYamlPair *remote[] = { ssh, key, kh };

                for (size_t i = 0; i < ELEMENTSOF(remote); i++)
                        if (remote[i])
                                yb_schema_bad(s, remote[i]->key,
                                              "%s.%s is for hosts reached by SSH; this one is "
                                              "local: true",
                                              path, remote[i]->key->value);
        } else if (local_ok) {
                if (!ssh)
                        yb_schema_bad(s, pair->key,
                                      "missing key 'ssh' in %s (user@host or user@host:port to "
                                      "reach it by SSH; or local: true for this machine)",
                                      path);
                if (!key)
                        yb_schema_bad(s, pair->key,
                                      "missing key 'ssh_key' in %s (the private key yunbakd logs "
                                      "in with)",
                                      path);
                if (!kh)
                        yb_schema_bad(s, pair->key,
                                      "missing key 'known_hosts' in %s (a known_hosts file with "
                                      "the host's key)",
                                      path);
        }
        if (!h->local && ssh &&
            yb_schema_read_text(s, ssh->value, yb_schema_join(p, path, "ssh"),
                                YB_SCHEMA_TEXT_NO_SPACE, NULL)) {
                YbEndpoint e;
                int r = yb_location_endpoint_parse(ssh->value->value, ssh->value->length,
                                                   YB_ENDPOINT_USER, &e, err, sizeof(err));

                if (r == 0) {
                        h->user = e.user;
                        h->address = e.address;
                        h->port = e.port;
                } else if (r == -ENOMEM)
                        s->oom = true;
                else
                        yb_schema_bad(s, ssh->value, "bad address %s for %s: %s",
                                      yb_schema_describe(ssh->value, buf, sizeof(buf)), p, err);
        }
        if (!h->local && key)
                (void) orch_config_read_path(s, key->value, yb_schema_join(p, path, "ssh_key"),
                                             base_dir, &h->ssh_key);
        if (!h->local && kh)
                (void) orch_config_read_path(s, kh->value, yb_schema_join(p, path, "known_hosts"),
                                             base_dir, &h->known_hosts);
        agent = yb_schema_get(s, m, "agent", path, NULL);
        if (agent &&
            yb_schema_read_text(s, agent->value, yb_schema_join(p, path, "agent"), 0, &h->agent)) {
                if (h->agent[0] != '/' && strchr(h->agent, '/'))
                        yb_schema_bad(s, agent->value,
                                      "%s must be an absolute path on the host or a command "
                                      "name found in PATH, not %s",
                                      p, yb_schema_describe(agent->value, buf, sizeof(buf)));
        }
        if (!h->agent) {
                h->agent = strdup(YB_CONFIG_DEFAULT_AGENT);
                if (!h->agent)
                        s->oom = true;
        }
        state = yb_schema_get(s, m, "state_dir", path, NULL);
        if (state &&
            yb_schema_read_text(s, state->value, yb_schema_join(p, path, "state_dir"), 0,
                                &h->state_dir) &&
            h->state_dir[0] != '/')
                yb_schema_bad(s, state->value, "%s must be an absolute path on the host, not %s", p,
                              yb_schema_describe(state->value, buf, sizeof(buf)));
        pin = yb_schema_get(s, m, "agent_key", path, NULL);
        if (pin && yb_schema_read_text(s, pin->value, yb_schema_join(p, path, "agent_key"),
                                       YB_SCHEMA_TEXT_NO_SPACE, NULL)) {
                char text[64];

                if (pin->value->length < sizeof(text)) {
                        memcpy(text, pin->value->value, pin->value->length);
                        text[pin->value->length] = 0;
                        h->has_agent_key = yb_base64_decode(text, h->agent_key, 32) == 0;
                }
                if (!h->has_agent_key)
                        yb_schema_bad(s, pin->value,
                                      "%s must be the agent's key as 'yunbak-agent identity' "
                                      "prints it on the host (44 characters of base64), not %s",
                                      p, yb_schema_describe(pin->value, buf, sizeof(buf)));
        }
}

/* The mapping of stores or hosts. */
static const YbYamlNode *read_named(YbSchema *s, const YbYamlNode *root, const char *key) {
        const YbYamlPair *pair = yb_schema_get(s, root, key, "", NULL);

        if (!pair || !yb_schema_read_mapping(s, pair->value, key))
                return NULL;
        return pair->value;
}

static void check_config(YbSchema *s, const YbYamlNode *root, const char *base_dir,
                         YbDaemonConfig *c) {
        static const struct {
                const char *key, *what;
                size_t offset;
        } required[] = {
                { "catalog", "the path of yunbakd's catalog, an SQLite file",
                  offsetof(YbDaemonConfig, catalog) },
                { "policies", "the directory of the policy files",
                  offsetof(YbDaemonConfig, policies) },
                { "keys", "the directory of the systems' ID.pub files",
                  offsetof(YbDaemonConfig, keys) },
        };
        const YbYamlPair *pair;
        const YbYamlNode *m;
        char buf[80], err[160];

        if (root->kind != YB_YAML_MAPPING) {
                if (root->kind != YB_YAML_INVALID)
                        yb_schema_bad(s, root,
                                      "the configuration must be a mapping of catalog, policies, "
                                      "keys, stores, hosts, ..., not %s",
                                      yb_schema_describe(root, buf, sizeof(buf)));
                return;
        }
        yb_schema_check_keys(s, root, "", top_keys);

        for (size_t i = 0; i < ELEMENTSOF(required); i++) {
                pair = yb_schema_get(s, root, required[i].key, "", NULL);
                if (!pair)
                        yb_schema_bad(s, root, "missing key '%s' (%s)", required[i].key,
                                      required[i].what);
                else
                        (void) orch_config_read_path(s, pair->value, required[i].key, base_dir,
                                                     (char **) ((char *) c + required[i].offset));
        }
        read_path_into(s, root, "socket", base_dir, &c->socket);
        pair = yb_schema_get(s, root, "socket", "", NULL);
        if (pair && c->socket &&
            strlen(c->socket) >= sizeof(((struct sockaddr_un *) NULL)->sun_path))
                yb_schema_bad(s, pair->value,
                              "socket is %zu bytes long; the path of a Unix socket can have at "
                              "most %zu: choose a shorter one",
                              strlen(c->socket),
                              sizeof(((struct sockaddr_un *) NULL)->sun_path) - 1);
        pair = yb_schema_get(s, root, "socket_mode", "", NULL);
        if (pair)
                (void) read_mode(s, pair->value, "socket_mode", &c->socket_mode);
        orch_config_read_socket_group(s, root, c);
        pair = yb_schema_get(s, root, "metrics_listen", "", NULL);
        if (pair && yb_schema_read_text(s, pair->value, "metrics_listen", YB_SCHEMA_TEXT_NO_SPACE,
                                        &c->metrics_listen)) {
                _cleanup_(yb_location_endpoint_done) YbEndpoint e = { 0 };
                /* An IP address and port: what yb_httpd_start_tcp() takes. */
                int r = yb_location_endpoint_parse(c->metrics_listen, strlen(c->metrics_listen),
                                                   YB_ENDPOINT_PORT | YB_ENDPOINT_NUMERIC, &e, err,
                                                   sizeof(err));

                if (r == -ENOMEM)
                        s->oom = true;
                else if (r < 0)
                        yb_schema_bad(s, pair->value, "bad address %s for metrics_listen: %s",
                                      yb_schema_describe(pair->value, buf, sizeof(buf)), err);
        }
        read_path_into(s, root, "state", base_dir, &c->state);
        pair = yb_schema_get(s, root, "max_jobs", "", NULL);
        if (pair)
                (void) yb_schema_read_int_range(s, pair->value, "max_jobs", 1, YB_CONFIG_MAX_JOBS,
                                                &c->max_jobs);
        pair = yb_schema_get(s, root, "job_timeout", "", NULL);
        if (pair)
                (void) yb_schema_read_duration(s, pair->value, "job_timeout", &c->job_timeout_usec);
        pair = yb_schema_get(s, root, "retries", "", NULL);
        if (pair)
                (void) yb_schema_read_uint(s, pair->value, "retries", YB_CONFIG_MAX_RETRIES,
                                           &c->retries);
        pair = yb_schema_get(s, root, "retry_backoff", "", NULL);
        if (pair)
                (void) yb_schema_read_duration(s, pair->value, "retry_backoff",
                                               &c->retry_backoff_usec);
        pair = yb_schema_get(s, root, "audit_seal_interval", "", NULL);
        if (pair)
                (void) yb_schema_read_duration(s, pair->value, "audit_seal_interval",
                                               &c->seal_interval_usec);

        m = read_named(s, root, "stores");
        if (m && m->n_pairs > 0) {
                c->stores = new0(YbConfigStore, m->n_pairs);
                if (!c->stores) {
                        s->oom = true;
                        return;
                }
                for (size_t i = 0; i < m->n_pairs; i++) {
                        read_store(s, &m->pairs[i], base_dir, &c->stores[c->n_stores]);
                        if (c->stores[c->n_stores].name)
                                c->n_stores++;
                }
        }
        m = read_named(s, root, "hosts");
        if (m && m->n_pairs > 0) {
                c->hosts = new0(YbConfigHost, m->n_pairs);
                if (!c->hosts) {
                        s->oom = true;
                        return;
                }
                for (size_t i = 0; i < m->n_pairs; i++) {
                        read_host(s, &m->pairs[i], base_dir, &c->hosts[c->n_hosts]);
                        if (c->hosts[c->n_hosts].name)
                                c->n_hosts++;
                }
        }
        pair = yb_schema_get(s, root, "people", "", NULL);
        if (pair && pair->value->kind != YB_YAML_INVALID) {
                const YbYamlNode *v = pair->value;

                if (v->kind != YB_YAML_SEQUENCE) {
                        yb_schema_bad(s, v,
                                      "people must be a list of mappings with user, role and "
                                      "department, not %s",
                                      yb_schema_describe(v, buf, sizeof(buf)));
                        return;
                }
                c->people = new0(YbConfigPerson, v->n_items + 1);
                if (!c->people) {
                        s->oom = true;
                        return;
                }
                for (size_t i = 0; i < v->n_items; i++)
                        orch_config_read_person(s, v->items[i], i, c);
        }
}

/* ---- the configuration ---- */

static void store_done(YbConfigStore *st) {
        free(st->name);
        free(st->url);
        free(st->path);
        free(st->user);
        free(st->address);
        free(st->ssh_key);
        free(st->known_hosts);
        free(st->bucket);
        yb_s3_options_done(&st->s3);
        for (size_t i = 0; i < st->n_windows; i++)
                free(st->windows[i].zone);
        free(st->windows);
}

static void host_done(YbConfigHost *h) {
        free(h->name);
        free(h->user);
        free(h->address);
        free(h->ssh_key);
        free(h->known_hosts);
        free(h->agent);
        free(h->state_dir);
}

YbDaemonConfig *yb_daemon_config_free(YbDaemonConfig *c) {
        if (!c)
                return NULL;
        free(c->file);
        free(c->catalog);
        free(c->socket);
        free(c->socket_group);
        free(c->metrics_listen);
        free(c->policies);
        free(c->keys);
        free(c->state);
        for (size_t i = 0; i < c->n_stores; i++)
                store_done(&c->stores[i]);
        free(c->stores);
        for (size_t i = 0; i < c->n_hosts; i++)
                host_done(&c->hosts[i]);
        free(c->hosts);
        for (size_t i = 0; i < c->n_people; i++) {
                free(c->people[i].user);
                free(c->people[i].department);
        }
        free(c->people);
        free(c);
        return NULL;
}

int yb_daemon_config_parse(const char *name, const char *text, size_t size, const char *base_dir,
                           YbDaemonConfig **ret, YbDiagnostics *diag) {
        _cleanup_(yb_schema_done) YbSchema s = YB_SCHEMA_INIT(name);
        _cleanup_(yb_yaml_node_freep) YbYamlNode *root = NULL;
        _cleanup_(yb_daemon_config_freep) YbDaemonConfig *c = NULL;
        int r;

        assert(name && diag);
        c = new0(YbDaemonConfig, 1);
        if (!c)
                return -ENOMEM;
        *c = (YbDaemonConfig){
                .file = strdup(name),
                .socket = strdup(YB_CONFIG_DEFAULT_SOCKET),
                .socket_mode = YB_CONFIG_DEFAULT_SOCKET_MODE,
                .socket_gid = (gid_t) -1,
                .state = strdup(YB_CONFIG_DEFAULT_STATE),
                .max_jobs = YB_CONFIG_DEFAULT_MAX_JOBS,
                .job_timeout_usec = YB_CONFIG_DEFAULT_JOB_TIMEOUT_USEC,
                .retries = YB_CONFIG_DEFAULT_RETRIES,
                .retry_backoff_usec = YB_CONFIG_DEFAULT_RETRY_BACKOFF_USEC,
                .seal_interval_usec = YB_CONFIG_DEFAULT_SEAL_INTERVAL_USEC,
        };
        if (!c->file || !c->socket || !c->state)
                return -ENOMEM;
        r = yb_yaml_parse(text, size, yb_schema_yaml_error, &s, &root);
        if (r < 0)
                return r;
        if (root)
                check_config(&s, root, base_dir, c);
        else if (r == 0)
                yb_schema_problem(&s, 1, 1,
                                  "the file is empty: yunbakd's configuration needs at least "
                                  "catalog, policies and keys");
        r = yb_schema_flush(&s, diag);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

/* The absolute directory of path: relative paths in the file are relative to it. */
static int dir_of(const char *path, char **ret) {
        const char *slash = strrchr(path, '/');
        _cleanup_free_ char *dir = NULL, *cwd = NULL;

        dir = slash ? strndup(path, slash == path ? 1 : (size_t) (slash - path)) : strdup(".");
        if (!dir)
                return -ENOMEM;
        if (dir[0] != '/') {
                cwd = getcwd(NULL, 0);
                if (!cwd)
                        return negative_errno();
        }
        *ret = orch_config_path_resolve(cwd, dir);
        return *ret ? 0 : -ENOMEM;
}

int yb_daemon_config_load(const char *path, YbDaemonConfig **ret, YbDiagnostics *diag) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        _cleanup_free_ char *base = NULL;
        int r;

        r = yb_read_file_at(AT_FDCWD, path, YB_YAML_MAX_SIZE, &b);
        if (r == -EFBIG) {
                r = yb_diagnostics_addf(diag, "%s:1:1: the file is larger than %d KiB", path,
                                        YB_YAML_MAX_SIZE / 1024);
                return r < 0 ? r : -EINVAL;
        }
        if (r >= 0)
                r = dir_of(path, &base);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                int k = yb_diagnostics_addf(diag, "%s: cannot read: %s", path, strerror(-r));

                return k < 0 ? k : r;
        }
        return yb_daemon_config_parse(path, b.data ? (const char *) b.data : "", b.size, base, ret,
                                      diag);
}

const YbConfigStore *yb_daemon_config_store(const YbDaemonConfig *c, const char *name) {
        for (size_t i = 0; i < c->n_stores; i++)
                if (streq(c->stores[i].name, name))
                        return &c->stores[i];
        return NULL;
}

const YbConfigHost *yb_daemon_config_host(const YbDaemonConfig *c, const char *name) {
        for (size_t i = 0; i < c->n_hosts; i++)
                if (streq(c->hosts[i].name, name))
                        return &c->hosts[i];
        return NULL;
}

/* Reports name (at line:column of the policy) unless it is one of names; kind is "host" or
 * "store", section where the configuration lists them. */
static void check_name(YbSchema *s, const YbDaemonConfig *c, const char *key, const char *name,
                       unsigned line, unsigned column, const char *kind, const char *section,
                       const char *const names[], bool found) {
        const char *guess;
        char buf[64];

        if (!name || found)
                return;
        guess = yb_schema_closest(name, names);
        line = MAX(line, 1u);
        column = MAX(column, 1u);
        yb_excerpt(name, buf, sizeof(buf));
        if (guess)
                yb_schema_problem(s, line, column,
                                  "%s '%s' is not one of the %ss of %s; did you mean '%s'?", key,
                                  buf, kind, c->file, guess);
        else
                yb_schema_problem(s, line, column,
                                  "%s '%s' is not one of the %ss of %s: add it under %s there", key,
                                  buf, kind, c->file, section);
}

int yb_daemon_config_check_policy(const YbDaemonConfig *c, const YbPolicy *p, YbDiagnostics *diag) {
        _cleanup_(yb_schema_done) YbSchema s = YB_SCHEMA_INIT(p->file);
        _cleanup_free_ const char **stores = NULL, **hosts = NULL;
        static const struct {
                const char *key;
                size_t name, line, column;
        } tiers[] = {
                { "tier1.store", offsetof(YbPolicy, tier1_store),
                  offsetof(YbPolicy, tier1_store_line), offsetof(YbPolicy, tier1_store_column) },
                { "tier2.store", offsetof(YbPolicy, tier2_store),
                  offsetof(YbPolicy, tier2_store_line), offsetof(YbPolicy, tier2_store_column) },
                { "tier3.store", offsetof(YbPolicy, tier3_store),
                  offsetof(YbPolicy, tier3_store_line), offsetof(YbPolicy, tier3_store_column) },
        };
        assert(c && p && diag);
        stores = new0(const char *, c->n_stores + 1);
        hosts = new0(const char *, c->n_hosts + 1);
        if (!stores || !hosts)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_stores; i++)
                stores[i] = c->stores[i].name;
        for (size_t i = 0; i < c->n_hosts; i++)
                hosts[i] = c->hosts[i].name;

        check_name(&s, c, "sources.host", p->host, p->host_line, p->host_column, "host", "hosts",
                   hosts, p->host && yb_daemon_config_host(c, p->host));
        for (size_t i = 0; i < ELEMENTSOF(tiers); i++) {
                const char *name = *(char *const *) ((const char *) p + tiers[i].name);

                check_name(&s, c, tiers[i].key, name,
                           *(const unsigned *) ((const char *) p + tiers[i].line),
                           *(const unsigned *) ((const char *) p + tiers[i].column), "store",
                           "stores", stores, name && yb_daemon_config_store(c, name));
        }
        return yb_schema_flush(&s, diag);
}
