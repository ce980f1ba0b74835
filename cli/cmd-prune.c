/* yunbak prune --store STORE --system ID [--policy FILE | --keep-* ...] [--dry-run] [--json] */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/base/exitcode.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "core/store/location.h"
#include "policies/policy.h"
#include "policies/retention-apply.h"

#define KEEP_MAX 1000000

static void usage(FILE *f) {
        fputs("Usage: yunbak prune --store STORE --system ID\n"
              "                    [--policy FILE | --keep-last N --keep-daily N --keep-weekly N\n"
              "                     --keep-monthly N --keep-yearly N --keep-within DURATION]\n"
              "                    [--tz ZONE] [--dry-run] [--json]\n"
              "       yunbak prune --store STORE --system ID --snapshot SNAPSHOT [--json]\n"
              "\n"
              "Removes the snapshots of system ID in STORE that the retention rules do not keep:\n"
              "the rules of a policy file's tier1 (and its lock_until), or those given here (at\n"
              "least one; a rule not given is not applied). A snapshot that a kept one needs\n"
              "(its parent, the parent's parent, ... back to the full) is always kept, and so\n"
              "is the newest complete snapshot. Days, weeks (Monday to Sunday), months and\n"
              "years are counted in ZONE (an IANA zone or UTC; default: the local zone).\n"
              "Prints every snapshot with keep or prune and the reason (docs/policy.md, \"How\n"
              "retention is applied\"). Takes the repository lock (exit 8 while a backup runs),\n"
              "except with --dry-run, which changes nothing. No key is needed.\n"
              "\n"
              "On an S3 store with Object Lock a snapshot still under it is kept, with what it\n"
              "needs, and named with the date it can be pruned from; the rest goes on (exit 3\n"
              "when the lock kept any).\n"
              "\n"
              "With --snapshot, removes that one snapshot instead (a quarantined one, say),\n"
              "unless another snapshot is built on it.\n"
              "\n" CLI_STORE_OPTIONS_HELP,
              f);
}

typedef struct Opts {
        const char *location, *system, *policy, *tz, *snapshot;
        char policy_system[YB_SYSTEM_ID_MAX + 1];
        YbRetention rules;
        bool any_rule, dry_run, json;
} Opts;

typedef struct Outcome {
        const YbSnapshotList *l;
        bool *removed;                     /* per snapshot of l */
        int *error;                        /* per snapshot: 0, or why pruning it failed */
        const char **child;                /* per snapshot: the one that needs it, when refused */
        char (*locked)[YB_PRUNE_DATE_MAX]; /* per snapshot: Object Lock keeps it until then, or
                                            * HELD */
        const char *location;
        const char *partly; /* the id of the snapshot a failure left partly pruned, or NULL */
        size_t pruned, failed, n_locked;
        int first_error; /* of the failures: not the snapshots Object Lock keeps */
} Outcome;

static int parse_count(const char *opt, const char *s, int *ret) {
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno != 0 || end == s || *end || v < 0 || v > KEEP_MAX || *s < '0' || *s > '9') {
                log_error("--%s takes a whole number from 0 to %d, not '%s'.", opt, KEEP_MAX, s);
                return -EINVAL;
        }
        *ret = (int) v;
        return 0;
}

/* child as a string that outlives the prune (the one it gives lives only as long as the call):
 * the snapshot's id in the listing, or the segments' constant. */
static const char *lasting_child(const YbSnapshotList *l, const char *child) {
        if (!child)
                return NULL;
        if (streq(child, YB_PRUNE_NEEDED_BY_SEGMENTS))
                return YB_PRUNE_NEEDED_BY_SEGMENTS;
        for (size_t i = 0; i < l->n; i++)
                if (streq(l->items[i]->id, child))
                        return l->items[i]->id;
        for (size_t i = 0; i < l->n_broken; i++)
                if (streq(l->broken[i].id, child))
                        return l->broken[i].id;
        return NULL;
}

/* In Outcome.locked: a legal hold keeps the snapshot (no date). */
#define HELD "legal hold"

