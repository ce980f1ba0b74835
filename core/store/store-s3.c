/* The S3 backend (placeholder: built by issue 15's part B): a prefix of a bucket on radosgw or
 * any S3 service, through libcurl. */
#include <errno.h>
#include <stdio.h>

#include "core/store/store.h"

static int s3_open(const char *location, const YbLocation *where, const YbStoreOptions *opts,
                   YbStore **ret, char *err, size_t err_size) {
        (void) location;
        (void) where;
        (void) opts;
        (void) ret;
        snprintf(err, err_size, "S3 stores are not built yet");
        return -ENOSYS;
}

const YbStoreOps yb_store_s3_ops = {
        .kind = YB_LOCATION_S3,
        .flags = YB_STORE_OBJECTS,
        .open = s3_open,
};
