#include "orchestrator/access.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

static const char *const roles[_YB_ROLE_MAX] = {
        [YB_ROLE_NONE] = "none",
        [YB_ROLE_OPERATOR] = "operator",
        [YB_ROLE_DEPARTMENT] = "department",
        [YB_ROLE_AUDITOR] = "auditor",
};

const char *yb_role_to_string(YbRole r) {
        return r >= 0 && r < _YB_ROLE_MAX ? roles[r] : NULL;
}

int yb_role_from_string(const char *s) {
        for (int i = YB_ROLE_OPERATOR; i < _YB_ROLE_MAX; i++)
                if (strcmp(s, roles[i]) == 0)
                        return i;
        return -EINVAL;
}

const YbPerson *yb_person_find(const YbPerson *people, size_t n, uid_t uid) {
        for (size_t i = 0; i < n; i++)
                if (people[i].uid == uid)
                        return &people[i];
        return NULL;
}

static bool own_department(const YbPerson *p, const char *system_department) {
        return p->department && system_department && strcmp(p->department, system_department) == 0;
}

bool yb_access_sees(const YbPerson *p, const char *system_department) {
        if (!p)
                return false;
        switch (p->role) {
        case YB_ROLE_OPERATOR:
        case YB_ROLE_AUDITOR:
                return true;
        case YB_ROLE_DEPARTMENT:
                return own_department(p, system_department);
        default:
                return false;
        }
}

bool yb_access_allowed(const YbPerson *p, YbAccess access, const char *system_department) {
        if (!p || p->role == YB_ROLE_NONE)
                return false;
        switch (access) {
        case YB_ACCESS_READ_SYSTEM:
                return yb_access_sees(p, system_department);
        case YB_ACCESS_ACT_SYSTEM:
                return p->role == YB_ROLE_OPERATOR ||
                       (p->role == YB_ROLE_DEPARTMENT && own_department(p, system_department));
        case YB_ACCESS_READ_ALL:
                return true; /* every known person; the listing is filtered by yb_access_sees */
        case YB_ACCESS_READ_AUDIT:
                return p->role == YB_ROLE_OPERATOR || p->role == YB_ROLE_AUDITOR;
        case YB_ACCESS_ADMIN:
                return p->role == YB_ROLE_OPERATOR;
        default:
                return false;
        }
}
