/*
 * store_test.h - what the store's unit tests share: a fresh store per test, and query rows
 * rendered as text the way a user reads them.
 *
 * The store is named by the environment variable VN_TEST_STORE_URL, in which "{dir}" becomes
 * the test's own temporary directory and "{test}" a name unique to the test (for a backend
 * that isolates tests by schema or database). Without it, or when the including file defines
 * VN_TEST_SQLITE_ONLY (tests of SQLite-only behaviour), it is an SQLite file in that directory
 * (f->path). Tests that use only store.h open f->url, so a second backend runs them unchanged.
 *
 * Header-only (static functions) on purpose: each test program includes it once. Include it
 * after cmocka.h. Each including file defines VN_TEST_DIR_PREFIX before including.
 */
#ifndef VPPNOTIFY_TESTS_STORE_TEST_H
#define VPPNOTIFY_TESTS_STORE_TEST_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vppnotify/error.h"
#include "vppnotify/store.h"
#include "vppnotify/util.h"

#include "store_url.h"

#ifndef VN_TEST_DIR_PREFIX
#define VN_TEST_DIR_PREFIX "/tmp/vn_test_"
#endif

struct fx {
    char dir[64];
    char path[128]; /* the SQLite file in dir */
    char url[512];  /* the store the test opens (see above) */
    struct vn_store *st;
};

static void rm_dir(const char *dir)
{
    char p[256];
    struct dirent *e;
    DIR *d = opendir(dir);

    if (!d)
        return;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* cmocka setup: a new database, migrated, in a new directory. */
static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct vn_error err = {0};

    if (!f)
        return -1;
    vn_strlcpy(f->dir, VN_TEST_DIR_PREFIX "XXXXXX", sizeof(f->dir));
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/vn.db", f->dir);
    vn_strlcpy(f->url, f->path, sizeof(f->url));
#ifndef VN_TEST_SQLITE_ONLY
    test_store_url(f->dir, f->url, sizeof(f->url));
#endif
    f->st = vn_store_open(f->url, NULL, &err);
    if (!f->st) {
        fprintf(stderr, "open '%s': %s\n", f->url, err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    vn_store_free(f->st);
    rm_dir(f->dir);
    free(f);
    return 0;
}

#define MAXROWS 64

struct rows {
    size_t n;
    char text[MAXROWS][512];
};

/* Keys that events and location list add once an event is tracked or a location talks to
 * Apple (contract section 4, "+ ... once tracked/subscribed"): left out while NULL, as the JSON
 * output leaves them out, so that these rows read as they did before issue 4. */
static int later_key(const char *key)
{
    static const char *const keys[] = {"tracked",         "requestedAt",     "status",
                                       "numRequested",    "numCompleted",    "expectedItems",
                                       "notifiedItems",   "failures",        "deferred",
                                       "polls",           "lastPollAt",      "notificationsMissing",
                                       "stalled",         "resync",          "completedAt",
                                       "orgName",         "tokenStatus",     "tokenExpirationDate",
                                       "tokenError",      "notificationUrl", "notificationTypes",
                                       "subscribedAt",    "takeover",        "lastFullSyncAt",
                                       "lastDeltaSyncAt", "lastSyncError",   "lastSyncDrift"};

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (!strcmp(keys[i], key))
            return 1;
    return 0;
}

/* A vn_row_cb: one row as "k1=v1 k2=v2 ...": NULL as null, BOOL as true/false, JSON and text
 * verbatim. Stops (returns 1) past MAXROWS rows or a row longer than a text slot. */
static int render(void *ud, const struct vn_row *row)
{
    struct rows *r = ud;
    char *p;
    size_t k, left;
    int w;

    if (r->n >= MAXROWS)
        return 1;
    p = r->text[r->n];
    left = sizeof(r->text[0]);
    p[0] = '\0';
    for (k = 0; k < row->n; k++) {
        const struct vn_value *v = &row->vals[k];
        const char *sep = k ? " " : "";

        if (v->type == VN_V_NULL && later_key(row->keys[k]))
            continue;
        if (!strcmp(row->keys[k], "updatedAt"))
            continue; /* a time (the change log's): tests never assert one */
        switch (v->type) {
        case VN_V_NULL:
            w = snprintf(p, left, "%s%s=null", sep, row->keys[k]);
            break;
        case VN_V_INT:
            w = snprintf(p, left, "%s%s=%lld", sep, row->keys[k], v->i);
            break;
        case VN_V_BOOL:
            w = snprintf(p, left, "%s%s=%s", sep, row->keys[k], v->i ? "true" : "false");
            break;
        default:
            w = snprintf(p, left, "%s%s=%s", sep, row->keys[k], v->s);
            break;
        }
        if (w < 0 || (size_t)w >= left)
            return 1;
        p += w;
        left -= (size_t)w;
    }
    r->n++;
    return 0;
}

#endif
