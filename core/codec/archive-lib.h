/* core/codec/archive-lib.h: libarchive, loaded by the first pax volume written or read
 * (archive-lib.c). */
#pragma once

#include "core/base/dynlib.h"

extern YbDynLib yb_libarchive;
