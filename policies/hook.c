/* policies/hook.c: a policy's hooks (docs/policy.md, "Hooks"): command hooks run a command before
 * (and after) the backup; postgresql hooks back a cluster up, as a dump (mode: dump, the default)
 * or as a physical base backup (mode: physical), connecting with libpq's settings: a database
 * name with host, port and user, or one whole connection string. yb_hook_conninfo builds the
 * connection string every part of yunbak gives libpq and pg_dump, so that all build the same. */
#include "policies/hook.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/base/buf.h"
#include "core/repo/pg.h"

static const char *const hook_keys[] = { "name", "type", "run",  "after",   "database",   "mode",
                                         "host", "port", "user", "timeout", "on_failure", NULL };
static const char *const hook_type_names[] = { "command", "postgresql", NULL };
static const char *const hook_mode_names[] = { "dump", "physical", NULL };
static const char *const on_failure_names[] = { "abort", "continue", NULL };

const char *yb_hook_type_to_string(YbHookType t) {
        return (unsigned) t < _YB_HOOK_MAX ? hook_type_names[t] : NULL;
}

const char *yb_hook_mode_to_string(YbHookMode m) {
        return (unsigned) m < _YB_HOOK_MODE_MAX ? hook_mode_names[m] : NULL;
}

bool yb_hook_database_is_conninfo(const char *database) {
        return database && (strchr(database, '=') || strncmp(database, "postgresql://", 13) == 0 ||
                            strncmp(database, "postgres://", 11) == 0);
}

int yb_hook_conninfo(const YbHook *h, char **ret) {
        YbBuf b = YB_BUF_INIT;
        int r = 0;

        if (h->type != YB_HOOK_POSTGRESQL)
                return -EINVAL;
        if (yb_hook_database_is_conninfo(h->database)) {
                char *s = strdup(h->database);

                if (!s)
                        return -ENOMEM;
                *ret = s;
                return 0;
        }
        r = yb_pg_conninfo_append(&b, "dbname", h->database ? h->database : "postgres");
        if (r >= 0 && h->host)
                r = yb_pg_conninfo_append(&b, "host", h->host);
        if (r >= 0 && h->port)
                r = yb_pg_conninfo_append(&b, "port", h->port);
        if (r >= 0 && h->user)
                r = yb_pg_conninfo_append(&b, "user", h->user);
        if (r >= 0)
                r = yb_buf_append(&b, "", 1);
        if (r < 0) {
                yb_buf_done(&b);
                return -ENOMEM;
        }
        *ret = (char *) b.data;
        return 0;
}

static char *dup_or_null(const char *s, bool *oom) {
        char *d = s ? strdup(s) : NULL;

        *oom |= s && !d;
        return d;
}

int yb_hook_copy(const YbHook *h, YbHook *ret) {
        YbHook c = *h;
        bool oom = false;

        c.name = dup_or_null(h->name, &oom);
        c.run = dup_or_null(h->run, &oom);
        c.after = dup_or_null(h->after, &oom);
        c.database = dup_or_null(h->database, &oom);
        c.host = dup_or_null(h->host, &oom);
        c.port = dup_or_null(h->port, &oom);
        c.user = dup_or_null(h->user, &oom);
        if (oom) {
                yb_hook_done(&c);
                return -ENOMEM;
        }
        *ret = c;
        return 0;
}

void yb_hook_done(YbHook *h) {
        free(h->name);
        free(h->run);
        free(h->after);
        free(h->database);
        free(h->host);
        free(h->port);
        free(h->user);
        h->name = h->run = h->after = h->database = h->host = h->port = h->user = NULL;
}

/* The keys that belong to one type of hook (or one mode) only, given in another. */
static void check_misplaced(YbSchema *c, const YbYamlNode *h, const char *hp, YbHookType t,
                            YbHookMode mode) {
        static const char *const libpq_keys[] = { "mode", "host", "port", "user", NULL };
        const YbYamlPair *pair;

        if (t == YB_HOOK_POSTGRESQL) {
                if ((pair = yb_schema_get(c, h, "run", hp, NULL)))
                        yb_schema_bad(c, pair->key,
                                      "%s.run is for command hooks; a postgresql hook names "
                                      "its database",
                                      hp);
                if ((pair = yb_schema_get(c, h, "after", hp, NULL)))
                        yb_schema_bad(c, pair->key,
                                      "%s.after is for command hooks; to run a command after the "
                                      "backup, add a hook of type command",
                                      hp);
        }
        if (t == YB_HOOK_COMMAND) {
                if ((pair = yb_schema_get(c, h, "database", hp, NULL)))
                        yb_schema_bad(c, pair->key,
                                      "%s.database is for postgresql hooks; a command hook has "
                                      "run",
                                      hp);
                for (size_t i = 0; libpq_keys[i]; i++)
                        if ((pair = yb_schema_get(c, h, libpq_keys[i], hp, NULL)))
                                yb_schema_bad(c, pair->key,
                                              "%s.%s is for postgresql hooks; a command hook has "
                                              "run",
                                              hp, libpq_keys[i]);
        }
        if (t == YB_HOOK_POSTGRESQL && mode == YB_HOOK_MODE_PHYSICAL) {
                if ((pair = yb_schema_get(c, h, "timeout", hp, NULL)))
                        yb_schema_bad(c, pair->key,
                                      "%s.timeout bounds a dump; a physical backup is bounded by "
                                      "the job's timeout (yunbakd.yaml)",
                                      hp);
                if ((pair = yb_schema_get(c, h, "on_failure", hp, NULL)))
                        yb_schema_bad(c, pair->key,
                                      "%s.on_failure is for dumps; a physical backup that fails "
                                      "fails the whole backup (nothing is committed)",
                                      hp);
        }
}

