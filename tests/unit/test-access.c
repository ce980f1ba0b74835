#include "orchestrator/access.h"
#include "tests/unit/test.h"

static const YbPerson people[] = {
        { "ops", 1000, YB_ROLE_OPERATOR, NULL },
        { "hr", 1001, YB_ROLE_DEPARTMENT, "人社局" },
        { "police", 1002, YB_ROLE_DEPARTMENT, "公安局" },
        { "audit", 1003, YB_ROLE_AUDITOR, NULL },
};

/* The whole matrix: every caller (including an unknown uid) against every kind of endpoint, on
 * a system of the 人社局. 'y' allowed, '-' refused. */
TEST(role_matrix) {
        static const struct {
                uid_t uid;
                const char *expect; /* READ_SYSTEM ACT_SYSTEM READ_ALL READ_AUDIT ADMIN */
        } rows[] = {
                { 1000, "yyyyy" }, /* operator: everything */
                { 1001, "yyy--" }, /* the system's own department */
                { 1002, "--y--" }, /* another department: listings only (filtered) */
                { 1003, "y-yy-" }, /* auditor: reads everything, changes nothing */
                { 4242, "-----" }, /* unknown uid: nothing */
        };

        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                const YbPerson *p = yb_person_find(people, ELEMENTSOF(people), rows[i].uid);

                for (int a = 0; a < _YB_ACCESS_MAX; a++) {
                        bool want = rows[i].expect[a] == 'y';

                        if (yb_access_allowed(p, a, "人社局") != want)
                                fail_msg("uid %u, access %d: expected %s", (unsigned) rows[i].uid,
                                         a, want ? "allowed" : "refused");
                }
        }
}

TEST(listings_are_filtered_by_department) {
        const YbPerson *hr = yb_person_find(people, ELEMENTSOF(people), 1001);
        const YbPerson *audit = yb_person_find(people, ELEMENTSOF(people), 1003);

        ASSERT_TRUE(yb_access_sees(hr, "人社局"));
        ASSERT_FALSE(yb_access_sees(hr, "公安局"));
        ASSERT_FALSE(yb_access_sees(hr, NULL));
        ASSERT_TRUE(yb_access_sees(audit, "公安局"));
        ASSERT_FALSE(yb_access_sees(NULL, "人社局"));
}

TEST(role_names) {
        ASSERT_EQ(yb_role_from_string("auditor"), YB_ROLE_AUDITOR);
        ASSERT_ERR(yb_role_from_string("none"), EINVAL); /* not a role one can be given */
        ASSERT_ERR(yb_role_from_string("admin"), EINVAL);
        ASSERT_STREQ(yb_role_to_string(YB_ROLE_DEPARTMENT), "department");
}
