/* The command-line pieces that the agent's commands share (agents/agent.h): durations, the
 * store options, and the checks after them. */
#include <getopt.h>
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
                      { "h", YB_USEC_PER_HOUR } };
        char *end;
        long long v;

        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno || end == s || v < 0 || v > 1000000)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (streq(end, units[i].unit)) {
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
                return 0;
        }
}

int agent_args_finish(AgentBackupArgs *a, char **ret_state) {
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
