/*
 * store.c - see include/vppnotify/store.h: pick the backend from the URL and dispatch every
 * operation through its struct vn_store_ops (store_impl.h).
 */
#include "store_impl.h"
#include "vppnotify/secret.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* Record the class of a failed call on st (a fatal class stays) and pass rc through. */
static int note(struct vn_store *st, int rc)
{
    if (rc < 0 && st->last_class != VN_STORE_FATAL)
        st->last_class = vn_store_class_of(rc);
    return rc;
}

/* Run a call unless the handle is fatal: after a failed fsync nothing more is written or read
 * through it (its message stays that of the fatal failure). */
#define CALL(st, call) ((st)->last_class == VN_STORE_FATAL ? VN_EFATAL : note((st), (call)))

struct vn_store *vn_store_open(const char *url, const struct vn_store_options *opts,
                               struct vn_error *err)
{
    static const struct vn_store_options none;
    struct vn__store_url *u = malloc(sizeof(*u));
    struct vn_store *st = NULL;

    if (!opts)
        opts = &none;
    if (!u) {
        vn_error_set(err, -ENOMEM, "cannot open the store: out of memory");
        return NULL;
    }
    if (vn__store_url_parse(url, opts->params, u, err) != 0)
        goto out;
    if (u->backend == VN__STORE_POSTGRES)
        st = vn__store_pg_open(u, opts, err);
    else
        st = vn__store_sqlite_open(u, opts, err);
out:
    vn_wipe(u, sizeof(*u)); /* it may hold a password */
    free(u);
    return st;
}

void vn_store_free(struct vn_store *st)
{
    if (st)
        st->ops->free(st);
}

int vn_store_schema_version(struct vn_store *st, int *current, int *expected)
{
    return CALL(st, st->ops->schema_version(st, current, expected));
}

const char *vn_store_describe(struct vn_store *st)
{
    return st->ops->describe(st);
}

int vn_store_shared(const struct vn_store *st)
{
    return strcmp(st->ops->name, "sqlite") != 0;
}

const char *vn_store_last_error(struct vn_store *st)
{
    return st ? st->last_error : "";
}

enum vn_store_class vn_store_last_class(struct vn_store *st)
{
    return st ? st->last_class : VN_STORE_OK;
}

int vn_store_reconnect(struct vn_store *st)
{
    int rc;

    if (st->last_class == VN_STORE_FATAL)
        return VN_EFATAL; /* the message of the fatal failure stays */
    rc = st->ops->reconnect(st);
    if (rc)
        return note(st, rc);
    st->last_class = VN_STORE_OK;
    st->last_error[0] = '\0';
    return 0;
}

int vn_store_begin(struct vn_store *st)
{
    return CALL(st, st->ops->begin(st));
}

int vn_store_commit(struct vn_store *st)
{
    return CALL(st, st->ops->commit(st));
}

int vn_store_rollback(struct vn_store *st)
{
    return note(st, st->ops->rollback(st)); /* also when fatal: drop the locks */
}

int vn_store_savepoint(struct vn_store *st)
{
    return CALL(st, st->ops->savepoint(st));
}

int vn_store_release(struct vn_store *st)
{
    return CALL(st, st->ops->release(st));
}

int vn_store_rollback_to(struct vn_store *st)
{
    return CALL(st, st->ops->rollback_to(st));
}

int vn_store_optimistic(struct vn_store *st)
{
    if (!st->ops->optimistic)
        return VN_ENOTSUP;
    return CALL(st, st->ops->optimistic(st));
}

int vn_store_notifications_known(struct vn_store *st, const char *const *ids, size_t n)
{
    if (!st->ops->notifications_known)
        return 0;
    return CALL(st, st->ops->notifications_known(st, ids, n));
}

int vn_store_ping(struct vn_store *st)
{
    return CALL(st, st->ops->ping(st));
}

int vn_store_notification_insert(struct vn_store *st, const struct vn_notification_record *r)
{
    return CALL(st, st->ops->notification_insert(st, r));
}

