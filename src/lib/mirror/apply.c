/*
 * apply.c - see include/vppnotify/apply.h: contract.md section 3, row by row, on top of the
 * store's primitives (no SQL here, so every backend behaves the same).
 *
 * Counts move only by rows that really changed: an ASSOCIATE that repeats an assignment we
 * already have, or a DISASSOCIATE of one we never saw, changes no count. Deltas are applied
 * exactly, never clamped: they commute, so notifications that arrive out of order converge,
 * and a count that goes negative or inconsistent marks the asset needsSync (the store checks).
 *
 * Order (contract 3.1): Apple retries a notification for minutes, so an ASSOCIATE can arrive
 * after the DISASSOCIATE of the same serial. When a notification of one event changes a key
 * (an assignment, a seat, a user's being active) the opposite way of the key's last change by
 * another event, arrival order does not decide: if vppnotify sent both requests, the one it
 * sent later wins (the other item is skipped); otherwise the change is applied, the asset is
 * marked needsSync and the key queued for a targeted read at Apple, whose answer wins.
 */
#include "vppnotify/apply.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vppnotify/error.h"
#include "vppnotify/notification.h"
#include "vppnotify/store.h"

#define STACK_ITEMS 128 /* Apple sends at most 100 items a notification */

static const char *pricing(const struct vn_assignment *a)
{
    return a->pricing_param ? a->pricing_param : "STDQ";
}

enum order { APPLY, SKIP };

/*
 * Whether the change of key by event ev (adding: it makes the key present/active) may apply,
 * after the key's last change by another event the opposite way. May queue the key for a
 * verification (and mark its asset) when the order is unknown.
 */
static int decide_order(struct vn_store *st, enum vn_mirror_table table, const char *uid,
                        const struct vn_mirror_scope *key, const char *ev, int adding,
                        enum order *out)
{
    struct vn_key_state ks;
    long long seq_ev, seq_last;
    int rc, last_adding;

    *out = APPLY;
    if (!ev)
        return 0;
    rc = vn_store_key_state(st, table, uid, key, &ks);
    if (rc || !ks.event_id[0] || !strcmp(ks.event_id, ev))
        return rc;
    last_adding = table == VN_MT_USERS ? strcmp(ks.status, "Retired") != 0 : ks.present;
    if (last_adding == adding)
        return 0; /* the same way: nothing to decide */
    if (vn_store_event_send_seq(st, ev, &seq_ev) == 0 &&
        vn_store_event_send_seq(st, ks.event_id, &seq_last) == 0) {
        if (seq_ev < seq_last)
            *out = SKIP; /* vppnotify sent this request before the one already applied */
        return 0;
    }
    /* Not both ours: apply for now, mark and verify. */
    if (table == VN_MT_ASSIGNMENTS && key->adam_id) {
        rc = vn_store_mark_needs_sync(st, uid, key->adam_id, key->pricing_param);
        if (rc)
            return rc;
    }
    return vn_store_verify_add(st, table, uid, key,
                               "notifications of two events changed it in opposite ways");
}

static int cmp_asset(const void *pa, const void *pb)
{
    const struct vn_assignment *a = *(const struct vn_assignment *const *)pa;
    const struct vn_assignment *b = *(const struct vn_assignment *const *)pb;
    int c = strcmp(a->adam_id.s, b->adam_id.s);

    return c ? c : strcmp(pricing(a), pricing(b));
}

/*
 * ASSET_MANAGEMENT SUCCESS: insert (associate) or delete each assignment, then move each
 * asset's counts once by the number of rows that really changed.
 */
static int apply_assignments(struct vn_store *st, const struct vn_notification *n, int associate,
                             struct vn_apply_stats *stats)
{
    const struct vn_assignment *stack[STACK_ITEMS];
    const struct vn_assignment **changed = stack;
    size_t nchanged = 0, i, j;
    long long k;
    int rc = 0;

