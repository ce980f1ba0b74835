/* The command-line pieces that the agent's commands share (agents/agent.h): durations, the
 * store options (--s3-* included), the checks after them, and the store options handed on to a
 * child backup. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "agents/agent.h"
#include "core/base/exitcode.h"
#include "core/base/ident.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"

int agent_parse_duration(const char *s, int64_t *ret) {
        static const struct {
                const char *unit;
                int64_t usec;
        } units[] = { { "ms", YB_USEC_PER_MSEC },
                      { "s", YB_USEC_PER_SEC },
                      { "min", YB_USEC_PER_MINUTE },
                      { "h", YB_USEC_PER_HOUR },
                      { "d", YB_USEC_PER_DAY } };
        /* An S3 store's retention can be years; nothing the agent takes is longer than this. */
        const int64_t max = 100 * 366 * YB_USEC_PER_DAY;
        char *end;
        long long v;

        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno || end == s || v < 0 || *s == '+' || *s == ' ')
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (streq(end, units[i].unit)) {
                        if (v > max / units[i].usec)
                                return -EINVAL;
                        *ret = (int64_t) v * units[i].usec;
                        return 0;
                }
        return -EINVAL;
}

int agent_store_option(AgentBackupArgs *a, int c, const char *arg) {
        switch (c) {
        case 's':
                a->store = arg;
                return 1;
        case 'I':
                a->ssh_key = arg;
                return 1;
        case 'H':
                a->known_hosts = arg;
                return 1;
        case 'w':
                if (agent_parse_duration(arg, &a->store_timeout_usec) < 0 ||
                    a->store_timeout_usec < YB_USEC_PER_SEC)
                        return log_error_errno(EINVAL,
                                               "--store-timeout must be a duration of at least "
                                               "1s, not '%s'.",
                                               arg);
                return 1;
        case 'S':
                a->system = arg;
                return 1;
        case 'k':
                a->public_key = arg;
                return 1;
        default:
                break;
        }
        if (c >= AGENT_OPT_S3 && c < AGENT_OPT_S3 + _YB_S3_OPT_MAX) {
                int which = c - AGENT_OPT_S3;
                char err[300];
                int64_t usec;

                if (which == YB_S3_OPT_RETENTION) {
                        if (agent_parse_duration(arg, &usec) < 0)
                                return log_error_errno(EINVAL,
                                                       "--s3-retention must be a duration, such "
                                                       "as 90d or 2160h, not '%s'.",
                                                       arg);
                        if (yb_s3_retention_set(&a->s3, yb_usec_to_ns(usec)) < 0)
                                return log_error_errno(EINVAL,
                                                       "--s3-retention '%s' is shorter than %s: "
                                                       "%s. Write one much longer than a backup "
                                                       "takes, such as 90d.",
                                                       arg, yb_s3_retention_min_text(),
                                                       YB_S3_RETENTION_WHY);
                } else if (yb_s3_option_set(&a->s3, which, arg, err, sizeof(err)) < 0)
                        return log_error_errno(EINVAL, "--%s %s.", yb_s3_option_name(which), err);
                return 1;
        }
        return 0;
}

YbStoreOptions agent_store_options(const AgentBackupArgs *a) {
        return (YbStoreOptions){ .ssh_key = a->ssh_key,
                                 .known_hosts = a->known_hosts,
                                 .timeout_ns = yb_usec_to_ns(a->store_timeout_usec),
                                 .s3 = a->s3 };
}

/* One "--NAME=VALUE" of agent_store_argv's vector (which has room for it). */
static int store_arg_add(void *ud, const char *name, const char *value) {
        char **v = ud;
        size_t n = 0;

        while (v[n])
                n++;
        assert(n < AGENT_STORE_ARGV_MAX);
        return asprintf(&v[n], "--%s=%s", name, value) < 0 ? (v[n] = NULL, -ENOMEM) : 0;
}

char **agent_store_argv(const AgentBackupArgs *a) {
        char **v = new0(char *, AGENT_STORE_ARGV_MAX + 1), timeout[32];
        int r = v ? 0 : -ENOMEM;

        if (r >= 0 && a->ssh_key)
                r = store_arg_add(v, "ssh-key", a->ssh_key);
        if (r >= 0 && a->known_hosts)
                r = store_arg_add(v, "known-hosts", a->known_hosts);
        if (r >= 0 && a->store_timeout_usec > 0) {
                snprintf(timeout, sizeof(timeout), "%" PRId64 "ms",
                         (int64_t) (a->store_timeout_usec / YB_USEC_PER_MSEC));
                r = store_arg_add(v, "store-timeout", timeout);
        }
        if (r >= 0)
                r = yb_s3_options_to_args(&a->s3, store_arg_add, v);
        if (r < 0 && v) {
                for (size_t i = 0; v[i]; i++)
                        free(v[i]);
                free(v);
                return NULL;
        }
        return v;
}

/* An s3:// store: what the command line left unset from the environment, then whether it has
 * what it needs. */
static int finish_s3(AgentBackupArgs *a) {
        int which;

        yb_s3_options_from_env(&a->s3);
        if (!a->store || yb_location_kind(a->store) != YB_LOCATION_S3 ||
            yb_s3_options_check(&a->s3, &which) >= 0)
                return YB_EXIT_OK;
        log_error("Store '%s' needs %s.", a->store, yb_s3_option_need_text(which));
        return YB_EXIT_USAGE;
}

int agent_args_finish(AgentBackupArgs *a, char **ret_state) {
        int r = finish_s3(a);

        if (r != YB_EXIT_OK)
                return r;
        if (!yb_system_id_valid(a->system)) {
                log_error("'%s' is not a valid system id: use 1 to 63 of a-z, 0-9 and '-'.",
                          a->system);
                return YB_EXIT_USAGE;
        }
        if (!a->state_dir) {
                *ret_state = agent_default_state_dir();
                if (!*ret_state)
                        return YB_EXIT_FAILED;
                a->state_dir = *ret_state;
        }
        return YB_EXIT_OK;
}