static void on_pruned(void *userdata, const char *id, int error, const char *child) {
        Outcome *o = userdata;
        size_t i;

        for (i = 0; i < o->l->n; i++)
                if (streq(o->l->items[i]->id, id))
                        break;
        if (error == 0) {
                if (i < o->l->n)
                        o->removed[i] = true;
                o->pruned++;
                return;
        }
        if (error < 0 && child && strncmp(child, YB_PRUNE_PARTLY, strlen(YB_PRUNE_PARTLY)) == 0) {
                o->failed++;
                if (o->first_error == 0)
                        o->first_error = error;
                if (i < o->l->n) {
                        o->error[i] = error;
                        o->partly = o->l->items[i]->id;
                }
                log_error("Snapshot %s in %s is partly pruned (%s): %s.", id, o->location,
                          strerror(-error), child);
                return;
        }
        if (error == -EPERM && child) {
                /* Not a failure of the store: the store keeps it as it was told to. */
                if (i < o->l->n)
                        snprintf(o->locked[i], sizeof(o->locked[i]), "%s", child);
                o->n_locked++;
                log_notice("Snapshot %s in %s is under Object Lock (compliance) until %s: it can "
                           "be pruned from then.",
                           id, o->location, child);
                return;
        }
        if (error == -EBUSY && child) {
                if (i < o->l->n)
                        snprintf(o->locked[i], sizeof(o->locked[i]), "%s", HELD);
                o->n_locked++;
                log_notice("Snapshot %s in %s is kept by a legal hold on %s: lift it "
                           "(PutObjectLegalHold with Status OFF) to prune it. Nothing of it was "
                           "touched.",
                           id, o->location, child);
                return;
        }
        o->failed++;
        if (o->first_error == 0)
                o->first_error = error;
        if (i < o->l->n) {
                o->error[i] = error;
                o->child[i] = lasting_child(o->l, child);
        }
        if (error == -ENOTEMPTY && child && streq(child, YB_PRUNE_NEEDED_BY_SEGMENTS))
                log_error("Snapshot %s was not pruned: it is the root of a segment chain "
                          "(segments/%s) that is not a WAL archive chain: a tier-2 replicator's, "
                          "which yunbakd prunes by whole chains (tier2.retention), or one whose "
                          "headers do not all check out (run 'yunbak verify').",
                          id, id);
        else if (error == -ENOTEMPTY)
                log_error("Snapshot %s was not pruned: snapshot %s still needs it (names it as "
                          "its parent or base); it can go once that one has gone.",
                          id, child ? child : "?");
        else if (yb_location_kind(o->location) == YB_LOCATION_S3)
                log_error("Failed to prune snapshot %s in %s: %s. Nothing of it was deleted: it "
                          "is still whole.",
                          id, o->location, strerror(-error));
        else
                log_error("Failed to prune snapshot %s: %s. It is either still whole in "
                          "snapshots/ or gone; leftovers under tmp/ are removed by the next "
                          "backup or prune.",
                          id, strerror(-error));
}

static int load_policy(Opts *o, int64_t *ret_lock_until) {
        _cleanup_(yb_diagnostics_done) YbDiagnostics diag = { 0 };
        _cleanup_(yb_policy_freep) YbPolicy *p = NULL;
        int r;

        r = yb_policy_load(o->policy, &p, &diag);
        if (r < 0) {
                yb_diagnostics_print(&diag, stderr);
                if (r == -ENOMEM)
                        return log_oom(), YB_EXIT_FAILED;
                log_error("Policy '%s' is not valid; nothing was pruned. Check it with 'yunbak "
                          "policy check %s'.",
                          o->policy, o->policy);
                return YB_EXIT_CONFIG;
        }
        if (o->system && !streq(o->system, p->id)) {
                log_error("Policy '%s' is for system '%s', not '%s'. Give the policy of system "
                          "'%s', or leave out --system.",
                          o->policy, p->id, o->system, o->system);
                return YB_EXIT_USAGE;
        }
        snprintf(o->policy_system, sizeof(o->policy_system), "%s", p->id);
        o->system = o->policy_system;
        o->rules = p->tier1_retention;
        *ret_lock_until = p->lock_until_usec;
        return 0;
}

