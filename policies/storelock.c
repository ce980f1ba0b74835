/* policies/storelock.c: a policy's retention beside its stores' S3 Object Lock
 * (policies/storelock.h). */
#include "policies/storelock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/buf.h"
#include "core/base/fileio.h"
#include "core/base/log.h"

void yb_store_locks_done(YbStoreLocks *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->v[i].name);
        free(l->v);
        free(l->file);
        *l = (YbStoreLocks){ 0 };
}

static const char *scalar(const YbYamlNode *map, const char *key) {
        const YbYamlNode *n = yb_yaml_mapping_get(map, key);

        return n && n->kind == YB_YAML_SCALAR ? n->value : NULL;
}

static int add(YbStoreLocks *l, const char *name, int64_t usec, const YbYamlNode *at) {
        YbStoreLock *v = realloc(l->v, (l->n + 1) * sizeof(*v));

        if (!v)
                return -ENOMEM;
        l->v = v;
        v[l->n] = (YbStoreLock){
                .name = strdup(name), .retention_usec = usec, .line = at->line, .column = at->column
        };
        if (!v[l->n].name)
                return -ENOMEM;
        l->n++;
        return 0;
}

int yb_store_locks_load(const char *path, YbStoreLocks *ret, YbDiagnostics *diag) {
        _cleanup_(yb_schema_done) YbSchema s = YB_SCHEMA_INIT(path);
        _cleanup_(yb_yaml_node_freep) YbYamlNode *root = NULL;
        _cleanup_(yb_store_locks_done) YbStoreLocks l = { 0 };
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        const YbYamlNode *stores;
        int r;

        r = yb_read_file_at(AT_FDCWD, path, YB_YAML_MAX_SIZE, &b);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                int k = yb_diagnostics_addf(diag, "%s: cannot read: %s", path, strerror(-r));

                return k < 0 ? k : r;
        }
        r = yb_yaml_parse(b.data ? (const char *) b.data : "", b.size, yb_schema_yaml_error, &s,
                          &root);
        if (r < 0 || s.n_problems > 0) {
                int k = yb_schema_flush(&s, diag);

                return r == -ENOMEM || k == -ENOMEM ? -ENOMEM : -EINVAL;
        }
        l.file = strdup(path);
        if (!l.file)
                return -ENOMEM;
        stores = yb_yaml_mapping_get(root, "stores");
        for (size_t i = 0; stores && stores->kind == YB_YAML_SEQUENCE && i < stores->n_items; i++) {
                const YbYamlNode *s3 = yb_yaml_mapping_get(stores->items[i], "s3");
                const YbYamlNode *retention = yb_yaml_mapping_get(s3, "retention");
                const char *name = scalar(stores->items[i], "name"),
                           *mode = scalar(s3, "object_lock");
                int64_t usec;

                if (!name || !mode || !streq(mode, "compliance") || !retention ||
                    retention->kind != YB_YAML_SCALAR ||
                    yb_duration_parse(retention->value, &usec) < 0 || usec <= 0)
                        continue;
                r = add(&l, name, usec, retention);
                if (r < 0)
                        return r;
        }
        *ret = l;
        l = (YbStoreLocks){ 0 };
        return 0;
}

static const YbStoreLock *find(const YbStoreLocks *l, const char *name) {
        for (size_t i = 0; name && i < l->n; i++)
                if (streq(l->v[i].name, name))
                        return &l->v[i];
        return NULL;
}

/* The longest any rule of k keeps a snapshot (months as 31 days, years as 366), and the rule:
 * 0 when no rule counts time (keep_last alone, or no retention: then all are kept). */
static int64_t longest_keep(const YbRetention *k, const char **ret_rule) {
        struct {
                int count;
                int64_t unit;
                const char *rule;
        } rules[] = {
                { k->keep_daily, YB_USEC_PER_DAY, "keep_daily" },
                { k->keep_weekly, 7 * YB_USEC_PER_DAY, "keep_weekly" },
                { k->keep_monthly, 31 * YB_USEC_PER_DAY, "keep_monthly" },
                { k->keep_yearly, 366 * YB_USEC_PER_DAY, "keep_yearly" },
        };
        int64_t longest = k->keep_within_usec;

        *ret_rule = "keep_within";
        for (size_t i = 0; i < ELEMENTSOF(rules); i++)
                if (rules[i].count > 0 && rules[i].count * rules[i].unit > longest) {
                        longest = rules[i].count * rules[i].unit;
                        *ret_rule = rules[i].rule;
                }
        return longest;
}

static bool keeps_all(const YbRetention *k) {
        return k->keep_last < 0 && k->keep_daily < 0 && k->keep_weekly < 0 && k->keep_monthly < 0 &&
               k->keep_yearly < 0 && k->keep_within_usec == 0;
}

