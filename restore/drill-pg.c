/* restore/drill-pg.c: placeholder until part P writes it (restore/drill-pg.h). */
#include "restore/drill-pg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int yb_drill_pg_start(const char *sandbox, const YbDrillPgCheck *checks, size_t n, YbDrillPg **ret,
                      char **ret_error) {
        (void) sandbox;
        (void) checks;
        (void) n;
        *ret = NULL;
        *ret_error = strdup("PostgreSQL in drills is not built yet");
        return -ENOSYS;
}

int yb_drill_pg_query(YbDrillPg *pg, const YbDrillPgCheck *checks, size_t n,
                      YbDrillPgResult *results, char **ret_error) {
        (void) pg;
        (void) checks;
        (void) n;
        (void) results;
        *ret_error = strdup("PostgreSQL in drills is not built yet");
        return -ENOSYS;
}

int yb_drill_pg_env(const YbDrillPg *pg, char ***env, size_t *n_env) {
        (void) pg;
        (void) env;
        (void) n_env;
        return 0;
}

YbDrillPg *yb_drill_pg_stop(YbDrillPg *pg) {
        (void) pg;
        return NULL;
}

void yb_drill_pg_result_done(YbDrillPgResult *r) {
        free(r->error);
        r->error = NULL;
}
