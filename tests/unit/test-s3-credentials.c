/* tests/unit/test-s3-credentials.c: core/store/s3-credentials.c, the credentials file in AWS's
 * format: [default]'s two keys read with blanks and comments around them, other sections
 * ignored, and every malformed file refused with its file:line and what to write; a file others
 * can read is refused. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/store/s3-credentials.h"
#include "tests/unit/test.h"

static int parse(const char *text, YbS3Credentials *c, char *err) {
        return yb_s3_credentials_parse("creds", text, strlen(text), c, err, 256);
}

TEST(reads_default_section) {
        YbS3Credentials c = { 0 };
        char err[256];

        ASSERT_OK(parse("# made by hand\n[other]\naws_access_key_id = NOT\n\n"
                        "[ default ]\r\n  aws_access_key_id=AK1 \n; comment\n"
                        "aws_secret_access_key =  s3cr=t/+ \nregion = x\n[later]\n"
                        "aws_secret_access_key = NOT\n",
                        &c, err));
        ASSERT_STREQ(c.access_key, "AK1");
        ASSERT_STREQ(c.secret_key, "s3cr=t/+");
        yb_s3_credentials_done(&c);
        ASSERT_TRUE(c.access_key == NULL && c.secret_key == NULL);
}

TEST(refuses_malformed_files_with_file_and_line) {
        static const char *const cases[][2] = {
                { "[default]\naws_access_key_id = a\njunk\n",
                  "creds:3: neither [section] nor name = value" },
                { "[default\n", "creds:1: a section is written [name]" },
                { "[default]\naws_access_key_id =\n", "creds:2: aws_access_key_id is empty" },
                { "[default]\naws_access_key_id = a\naws_access_key_id = b\n",
                  "creds:3: aws_access_key_id given twice" },
                { "[default]\naws_access_key_id = a\n",
                  "creds: [default] has no aws_secret_access_key" },
                { "[default]\naws_secret_access_key = a\n",
                  "creds: [default] has no aws_access_key_id" },
                { "[default]\n[default]\n", "creds:2: a second [default] section" },
                { "[x]\naws_access_key_id = a\n",
                  "creds has no [default] section: write [default], then aws_access_key_id = ... "
                  "and aws_secret_access_key = ..." },
                { "",
                  "creds has no [default] section: write [default], then aws_access_key_id = ... "
                  "and aws_secret_access_key = ..." },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                YbS3Credentials c = { 0 };
                char err[256] = "";

                ASSERT_ERR(parse(cases[i][0], &c, err), EINVAL);
                ASSERT_STREQ(err, cases[i][1]);
                ASSERT_TRUE(c.access_key == NULL);
        }
}

TEST(refuses_a_file_others_can_read) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *path = test_tmpdir_path(d, "creds");
        static const char text[] = "[default]\naws_access_key_id = a\naws_secret_access_key = b\n";
        YbS3Credentials c = { 0 };
        char err[256];
        int fd;

        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);
        ASSERT_OK(yb_s3_credentials_load(path, &c, err, sizeof(err)));
        ASSERT_STREQ(c.secret_key, "b");
        yb_s3_credentials_done(&c);

        ASSERT_OK(chmod(path, 0644));
        ASSERT_ERR(yb_s3_credentials_load(path, &c, err, sizeof(err)), EPERM);
        ASSERT_TRUE(strstr(err, "is open to others (mode 0644): chmod o-rwx") != NULL);
        ASSERT_OK(unlink(path));
        ASSERT_ERR(yb_s3_credentials_load(path, &c, err, sizeof(err)), ENOENT);
        ASSERT_TRUE(strstr(err, "cannot open the credentials file") != NULL);
}