/* Whether a connection string (keyword=value pairs, or a postgresql:// URI) gives a password,
 * read as libpq reads them. */
static bool conninfo_has_password(const char *s) {
        const char *q;

        if (strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0) {
                const char *p = strstr(s, "://") + 3;
                size_t end = strcspn(p, "@/?");

                if (p[end] == '@' && memchr(p, ':', end))
                        return true; /* user:password@ */
                for (q = strchr(p, '?'); q; q = strchr(q + 1, '&'))
                        if (strncmp(q + 1, "password=", 9) == 0)
                                return true;
                return false;
        }
        for (q = s; *q;) {
                size_t key;

                q += strspn(q, " \t\n\r\f\v");
                key = strspn(q, "abcdefghijklmnopqrstuvwxyz_");
                if (key == 8 && strncmp(q, "password", 8) == 0)
                        return true;
                q += key;
                q += strspn(q, " \t\n\r\f\v=");
                if (*q == '\'') /* a quoted value: up to the closing quote, \x taken as x */
                        for (q++; *q && *q != '\''; q++)
                                q += q[0] == '\\' && q[1];
                else
                        q += strcspn(q, " \t\n\r\f\v");
                if (*q)
                        q++;
        }
        return false;
}

/* A postgresql hook's connection: database (a name, or a whole connection string, then without
 * host, port and user), host, port, user. */
static void read_connection(YbSchema *c, const YbYamlNode *h, const char *hp, YbHook *hook) {
        static const char *const libpq_keys[] = { "host", "port", "user", NULL };
        char **fields[] = { &hook->host, &hook->port, &hook->user };
        const YbYamlPair *db = yb_schema_get(c, h, "database", hp, NULL), *pair;
        YbSchemaPath path;

        if (!db && hook->mode == YB_HOOK_MODE_DUMP)
                yb_schema_bad(c, h, "missing key 'database' in %s (the database to dump)", hp);
        if (db &&
            yb_schema_read_text(c, db->value, yb_schema_join(path, hp, "database"), 0,
                                &hook->database) &&
            yb_hook_database_is_conninfo(hook->database) && conninfo_has_password(hook->database))
                yb_schema_bad(c, db->value,
                              "%s gives a password: the connection string is on the agent's "
                              "command line, which any user of the host sees (ps). Leave it out, "
                              "and give the password in the agent's ~/.pgpass, or use peer "
                              "authentication (docs/policy.md, \"Connecting\")",
                              path);
        for (size_t i = 0; libpq_keys[i]; i++) {
                pair = yb_schema_get(c, h, libpq_keys[i], hp, NULL);
                if (!pair)
                        continue;
                yb_schema_join(path, hp, libpq_keys[i]);
                if (yb_hook_database_is_conninfo(hook->database))
                        yb_schema_bad(c, pair->key,
                                      "%s: the database is a whole connection string; give %s "
                                      "in it, or give database as a name",
                                      path, libpq_keys[i]);
                else
                        (void) yb_schema_read_text(c, pair->value, path, YB_SCHEMA_TEXT_NO_SPACE,
                                                   fields[i]);
        }
        if (hook->port && strspn(hook->port, "0123456789,") != strlen(hook->port))
                yb_schema_bad(c, yb_schema_get(c, h, "port", hp, NULL)->value,
                              "%s.port must be a port number (or several, comma-separated, as "
                              "libpq takes them), not '%s'",
                              hp, hook->port);
}

