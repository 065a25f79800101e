// Typed, non-variadic wrappers over libcurl for Swift.
//
// `curl_easy_setopt`, `curl_easy_getinfo`, `curl_multi_setopt` are variadic C functions, which Swift cannot
// call. Each wrapper below fixes one argument type. Callback types are typedef'd so Swift closures passed to
// them are `@convention(c)`.
#ifndef CCURL_SHIM_H
#define CCURL_SHIM_H

#include <curl/curl.h>
#include <stddef.h>
#include <sys/types.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

typedef size_t (*ccurl_data_cb)(char *buffer, size_t size, size_t nitems, void *userdata);

static inline CURLcode ccurl_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_cstr(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_ptr(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_data_cb(CURL *handle, CURLoption option, ccurl_data_cb value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode ccurl_easy_getinfo_ptr(CURL *handle, CURLINFO info, void **value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLMcode ccurl_multi_setopt_long(CURLM *handle, CURLMoption option, long value) {
    return curl_multi_setopt(handle, option, value);
}

static inline CURLSHcode ccurl_share_setopt_long(CURLSH *share, CURLSHoption option, long value) {
    return curl_share_setopt(share, option, value);
}

static inline CURLSHcode ccurl_share_setopt_ptr(CURLSH *share, CURLSHoption option, void *value) {
    return curl_share_setopt(share, option, value);
}

static inline CURLSHcode ccurl_share_setopt_lock(CURLSH *share, curl_lock_function value) {
    return curl_share_setopt(share, CURLSHOPT_LOCKFUNC, value);
}

static inline CURLSHcode ccurl_share_setopt_unlock(CURLSH *share, curl_unlock_function value) {
    return curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, value);
}

/// `CURLVERSION_NOW` is a macro aliasing a macro and does not import into Swift.
static inline curl_version_info_data *ccurl_version_info_now(void) {
    return curl_version_info(CURLVERSION_NOW);
}

/// The `CURLMsg.data.result` union member, read in C.
static inline CURLcode ccurl_msg_result(CURLMsg *msg) {
    return msg->data.result;
}

/// Names the calling thread (the curl loop) for `top`, `perf` and gdb; `prctl` is variadic, so Swift cannot
/// call it.
static inline void ccurl_set_thread_name(const char *name) {
#ifdef __linux__
    prctl(PR_SET_NAME, name, 0, 0, 0);
#endif
}

#endif