    if (n->n_items > STACK_ITEMS) {
        changed = malloc(n->n_items * sizeof(*changed));
        if (!changed)
            return -ENOMEM;
    }
    if (n->event_id && n->n_items > 1) {
        /* decide_order reads every key's state: in one statement where the store can. */
        struct vn_mirror_scope kstack[STACK_ITEMS], *keys = kstack;

        if (n->n_items > STACK_ITEMS)
            keys = malloc(n->n_items * sizeof(*keys));
        if (keys) {
            for (i = 0; i < n->n_items; i++) {
                const struct vn_assignment *a = &n->assignments[i];

                keys[i] = (struct vn_mirror_scope){a->adam_id.s, pricing(a), a->client_user_id,
                                                   a->serial_number};
            }
            rc = vn_store_assignment_keys_known(st, n->uid, keys, n->n_items);
            if (keys != kstack)
                free(keys);
            if (rc)
                goto out;
        }
    }
    for (i = 0; i < n->n_items; i++) {
        const struct vn_assignment *a = &n->assignments[i];
        struct vn_mirror_scope key = {a->adam_id.s, pricing(a), a->client_user_id,
                                      a->serial_number};
        enum order o;

        rc = decide_order(st, VN_MT_ASSIGNMENTS, n->uid, &key, n->event_id, associate, &o);
        if (rc)
            goto out;
        if (o == SKIP) {
            stats->skipped++;
            continue;
        }
        rc = associate ? vn_store_assignment_insert(st, n->uid, a)
                       : vn_store_assignment_delete(st, n->uid, a);
        if (rc < 0)
            goto out;
        if (rc > 0)
            changed[nchanged++] = a;
        if (n->event_id &&
            (rc = vn_store_key_event(st, VN_MT_ASSIGNMENTS, n->uid, &key, n->event_id)) != 0)
            goto out;
    }
    rc = 0;
    if (associate)
        stats->inserted += (long long)nchanged;
    else
        stats->deleted += (long long)nchanged;

    /* Group the changed rows by asset: one adjustment per asset, none for an asset that
     * did not change (so no asset row appears for a no-op). */
    qsort(changed, nchanged, sizeof(*changed), cmp_asset);
    for (i = 0; i < nchanged; i = j) {
        for (j = i + 1; j < nchanged && cmp_asset(&changed[i], &changed[j]) == 0; j++)
            ;
        k = (long long)(j - i);
        rc = vn_store_asset_adjust(st, n->uid, changed[i]->adam_id.s, pricing(changed[i]), 0,
                                   associate ? k : -k, associate ? -k : k);
        if (rc)
            goto out;
        stats->upserted++;
    }
out:
    if (changed != stack)
        free(changed);
    return rc;
}

/* adding: the change makes the users active (create, associated); 0: it retires them; -1: it
 * changes neither (update). */
static int apply_users(struct vn_store *st, const struct vn_notification *n, const char *status,
                       int adding, struct vn_apply_stats *stats)
{
    size_t i;
    int rc;

    for (i = 0; i < n->n_items; i++) {
        struct vn_mirror_scope key = {.client_user_id = n->users[i].client_user_id};
        enum order o = APPLY;

        if (adding >= 0) {
            rc = decide_order(st, VN_MT_USERS, n->uid, &key, n->event_id, adding, &o);
            if (rc)
                return rc;
        }
        if (o == SKIP) {
            stats->skipped++;
            continue;
        }
        rc = vn_store_user_upsert(st, n->uid, &n->users[i], status);
        if (rc)
            return rc;
        stats->upserted++;
        if (adding >= 0 && n->event_id &&
            (rc = vn_store_key_event(st, VN_MT_USERS, n->uid, &key, n->event_id)) != 0)
            return rc;
    }
    return 0;
}

static int apply_seats(struct vn_store *st, const struct vn_notification *n, int associate,
                       struct vn_apply_stats *stats)
{
    size_t i;
    int rc;