int vn_store_notification_repeat(struct vn_store *st, const char *id,
                                 const uint8_t digest[VN_DIGEST_LEN], int *conflict)
{
    return CALL(st, st->ops->notification_repeat(st, id, digest, conflict));
}

int vn_store_notification_set_state(struct vn_store *st, const char *id, enum vn_nstate state,
                                    const char *error)
{
    return CALL(st, st->ops->notification_set_state(st, id, state, error));
}

int vn_store_notification_body(struct vn_store *st, const char *id, char **body, size_t *len)
{
    return CALL(st, st->ops->notification_body(st, id, body, len));
}

int vn_store_stored_ids(struct vn_store *st, const char *uid, char ***ids, size_t *n)
{
    return CALL(st, st->ops->stored_ids(st, uid, ids, n));
}

int vn_store_quarantine(struct vn_store *st, int64_t received_ms, const char *remote,
                        const char *reason, const void *body, size_t body_len, size_t original_len)
{
    return CALL(st,
                st->ops->quarantine(st, received_ms, remote, reason, body, body_len, original_len));
}

int vn_store_asset_adjust(struct vn_store *st, const char *uid, const char *adam_id,
                          const char *pricing_param, long long d_total, long long d_assigned,
                          long long d_available)
{
    return CALL(st, st->ops->asset_adjust(st, uid, adam_id, pricing_param, d_total, d_assigned,
                                          d_available));
}

int vn_store_assignment_insert(struct vn_store *st, const char *uid, const struct vn_assignment *a)
{
    return CALL(st, st->ops->assignment_insert(st, uid, a));
}

int vn_store_assignment_delete(struct vn_store *st, const char *uid, const struct vn_assignment *a)
{
    return CALL(st, st->ops->assignment_delete(st, uid, a));
}

int vn_store_user_upsert(struct vn_store *st, const char *uid, const struct vn_user *u,
                         const char *status)
{
    return CALL(st, st->ops->user_upsert(st, uid, u, status));
}

int vn_store_subscription_set_counts(struct vn_store *st, const char *uid, const char *adam_id,
                                     const char *parent_adam_id, const struct vn_counts *c)
{
    return CALL(st, st->ops->subscription_set_counts(st, uid, adam_id, parent_adam_id, c));
}

int vn_store_seat_upsert(struct vn_store *st, const char *uid, const struct vn_seat *s)
{
    return CALL(st, st->ops->seat_upsert(st, uid, s));
}

int vn_store_seat_delete(struct vn_store *st, const char *uid, const struct vn_seat *s)
{
    return CALL(st, st->ops->seat_delete(st, uid, s));
}

int vn_store_location_tested(struct vn_store *st, const char *uid, int64_t ms)
{
    return CALL(st, st->ops->location_tested(st, uid, ms));
}

int vn_store_event_note(struct vn_store *st, const struct vn_event_note *e)
{
    return CALL(st, st->ops->event_note(st, e));
}

int vn_store_event_failed_item(struct vn_store *st, const char *event_id, long long error_number,
                               const char *adam_id, const char *pricing_param,
                               const char *client_user_id, const char *serial_number)
{
    return CALL(st, st->ops->event_failed_item(st, event_id, error_number, adam_id, pricing_param,
                                               client_user_id, serial_number));
}

int vn_store_tokens(struct vn_store *st, int64_t now_ms, vn_token_cb cb, void *ud)
{
    return CALL(st, st->ops->tokens(st, now_ms, cb, ud));
}

int vn_store_tokens_version(struct vn_store *st, int64_t *version)
{
    return CALL(st, st->ops->tokens_version(st, version));
}

int vn_store_location_add(struct vn_store *st, const char *uid, const char *name,
                          const uint8_t digest[VN_DIGEST_LEN], int64_t now_ms)
{
    return CALL(st, st->ops->location_add(st, uid, name, digest, now_ms, NULL));
}

int vn_store_location_add_linked(struct vn_store *st, const char *uid, const char *name,
                                 const uint8_t digest[VN_DIGEST_LEN], int64_t now_ms,
                                 const struct vn_location_update *u)
{
    return CALL(st, st->ops->location_add(st, uid, name, digest, now_ms, u));
}

