/*
 * mutex.c - store.h vn_store_mutex_lock/unlock on SQLite: an open-file-description lock
 * (fcntl F_OFD_SETLK, Linux) on one byte of "<database>-apple.lock" beside the database, the
 * byte chosen by a hash of the name. Such a lock belongs to this handle's open file, not to the
 * process: two handles of one process (serve's tracker, sync and API threads) exclude each
 * other as two processes (serve and the CLI beside it) do, and the lock ends when the file is
 * closed (vn_store_free, or the process dies). The wait polls every 10 ms (F_OFD_SETLKW has no
 * timeout): not in order of arrival, bounded by wait_ms.
 *
 * The fence of a name (vn_store_mutex_fence) is a record in the same file, past the lock bytes:
 * a slot per lock byte holding the name's hash, the token and its expiry by the wall clock
 * (every process of the host reads the same). It is read and written under a lock of its own
 * slot (held for the read-modify-write only), so it outlives the process that wrote it: a
 * request still in flight when its process was killed keeps the next caller waiting until the
 * fence expires. Not durable across a reboot of the host, which no request outlives.
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
#define FENCE_TOKEN   48                   /* a token's bytes in its slot, its NUL included */
#define FENCE_SLOT    (16 + FENCE_TOKEN)   /* expiry (8), name hash (4), unused (4), token */
#define FENCE_BASE    ((off_t)MUTEX_BYTES) /* the slots follow the lock bytes */

/* FNV-1a of a name: its byte is the hash modulo MUTEX_BYTES (two names sharing one only wait
 * for each other needlessly). */
static uint32_t name_hash(const char *name)
{
    uint32_t h = 2166136261u;

    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

static off_t name_byte(const char *name)
{
    return (off_t)(name_hash(name) % MUTEX_BYTES);
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

static int set_range_lock(int fd, off_t start, off_t len, short type, int cmd)
{
    struct flock fl;

    memset(&fl, 0, sizeof(fl));
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = start;
    fl.l_len = len;
    return fcntl(fd, cmd, &fl);
}

static int set_lock(int fd, const char *name, short type)
{
    return set_range_lock(fd, name_byte(name), 1, type, F_OFD_SETLK);
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

/* One slot of fences: the token's fence of the name whose hash it holds, until expires_ms. */
struct fence_slot {
    int64_t expires_ms;
    uint32_t hash;
    char token[FENCE_TOKEN];
};

static int slot_read(int fd, off_t at, struct fence_slot *f)
{
    unsigned char b[FENCE_SLOT];
    ssize_t n = pread(fd, b, sizeof(b), at);
    uint64_t e = 0;

    memset(f, 0, sizeof(*f));
    if (n < 0)
        return -1;
    if (n < (ssize_t)sizeof(b))
        return 0; /* past the file's end: never written, free */
    for (int i = 0; i < 8; i++)
        e |= (uint64_t)b[i] << (8 * i);
    f->expires_ms = (int64_t)e;
    f->hash = (uint32_t)b[8] | (uint32_t)b[9] << 8 | (uint32_t)b[10] << 16 | (uint32_t)b[11] << 24;
    memcpy(f->token, b + 16, FENCE_TOKEN);
    f->token[FENCE_TOKEN - 1] = '\0';
    return 0;
}

static int slot_write(int fd, off_t at, const struct fence_slot *f)
{
    unsigned char b[FENCE_SLOT] = {0};
    uint64_t e = (uint64_t)f->expires_ms;

    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(e >> (8 * i));
    for (int i = 0; i < 4; i++)
        b[8 + i] = (unsigned char)(f->hash >> (8 * i));
    memcpy(b + 16, f->token, FENCE_TOKEN);
    return pwrite(fd, b, sizeof(b), at) == (ssize_t)sizeof(b) ? 0 : -1;
}

static int fence_failed(struct vn__sqlite *s, const char *name, int err)
{
    vn__store_set_error(&s->base, "cannot write the fence of '%s' in '%s-apple.lock': %s", name,
                        s->path, strerror(err));
    return VN_ESTORE;
}

int vn__sq_mutex_fence(struct vn_store *st, const char *name, const char *token, int64_t hold_ms,
                       int *held)
{
    struct vn__sqlite *s = vn__sq(st);
    int fd = lock_file(s);
    uint32_t hash = name_hash(name);
    off_t at = FENCE_BASE + (off_t)(hash % MUTEX_BYTES) * FENCE_SLOT;
    int64_t now = vn_now_ms();
    struct fence_slot f;
    int rc, err = 0, mine, other_runs;

    *held = 0;
    if (strlen(token) >= FENCE_TOKEN) {
        vn__store_set_error(st, "the fence token '%s' is longer than %d bytes", token,
                            FENCE_TOKEN - 1);
        return VN_EPARSE;
    }
    if (fd < 0) {
        *held = hold_ms > 0; /* one process only: nothing to fence */
        return 0;
    }
    while ((rc = set_range_lock(fd, at, FENCE_SLOT, F_WRLCK, F_OFD_SETLKW)) != 0 && errno == EINTR)
        ;
    if (rc)
        return fence_failed(s, name, errno);
    rc = slot_read(fd, at, &f);
    if (!rc) {
        mine = f.hash == hash && strcmp(f.token, token) == 0;
        other_runs = !mine && f.token[0] && f.expires_ms > now; /* any name's: slots are shared */
        if (hold_ms > 0 && !other_runs) {
            memset(&f, 0, sizeof(f));
            f.expires_ms = now + hold_ms;
            f.hash = hash;
            vn_strlcpy(f.token, token, sizeof(f.token));
            rc = slot_write(fd, at, &f);
            *held = rc == 0;
        } else if (hold_ms == 0 && mine) {
            memset(&f, 0, sizeof(f));
            rc = slot_write(fd, at, &f);
        }
    }
    if (rc)
        err = errno ? errno : EIO;
    set_range_lock(fd, at, FENCE_SLOT, F_UNLCK, F_OFD_SETLK);
    return rc ? fence_failed(s, name, err) : 0;
}
