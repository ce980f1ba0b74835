/* libssh2, which SFTP stores (store-sftp.c, sftp-conn.c, ssh-session.c, known-hosts.c) and
 * yunbakd's runs over SSH (orchestrator/runner-ssh.c) use, loaded by the first SSH session
 * (core/base/dynlib.h): each function they call, under its own name (the header's macros, such
 * as libssh2_channel_read, call these). */
#include <libssh2.h>
#include <libssh2_sftp.h>

#include "core/store/dynlibs.h"

YbDynLib yb_libssh2 = YB_DYNLIB_INIT("libssh2.so.1", "libssh2-1", "SFTP stores and runs over SSH");

YB_DYNLIB_FN(yb_libssh2, int, libssh2_channel_eof, (LIBSSH2_CHANNEL * channel), (channel))
YB_DYNLIB_FN(yb_libssh2, int, libssh2_channel_free, (LIBSSH2_CHANNEL * channel), (channel))
YB_DYNLIB_FN(yb_libssh2, int, libssh2_channel_get_exit_signal,
             (LIBSSH2_CHANNEL * channel, char **exitsignal, size_t *exitsignal_len, char **errmsg,
              size_t *errmsg_len, char **langtag, size_t *langtag_len),
             (channel, exitsignal, exitsignal_len, errmsg, errmsg_len, langtag, langtag_len))
YB_DYNLIB_FN(yb_libssh2, int, libssh2_channel_get_exit_status, (LIBSSH2_CHANNEL * channel),
             (channel))
YB_DYNLIB_FN(yb_libssh2, LIBSSH2_CHANNEL *, libssh2_channel_open_ex,
             (LIBSSH2_SESSION * session, const char *channel_type, unsigned int channel_type_len,
              unsigned int window_size, unsigned int packet_size, const char *message,
              unsigned int message_len),
             (session, channel_type, channel_type_len, window_size, packet_size, message,
              message_len))
YB_DYNLIB_FN(yb_libssh2, int, libssh2_channel_process_startup,
             (LIBSSH2_CHANNEL * channel, const char *request, unsigned int request_len,
              const char *message, unsigned int message_len),
             (channel, request, request_len, message, message_len))
YB_DYNLIB_FN(yb_libssh2, ssize_t, libssh2_channel_read_ex,
             (LIBSSH2_CHANNEL * channel, int stream_id, char *buf, size_t buflen),
             (channel, stream_id, buf, buflen))
YB_DYNLIB_FN(yb_libssh2, int, libssh2_channel_send_eof, (LIBSSH2_CHANNEL * channel), (channel))
YB_DYNLIB_FN(yb_libssh2, int, libssh2_channel_wait_closed, (LIBSSH2_CHANNEL * channel), (channel))
YB_DYNLIB_FN(yb_libssh2, unsigned long, libssh2_channel_window_write_ex,
             (LIBSSH2_CHANNEL * channel, unsigned long *window_size_initial),
             (channel, window_size_initial))
YB_DYNLIB_FN(yb_libssh2, ssize_t, libssh2_channel_write_ex,
             (LIBSSH2_CHANNEL * channel, int stream_id, const char *buf, size_t buflen),
             (channel, stream_id, buf, buflen))
YB_DYNLIB_VOID_FN(yb_libssh2, libssh2_free, (LIBSSH2_SESSION * session, void *ptr), (session, ptr))
YB_DYNLIB_FN(yb_libssh2, const char *, libssh2_hostkey_hash,
             (LIBSSH2_SESSION * session, int hash_type), (session, hash_type))
YB_DYNLIB_FN(yb_libssh2, int, libssh2_init, (int flags), (flags))
YB_DYNLIB_FN(yb_libssh2, int, libssh2_knownhost_checkp,
             (LIBSSH2_KNOWNHOSTS * hosts, const char *host, int port, const char *key,
              size_t keylen, int typemask, struct libssh2_knownhost **knownhost),
             (hosts, host, port, key, keylen, typemask, knownhost))
YB_DYNLIB_VOID_FN(yb_libssh2, libssh2_knownhost_free, (LIBSSH2_KNOWNHOSTS * hosts), (hosts))
YB_DYNLIB_FN(yb_libssh2, int, libssh2_knownhost_get,
             (LIBSSH2_KNOWNHOSTS * hosts, struct libssh2_knownhost **store,
              struct libssh2_knownhost *prev),
             (hosts, store, prev))
YB_DYNLIB_FN(yb_libssh2, LIBSSH2_KNOWNHOSTS *, libssh2_knownhost_init, (LIBSSH2_SESSION * session),
             (session))
YB_DYNLIB_FN(yb_libssh2, int, libssh2_knownhost_readline,
             (LIBSSH2_KNOWNHOSTS * hosts, const char *line, size_t len, int type),
             (hosts, line, len, type))
YB_DYNLIB_FN(yb_libssh2, int, libssh2_session_block_directions, (LIBSSH2_SESSION * session),
             (session))
YB_DYNLIB_FN(yb_libssh2, int, libssh2_session_disconnect_ex,
             (LIBSSH2_SESSION * session, int reason, const char *description, const char *lang),
             (session, reason, description, lang))
YB_DYNLIB_FN(yb_libssh2, int, libssh2_session_free, (LIBSSH2_SESSION * session), (session))
YB_DYNLIB_FN(yb_libssh2, int, libssh2_session_handshake,
             (LIBSSH2_SESSION * session, libssh2_socket_t sock), (session, sock))
