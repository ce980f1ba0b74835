/* core/base/ident.c: the system id rule (ident.h). */
#include "core/base/ident.h"

#include <string.h>

bool yb_system_id_valid(const char *id) {
        size_t n = strlen(id);

        if (n == 0 || n > YB_SYSTEM_ID_MAX || id[0] == '-')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '0' && id[i] <= '9') ||
                      id[i] == '-'))
                        return false;
        return true;
}