int vn_store_location_remove(struct vn_store *st, const char *uid)
{
    return CALL(st, st->ops->location_remove(st, uid));
}

int vn_store_location_rotate(struct vn_store *st, const char *uid,
                             const uint8_t digest[VN_DIGEST_LEN], int64_t now_ms,
                             int64_t grace_until_ms)
{
    return CALL(st, st->ops->location_rotate(st, uid, digest, now_ms, grace_until_ms));
}

int vn_store_query(struct vn_store *st, enum vn_query q, const struct vn_filter *f, vn_row_cb cb,
                   void *ud)
{
    static const struct vn_filter none;
    struct vn_filter canon;
    struct vn_adam_id adam;
    struct vn_error err = {0};

    if (st->last_class == VN_STORE_FATAL)
        return VN_EFATAL;
    if (!f)
        return note(st, st->ops->query(st, q, &none, cb, ud));
    /* The mirror keeps adamIds in canonical form (notification.h): a filter "0042" means 42. */
    if (f->adam_id) {
        if (vn_adam_id_canonical(f->adam_id, strlen(f->adam_id), &adam, &err) != 0) {
            vn__store_set_error(st, "%s", err.msg);
            return note(st, VN_EPARSE);
        }
        canon = *f;
        canon.adam_id = adam.s;
        f = &canon;
    }
    return note(st, st->ops->query(st, q, f, cb, ud));
}

int vn_store_config_ensure(struct vn_store *st, const char *key, const char *value_if_absent,
                           char **out)
{
    return CALL(st, st->ops->config_ensure(st, key, value_if_absent, out));
}

int vn_store_location_apple(struct vn_store *st, const char *uid, struct vn_location_apple *out)
{
    return CALL(st, st->ops->location_apple(st, uid, out));
}

void vn_location_apple_release(struct vn_location_apple *l)
{
    if (l->stoken) {
        vn_wipe(l->stoken, l->stoken_len);
        free(l->stoken);
    }
    l->stoken = NULL;
    l->stoken_len = 0;
}

int vn_store_apple_uids(struct vn_store *st, char ***uids, size_t *n)
{
    return CALL(st, st->ops->apple_uids(st, uids, n));
}

int vn_store_location_update(struct vn_store *st, const char *uid,
                             const struct vn_location_update *u)
{
    return CALL(st, st->ops->location_update(st, uid, u));
}

int vn_store_sync_asset(struct vn_store *st, const char *uid, int64_t gen, int64_t seen,
                        const char *adam_id, const char *pricing_param, long long total,
                        long long assigned, long long available)
{
    return CALL(st, st->ops->sync_asset(st, uid, gen, seen, adam_id, pricing_param, total, assigned,
                                        available));
}

int vn_store_sync_assignment(struct vn_store *st, const char *uid, int64_t gen, int64_t seen,
                             const struct vn_assignment *a)
{
    return CALL(st, st->ops->sync_assignment(st, uid, gen, seen, a));
}

int vn_store_sync_user(struct vn_store *st, const char *uid, int64_t gen, int64_t seen,
                       const struct vn_user *u)
{
    return CALL(st, st->ops->sync_user(st, uid, gen, seen, u));
}

int vn_store_sync_subscription(struct vn_store *st, const char *uid, int64_t gen, int64_t seen,
                               const char *adam_id, const char *parent_adam_id,
                               const struct vn_counts *c)
{
    return CALL(st, st->ops->sync_subscription(st, uid, gen, seen, adam_id, parent_adam_id, c));
}

int vn_store_sync_seat(struct vn_store *st, const char *uid, int64_t gen, int64_t seen,
                       const struct vn_seat *s)
{
    return CALL(st, st->ops->sync_seat(st, uid, gen, seen, s));
}

int vn_store_sync_sweep(struct vn_store *st, enum vn_mirror_table table, const char *uid,
                        int64_t gen, int64_t since, const struct vn_mirror_scope *scope,
                        long long limit, long long *removed)
{
    static const struct vn_mirror_scope all;

    return CALL(
        st, st->ops->sync_sweep(st, table, uid, gen, since, scope ? scope : &all, limit, removed));
}

