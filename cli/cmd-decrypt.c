/* yunbak decrypt --key ID.key [--passphrase-file F] FILE */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "core/base/exitcode.h"
#include "core/base/fileio.h"
#include "core/base/log.h"

static void usage(FILE *f) {
        fputs("Usage: yunbak decrypt --key ID.key [--passphrase-file FILE] FILE\n"
              "\n"
              "Writes the plaintext of one sealed repository file (a manifest, a volume) to\n"
              "standard output. For volumes and manifests that plaintext is a zstd stream:\n"
              "  yunbak decrypt --key hr.key vol-000001 | zstd -d | tar -x\n"
              "recovers the files by hand (docs/format.md, \"Recovering by hand\"). The file is\n"
              "authenticated as it is read: a damaged or altered file stops with exit status 5\n"
              "and output that must be discarded.\n",
              f);
}

static ssize_t fd_read(void *userdata, void *data, size_t n) {
        return yb_read_all(*(int *) userdata, data, n);
}

int cli_decrypt(int argc, char **argv) {
        static const struct option opts[] = {
                { "key", required_argument, NULL, 'k' },
                { "passphrase-file", required_argument, NULL, 'p' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(yb_secret_key_freep) YbSecretKey *key = NULL;
        _cleanup_(yb_seal_reader_freep) YbSealReader *rd = NULL;
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ uint8_t *buf = NULL;
        const char *keyfile = NULL, *pass = NULL, *path;
        uint8_t head[512];
        YbSealInfo info;
        uint64_t done = 0;
        ssize_t n;
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 'k':
                        keyfile = optarg;
                        break;
                case 'p':
                        pass = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return YB_EXIT_OK;
                default:
                        return cli_usage_error("decrypt");
                }
        }
        if (!keyfile || optind + 1 != argc) {
                log_error("decrypt needs --key ID.key and one FILE.");
                return cli_usage_error("decrypt");
        }
        path = argv[optind];
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                log_error("Cannot open '%s': %s", path, strerror(errno));
                return YB_EXIT_FAILED;
        }
        n = yb_read_all(fd, head, sizeof(head));
        r = n < 0 ? (int) n : yb_seal_info_parse(head, (size_t) n, &info);
        if (r == -EPROTONOSUPPORT) {
                log_error("'%s' is sealed in a format version this program does not know.", path);
                return YB_EXIT_DAMAGED;
        }
        if (r < 0) {
                log_error("'%s' is not a sealed yunbak file (a snapshot's header and the "
                          "repository config are plain text: read them directly).",
                          path);
                return YB_EXIT_DAMAGED;
        }
        r = cli_load_secret_key(keyfile, pass, &key);
        if (r != 0)
                return r;
        if (lseek(fd, 0, SEEK_SET) < 0)
                return YB_EXIT_FAILED;
        r = yb_seal_reader_new(key, NULL, fd_read, &fd, &rd);
        if (r == -EKEYREJECTED) {
                char want[2 * YB_KEY_ID_SIZE + 1], have[2 * YB_KEY_ID_SIZE + 1];

                yb_key_id_hex(info.key_id, want);
                yb_key_id_hex(key->pub.id, have);
                log_error("'%s' is sealed to key %s; '%s' is key %s of system '%s'.", path, want,
                          keyfile, have, key->pub.system);
                return YB_EXIT_KEY;
        }
        if (r < 0) {
                log_error("Cannot open '%s': %s", path,
                          r == -EBADMSG ? "damaged or altered" : strerror(-r));
                return yb_exit_code_from_errno(r);
        }
        buf = malloc(1 << 20);
        if (!buf)
                return YB_EXIT_FAILED;
        for (;;) {
                n = yb_seal_read(rd, buf, 1 << 20);
                if (n < 0) {
                        log_error("'%s' is damaged or altered after %llu bytes of plaintext; "
                                  "discard the output.",
                                  path, (unsigned long long) done);
                        return YB_EXIT_DAMAGED;
                }
                if (n == 0)
                        break;
                done += (uint64_t) n;
                r = yb_write_all(STDOUT_FILENO, buf, (size_t) n);
                if (r < 0) {
                        log_error("Cannot write to standard output: %s", strerror(-r));
                        return YB_EXIT_FAILED;
                }
        }
        return YB_EXIT_OK;
}