    for (i = 0; i < n->n_items; i++) {
        struct vn_mirror_scope key = {.adam_id = n->seats[i].adam_id.s,
                                      .client_user_id = n->seats[i].client_user_id};
        enum order o;

        rc = decide_order(st, VN_MT_SEATS, n->uid, &key, n->event_id, associate, &o);
        if (rc)
            return rc;
        if (o == SKIP) {
            stats->skipped++;
            continue;
        }
        rc = associate ? vn_store_seat_upsert(st, n->uid, &n->seats[i])
                       : vn_store_seat_delete(st, n->uid, &n->seats[i]);
        if (rc < 0)
            return rc;
        if (associate)
            stats->inserted += rc;
        else
            stats->deleted += rc;
        if (n->event_id &&
            (rc = vn_store_key_event(st, VN_MT_SEATS, n->uid, &key, n->event_id)) != 0)
            return rc;
    }
    return 0;
}

/* Record one failed item of a FAILURE notification, whatever the type's item is. */
static int note_failed_item(struct vn_store *st, const struct vn_notification *n, size_t i)
{
    long long num = n->apple_error.number;

    switch (n->type) {
    case VN_NT_ASSET_MANAGEMENT: {
        const struct vn_assignment *a = &n->assignments[i];

        return vn_store_event_failed_item(
            st, n->event_id, num, a->adam_id.s[0] ? a->adam_id.s : NULL,
            a->adam_id.s[0] ? pricing(a) : NULL, a->client_user_id, a->serial_number);
    }
    case VN_NT_USER_MANAGEMENT:
        return vn_store_event_failed_item(st, n->event_id, num, NULL, NULL,
                                          n->users[i].client_user_id, NULL);
    case VN_NT_SUBSCRIPTION_MANAGEMENT:
        return vn_store_event_failed_item(st, n->event_id, num,
                                          n->seats[i].adam_id.s[0] ? n->seats[i].adam_id.s : NULL,
                                          NULL, n->seats[i].client_user_id, NULL);
    default:
        return 0;
    }
}

/*
 * Seats that do not renew lapse at the end of the billing period without a
 * SUBSCRIPTION_MANAGEMENT notification, only a SUBSCRIPTION_COUNT (contract 3.1). When its
 * counts (assigned = total - available) disagree with the mirror's seats, the subscription's
 * seats are queued for a targeted re-sync.
 */
static int check_seats(struct vn_store *st, const struct vn_notification *n)
{
    const struct vn_counts *c = &n->counts;
    long long assigned =
        c->total_renewing + c->total_expiring - c->available_renewing - c->available_expiring;
    long long renewing = 0, expiring = 0;
    struct vn_mirror_scope key = {.adam_id = n->adam_id.s};
    int rc = vn_store_seat_count(st, n->uid, n->adam_id.s, &renewing, &expiring);

    if (rc || assigned == renewing + expiring)
        return rc;
    return vn_store_verify_add(st, VN_MT_SEATS, n->uid, &key,
                               "SUBSCRIPTION_COUNT disagrees with the mirror's seats");
}

/* What the notification tells about its event: counters, errors, failed items. */
static int note_event(struct vn_store *st, const struct vn_notification *n, int64_t now_ms)
{
    struct vn_event_note e = {0};
    size_t i;
    int rc;

    if (!n->event_id)
        return 0;
    e.event_id = n->event_id;
    e.uid = n->uid;
    e.notification_type = n->type_name;
    e.action = vn_action_name(n->action);
    e.ms = now_ms;
    if (n->result == VN_RES_SUCCESS) {
        e.succeeded = (long long)n->n_items;
    } else if (n->result == VN_RES_FAILURE) {
        e.failed = (long long)n->n_items;
        e.error_number = n->apple_error.number;
        e.error_message = n->apple_error.message;
    }
    rc = vn_store_event_note(st, &e);
    for (i = 0; !rc && n->result == VN_RES_FAILURE && i < n->n_items; i++)
        rc = note_failed_item(st, n, i);
    return rc;
}

