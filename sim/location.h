/*
 * location.h - a location (Apple's organizational unit) and what hangs off it directly: its
 * sTokens and their kinds, its Client Config (notification URL, token, types, mdmInfo), the
 * versionIds of its collections, and the opaque cursors of the cursor-paginated endpoints.
 *
 * Versioning. Each location has a change counter (locations.seq). A write takes the next
 * value (sim_write_begin), stamps every row it inserts or changes with it, and at its end
 * gives each collection it touched a new versionId (sim_write_end: a row of `versions`). So a
 * versionId names "the collection after every write up to seq", and sinceVersionId is "rows
 * whose seq is greater". Pagination and deltas are queries, not containers.
 *
 * Every function returns 0 or a negative code (db.h): VN_ESTORE, VN_ENOTFOUND, and VN_EPARSE
 * / VN_EDUP with a message in err for bad control-API input. Callers on the engine thread.
 * Ownership: JSON and strings returned through out-parameters are owned by the caller.
 */
#ifndef VPPSIM_LOCATION_H
#define VPPSIM_LOCATION_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct sim_db;
struct sim_rng;
struct vn_error;

/* The versioned collections of a location. */
enum sim_coll {
    COLL_ASSETS,
    COLL_ASSIGNMENTS,
    COLL_USERS,
    COLL_SUBSCRIPTIONS,
    COLL_SUB_ASSIGNMENTS,
    COLL_ADMINS,
    COLL_COUNT
};
extern const char *const sim_coll_names[COLL_COUNT];

/* What a token may call (tokens.kind). Read-only (a facilitator's token): every GET, no POST
 * (403/9637). Legacy: nothing that needs a token (403/9647). */
enum sim_token_kind { TOKEN_NORMAL, TOKEN_READ_ONLY, TOKEN_LEGACY, TOKEN_KIND_COUNT };
/* "normal", "read-only", "legacy": the values of tokens.kind and of the control API. */
extern const char *const sim_token_kind_names[TOKEN_KIND_COUNT];
/* The kind called name, or -1 if none is. */
int sim_token_kind_parse(const char *name);

/* A write to one location (see above). */
struct sim_write {
    char uid[40];
    int64_t seq;
    unsigned touched;
};

int sim_write_begin(struct sim_db *db, struct sim_write *w, const char *uid);
static inline void sim_write_touch(struct sim_write *w, enum sim_coll c)
{
    w->touched |= 1u << c;
}
/* Give every touched collection a new versionId (inside the caller's transaction). */
int sim_write_end(struct sim_db *db, struct sim_rng *rng, struct sim_write *w);
/* The current versionId of a collection into out ("" when it has none). */
int sim_version_current(struct sim_db *db, const char *uid, enum sim_coll c, char out[37]);
/* The seq of a versionId of this location and collection; VN_ENOTFOUND if never issued. */
int sim_version_seq(struct sim_db *db, const char *uid, enum sim_coll c, const char *version,
                    int64_t *seq);

/* Cursor of the cursor-paginated endpoints: opaque text for (collection, uid, offset). */
void sim_cursor_encode(const char *uid, enum sim_coll c, int64_t offset, char *out, size_t cap);
/* 0 and *offset, or -1 if the cursor is not one of ours for this location and collection. */
int sim_cursor_decode(const char *uid, enum sim_coll c, const char *cursor, int64_t *offset);

/* 0 and *yes (1 if uid names a location). */
int sim_loc_exists(struct sim_db *db, const char *uid, int *yes);
/* Create a location and its sToken from a control-API body (borrowed, may be NULL): *out is
 * {uId, sToken, orgName, locationName, expDate, tokenKind}. VN_EPARSE / VN_EDUP with err. */
int sim_loc_create(struct sim_db *db, struct sim_rng *rng, const json_t *body, json_t **out,
                   struct vn_error *err);
/* Every location {uId, orgName, locationName, tokenKind}. */
int sim_loc_list(struct sim_db *db, json_t **out);

/* The token whose inner `token` is inner: VN_ENOTFOUND if unknown. */
struct sim_token_info {
    char uid[40];
    int64_t exp_ms;
    int revoked;
    int kind; /* enum sim_token_kind */
};
int sim_token_find(struct sim_db *db, const char *inner, struct sim_token_info *out);
/* A POST /_sim/token action on every token of uid (expire, revoke, read-only, legacy,
 * restore, renew); adds sToken to out (borrowed object) on renew. VN_EPARSE for another. */
int sim_token_act(struct sim_db *db, struct sim_rng *rng, const char *uid, const char *action,
                  json_t *out, struct vn_error *err);

/* Client Config of a location as Apple's GET answers it (without the envelope). */
int sim_loc_client_config(struct sim_db *db, const char *uid, json_t **out);
/* The location's mdmInfo {id, name, metadata}, or *out NULL when none was set. */
int sim_loc_mdm_info(struct sim_db *db, const char *uid, json_t **out);
/* What a Client Config POST changes; NULL/0 fields are left as they are. */
struct sim_config_change {
    const char *url, *token; /* set both (after a successful test notification) */
    int64_t tested_ms;
    int clear;           /* remove URL and token (unsubscribe) */
    const json_t *types; /* replace the subscribed types (array of strings) */
    const json_t *mdm;   /* replace mdmInfo {id, name, metadata} */
};
int sim_loc_configure(struct sim_db *db, const char *uid, const struct sim_config_change *c);
/* Where notifications of uid go: *url and *token (owned) and *types (owned array), or all
 * NULL when the location has no notification URL. */
int sim_loc_target(struct sim_db *db, const char *uid, char **url, char **token, json_t **types);
/* Subscription management of a location. */
int sim_loc_subs_enabled(struct sim_db *db, const char *uid, int *on);
int sim_loc_set_subs(struct sim_db *db, const char *uid, int on);

#endif
