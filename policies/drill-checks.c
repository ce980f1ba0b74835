/* policies/drill-checks.c: a policy's drill.postgresql (docs/policy.md, "drill"): the queries a
 * restore drill runs against each PostgreSQL source once it is loaded (dump) or recovered
 * (physical) in a throwaway cluster. Each item names a postgresql hook of sources.hooks, whose
 * mode it takes; the database defaults to the hook's (dump) or postgres (physical); the query
 * answers one integer that must be at least min. */
#include "policies/drill-checks.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/excerpt.h"

static const char *const check_keys[] = { "hook", "database", "query", "min", NULL };

void yb_drill_pg_spec_done(YbDrillPgSpec *s) {
        free(s->hook);
        free(s->mode);
        free(s->database);
        free(s->query);
        *s = (YbDrillPgSpec){ 0 };
}

/* A whole number as written: an optional '-' and decimal digits, within int64_t. */
static bool read_int64(YbSchema *c, const YbYamlNode *v, const char *path, int64_t *ret) {
        char buf[80];
        const char *s = v->kind == YB_YAML_SCALAR ? v->value : NULL;
        const char *d = s && *s == '-' ? s + 1 : s;
        char *end;
        long long n;

        if (v->kind == YB_YAML_INVALID)
                return false;
        if (!s || !*d || strspn(d, "0123456789") != strlen(d)) {
                yb_schema_bad(c, v, "%s must be a whole number (an integer such as 1000), not %s",
                              path, yb_schema_describe(v, buf, sizeof(buf)));
                return false;
        }
        errno = 0;
        n = strtoll(s, &end, 10);
        if (errno == ERANGE) {
                yb_schema_bad(c, v, "%s is out of range: %s (at most %" PRId64 " either way)", path,
                              yb_schema_describe(v, buf, sizeof(buf)), INT64_MAX);
                return false;
        }
        *ret = n;
        return true;
}

/* The postgresql hook named name, or NULL after saying what is wrong at v. */
static const YbHook *find_hook(YbSchema *c, const YbYamlNode *v, const char *path, const char *name,
                               const YbPolicy *p) {
        const char *known[65];
        size_t n = 0;
        char buf[64], list[256] = "";
        const char *guess;

        for (size_t i = 0; i < p->n_hooks; i++) {
                const YbHook *h = &p->hooks[i];

                if (!h->name || !streq(h->name, name))
                        continue;
                if (h->type != YB_HOOK_POSTGRESQL) {
                        yb_schema_bad(c, v,
                                      "%s: hook '%s' is a %s hook; drill.postgresql names hooks "
                                      "of type postgresql (a dump or a physical backup)",
                                      path, yb_excerpt(name, buf, sizeof(buf)),
                                      yb_hook_type_to_string(h->type));
                        return NULL;
                }
                return h;
        }
        for (size_t i = 0; i < p->n_hooks && n + 1 < ELEMENTSOF(known); i++)
                if (p->hooks[i].name && p->hooks[i].type == YB_HOOK_POSTGRESQL) {
                        size_t l = strlen(list);

                        known[n++] = p->hooks[i].name;
                        snprintf(list + l, sizeof(list) - l, "%s'%s'", l ? ", " : "",
                                 p->hooks[i].name);
                }
        known[n] = NULL;
        guess = yb_schema_closest(name, known);
        if (guess)
                yb_schema_bad(c, v,
                              "%s: no postgresql hook named '%s' in sources.hooks; did you mean "
                              "'%s'?",
                              path, yb_excerpt(name, buf, sizeof(buf)), guess);
        else
                yb_schema_bad(c, v,
                              "%s: no postgresql hook named '%s' in sources.hooks (%s%s): name "
                              "one of them",
                              path, yb_excerpt(name, buf, sizeof(buf)),
                              n ? "its postgresql hooks: " : "it has no postgresql hook", list);
        return NULL;
}

