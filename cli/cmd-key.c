/* yunbak key init|show, and the dispatch of the key copies' subcommands (cli/key-copies.h) */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/key-copies.h"
#include "cli/output.h"
#include "core/base/exitcode.h"
#include "core/base/fileio.h"
#include "core/base/log.h"

static void usage(FILE *f) {
        fputs("Usage: yunbak key init --system ID --out DIR [--passphrase-file FILE]\n"
              "                       [--kdf moderate|interactive] [--holder NAME]\n"
              "                       [--no-register] [--socket PATH]\n"
              "       yunbak key show FILE [--json]\n"
              "       yunbak key register|copy|list ... (yunbak key register --help)\n"
              "       yunbak key destroy FILE (yunbak key destroy --help)\n"
              "       yunbak key attest-destroyed --copy ID ... (its --help)\n"
              "       yunbak key withdraw --copy ID --reason TEXT|--confirm (its --help)\n"
              "\n"
              "init makes the key pair of an information system:\n"
              "  DIR/ID.pub  the public half, for agents and the operations unit: with it they "
              "can\n"
              "              write and verify backups, never read them;\n"
              "  DIR/ID.key  the private half, wrapped with the department's passphrase\n"
              "              (Argon2id). Keep it, and the passphrase, safe: without both, no\n"
              "              backup of the system can be restored.\n"
              "Without --passphrase-file (or $YUNBAK_PASSPHRASE_FILE) the passphrase is asked\n"
              "twice on the terminal. --kdf interactive uses less memory (64 MiB instead of\n"
              "256 MiB) for small hosts. The private key file is registered with yunbakd as\n"
              "a copy of the key held by you (or --holder NAME), so that a decommission\n"
              "destroys it too; without yunbakd (or with --no-register) it says so, and\n"
              "'yunbak key register DIR/ID.key' registers it later.\n"
              "\n"
              "show prints a key file's system and key id.\n",
              f);
}

/* Registers the new private key file with yunbakd, and says plainly when it could not: the
 * key pair is made either way. */
static void register_new(const char *key_path, const char *holder, const char *socket) {
        _cleanup_(json_decrefp) json_t *copy = NULL;
        char why[1200];
        CliCtl ctl;
        int64_t id = 0;
        int r;

        cli_ctl_init(&ctl, socket);
        r = cli_key_register_file(&ctl, key_path, holder, &copy, why, sizeof(why));
        if (r == YB_EXIT_USAGE) /* 400: another key id, or a holder who may not hold it */
                printf("Not registered with yunbakd: %s. A handover key (for a final export) is "
                       "never registered: it is not a copy of the key a decommission destroys. "
                       "Otherwise register it once that is put right: 'yunbak key register %s "
                       "[--holder NAME]'.\n",
                       why, key_path);
        else if (r != 0)
                printf("Not registered with yunbakd: %s. Register it once yunbakd answers and "
                       "holds the system's public key (its keys/ID.pub, which the operations "
                       "unit installs): 'yunbak key register %s'.\n",
                       why, key_path);
        if (r != 0)
                return;
        (void) cli_json_int(copy, "id", &id);
        printf("Registered with yunbakd as key copy %" PRId64 ", held by %s.\n", id,
               cli_json_str(copy, "holder") ?: "?");
}

static int key_init(int argc, char **argv) {
        static const struct option opts[] = {
                { "system", required_argument, NULL, 's' },
                { "out", required_argument, NULL, 'o' },
                { "passphrase-file", required_argument, NULL, 'p' },
                { "kdf", required_argument, NULL, 'k' },
                { "holder", required_argument, NULL, 'H' },
                { "no-register", no_argument, NULL, 'n' },
                { "socket", required_argument, NULL, 'U' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(yb_secret_key_freep) YbSecretKey *key = NULL;
        const char *holder = NULL, *socket = NULL;
        bool no_register = false;
        _cleanup_free_ char *pub_path = NULL, *key_path = NULL;
        const char *system = NULL, *out = NULL, *passfile = NULL, *e = getenv("YUNBAK_KDF");
        YbKdfProfile kdf = e && streq(e, "interactive") ? YB_KDF_INTERACTIVE : YB_KDF_MODERATE;
        char *pass = NULL, kid[2 * YB_KEY_ID_SIZE + 1];
        struct stat st;
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 's':
                        system = optarg;
                        break;
                case 'o':
                        out = optarg;
                        break;
                case 'p':
                        passfile = optarg;
                        break;
                case 'k':
                        if (streq(optarg, "moderate"))
                                kdf = YB_KDF_MODERATE;
                        else if (streq(optarg, "interactive"))
                                kdf = YB_KDF_INTERACTIVE;
                        else {
                                log_error("--kdf must be moderate or interactive, not '%s'.",
                                          optarg);
                                return YB_EXIT_USAGE;
                        }
                        break;
                case 'H':
                        holder = optarg;
                        break;
                case 'n':
                        no_register = true;
                        break;
                case 'U':
                        socket = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return YB_EXIT_OK;
                default:
                        return cli_usage_error("key");
                }
        }
        if (optind != argc) {
                log_error("key init takes no arguments but its options: '%s' is one too many.",
                          argv[optind]);
                return cli_usage_error("key");
        }
        r = cli_need_options("key init", "--system ID", system, "--out DIR", out, NULL);
        if (r != 0)
                return r;
        if (cli_check_system_id(system) != 0)
                return YB_EXIT_USAGE;
        /* A new directory for keys is the owner's alone (0700); an existing one is left as it
         * is. */
        r = yb_mkdir_p_at(AT_FDCWD, out, 0700);
        if (r < 0 || stat(out, &st) < 0 || !S_ISDIR(st.st_mode)) {
                log_error("Cannot create the output directory '%s': %s", out,
                          strerror(r < 0 ? -r : ENOTDIR));
                return YB_EXIT_FAILED;
        }
        if (asprintf(&pub_path, "%s/%s.pub", out, system) < 0 ||
            asprintf(&key_path, "%s/%s.key", out, system) < 0)
                return YB_EXIT_FAILED;
        if (access(pub_path, F_OK) == 0 || access(key_path, F_OK) == 0) {
                log_error("'%s' or '%s' already exists; a key pair is never overwritten "
                          "(backups sealed to it would become unreadable).",
                          pub_path, key_path);
                return YB_EXIT_FAILED;
        }
        r = cli_get_passphrase(passfile, true, &pass);
        if (r != 0)
                return r;
        r = yb_key_generate(system, &key);
        if (r >= 0)
                r = yb_secret_key_write(key_path, key, pass, kdf);
        cli_passphrase_free(pass);
        if (r < 0) {
                log_error("Cannot write '%s': %s", key_path, strerror(-r));
                return YB_EXIT_FAILED;
        }
        r = yb_public_key_write(pub_path, &key->pub);
        if (r < 0) {
                (void) unlink(key_path);
                log_error("Cannot write '%s': %s", pub_path, strerror(-r));
                return YB_EXIT_FAILED;
        }
        yb_key_id_hex(key->pub.id, kid);
        printf("Key pair of system '%s' created (key id %s):\n", system, kid);
        printf("  %s  public: give it to the operations unit and the agents\n", pub_path);
        printf("  %s  private, passphrase-protected: keep it safe; restores need it\n", key_path);
        if (!no_register)
                register_new(key_path, holder, socket);
        else
                printf("Not registered with yunbakd (--no-register). A handover key for a "
                       "decommission's final export is the department's and is never registered. "
                       "If this is the system's own key, register it and every copy of it "
                       "('yunbak key register %s'), so that its decommission destroys them all.\n",
                       key_path);
        return YB_EXIT_OK;
}