/* One item of sources.hooks. */
static void read_hook(YbSchema *c, const YbYamlNode *h, const char *hp, YbPolicy *p, YbHook *hook) {
        const YbYamlPair *pair;
        YbSchemaPath path;
        char buf[80];
        int t = -1, m = YB_HOOK_MODE_DUMP, f;

        pair = yb_schema_get(c, h, "name", hp, h);
        if (pair &&
            yb_schema_read_text(c, pair->value, yb_schema_join(path, hp, "name"), 0, &hook->name) &&
            (strpbrk(hook->name, "/=") || streq(hook->name, ".") || streq(hook->name, "..")))
                yb_schema_bad(c, pair->value,
                              "%s must not hold '/' or '=' nor be '.' or '..', not %s (a "
                              "postgresql hook's name becomes the file "
                              "_streams/NAME.pgdump)",
                              path, yb_schema_describe(pair->value, buf, sizeof(buf)));
        else if (hook->name)
                for (size_t j = 0; j + 1 < p->n_hooks; j++)
                        if (p->hooks[j].name && streq(p->hooks[j].name, hook->name)) {
                                yb_schema_bad(c, pair->value,
                                              "%s: a hook named %s is already defined above", path,
                                              yb_schema_describe(pair->value, buf, sizeof(buf)));
                                break;
                        }
        pair = yb_schema_get(c, h, "type", hp, h);
        if (pair && yb_schema_read_choice(c, pair->value, yb_schema_join(path, hp, "type"),
                                          hook_type_names, &t))
                hook->type = (YbHookType) t;
        pair = yb_schema_get(c, h, "mode", hp, NULL);
        if (pair && t == YB_HOOK_POSTGRESQL &&
            yb_schema_read_choice(c, pair->value, yb_schema_join(path, hp, "mode"), hook_mode_names,
                                  &m))
                hook->mode = (YbHookMode) m;
        check_misplaced(c, h, hp, (YbHookType) t, hook->mode);
        if (t == YB_HOOK_POSTGRESQL && hook->mode == YB_HOOK_MODE_PHYSICAL && hook->name &&
            !yb_pg_name_valid(hook->name))
                yb_schema_bad(c, yb_schema_get(c, h, "name", hp, NULL)->value,
                              "%s.name of a physical hook must be 1 to 63 of A-Z, a-z, 0-9, '_', "
                              "'.' and '-', not starting with '.', not '%s' (it names the "
                              "directory _pg/NAME of the snapshot)",
                              hp, hook->name);
        if (t == YB_HOOK_COMMAND) {
                const YbYamlPair *run = yb_schema_get(c, h, "run", hp, NULL);
                const YbYamlPair *after = yb_schema_get(c, h, "after", hp, NULL);

                if (!run)
                        yb_schema_bad(c, h, "missing key 'run' in %s (the command to run)", hp);
                else
                        (void) yb_schema_read_text(c, run->value, yb_schema_join(path, hp, "run"),
                                                   YB_SCHEMA_TEXT_MULTILINE, &hook->run);
                if (after)
                        (void) yb_schema_read_text(c, after->value,
                                                   yb_schema_join(path, hp, "after"),
                                                   YB_SCHEMA_TEXT_MULTILINE, &hook->after);
        }
        if (t == YB_HOOK_POSTGRESQL)
                read_connection(c, h, hp, hook);
        if (t == YB_HOOK_POSTGRESQL && hook->mode == YB_HOOK_MODE_PHYSICAL && !hook->database) {
                hook->database = strdup("postgres");
                c->oom |= !hook->database;
        }
        pair = yb_schema_get(c, h, "timeout", hp, NULL);
        if (pair && hook->mode == YB_HOOK_MODE_DUMP)
                (void) yb_schema_read_duration(c, pair->value, yb_schema_join(path, hp, "timeout"),
                                               &hook->timeout_usec);
        pair = yb_schema_get(c, h, "on_failure", hp, NULL);
        if (pair && hook->mode == YB_HOOK_MODE_DUMP &&
            yb_schema_read_choice(c, pair->value, yb_schema_join(path, hp, "on_failure"),
                                  on_failure_names, &f))
                hook->abort_on_failure = f == 0;
}

void yb_policy_read_hooks(YbSchema *c, const YbYamlNode *v, YbPolicy *p) {
        char buf[80];

        if (v->kind == YB_YAML_INVALID)
                return;
        if (v->kind != YB_YAML_SEQUENCE) {
                yb_schema_bad(c, v, "sources.hooks must be a list, not %s",
                              yb_schema_describe(v, buf, sizeof(buf)));
                return;
        }
        p->hooks = new0(YbHook, v->n_items + 1);
        if (!p->hooks) {
                c->oom = true;
                return;
        }
        for (size_t i = 0; i < v->n_items; i++) {
                const YbYamlNode *h = v->items[i];
                YbSchemaPath hp;

                snprintf(hp, sizeof(hp), "sources.hooks[%zu]", i);
                if (!yb_schema_read_mapping(c, h, hp))
                        continue;
                yb_schema_check_keys(c, h, hp, hook_keys);
                p->hooks[p->n_hooks] =
                        (YbHook){ .timeout_usec = YB_USEC_PER_HOUR, .abort_on_failure = true };
                p->n_hooks++;
                read_hook(c, h, hp, p, &p->hooks[p->n_hooks - 1]);
        }
}