/* One item of drill.postgresql into s; false when it is unusable. */
static bool read_check(YbSchema *c, const YbYamlNode *m, const char *ip, const YbPolicy *p,
                       YbDrillPgSpec *s) {
        const YbYamlPair *pair;
        const YbHook *h = NULL;
        YbSchemaPath path;
        bool ok = true;

        s->line = m->line;
        s->column = m->column;
        s->min = 1;
        pair = yb_schema_get(c, m, "hook", ip, m);
        if (!pair)
                ok = false;
        else if (!yb_schema_read_text(c, pair->value, yb_schema_join(path, ip, "hook"), 0,
                                      &s->hook) ||
                 !(h = find_hook(c, pair->value, path, s->hook, p)))
                ok = false;
        pair = yb_schema_get(c, m, "database", ip, NULL);
        if (pair)
                ok &= yb_schema_read_text(c, pair->value, yb_schema_join(path, ip, "database"), 0,
                                          &s->database);
        else if (h && h->mode == YB_HOOK_MODE_PHYSICAL) {
                s->database = strdup("postgres");
                c->oom |= !s->database;
        } else if (h && yb_hook_database_is_conninfo(h->database)) {
                yb_schema_bad(c, m,
                              "missing key 'database' in %s: hook '%s' gives a whole connection "
                              "string, so say which database of the drill's cluster the query "
                              "runs in (the one its dump is loaded into)",
                              ip, s->hook);
                ok = false;
        } else if (h && h->database) {
                s->database = strdup(h->database);
                c->oom |= !s->database;
        } else
                ok = false; /* the hook's own error says why */
        pair = yb_schema_get(c, m, "query", ip, m);
        if (!pair)
                ok = false;
        else
                ok &= yb_schema_read_text(c, pair->value, yb_schema_join(path, ip, "query"),
                                          YB_SCHEMA_TEXT_MULTILINE, &s->query);
        pair = yb_schema_get(c, m, "min", ip, NULL);
        if (pair)
                ok &= read_int64(c, pair->value, yb_schema_join(path, ip, "min"), &s->min);
        if (h) {
                s->mode = strdup(yb_hook_mode_to_string(h->mode));
                c->oom |= !s->mode;
        }
        return ok && h && !c->oom;
}

void yb_policy_read_drill_pg(YbSchema *c, const YbYamlNode *v, YbPolicy *p) {
        char buf[80];

        if (v->kind == YB_YAML_INVALID)
                return;
        if (v->kind != YB_YAML_SEQUENCE) {
                yb_schema_bad(c, v,
                              "drill.postgresql must be a list of {hook, database, query, min}, "
                              "not %s",
                              yb_schema_describe(v, buf, sizeof(buf)));
                return;
        }
        if (v->n_items == 0) {
                yb_schema_bad(c, v,
                              "drill.postgresql is empty: name at least one check, or leave the "
                              "key out");
                return;
        }
        p->drill_pg = new0(YbDrillPgSpec, v->n_items);
        if (!p->drill_pg) {
                c->oom = true;
                return;
        }
        for (size_t i = 0; i < v->n_items; i++) {
                const YbYamlNode *m = v->items[i];
                YbDrillPgSpec s = { 0 };
                YbSchemaPath ip;
                bool dup = false;

                snprintf(ip, sizeof(ip), "drill.postgresql[%zu]", i);
                if (!yb_schema_read_mapping(c, m, ip))
                        continue;
                yb_schema_check_keys(c, m, ip, check_keys);
                if (!read_check(c, m, ip, p, &s)) {
                        yb_drill_pg_spec_done(&s);
                        continue;
                }
                for (size_t j = 0; j < p->n_drill_pg && !dup; j++) {
                        const YbDrillPgSpec *o = &p->drill_pg[j];

                        dup = streq(o->hook, s.hook) && streq(o->database, s.database) &&
                              streq(o->query, s.query);
                        if (dup)
                                yb_schema_bad(c, m,
                                              "%s repeats the check at line %u (the same hook, "
                                              "database and query): remove one",
                                              ip, o->line);
                }
                if (dup)
                        yb_drill_pg_spec_done(&s);
                else
                        p->drill_pg[p->n_drill_pg++] = s;
        }
}
