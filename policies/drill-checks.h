/* policies/drill-checks.h: reading a policy's drill.postgresql (policies/drill-checks.c), for
 * policy.c. The checks themselves (YbDrillPgSpec) are declared in policies/policy.h. */
#pragma once

#include "policies/policy.h"
#include "policies/schema.h"
#include "policies/yamltree.h"

/* Reads the list v (drill.postgresql) into p->drill_pg, reporting every problem to c. Needs
 * p->hooks read first: each item names one of them. */
void yb_policy_read_drill_pg(YbSchema *c, const YbYamlNode *v, YbPolicy *p);
