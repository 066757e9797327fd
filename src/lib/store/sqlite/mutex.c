/*
 * mutex.c - store.h vn_store_mutex_lock/unlock on SQLite: an open-file-description lock
 * (fcntl F_OFD_SETLK, Linux) on one byte of "<database>-apple.lock" beside the database, the
 * byte chosen by a hash of the name. Such a lock belongs to this handle's open file, not to the
 * process: two handles of one process (serve's tracker, sync and API threads) exclude each
 * other as two processes (serve and the CLI beside it) do, and the lock ends when the file is
 * closed (vn_store_free, or the process dies). The wait polls every 10 ms (F_OFD_SETLKW has no
 * timeout): not in order of arrival, bounded by wait_ms.
 *
 * A database in memory, or a lock file that cannot be opened (a read-only directory): held at
 * once, as a store of one process only (the file's writers cannot be told apart there anyway).
 * Ownership: the descriptor is the handle's (closed by sqlite_free).
 */
#include "sqlite_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MUTEX_BYTES   65536 /* names hash onto this many bytes of the file */
#define MUTEX_POLL_MS 10

/* FNV-1a: the byte of a name (two names sharing one only wait for each other needlessly). */
static off_t name_byte(const char *name)
{
    uint32_t h = 2166136261u;

    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 16777619u;
    return (off_t)(h % MUTEX_BYTES);
}

/* The handle's lock file, opened on first use: its descriptor, or -1 (none: held at once). */
static int lock_file(struct vn__sqlite *s)
{
    char path[4096];

    if (s->mutex_tried)
        return s->mutex_fd;
    s->mutex_tried = 1;
    s->mutex_fd = -1;
    if (!s->memory && snprintf(path, sizeof(path), "%s-apple.lock", s->path) < (int)sizeof(path))
        s->mutex_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    return s->mutex_fd;
}

static int set_lock(int fd, const char *name, short type)
{
    struct flock fl;

    memset(&fl, 0, sizeof(fl));
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = name_byte(name);
    fl.l_len = 1;
    return fcntl(fd, F_OFD_SETLK, &fl);
}

int vn__sq_mutex_lock(struct vn_store *st, const char *name, int64_t wait_ms, int *held)
{
    struct vn__sqlite *s = vn__sq(st);
    int64_t deadline = vn_mono_ns() + wait_ms * 1000000;
    int fd = lock_file(s);

    *held = 0;
    if (fd < 0) {
        *held = 1;
        return 0;
    }
    for (;;) {
        if (set_lock(fd, name, F_WRLCK) == 0) {
            vn_strlcpy(s->mutex_name, name, sizeof(s->mutex_name));
            *held = 1;
            return 0;
        }
        if (errno != EAGAIN && errno != EACCES && errno != EINTR) {
            vn__store_set_error(st, "cannot lock '%s' in '%s-apple.lock': %s", name, s->path,
                                strerror(errno));
            return VN_ESTORE;
        }
        if (vn_mono_ns() >= deadline)
            return 0; /* another handle kept it throughout */
        {
            struct timespec pause = {0, MUTEX_POLL_MS * 1000000L};
            nanosleep(&pause, NULL);
        }
    }
}

int vn__sq_mutex_unlock(struct vn_store *st, const char *name, int *lost)
{
    struct vn__sqlite *s = vn__sq(st);
    int fd = lock_file(s);

    *lost = 0;
    if (fd < 0)
        return 0;
    if (strcmp(s->mutex_name, name) != 0) {
        *lost = 1; /* not held by this handle */
        return 0;
    }
    s->mutex_name[0] = '\0';
    if (set_lock(fd, name, F_UNLCK) != 0) {
        vn__store_set_error(st, "cannot unlock '%s' in '%s-apple.lock': %s", name, s->path,
                            strerror(errno));
        return VN_ESTORE;
    }
    return 0;
}