static json_t *plan_json(const Opts *o, const YbSnapshotList *l, const YbKeepReason *reasons,
                         const char **missing, const Outcome *out, int64_t lock_until) {
        json_t *root = json_object(), *arr = json_array();
        char t[32];

        json_object_set_new(root, "store", json_string(o->location));
        json_object_set_new(root, "system", json_string(o->system));
        json_object_set_new(root, "dry_run", json_boolean(o->dry_run));
        if (lock_until > 0) {
                yb_time_format_iso(yb_usec_to_ns(lock_until), t);
                json_object_set_new(root, "lock_until", json_string(t));
        } else
                json_object_set_new(root, "lock_until", json_null());
        for (size_t i = 0; i < l->n; i++) {
                const YbSnapshotHeader *h = l->items[i];
                json_t *s = json_object();
                bool prune = reasons[i] == YB_KEEP_NOT;

                yb_time_format_iso(h->started_ns, t);
                json_object_set_new(s, "id", json_string(h->id));
                json_object_set_new(s, "level", json_string(yb_level_to_string(h->level)));
                json_object_set_new(s, "parent", *h->parent ? json_string(h->parent) : json_null());
                json_object_set_new(s, "started", json_string(t));
                json_object_set_new(s, "partial", json_boolean(h->partial));
                json_object_set_new(s, "keep", json_boolean(!prune));
                json_object_set_new(s, "reason",
                                    prune ? json_null()
                                          : json_string(yb_keep_reason_to_string(reasons[i])));
                json_object_set_new(s, "pruned", json_boolean(out->removed[i]));
                if (out->error[i] != 0)
                        json_object_set_new(s, "error", json_string(strerror(-out->error[i])));
                if (out->child[i])
                        json_object_set_new(s, "needed_by", json_string(out->child[i]));
                if (*out->locked[i] && !streq(out->locked[i], HELD))
                        json_object_set_new(s, "locked_until", json_string(out->locked[i]));
                json_object_set_new(s, "legal_hold", json_boolean(streq(out->locked[i], HELD)));
                json_object_set_new(s, "partly_pruned",
                                    json_boolean(out->partly && streq(out->partly, h->id)));
                json_object_set_new(s, "chain_broken_at",
                                    missing[i] ? json_string(missing[i]) : json_null());
                json_array_append_new(arr, s);
        }
        json_object_set_new(root, "snapshots", arr);
        json_object_set_new(root, "kept", json_integer((json_int_t) (l->n - out->pruned)));
        json_object_set_new(root, "pruned", json_integer((json_int_t) out->pruned));
        json_object_set_new(root, "failed", json_integer((json_int_t) out->failed));
        json_object_set_new(root, "locked", json_integer((json_int_t) out->n_locked));
        return root;
}

static void plan_print(const Opts *o, const YbSnapshotList *l, const YbKeepReason *reasons,
                       const Outcome *out, size_t n_prune) {
        printf("%-12s %-8s %-24s %-12s %-24s %s\n", "ACTION", "REASON", "ID", "LEVEL", "PARENT",
               "STARTED (UTC)");
        for (size_t i = 0; i < l->n; i++) {
                const YbSnapshotHeader *h = l->items[i];
                const char *action = reasons[i] != YB_KEEP_NOT                  ? "keep"
                                     : o->dry_run                               ? "would prune"
                                     : out->removed[i]                          ? "pruned"
                                     : streq(out->locked[i], HELD)              ? "kept-held"
                                     : *out->locked[i]                          ? "kept-locked"
                                     : out->partly && streq(out->partly, h->id) ? "PARTLY pruned"
                                                                                : "NOT pruned";
                char t[32];

                yb_time_format_iso(h->started_ns, t);
                t[19] = 0;
                t[10] = ' ';
                printf("%-12s %-8s %-24s %-12s %-24s %s%s\n", action,
                       reasons[i] != YB_KEEP_NOT ? yb_keep_reason_to_string(reasons[i]) : "-",
                       h->id, yb_level_to_string(h->level), *h->parent ? h->parent : "-", t,
                       h->partial ? "  (partial)" : "");
        }
        if (l->n == 0)
                printf("(no snapshots)\n");
        if (o->dry_run)
                printf("Dry run: %zu of %zu %s would be pruned; nothing was removed.\n", n_prune,
                       l->n, cli_plural((int64_t) l->n, "snapshot", "snapshots"));
        else
                printf("Pruned %zu of %zu %s%s.\n", out->pruned, l->n,
                       cli_plural((int64_t) l->n, "snapshot", "snapshots"),
                       out->failed ? " (some could not be: see above)" : "");
        if (!o->dry_run && out->n_locked > 0)
                printf("Kept by Object Lock: %zu %s (each is named above with the date it can "
                       "be pruned from).\n",
                       out->n_locked, cli_plural((int64_t) out->n_locked, "snapshot", "snapshots"));
}

