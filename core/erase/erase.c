/* Destroying files and trees (erase.h). Part E of issue 13 replaces this placeholder. */
#include <errno.h>
#include <string.h>

#include "core/erase/erase.h"

int yb_erase_file(const char *path, YbOverwrite ow, YbEraseReport *ret, char *err,
                  size_t err_size) {
        (void) path, (void) ow, (void) err, (void) err_size;
        memset(ret, 0, sizeof(*ret));
        return -ENOSYS;
}

int yb_erase_tree(const char *path, bool keep_top, YbOverwrite ow, YbEraseReport *ret, char *err,
                  size_t err_size) {
        (void) path, (void) keep_top, (void) ow, (void) err, (void) err_size;
        memset(ret, 0, sizeof(*ret));
        return -ENOSYS;
}

int yb_erase_store_tree(YbStore *s, const char *path, YbOverwrite ow, YbEraseReport *ret,
                        char *err, size_t err_size) {
        (void) s, (void) path, (void) ow, (void) err, (void) err_size;
        memset(ret, 0, sizeof(*ret));
        return -ENOSYS;
}

json_t *yb_erase_report_json(const YbEraseReport *r) {
        (void) r;
        return NULL;
}