static int warn_tier(const YbPolicy *p, const YbStoreLocks *locks, const char *tier,
                     const char *store, unsigned line, unsigned column, const YbRetention *k,
                     YbDiagnostics *w) {
        const YbStoreLock *lock = find(locks, store);
        char r[32], within[32], most[32], soonest[128];
        const char *rule;
        int64_t longest;

        if (!lock || keeps_all(k) || lock->retention_usec <= k->keep_within_usec)
                return 0;
        yb_duration_format(lock->retention_usec, r, sizeof(r));
        longest = longest_keep(k, &rule);
        yb_duration_format(k->keep_within_usec, within, sizeof(within));
        yb_duration_format(longest, most, sizeof(most));
        if (longest > 0 && longest < lock->retention_usec)
                return yb_diagnostics_addf(
                               w,
                               "%s:%u:%u: warning: %s.retention keeps a snapshot %s at most "
                               "(%s), but store '%s' keeps every backup under Object Lock for "
                               "%s (s3.retention, %s:%u:%u): every snapshot stays %s, and each "
                               "prune before then names it as kept by Object Lock with its date",
                               p->file, line, column, tier, most, rule, store, r, locks->file,
                               lock->line, lock->column, r) < 0
                               ? -ENOMEM
                               : 1;
        if (k->keep_within_usec > 0)
                snprintf(soonest, sizeof(soonest),
                         "may let a snapshot go when it is %s old "
                         "(keep_within)",
                         within);
        else
                snprintf(soonest, sizeof(soonest),
                         "keeps only the snapshots its rules pick (no "
                         "keep_within): the others go at the next prune");
        return yb_diagnostics_addf(w,
                                   "%s:%u:%u: warning: %s.retention %s, but store '%s' keeps "
                                   "every backup under Object Lock for %s (s3.retention, "
                                   "%s:%u:%u): a snapshot retention lets go sooner stays until it "
                                   "is %s old, and each prune before then names it as kept by "
                                   "Object Lock with its date",
                                   p->file, line, column, tier, soonest, store, r, locks->file,
                                   lock->line, lock->column, r) < 0
                       ? -ENOMEM
                       : 1;
}

int yb_policy_lock_warnings(const YbPolicy *p, const YbStoreLocks *locks, int64_t now_usec,
                            YbDiagnostics *warnings) {
        const YbStoreLock *lock = find(locks, p->tier1_store);
        int k, n = 0;

        const struct {
                const char *tier, *store;
                unsigned line, column;
                const YbRetention *rules;
        } tiers[] = {
                { "tier1", p->tier1_store, p->tier1_store_line, p->tier1_store_column,
                  &p->tier1_retention },
                { "tier2", p->tier2_store, p->tier2_store_line, p->tier2_store_column,
                  &p->tier2_retention },
                { "tier3", p->tier3_store, p->tier3_store_line, p->tier3_store_column,
                  &p->tier3_retention },
        };

        for (size_t i = 0; i < ELEMENTSOF(tiers); i++) {
                if (!tiers[i].store)
                        continue; /* no such tier */
                k = warn_tier(p, locks, tiers[i].tier, tiers[i].store, tiers[i].line,
                              tiers[i].column, tiers[i].rules, warnings);
                if (k < 0)
                        return k;
                n += k;
        }
        if (lock && p->lock_until_usec > now_usec + lock->retention_usec) {
                char until[32], ends[32], r[32];

                /* To the second, in UTC: "2027-03-31T00:00:00Z". */
                yb_time_format_iso(yb_usec_to_ns(p->lock_until_usec), until);
                yb_time_format_iso(yb_usec_to_ns(now_usec + lock->retention_usec), ends);
                until[19] = ends[19] = 'Z';
                until[20] = ends[20] = 0;
                yb_duration_format(lock->retention_usec, r, sizeof(r));
                if (yb_diagnostics_addf(
                            warnings,
                            "%s:%u:%u: warning: tier1.lock_until (%s) is later than store '%s' "
                            "keeps a backup written now under Object Lock (%s, until %s): yunbak "
                            "prunes nothing of system '%s' before %s, but from %s "
                            "the store no longer stops anyone with its credentials from deleting "
                            "what is written now; raise s3.retention (%s:%u:%u) to make the store "
                            "keep it too",
                            p->file, p->tier1_store_line, p->tier1_store_column, until,
                            p->tier1_store, r, ends, p->id, until, ends, locks->file, lock->line,
                            lock->column) < 0)
                        return -ENOMEM;
                n++;
        }
        return n;
}