YB_DYNLIB_FN(yb_libssh2, const char *, libssh2_session_hostkey,
             (LIBSSH2_SESSION * session, size_t *len, int *type), (session, len, type))
YB_DYNLIB_FN(yb_libssh2, LIBSSH2_SESSION *, libssh2_session_init_ex,
             (LIBSSH2_ALLOC_FUNC((*my_alloc)), LIBSSH2_FREE_FUNC((*my_free)),
              LIBSSH2_REALLOC_FUNC((*my_realloc)), void *abstract),
             (my_alloc, my_free, my_realloc, abstract))
YB_DYNLIB_FN(yb_libssh2, int, libssh2_session_last_errno, (LIBSSH2_SESSION * session), (session))
YB_DYNLIB_FN(yb_libssh2, int, libssh2_session_last_error,
             (LIBSSH2_SESSION * session, char **errmsg, int *errmsg_len, int want_buf),
             (session, errmsg, errmsg_len, want_buf))
YB_DYNLIB_VOID_FN(yb_libssh2, libssh2_session_set_blocking,
                  (LIBSSH2_SESSION * session, int blocking), (session, blocking))
YB_DYNLIB_VOID_FN(yb_libssh2, libssh2_session_set_timeout,
                  (LIBSSH2_SESSION * session, long timeout), (session, timeout))
YB_DYNLIB_FN(yb_libssh2, int, libssh2_sftp_close_handle, (LIBSSH2_SFTP_HANDLE * handle), (handle))
YB_DYNLIB_FN(yb_libssh2, int, libssh2_sftp_fsync, (LIBSSH2_SFTP_HANDLE * handle), (handle))
YB_DYNLIB_FN(yb_libssh2, LIBSSH2_CHANNEL *, libssh2_sftp_get_channel, (LIBSSH2_SFTP * sftp), (sftp))
YB_DYNLIB_FN(yb_libssh2, LIBSSH2_SFTP *, libssh2_sftp_init, (LIBSSH2_SESSION * session), (session))
YB_DYNLIB_FN(yb_libssh2, unsigned long, libssh2_sftp_last_error, (LIBSSH2_SFTP * sftp), (sftp))
YB_DYNLIB_FN(yb_libssh2, int, libssh2_sftp_mkdir_ex,
             (LIBSSH2_SFTP * sftp, const char *path, unsigned int path_len, long mode),
             (sftp, path, path_len, mode))
YB_DYNLIB_FN(yb_libssh2, LIBSSH2_SFTP_HANDLE *, libssh2_sftp_open_ex,
             (LIBSSH2_SFTP * sftp, const char *filename, unsigned int filename_len,
              unsigned long flags, long mode, int open_type),
             (sftp, filename, filename_len, flags, mode, open_type))
YB_DYNLIB_FN(yb_libssh2, ssize_t, libssh2_sftp_read,
             (LIBSSH2_SFTP_HANDLE * handle, char *buffer, size_t buffer_maxlen),
             (handle, buffer, buffer_maxlen))
YB_DYNLIB_FN(yb_libssh2, int, libssh2_sftp_readdir_ex,
             (LIBSSH2_SFTP_HANDLE * handle, char *buffer, size_t buffer_maxlen, char *longentry,
              size_t longentry_maxlen, LIBSSH2_SFTP_ATTRIBUTES *attrs),
             (handle, buffer, buffer_maxlen, longentry, longentry_maxlen, attrs))
YB_DYNLIB_FN(yb_libssh2, int, libssh2_sftp_rename_ex,
             (LIBSSH2_SFTP * sftp, const char *source_filename, unsigned int srouce_filename_len,
              const char *dest_filename, unsigned int dest_filename_len, long flags),
             (sftp, source_filename, srouce_filename_len, dest_filename, dest_filename_len, flags))
YB_DYNLIB_FN(yb_libssh2, int, libssh2_sftp_rmdir_ex,
             (LIBSSH2_SFTP * sftp, const char *path, unsigned int path_len), (sftp, path, path_len))
YB_DYNLIB_VOID_FN(yb_libssh2, libssh2_sftp_seek64,
                  (LIBSSH2_SFTP_HANDLE * handle, libssh2_uint64_t offset), (handle, offset))
YB_DYNLIB_FN(yb_libssh2, int, libssh2_sftp_shutdown, (LIBSSH2_SFTP * sftp), (sftp))
YB_DYNLIB_FN(yb_libssh2, int, libssh2_sftp_stat_ex,
             (LIBSSH2_SFTP * sftp, const char *path, unsigned int path_len, int stat_type,
              LIBSSH2_SFTP_ATTRIBUTES *attrs),
             (sftp, path, path_len, stat_type, attrs))
YB_DYNLIB_FN(yb_libssh2, int, libssh2_sftp_unlink_ex,
             (LIBSSH2_SFTP * sftp, const char *filename, unsigned int filename_len),
             (sftp, filename, filename_len))
YB_DYNLIB_FN(yb_libssh2, ssize_t, libssh2_sftp_write,
             (LIBSSH2_SFTP_HANDLE * handle, const char *buffer, size_t count),
             (handle, buffer, count))
YB_DYNLIB_FN(yb_libssh2, int, libssh2_userauth_publickey_fromfile_ex,
             (LIBSSH2_SESSION * session, const char *username, unsigned int username_len,
              const char *publickey, const char *privatekey, const char *passphrase),
             (session, username, username_len, publickey, privatekey, passphrase))
