/* Libraries loaded when first needed (core/base/dynlib.h): one that is not there is said, with
 * its package and what needs it; the remote stores' load, and their functions, called under
 * their own names, reach the library's. */
#include <curl/curl.h>
#include <libssh2.h>
#include <openssl/evp.h>

#include "core/store/dynlibs.h"
#include "tests/unit/test.h"

TEST(missing_library_is_said) {
        static YbDynLib none = YB_DYNLIB_INIT("libyunbak-none.so.0", "yunbak-none", "no store");

        ASSERT_ERR(yb_dynlib_load(&none), ELIBACC);
        ASSERT_TRUE(strstr(yb_dynlib_error(&none),
                           "cannot load libyunbak-none.so.0 (Debian's package yunbak-none), which "
                           "no store need: ") == yb_dynlib_error(&none));
        ASSERT_TRUE(strstr(yb_dynlib_error(&none), "libyunbak-none.so.0: cannot open"));
        /* Tried once: the same answer again. */
        ASSERT_ERR(yb_dynlib_load(&none), ELIBACC);
}

TEST(stores_libraries_load_and_answer) {
        static const uint8_t abc_sha256[32] = {
                0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
                0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
                0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
        };
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int md_len = 0;

        ASSERT_OK(yb_dynlib_load(&yb_libcurl));
        ASSERT_OK(yb_dynlib_load(&yb_libcrypto));
        ASSERT_OK(yb_dynlib_load(&yb_libssh2));
        ASSERT_STREQ(yb_dynlib_error(&yb_libcurl), "");
        ASSERT_STREQ(curl_easy_strerror(CURLE_OK), "No error");
        ASSERT_TRUE(EVP_Digest("abc", 3, md, &md_len, EVP_sha256(), NULL) == 1);
        ASSERT_EQ(md_len, 32);
        ASSERT_MEMEQ(md, abc_sha256, 32);
        ASSERT_EQ(libssh2_init(0), 0);
}
