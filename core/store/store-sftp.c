/* core/store/store-sftp.c: the SFTP backend (libssh2). Being built (issue 10): for now an sftp://
 * location is refused as a scheme without a backend. */
#include <stdio.h>

#include "core/store/store.h"

static int sftp_open(const char *location, const YbLocation *where, const YbStoreOptions *opts,
                     YbStore **ret, char *err, size_t err_size) {
        (void) location, (void) where, (void) opts, (void) ret;
        snprintf(err, err_size, "SFTP stores are not built yet");
        return -EPROTONOSUPPORT;
}

const YbStoreOps yb_store_sftp_ops = {
        .kind = YB_LOCATION_SFTP,
        .open = sftp_open,
};