/* Whether a *_MANAGEMENT notification's type and result fit its kind (the parser ensures it;
 * apply refuses rather than guess if a caller hands it something else). */
static int action_fits(const struct vn_notification *n)
{
    enum vn_action a = n->action;

    switch (n->type) {
    case VN_NT_ASSET_MANAGEMENT:
        if (a != VN_ACT_ASSOCIATE && a != VN_ACT_DISASSOCIATE && a != VN_ACT_REVOKE)
            return 0;
        break;
    case VN_NT_USER_MANAGEMENT:
        if (a != VN_ACT_CREATE && a != VN_ACT_UPDATE && a != VN_ACT_RETIRE)
            return 0;
        break;
    case VN_NT_SUBSCRIPTION_MANAGEMENT:
        if (a != VN_ACT_ASSOCIATE && a != VN_ACT_DISASSOCIATE)
            return 0;
        break;
    default:
        return 1;
    }
    return n->result == VN_RES_SUCCESS || n->result == VN_RES_FAILURE;
}

int vn_apply(struct vn_store *st, const struct vn_notification *n, int64_t now_ms,
             struct vn_apply_stats *stats, struct vn_error *err)
{
    struct vn_apply_stats local;
    const char *why = NULL; /* our own reason; else the store's last error */
    int success = n->result == VN_RES_SUCCESS;
    int rc = 0;

    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof(*stats));
    if (!n->valid || n->type == VN_NT_UNKNOWN) {
        rc = VN_EPARSE;
        why = n->type == VN_NT_UNKNOWN ? "unknown notification type" : n->error;
        goto out;
    }
    if (!action_fits(n)) {
        rc = VN_EPARSE;
        why = "its type and result do not fit this notification type";
        goto out;
    }

    /* *_MANAGEMENT FAILURE: no mirror change; note_event records the error and the items. */
    switch (n->type) {
    case VN_NT_TEST_NOTIFICATION:
        rc = vn_store_location_tested(st, n->uid, now_ms);
        break;
    case VN_NT_ASSET_COUNT:
        rc = vn_store_asset_adjust(st, n->uid, n->adam_id.s, n->pricing_param, n->count_delta, 0,
                                   n->count_delta);
        stats->upserted += rc == 0;
        break;
    case VN_NT_ASSET_MANAGEMENT:
        if (success)
            rc = apply_assignments(st, n, n->action == VN_ACT_ASSOCIATE, stats);
        break;
    case VN_NT_USER_MANAGEMENT:
        if (success)
            rc = apply_users(st, n, n->action == VN_ACT_RETIRE ? "Retired" : NULL,
                             n->action == VN_ACT_RETIRE   ? 0
                             : n->action == VN_ACT_CREATE ? 1
                                                          : -1,
                             stats);
        break;
    case VN_NT_USER_ASSOCIATED:
        rc = apply_users(st, n, "Associated", 1, stats);
        break;
    case VN_NT_SUBSCRIPTION_COUNT:
        rc = vn_store_subscription_set_counts(st, n->uid, n->adam_id.s,
                                              n->has_parent_adam_id ? n->parent_adam_id.s : NULL,
                                              &n->counts);
        stats->upserted += rc == 0;
        if (!rc)
            rc = check_seats(st, n);
        break;
    case VN_NT_SUBSCRIPTION_MANAGEMENT:
        if (success)
            rc = apply_seats(st, n, n->action == VN_ACT_ASSOCIATE, stats);
        break;
    case VN_NT_UNKNOWN:
        break;
    }
    if (!rc)
        rc = note_event(st, n, now_ms);
out:
    if (rc)
        vn_error_set(err, rc, "cannot apply %s '%s' of location '%s': %s",
                     n->type_name ? n->type_name : "notification", n->id ? n->id : "",
                     n->uid ? n->uid : "", why ? why : vn_store_last_error(st));
    return rc;
}
