/* libcurl and OpenSSL's libcrypto, which S3 stores use (s3-client.c), loaded by the first S3
 * store opened (core/base/dynlib.h): each function the store calls, under its own name. */
#define CURL_DISABLE_TYPECHECK /* curl_easy_setopt and the like are functions here, not macros */
#include <curl/curl.h>
#include <openssl/evp.h>
#include <stdarg.h>

#include "core/store/dynlibs.h"

YbDynLib yb_libcurl = YB_DYNLIB_INIT("libcurl.so.4", "libcurl4", "S3 stores");
YbDynLib yb_libcrypto = YB_DYNLIB_INIT("libcrypto.so.3", "libssl3", "S3 stores");

YB_DYNLIB_FN(yb_libcurl, CURLcode, curl_global_init, (long flags), (flags))
YB_DYNLIB_FN(yb_libcurl, CURL *, curl_easy_init, (void), ())
YB_DYNLIB_VOID_FN(yb_libcurl, curl_easy_cleanup, (CURL * curl), (curl))
YB_DYNLIB_VOID_FN(yb_libcurl, curl_easy_reset, (CURL * curl), (curl))
YB_DYNLIB_FN(yb_libcurl, const char *, curl_easy_strerror, (CURLcode code), (code))
YB_DYNLIB_FN(yb_libcurl, time_t, curl_getdate, (const char *p, const time_t *unused), (p, unused))
YB_DYNLIB_FN(yb_libcurl, CURLM *, curl_multi_init, (void), ())
YB_DYNLIB_FN(yb_libcurl, CURLMcode, curl_multi_cleanup, (CURLM * m), (m))
YB_DYNLIB_FN(yb_libcurl, CURLMcode, curl_multi_add_handle, (CURLM * m, CURL *e), (m, e))
YB_DYNLIB_FN(yb_libcurl, CURLMcode, curl_multi_remove_handle, (CURLM * m, CURL *e), (m, e))
YB_DYNLIB_FN(yb_libcurl, CURLMsg *, curl_multi_info_read, (CURLM * m, int *msgs_in_queue),
             (m, msgs_in_queue))
YB_DYNLIB_FN(yb_libcurl, CURLMcode, curl_multi_perform, (CURLM * m, int *running), (m, running))
YB_DYNLIB_FN(yb_libcurl, CURLMcode, curl_multi_poll,
             (CURLM * m, struct curl_waitfd extra_fds[], unsigned int extra_nfds, int timeout_ms,
              int *ret),
             (m, extra_fds, extra_nfds, timeout_ms, ret))
YB_DYNLIB_FN(yb_libcurl, CURLMcode, curl_multi_wakeup, (CURLM * m), (m))
YB_DYNLIB_FN(yb_libcurl, struct curl_slist *, curl_slist_append,
             (struct curl_slist * list, const char *s), (list, s))
YB_DYNLIB_VOID_FN(yb_libcurl, curl_slist_free_all, (struct curl_slist * list), (list))

YB_DYNLIB_FN(yb_libcrypto, const EVP_MD *, EVP_sha256, (void), ())
YB_DYNLIB_FN(yb_libcrypto, int, EVP_Digest,
             (const void *data, size_t count, unsigned char *md, unsigned int *size,
              const EVP_MD *type, ENGINE *impl),
             (data, count, md, size, type, impl))

/* The variadic ones take one argument after the option, of the type the option's number says
 * (curl.h: CURLOPTTYPE_*, CURLINFO_*): passed on as that type. */
#define PASS_OPTION(handle, option, ap)                                                            \
        ((option) < CURLOPTTYPE_OBJECTPOINT     ? f((handle), (option), va_arg((ap), long))        \
         : (option) < CURLOPTTYPE_FUNCTIONPOINT ? f((handle), (option), va_arg((ap), void *))      \
         : (option) < CURLOPTTYPE_OFF_T ? f((handle), (option), va_arg((ap), void (*)(void)))      \
         : (option) < CURLOPTTYPE_BLOB  ? f((handle), (option), va_arg((ap), curl_off_t))          \
                                        : f((handle), (option), va_arg((ap), void *)))

CURLcode(curl_easy_setopt)(CURL *curl, CURLoption option, ...) {
        YB_DYNLIB_CALLEE(yb_libcurl, curl_easy_setopt)
        va_list ap;
        CURLcode r;

        va_start(ap, option);
        r = PASS_OPTION(curl, option, ap);
        va_end(ap);
        return r;
}

CURLMcode(curl_multi_setopt)(CURLM *m, CURLMoption option, ...) {
        YB_DYNLIB_CALLEE(yb_libcurl, curl_multi_setopt)
        va_list ap;
        CURLMcode r;

        va_start(ap, option);
        r = PASS_OPTION(m, option, ap);
        va_end(ap);
        return r;
}

/* Every CURLINFO takes a pointer to where the answer goes. */
CURLcode(curl_easy_getinfo)(CURL *curl, CURLINFO info, ...) {
        YB_DYNLIB_CALLEE(yb_libcurl, curl_easy_getinfo)
        va_list ap;
        CURLcode r;

        va_start(ap, info);
        r = f(curl, info, va_arg(ap, void *));
        va_end(ap);
        return r;
}