/* The exit status of a prune: a failure's, else partial when Object Lock kept some. */
static int outcome_exit_code(const Outcome *out) {
        if (out->first_error < 0)
                return out->first_error == -ENOTEMPTY ? YB_EXIT_FAILED
                                                      : yb_exit_code_from_errno(out->first_error);
        return out->n_locked > 0 ? YB_EXIT_PARTIAL : YB_EXIT_OK;
}

/* --snapshot: that one, refused when another is built on it (on_pruned says so). */
static int prune_one(const Opts *o, YbRepo *repo, const YbSnapshotList *l) {
        _cleanup_free_ bool *removed = new0(bool, l->n + 1);
        _cleanup_free_ int *errors = new0(int, l->n + 1);
        _cleanup_free_ const char **child = new0(const char *, l->n + 1);
        _cleanup_free_ char(*locked)[YB_PRUNE_DATE_MAX] = calloc(l->n + 1, YB_PRUNE_DATE_MAX);
        const char *ids[1] = { o->snapshot };
        Outcome out = { .l = l,
                        .removed = removed,
                        .error = errors,
                        .child = child,
                        .locked = locked,
                        .location = o->location };
        int r;

        if (!removed || !errors || !child || !locked)
                return log_oom(), YB_EXIT_FAILED;
        if (!yb_snapshot_list_find(l, o->snapshot)) {
                log_error("System '%s' in '%s' has no snapshot %s ('yunbak snapshots' lists "
                          "them).",
                          o->system, o->location, o->snapshot);
                return YB_EXIT_FAILED;
        }
        r = yb_repo_prune_many(repo, ids, 1, on_pruned, &out);
        if (r < 0 && out.failed == 0 && out.n_locked == 0) {
                log_error("Cannot prune snapshot %s of system '%s' in '%s': %s", o->snapshot,
                          o->system, o->location, strerror(-r));
                return yb_exit_code_from_errno(r);
        }
        if (out.failed > 0 || out.n_locked > 0)
                return outcome_exit_code(&out);
        if (o->json)
                printf("{\"system\": \"%s\", \"pruned\": [\"%s\"]}\n", o->system, o->snapshot);
        else
                printf("Pruned snapshot %s of system '%s'.\n", o->snapshot, o->system);
        return YB_EXIT_OK;
}

