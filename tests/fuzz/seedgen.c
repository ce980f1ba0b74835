/* yb-fuzz-seedgen: helpers for make-seeds.sh, which turns a real repository into seed corpora.
 * Reads standard input, writes standard output:
 *   yb-fuzz-seedgen unseal-agent STATE_DIR   opens a file sealed to the agent's state key (a
 *                                            sigindex) with STATE_DIR/agent.key
 *   yb-fuzz-seedgen seal CONTEXT             seals to the fixed key of fuzz-seal
 *   yb-fuzz-seedgen delta                    a librsync delta from fuzz-delta's basis to stdin
 *   yb-fuzz-seedgen signature                the librsync signature of stdin, as kept in a sigindex
 *   yb-fuzz-seedgen basis                    writes fuzz-delta's basis */
#include "core/base/fileio.h"
#include "core/codec/delta.h"
#include "core/crypto/seal.h"
#include "tests/fuzz/fuzz-common.h"

#define INPUT_MAX (64 * 1024 * 1024)

static int fd_write(void *userdata, const void *data, size_t n) {
        return yb_write_all(*(int *) userdata, data, n);
}

static ssize_t fd_read(void *userdata, void *data, size_t n) {
        return yb_read_all(*(int *) userdata, data, n);
}

static int read_stdin(YbBuf *ret) {
        ret->cap = INPUT_MAX;
        return yb_read_file_at(STDIN_FILENO, "/dev/stdin", INPUT_MAX, ret);
}

static int unseal_agent(const char *state_dir) {
        _cleanup_(yb_agent_identity_freep) YbAgentIdentity *a = NULL;
        _cleanup_(yb_seal_reader_freep) YbSealReader *rd = NULL;
        int in = STDIN_FILENO, out = STDOUT_FILENO, r;
        uint8_t buf[64 * 1024];

        r = yb_agent_identity_load(state_dir, &a);
        if (r < 0)
                return r;
        r = yb_seal_reader_new(&a->state, NULL, fd_read, &in, &rd);
        if (r < 0)
                return r;
        for (;;) {
                ssize_t k = yb_seal_read(rd, buf, sizeof(buf));

                if (k < 0)
                        return (int) k;
                if (k == 0)
                        return 0;
                r = yb_write_all(out, buf, (size_t) k);
                if (r < 0)
                        return r;
        }
}

static int seal(const char *context) {
        _cleanup_(yb_secret_key_freep) YbSecretKey *key = fuzz_key_new();
        _cleanup_(yb_seal_writer_freep) YbSealWriter *w = NULL;
        _cleanup_(yb_buf_done) YbBuf in = YB_BUF_INIT;
        int out = STDOUT_FILENO, r;

        if (!key)
                return -ENOMEM;
        r = read_stdin(&in);
        if (r < 0)
                return r;
        r = yb_seal_writer_new(&key->pub, context, fd_write, &out, &w);
        if (r < 0)
                return r;
        r = yb_seal_write(w, in.data, in.size);
        if (r < 0)
                return r;
        return yb_seal_finish(w);
}

static int signature(YbBuf *data, YbBuf *ret) {
        _cleanup_(yb_sig_builder_freep) YbSigBuilder *b = NULL;
        int r;

        r = yb_sig_builder_new(data->size, &b);
        if (r < 0)
                return r;
        if (data->size > 0 && (r = yb_sig_builder_feed(b, data->data, data->size)) < 0)
                return r;
        return yb_sig_builder_finish(b, ret);
}

static int signature_of_stdin(void) {
        _cleanup_(yb_buf_done) YbBuf in = YB_BUF_INIT, sig = YB_BUF_INIT;
        int r;

        r = read_stdin(&in);
        if (r < 0)
                return r;
        r = signature(&in, &sig);
        if (r < 0)
                return r;
        return yb_write_all(STDOUT_FILENO, sig.data, sig.size);
}

static int delta(void) {
        _cleanup_(yb_signature_freep) YbSignature *sig = NULL;
        _cleanup_(yb_delta_freep) YbDeltaJob *d = NULL;
        _cleanup_(yb_buf_done) YbBuf basis = YB_BUF_INIT, sigbuf = YB_BUF_INIT, in = YB_BUF_INIT;
        int out = STDOUT_FILENO, r;

        r = yb_buf_reserve(&basis, FUZZ_BASIS_SIZE);
        if (r < 0)
                return r;
        fuzz_basis(basis.data);
        basis.size = FUZZ_BASIS_SIZE;
        r = read_stdin(&in);
        if (r < 0)
                return r;
        r = signature(&basis, &sigbuf);
        if (r < 0)
                return r;
        r = yb_signature_load(sigbuf.data, sigbuf.size, &sig);
        if (r < 0)
                return r;
        r = yb_delta_new(sig, fd_write, &out, &d);
        if (r < 0)
                return r;
        if (in.size > 0 && (r = yb_delta_feed(d, in.data, in.size)) < 0)
                return r;
        return yb_delta_finish(d);
}

int main(int argc, char **argv) {
        static uint8_t basis[FUZZ_BASIS_SIZE];
        int r;

        fuzz_init();
        if (argc == 3 && streq(argv[1], "unseal-agent"))
                r = unseal_agent(argv[2]);
        else if (argc == 3 && streq(argv[1], "seal"))
                r = seal(argv[2]);
        else if (argc == 2 && streq(argv[1], "delta"))
                r = delta();
        else if (argc == 2 && streq(argv[1], "signature"))
                r = signature_of_stdin();
        else if (argc == 2 && streq(argv[1], "basis")) {
                fuzz_basis(basis);
                r = yb_write_all(STDOUT_FILENO, basis, sizeof(basis));
        } else {
                fputs("Usage: yb-fuzz-seedgen unseal-agent STATE_DIR | seal CONTEXT | delta | "
                      "signature | basis\n",
                      stderr);
                return 2;
        }
        if (r < 0) {
                fprintf(stderr, "yb-fuzz-seedgen %s: %s\n", argv[1], strerror(-r));
                return 1;
        }
        return 0;
}
