/* core/repo/copy.c: copies and repairs of snapshots between stores (core/repo/copy.h). Being built
 * (issue 10): every entry point says so. */
#include "core/repo/copy.h"

#include <stdio.h>
#include <stdlib.h>

int yb_repo_copy(YbStore *from, YbStore *to, const char *system, const char *id,
                 const YbCopyOptions *opts, YbCopyStats *stats, char *err, size_t err_size) {
        (void) from, (void) to, (void) system, (void) opts;
        if (stats)
                *stats = (YbCopyStats){ 0 };
        snprintf(err, err_size, "copying snapshot %s is not built yet", id);
        return -ENOSYS;
}

int yb_repo_copy_cleanup(YbRepo *r, bool (*keep)(void *userdata, const char *id), void *userdata) {
        (void) r, (void) keep, (void) userdata;
        return -ENOSYS;
}

void yb_repair_report_done(YbRepairReport *rep) {
        free(rep->files);
        *rep = (YbRepairReport){ 0 };
}

const char *yb_repair_action_to_string(YbRepairAction a) {
        static const char *const names[_YB_REPAIR_ACTION_MAX] = {
                [YB_REPAIR_OK] = "ok",
                [YB_REPAIR_REPLACED] = "replaced",
                [YB_REPAIR_NO_TWIN] = "no-twin",
                [YB_REPAIR_BAD_TWIN] = "bad-twin",
        };

        return a >= 0 && a < _YB_REPAIR_ACTION_MAX ? names[a] : NULL;
}

int yb_repo_repair(YbStore *damaged, YbStore *twin, const char *system, const char *id,
                   YbRepairReport *rep, char *err, size_t err_size) {
        (void) damaged, (void) twin, (void) system;
        *rep = (YbRepairReport){ 0 };
        snprintf(err, err_size, "repairing snapshot %s is not built yet", id);
        return -ENOSYS;
}
