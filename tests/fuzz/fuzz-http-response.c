/* fuzz-http-response: an HTTP/1.1 response from yunbakd's control socket, as yunbak's client
 * (cli/http-client.c) parses it. The first byte chooses how the rest is split into pieces, since
 * the parser must give the same answer however the bytes arrive. */
#include "cli/ctl.h"
#include "cli/http-client.h"
#include "cli/output.h"
#include "tests/fuzz/fuzz-common.h"

/* Feeds data in pieces of chunk bytes (0: at once), then the end of the connection. Returns the
 * parser's final result; a complete response is moved to *ret. */
static int parse(const uint8_t *data, size_t size, size_t chunk, CliHttpResponse *ret) {
        _cleanup_(cli_http_parser_freep) CliHttpParser *p = cli_http_parser_new(1 << 20);
        size_t off = 0;
        int r = 0;

        FUZZ_CHECK(p);
        while (off < size && r == 0) {
                size_t n = chunk ? MIN(chunk, size - off) : size - off;

                r = cli_http_parser_feed(p, data + off, n);
                off += n;
        }
        if (r == 0)
                r = cli_http_parser_eof(p);
        FUZZ_CHECK(r != 0);
        if (r < 0) {
                /* An error is sticky, has words, and leaves nothing to take. */
                FUZZ_CHECK(*cli_http_parser_why(p));
                FUZZ_CHECK(cli_http_parser_feed(p, "x", 1) == r);
                FUZZ_CHECK(cli_http_parser_take(p, ret) == -EINVAL);
                return r;
        }
        FUZZ_CHECK(cli_http_parser_take(p, ret) == 0);
        FUZZ_CHECK(ret->status >= 200 && ret->status <= 599);
        FUZZ_CHECK(ret->body && ret->body_size <= (1 << 20) && ret->body[ret->body_size] == 0);
        return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const size_t chunks[] = { 0, 1, 2, 3, 7, 64 };
        CliHttpResponse a = { 0 }, b = { 0 };
        int ra, rb;

        if (size < 1)
                return 0;
        ra = parse(data + 1, size - 1, 0, &a);
        rb = parse(data + 1, size - 1, chunks[data[0] % ELEMENTSOF(chunks)], &b);
        /* The same response (or the same error) whatever the pieces. */
        FUZZ_CHECK(ra == rb);
        if (ra > 0) {
                FUZZ_CHECK(a.status == b.status && a.body_size == b.body_size &&
                           a.chunked == b.chunked);
                FUZZ_CHECK(memcmp(a.body, b.body, a.body_size) == 0);
        }
        cli_http_response_done(&a);
        cli_http_response_done(&b);
        return 0;
}