int vn_store_sync_state_get(struct vn_store *st, const char *uid, struct vn_sync_state *out)
{
    return CALL(st, st->ops->sync_state_get(st, uid, out));
}

int vn_store_sync_state_put(struct vn_store *st, const char *uid, const struct vn_sync_state *s)
{
    return CALL(st, st->ops->sync_state_put(st, uid, s));
}

int vn_store_event_track(struct vn_store *st, const struct vn_event_track *t)
{
    return CALL(st, st->ops->event_track(st, t));
}

int vn_store_events_tracking(struct vn_store *st, const char *uid, vn_tracked_cb cb, void *ud)
{
    return CALL(st, st->ops->events_tracking(st, uid, cb, ud));
}

int vn_store_event_tracking_update(struct vn_store *st, const char *event_id,
                                   const struct vn_event_tracking_update *u)
{
    return CALL(st, st->ops->event_tracking_update(st, event_id, u));
}

int vn_store_location_unrotate(struct vn_store *st, const char *uid,
                               const uint8_t digest[VN_DIGEST_LEN])
{
    return CALL(st, st->ops->location_unrotate(st, uid, digest));
}

void vn_store_url_redact(const char *url, char *out, size_t outlen)
{
    vn__store_url_redact(url, out, outlen);
}

/* ---- operations: /metrics, the dashboard, backups (deploy) ---------------------------------- */

int vn_store_event_counts(struct vn_store *st, int64_t now_ms, struct vn_event_counts *out)
{
    return CALL(st, st->ops->event_counts(st, now_ms, out));
}

int vn_store_last_notification(struct vn_store *st, const char *uid, int64_t *ms)
{
    return CALL(st, st->ops->last_notification(st, uid, ms));
}

int vn_store_recent_notifications(struct vn_store *st, long long limit, vn_row_cb cb, void *ud)
{
    return CALL(st, st->ops->recent_notifications(st, limit, cb, ud));
}

int vn_store_backup(struct vn_store *st, const char *path)
{
    return CALL(st, st->ops->backup(st, path));
}

/* ---- rejected requests (endpoint) -------------------------------------------------------- */

static int no_rejections(struct vn_store *st)
{
    vn__store_set_error(st, "the %s store does not keep rejected requests", st->ops->name);
    return VN_ENOTSUP;
}

int vn_store_rejections_add(struct vn_store *st, const struct vn_rejection *rows, size_t n,
                            long long max_rows, int64_t before_ms)
{
    if (!st->ops->rejections_add)
        return note(st, no_rejections(st));
    return CALL(st, st->ops->rejections_add(st, rows, n, max_rows, before_ms));
}

int vn_store_rejections(struct vn_store *st, int64_t since_ms, long long limit, vn_row_cb cb,
                        void *ud)
{
    if (!st->ops->rejections)
        return note(st, no_rejections(st));
    return CALL(st, st->ops->rejections(st, since_ms, limit, cb, ud));
}

/* ---- leases ---------------------------------------------------------------------------- */

int vn_store_lease_take(struct vn_store *st, const char *name, const char *holder, int64_t ttl_ms,
                        int *held)
{
    *held = 0;
    if (!name || !*name || !holder || !*holder || ttl_ms <= 0) {
        vn__store_set_error(st, "a lease needs a name, a holder and a positive duration");
        return VN_EPARSE;
    }
    return CALL(st, st->ops->lease_take(st, name, holder, ttl_ms, held));
}

int vn_store_lease_release(struct vn_store *st, const char *name, const char *holder)
{
    return CALL(st, st->ops->lease_release(st, name, holder));
}

int vn_store_mutex_lock(struct vn_store *st, const char *name, int64_t wait_ms, int *held)
{
    *held = 0;
    if (!name || !*name || wait_ms < 0) {
        vn__store_set_error(st, "a mutex needs a name and a wait of 0 ms or more");
        return VN_EPARSE;
    }
    if (!st->ops->mutex_lock) {
        *held = 1;
        return 0;
    }
    return CALL(st, st->ops->mutex_lock(st, name, wait_ms, held));
}

