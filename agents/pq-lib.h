/* agents/pq-lib.h: libpq, loaded by the agent's first PostgreSQL connection (pq-lib.c). */
#pragma once

#include "core/base/dynlib.h"

extern YbDynLib yb_libpq;
