/* orchestrator/decommission-run.c: a placeholder of part X's execution (decommission.h), so that
 * yunbakd links before part X's file lands; it is replaced by part X's. Nothing is executed. */
#include "orchestrator/decommission.h"

int yb_decommission_execute(YbDaemon *d, const YbPerson *by, int64_t id, char *why,
                            size_t why_size) {
        return -ENOSYS;
}

int yb_decommission_verify(YbDaemon *d, const YbPerson *by, int64_t id, char *why,
                           size_t why_size) {
        return -ENOSYS;
}

bool yb_decommission_running(YbDaemon *d, int64_t id) {
        return false;
}

json_t *yb_decommission_steps_json(YbDaemon *d, int64_t id) {
        return NULL;
}

void yb_decommissions_stop(YbDaemon *d) {
}