int vn_store_mutex_unlock(struct vn_store *st, const char *name, int *lost)
{
    *lost = 0;
    if (!st->ops->mutex_unlock)
        return 0;
    return CALL(st, st->ops->mutex_unlock(st, name, lost));
}

int vn_store_mutex_fence(struct vn_store *st, const char *name, const char *token, int64_t hold_ms,
                         int *held)
{
    *held = 0;
    if (!name || !*name || !token || !*token || hold_ms < 0) {
        vn__store_set_error(st, "a mutex fence needs a name, a token and a time of 0 ms or more");
        return VN_EPARSE;
    }
    if (!st->ops->mutex_fence) {
        *held = hold_ms > 0;
        return 0;
    }
    return CALL(st, st->ops->mutex_fence(st, name, token, hold_ms, held));
}

/* ---- convergence (contract 3.1) ---------------------------------------------------------- */

int vn_store_clock_tick(struct vn_store *st, int64_t *clock)
{
    return CALL(st, st->ops->clock_tick(st, clock));
}

int vn_store_clock(struct vn_store *st, int64_t *clock)
{
    return CALL(st, st->ops->clock(st, clock));
}

int vn_store_assignment_keys_known(struct vn_store *st, const char *uid,
                                   const struct vn_mirror_scope *keys, size_t n)
{
    if (!st->ops->assignment_keys_known)
        return 0;
    return CALL(st, st->ops->assignment_keys_known(st, uid, keys, n));
}

int vn_store_key_state(struct vn_store *st, enum vn_mirror_table table, const char *uid,
                       const struct vn_mirror_scope *key, struct vn_key_state *out)
{
    return CALL(st, st->ops->key_state(st, table, uid, key, out));
}

int vn_store_key_event(struct vn_store *st, enum vn_mirror_table table, const char *uid,
                       const struct vn_mirror_scope *key, const char *event_id)
{
    return CALL(st, st->ops->key_event(st, table, uid, key, event_id));
}

int vn_store_event_send_seq(struct vn_store *st, const char *event_id, long long *seq)
{
    return CALL(st, st->ops->event_send_seq(st, event_id, seq));
}

int vn_store_verify_add(struct vn_store *st, enum vn_mirror_table table, const char *uid,
                        const struct vn_mirror_scope *key, const char *reason)
{
    return CALL(st, st->ops->verify_add(st, table, uid, key, reason));
}

int vn_store_verify_list(struct vn_store *st, const char *uid, long long limit, vn_verify_cb cb,
                         void *ud)
{
    return CALL(st, st->ops->verify_list(st, uid, limit, cb, ud));
}

int vn_store_verify_done(struct vn_store *st, long long id, const char *error)
{
    return CALL(st, st->ops->verify_done(st, id, error));
}

int vn_store_tombstones_purge(struct vn_store *st, int64_t before_ms, long long limit,
                              long long *removed)
{
    return CALL(st, st->ops->tombstones_purge(st, before_ms, limit, removed));
}

int vn_store_mark_needs_sync(struct vn_store *st, const char *uid, const char *adam_id,
                             const char *pricing_param)
{
    return CALL(st, st->ops->mark_needs_sync(st, uid, adam_id, pricing_param));
}

int vn_store_seat_count(struct vn_store *st, const char *uid, const char *adam_id,
                        long long *renewing, long long *expiring)
{
    return CALL(st, st->ops->seat_count(st, uid, adam_id, renewing, expiring));
}

/* ---- reading a row ------------------------------------------------------------------------ */

const struct vn_value *vn_row_value(const struct vn_row *r, const char *key)
{
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->keys[i], key))
            return &r->vals[i];
    return NULL;
}

const char *vn_row_text(const struct vn_row *r, const char *key)
{
    const struct vn_value *v = vn_row_value(r, key);

    return v && (v->type == VN_V_TEXT || v->type == VN_V_JSON) ? v->s : NULL;
}

long long vn_row_int(const struct vn_row *r, const char *key)
{
    const struct vn_value *v = vn_row_value(r, key);

    return v && (v->type == VN_V_INT || v->type == VN_V_BOOL) ? v->i : 0;
}
