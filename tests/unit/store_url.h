/*
 * store_url.h - the store a unit test opens: VN_TEST_STORE_URL when set, in which "{dir}"
 * becomes the test's own temporary directory and "{test}" a name unique to the test (for a
 * backend that isolates tests by schema or database); else out keeps what the caller put
 * there (an SQLite file in that directory). Header-only: include it once per test program.
 */
#ifndef VPPNOTIFY_TESTS_STORE_URL_H
#define VPPNOTIFY_TESTS_STORE_URL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vppnotify/util.h"

/* Copy tmpl to out replacing {dir} and {test}. */
__attribute__((unused)) static void expand_url(const char *tmpl, const char *dir, char *out,
                                               size_t outlen)
{
    static unsigned serial;
    char test[48];
    size_t o = 0;

    snprintf(test, sizeof(test), "t%ld_%u", (long)getpid(), ++serial);
    while (*tmpl && o + 1 < outlen) {
        const char *sub = NULL;

        if (!strncmp(tmpl, "{dir}", 5))
            sub = dir;
        else if (!strncmp(tmpl, "{test}", 6))
            sub = test;
        if (sub) {
            o += vn_strlcpy(out + o, sub, outlen - o);
            if (o >= outlen)
                o = outlen - 1;
            tmpl += sub == dir ? 5 : 6;
        } else {
            out[o++] = *tmpl++;
        }
    }
    out[o] = '\0';
}

/* out: the URL of VN_TEST_STORE_URL for the test's directory dir, if set; else unchanged. 1
 * when it is not SQLite's default (the environment named a store). */
__attribute__((unused)) static int test_store_url(const char *dir, char *out, size_t outlen)
{
    const char *tmpl = getenv("VN_TEST_STORE_URL");

    if (!tmpl || !*tmpl)
        return 0;
    expand_url(tmpl, dir, out, outlen);
    return 1;
}

#endif