int cli_prune(int argc, char **argv) {
        static const struct option opts[] = {
                { "store", required_argument, NULL, 's' },
                { "system", required_argument, NULL, 'S' },
                { "policy", required_argument, NULL, 'p' },
                { "keep-last", required_argument, NULL, 'l' },
                { "keep-daily", required_argument, NULL, 'd' },
                { "keep-weekly", required_argument, NULL, 'w' },
                { "keep-monthly", required_argument, NULL, 'm' },
                { "keep-yearly", required_argument, NULL, 'y' },
                { "keep-within", required_argument, NULL, 'W' },
                { "tz", required_argument, NULL, 'z' },
                { "snapshot", required_argument, NULL, 'i' },
                { "dry-run", no_argument, NULL, 'n' },
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                CLI_STORE_OPTIONS,
                {},
        };
        _cleanup_(yb_store_closep) YbStore *store = NULL;
        _cleanup_(yb_repo_freep) YbRepo *repo = NULL;
        _cleanup_(yb_snapshot_list_done) YbSnapshotList l = { 0 };
        _cleanup_(yb_retention_outcome_done) YbRetentionOutcome plan = { 0 };
        _cleanup_free_ const char **child = NULL;
        _cleanup_free_ char(*locked)[YB_PRUNE_DATE_MAX] = NULL;
        _cleanup_free_ int *errors = NULL;
        _cleanup_free_ bool *removed = NULL;
        Opts o = { .rules = { -1, -1, -1, -1, -1, 0 } };
        Outcome out = { 0 };
        YbRetentionRun run;
        int64_t lock_until = 0, now_usec;
        int c, r, exit_code = YB_EXIT_OK;

        optind = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                const char *name = NULL;
                int *count = NULL;

                switch (c) {
                case 's':
                        o.location = optarg;
                        break;
                case 'S':
                        o.system = optarg;
                        break;
                case 'p':
                        o.policy = optarg;
                        break;
                case 'l':
                        count = &o.rules.keep_last;
                        name = "keep-last";
                        break;
                case 'd':
                        count = &o.rules.keep_daily;
                        name = "keep-daily";
                        break;
                case 'w':
                        count = &o.rules.keep_weekly;
                        name = "keep-weekly";
                        break;
                case 'm':
                        count = &o.rules.keep_monthly;
                        name = "keep-monthly";
                        break;
                case 'y':
                        count = &o.rules.keep_yearly;
                        name = "keep-yearly";
                        break;
                case 'W':
                        if (yb_duration_parse(optarg, &o.rules.keep_within_usec) < 0 ||
                            o.rules.keep_within_usec <= 0) {
                                log_error("--keep-within takes a duration longer than 0s, such "
                                          "as 7d or 2w3d (docs/policy.md, \"Durations\"), not "
                                          "'%s'.",
                                          optarg);
                                return cli_usage_error("prune");
                        }
                        o.any_rule = true;
                        break;
                case 'z':
                        o.tz = optarg;
                        break;
                case 'i':
                        o.snapshot = optarg;
                        break;
                case 'n':
                        o.dry_run = true;
                        break;
                case 'j':
                        o.json = true;
                        break;
                case 'h':
                        usage(stdout);
                        return YB_EXIT_OK;
                default:
                        if (cli_store_option(c, optarg) > 0)
                                break;
                        return cli_usage_error("prune");
                }
                if (count) {
                        if (parse_count(name, optarg, count) < 0)
                                return cli_usage_error("prune");
                        o.any_rule = true;
                }
        }
        if (!o.location || (!o.system && !o.policy) || optind != argc) {
                log_error("prune needs --store STORE and --system ID (or --policy FILE).");
                return cli_usage_error("prune");
        }
        if (o.snapshot && (o.policy || o.any_rule || o.dry_run || o.tz)) {
                log_error("--snapshot removes one snapshot: give it without --policy, --keep-*, "
                          "--tz and --dry-run.");
                return cli_usage_error("prune");
        }
        if (o.snapshot && !o.system) {
                log_error("prune --snapshot needs --system ID.");
                return cli_usage_error("prune");
        }
        if (o.policy && o.any_rule) {
                log_error("Give either --policy FILE or --keep-* rules, not both.");
                return cli_usage_error("prune");
        }
        if (!o.policy && !o.any_rule && !o.snapshot) {
                log_error("prune needs rules: --policy FILE, or at least one of --keep-last, "
                          "--keep-daily, --keep-weekly, --keep-monthly, --keep-yearly and "
                          "--keep-within.");
                return cli_usage_error("prune");
        }
        if (o.policy) {
                r = load_policy(&o, &lock_until);
                if (r != 0)
                        return r;
        }

        r = cli_open_repo(o.location, o.system, &store, &repo);
        if (r != 0)
                return r;
        if (!o.dry_run) {
                r = yb_repo_lock(repo);
                if (r == -EBUSY) {
                        log_error("The repository of system '%s' in '%s' is locked by %s (a "
                                  "backup or prune is running); nothing was pruned. Try again "
                                  "when it has finished.",
                                  o.system, o.location, repo->lock_owner);
                        return YB_EXIT_BUSY;
                }
                if (r < 0) {
                        log_error("Cannot lock the repository of system '%s' in '%s': %s", o.system,
                                  o.location, strerror(-r));
                        return yb_exit_code_from_errno(r);
                }
                r = yb_repo_cleanup_tmp(repo);
                if (r < 0)
                        log_warning("Cannot remove leftovers under '%s/tmp' in '%s': %s", o.system,
                                    o.location, strerror(-r));
        }
        r = yb_repo_list(repo, &l);
        if (r < 0) {
                log_error("Cannot list the snapshots of system '%s' in '%s': %s", o.system,
                          o.location, strerror(-r));
                return yb_exit_code_from_errno(r);
        }

        if (o.snapshot)
                return prune_one(&o, repo, &l);

        child = new0(const char *, l.n + 1);
        errors = new0(int, l.n + 1);
        removed = new0(bool, l.n + 1);
        locked = calloc(l.n + 1, YB_PRUNE_DATE_MAX);
        if (!child || !errors || !removed || !locked)
                return log_oom(), YB_EXIT_FAILED;
        out = (Outcome){ .l = &l,
                         .removed = removed,
                         .error = errors,
                         .child = child,
                         .locked = locked,
                         .location = o.location };
        now_usec = yb_now_usec();
        run = (YbRetentionRun){
                .rules = &o.rules,
                .lock_until_usec = lock_until,
                .now_usec = now_usec,
                .tz = o.tz,
                .dry_run = o.dry_run,
                .report = on_pruned,
                .report_userdata = &out,
        };
        r = yb_retention_apply(repo, &l, &run, &plan);
        if (r == -EINVAL && o.tz) {
                log_error("Unknown time zone '%s': give an IANA zone such as Asia/Shanghai, or "
                          "UTC.",
                          o.tz);
                return YB_EXIT_USAGE;
        }
        if (r < 0) {
                log_error("Cannot plan the pruning of system '%s': %s", o.system, strerror(-r));
                return YB_EXIT_FAILED;
        }
        if (plan.error < 0 && out.failed == 0 && out.n_locked == 0) {
                /* It stopped before trying any: it could not tell what needs what. */
                log_error("Cannot prune system '%s' in '%s': its snapshots cannot be read (%s). "
                          "Nothing was pruned; run 'yunbak verify'.",
                          o.system, o.location, strerror(-plan.error));
                out.first_error = plan.error;
        }

        if (o.json) {
                json_t *j = plan_json(&o, &l, plan.reasons, plan.missing, &out, lock_until);

                json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
                fputc('\n', stdout);
                json_decref(j);
        } else
                plan_print(&o, &l, plan.reasons, &out, plan.n_prune);

        if (lock_until > 0 && now_usec < lock_until) {
                char t[32];

                yb_time_format_iso(yb_usec_to_ns(lock_until), t);
                log_notice("Policy '%s' locks system '%s' until %s: nothing is pruned before then.",
                           o.policy, o.system, t);
        }
        for (size_t i = 0; i < l.n; i++)
                if (plan.missing[i]) {
                        log_error("Snapshot %s cannot be restored: its chain needs snapshot %s, "
                                  "which is not in the repository (or not whole). It was planned "
                                  "like any other; run 'yunbak verify'.",
                                  l.items[i]->id, plan.missing[i]);
                        exit_code = YB_EXIT_DAMAGED;
                }
        for (size_t i = 0; i < l.n_broken; i++) {
                log_error("Snapshot %s is damaged: its header %s. It was left alone; run "
                          "'yunbak verify'.",
                          l.broken[i].id,
                          l.broken[i].error == -ENOENT    ? "is missing"
                          : l.broken[i].error == -EBADMSG ? "does not check out"
                                                          : strerror(-l.broken[i].error));
                exit_code = YB_EXIT_DAMAGED;
        }
        if (exit_code == YB_EXIT_OK)
                exit_code = outcome_exit_code(&out);
        return exit_code;
}
