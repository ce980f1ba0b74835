/* orchestrator/access.h: who may do what through the control API (docs/api.md).
 *
 * A caller is identified by the uid the kernel reports for the Unix socket, mapped to a person
 * of yunbakd.yaml. An unknown uid gets nothing. An auditor reads everything and changes nothing.
 * A department person reads and acts on the systems of their own department only. An operator
 * does everything. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

typedef enum YbRole {
        YB_ROLE_NONE, /* an unknown caller */
        YB_ROLE_OPERATOR,
        YB_ROLE_DEPARTMENT,
        YB_ROLE_AUDITOR,
        _YB_ROLE_MAX,
} YbRole;

typedef struct YbPerson {
        const char *name; /* the person's unix user name */
        uid_t uid;
        YbRole role;
        const char *department; /* YB_ROLE_DEPARTMENT only */
} YbPerson;

/* What an endpoint does, for the access rules. */
typedef enum YbAccess {
        YB_ACCESS_READ_SYSTEM, /* read about one system: its department's people may */
        YB_ACCESS_ACT_SYSTEM,  /* act on one system (back up now, request a copy): likewise */
        YB_ACCESS_READ_ALL,    /* read across systems: results are filtered per department */
        YB_ACCESS_READ_AUDIT,  /* the audit log: operators and auditors */
        YB_ACCESS_ADMIN,       /* approve, rebuild the catalog, reload: operators */
        _YB_ACCESS_MAX,
} YbAccess;

const char *yb_role_to_string(YbRole r);
int yb_role_from_string(const char *s); /* a YbRole, or -EINVAL */

/* Finds the person with uid among n people, or NULL. */
const YbPerson *yb_person_find(const YbPerson *people, size_t n, uid_t uid);

/* Whether p (NULL: unknown caller) may do access; for the *_SYSTEM kinds, on a system of
 * system_department. */
bool yb_access_allowed(const YbPerson *p, YbAccess access, const char *system_department);
/* Whether p may see a system of system_department in a cross-system listing. */
bool yb_access_sees(const YbPerson *p, const char *system_department);
