/* fuzz-config: a repository's clear config and the public key JSON inside it (also the format
 * of ID.pub files). */
#include "core/repo/repo.h"
#include "tests/fuzz/fuzz-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        YbRepoConfig c, again;
        YbPublicKey pub;

        fuzz_init();
        if (yb_repo_config_parse(data, size, &c) >= 0) {
                _cleanup_free_ char *text = NULL;

                /* What parses must format and parse back to the same config. */
                FUZZ_CHECK(yb_repo_config_format(&c, &text) >= 0);
                FUZZ_CHECK(yb_repo_config_parse(text, strlen(text), &again) >= 0);
                FUZZ_CHECK(again.format == c.format && streq(again.system, c.system) &&
                           again.created_ns == c.created_ns &&
                           memcmp(&again.pub, &c.pub, sizeof(c.pub)) == 0);
        }
        (void) yb_public_key_parse((const char *) data, size, &pub);
        return 0;
}
