/* core/store/dynlibs.h: the libraries of the remote stores, loaded by the first store that needs
 * them (core/base/dynlib.h): libcurl and libcrypto for S3 (curl-lib.c), libssh2 for SFTP and
 * for yunbakd's runs over SSH (ssh2-lib.c). */
#pragma once

#include "core/base/dynlib.h"

extern YbDynLib yb_libcurl, yb_libcrypto, yb_libssh2;
