/* Where the agent keeps its state (its key, signature cache, spools, the replicator's lock) when
 * --state-dir is not given. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "agents/agent.h"

char *agent_default_state_dir(void) {
        const char *e = getenv("YUNBAK_AGENT_STATE_DIR"), *home;
        char *p;

        if (e && *e)
                return strdup(e);
        if (geteuid() == 0)
                return strdup("/var/lib/yunbak-agent");
        e = getenv("XDG_STATE_HOME");
        if (e && *e)
                return asprintf(&p, "%s/yunbak-agent", e) < 0 ? NULL : p;
        home = getenv("HOME");
        return asprintf(&p, "%s/.local/state/yunbak-agent", home ? home : "/tmp") < 0 ? NULL : p;
}
