/* What an overwrite achieves on the filesystem beneath a path (erase.h). Part E of issue 13
 * replaces this placeholder. */
#include <errno.h>
#include <string.h>

#include "core/erase/erase.h"

void yb_medium_judge(const YbMediumFacts *facts, YbMedium *ret) {
        (void) facts;
        memset(ret, 0, sizeof(*ret));
}

int yb_medium_probe(const char *path, YbMedium *ret) {
        (void) path;
        memset(ret, 0, sizeof(*ret));
        return -ENOSYS;
}

void yb_medium_remote(const char *location, YbMedium *ret) {
        (void) location;
        memset(ret, 0, sizeof(*ret));
}

json_t *yb_medium_json(const YbMedium *m) {
        (void) m;
        return NULL;
}