static int key_show(int argc, char **argv) {
        static const struct option opts[] = {
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        bool json = false, private = false;
        struct stat st;
        YbPublicKey pub;
        char kid[2 * YB_KEY_ID_SIZE + 1];
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                if (c == 'j')
                        json = true;
                else if (c == 'h') {
                        usage(stdout);
                        return YB_EXIT_OK;
                } else
                        return cli_usage_error("key");
        }
        if (optind + 1 != argc) {
                log_error("key show needs one key file.");
                return cli_usage_error("key");
        }
        /* Read once, never blocking on a FIFO, nothing larger than a key file. */
        r = cli_key_read(AT_FDCWD, argv[optind], argv[optind], 0, "key show", &b, &st, NULL);
        if (r != 0)
                return r;
        r = yb_public_key_parse((const char *) b.data, b.size, &pub);
        if (r == -EBADMSG) {
                /* A private key file carries the same public fields under another type. */
                r = yb_secret_key_parse_public(b.data, b.size, &pub);
                if (r == -ENOKEY)
                        r = -EBADMSG;
                private = r >= 0;
        }
        sodium_memzero(b.data, b.size);
        if (r < 0) {
                log_error("'%s' is not a yunbak key file: %s", argv[optind],
                          r == -EBADMSG ? "unrecognised content" : strerror(-r));
                return r == -EBADMSG ? YB_EXIT_KEY : YB_EXIT_FAILED;
        }
        yb_key_id_hex(pub.id, kid);
        if (json)
                printf("{\"system\": \"%s\", \"key_id\": \"%s\", \"half\": \"%s\"}\n", pub.system,
                       kid, private ? "private" : "public");
        else if (private)
                printf("system %s, key id %s: the private half, passphrase-protected (restores "
                       "need it; keep it safe)\n",
                       pub.system, kid);
        else
                printf("system %s, key id %s: the public half (the agents seal backups to it; "
                       "safe to hand out)\n",
                       pub.system, kid);
        return YB_EXIT_OK;
}

int cli_key(int argc, char **argv) {
        if (argc >= 2 && streq(argv[1], "init"))
                return key_init(argc - 1, argv + 1);
        if (argc >= 2 && streq(argv[1], "show"))
                return key_show(argc - 1, argv + 1);
        if (argc >= 2 && streq(argv[1], "register"))
                return cli_key_register(argc - 1, argv + 1);
        if (argc >= 2 && streq(argv[1], "copy"))
                return cli_key_copy(argc - 1, argv + 1);
        if (argc >= 2 && streq(argv[1], "list"))
                return cli_key_list(argc - 1, argv + 1);
        if (argc >= 2 && streq(argv[1], "destroy"))
                return cli_key_destroy(argc - 1, argv + 1);
        if (argc >= 2 && streq(argv[1], "attest-destroyed"))
                return cli_key_attest(argc - 1, argv + 1);
        if (argc >= 2 && streq(argv[1], "withdraw"))
                return cli_key_withdraw(argc - 1, argv + 1);
        if (argc >= 2 && (streq(argv[1], "--help") || streq(argv[1], "-h"))) {
                usage(stdout);
                return YB_EXIT_OK;
        }
        log_error("key needs a subcommand: init, show, register, copy, list, destroy, "
                  "attest-destroyed or withdraw.");
        return cli_usage_error("key");
}
