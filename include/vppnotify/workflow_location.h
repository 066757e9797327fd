/*
 * workflow_location.h - a location's link to Apple (contract section 5): subscribe, rotate its
 * notification token, install a new sToken, take a location over from another MDM.
 *
 * Add and remove (vn_workflow_location_add, _remove): a location known only to vppnotify, its
 * notification token given or made here; and its removal with everything it has.
 *
 * Subscribe (vn_workflow_subscribe), in this order:
 *   1. Service Config (the notification types to subscribe, maxNotificationLength);
 *   2. GET Client Config with the sToken: its uId, locationName, tokenExpirationDate and the
 *      mdmInfo of the MDM that last configured it (another MDM's: refused unless take_over);
 *   3. the location and its notification token committed (a writer job each), the sToken
 *      sealed with the key file (created when missing);
 *   4. POST Client Config: notificationUrl, the token, every type, this instance's mdmInfo.
 *      Apple delivers a TEST_NOTIFICATION to the URL during the call, so the serve answering
 *      there must already accept the token (it does: step 3 committed it);
 *   5. the subscription recorded (URL, types Apple confirmed, when).
 * When step 4 or 5 fails (Apple's 9728: nothing answered at the URL), everything step 3
 * created is removed again and the error says so.
 *
 * Rotate (vn_workflow_rotate): a new notification token for a location; the previous one stays
 * valid for the grace window (deliveries in flight still carry it). A location with an sToken
 * and a subscription (or a public URL given) is (re)subscribed with the new token: the token
 * goes to Apple and is never shown. When Apple answers with an error (it kept the previous
 * configuration) the rotation is undone: the previous token is the current one again. When no
 * answer came (the network), both tokens stay valid and the error says until when. A location
 * without a subscription just gets the new token, which the result hands back to be shown once.
 *
 * Set-stoken (vn_workflow_set_stoken): a new sToken for a stored location (after it expired,
 * was revoked or renewed). Apple checks it first (GET Client Config): it must belong to that
 * location. If Apple names another MDM in the answer, the location is marked taken over.
 *
 * Take over: another MDM's mdmInfo in Client Config means another MDM manages the location.
 * Subscribe and rotate then refuse with VN_ECONFLICT (the message names that mdmInfo) unless
 * take_over is set, in which case this instance's mdmInfo replaces it at Apple.
 *
 * Secrets: the sToken is only ever stored sealed; tokens are wiped from memory after use and
 * never appear in a message or a log line.
 */
#ifndef VPPNOTIFY_WORKFLOW_LOCATION_H
#define VPPNOTIFY_WORKFLOW_LOCATION_H

#include <stddef.h>
#include <stdint.h>

#include "vppnotify/notification.h"
#include "vppnotify/secret.h"
#include "vppnotify/store.h"
#include "vppnotify/workflow.h"

struct vn_error;
struct vn_stoken;

/* ---- a location without Apple's side ------------------------------------------------- */

struct vn_location_add_result {
    int generated;                /* token holds the new token, to show once */
    char token[VN_TOKEN_MAX + 1]; /* a secret: the caller wipes it (vn_wipe) after use */
};

/*
 * Create location uid (name NULL: the uId) with its notification token: token (vn_token_check)
 * or, when NULL, a new one handed back in r. Only its digest is stored. Codes: VN_EUSAGE (a bad
 * uId or token), VN_EDUP (the location exists), the store's.
 */
int vn_workflow_location_add(const struct vn_workflow *wf, const char *uid, const char *name,
                             const char *token, struct vn_location_add_result *r,
                             struct vn_error *err);

/* Delete location uid with its tokens, mirror and events (the ledger stays). VN_ENOTFOUND. */
int vn_workflow_location_remove(const struct vn_workflow *wf, const char *uid,
                                struct vn_error *err);

/* ---- subscribe ------------------------------------------------------------------------ */

/*
 * 0 if url may be given to Apple as a notificationUrl: https (or http to a loopback host), a
 * host and a path only, at most VN_URL_MAX characters; else VN_EUSAGE saying why. Subscribe and
 * rotate check it first; a door may check it before it opens anything.
 */
int vn_workflow_check_public_url(const char *url, struct vn_error *err);

struct vn_subscribe_input {
    const struct vn_stoken *stoken; /* parsed (vn_stoken_parse / _read_file); borrowed */
    const char *uid;                /* optional: the sToken must belong to it */
    const char *name;               /* optional: else Apple's locationName, else the uId */
    const char *public_url;         /* where Apple reaches serve: https://host/path */
    const char *token; /* optional notification token (vn_token_check); NULL: a new one */
    int take_over;     /* replace another MDM's configuration */
};

struct vn_subscribe_result {
    char uid[VN_ID_MAX + 1];
    char name[VN_ID_MAX + 1];
    char org_name[256];       /* from the sToken; "" unknown */
    char url[VN_URL_MAX + 1]; /* the notificationUrl subscribed */
    size_t ntypes;            /* notification types subscribed */
    int64_t token_expires_ms; /* the sToken's, as Apple states it */
    int foreign_mdm;          /* Apple still echoes another MDM's mdmInfo afterwards */
    char other_mdm[1024];     /* the other MDM's mdmInfo (JSON) seen before, or "" */
};

/*
 * Subscribe a new location (see above). Codes: VN_EUSAGE (bad input: the URL, the token),
 * VN_EAUTH (the sToken expired), VN_EDUP (the location exists), VN_ECONFLICT (another MDM,
 * without take_over), VN_EPARSE (the sToken belongs to another uId), VN_ETOOBIG (the URL is
 * longer than Apple's limit), Apple's failure (VN_EAPPLE, VN_ENET, ...) or the store's. *r is
 * filled as far as the workflow got.
 */
int vn_workflow_subscribe(const struct vn_workflow *wf, const struct vn_subscribe_input *in,
                          struct vn_subscribe_result *r, struct vn_error *err);

/* ---- rotate --------------------------------------------------------------------------- */

struct vn_rotate_input {
    const char *uid;
    int64_t grace_ms;       /* how long the previous token stays valid */
    const char *token;      /* optional new token (vn_token_check); NULL: a new one */
    const char *public_url; /* optional: (re)subscribe at this URL (needs an sToken) */
    int take_over;
};

struct vn_rotate_result {
    int subscribed;               /* the new token went to Apple (and is not in token) */
    char url[VN_URL_MAX + 1];     /* subscribed: the notificationUrl */
    int generated;                /* not subscribed: token holds the new token, to show once */
    char token[VN_TOKEN_MAX + 1]; /* a secret: the caller wipes it (vn_wipe) after use */
    int64_t grace_until_ms;       /* the previous token is valid until then */
    int unrotated;                /* Apple refused: the previous token is current again */
};

/*
 * Rotate (see above). Codes: VN_ENOTFOUND (no such location), VN_EUSAGE (a public URL for a
 * location without an sToken, a bad token or URL), VN_ECONFLICT (another MDM, without
 * take_over), VN_EAUTH (the sToken was refused before), Apple's failure (r->unrotated says
 * whether the rotation was undone) or the store's.
 */
int vn_workflow_rotate(const struct vn_workflow *wf, const struct vn_rotate_input *in,
                       struct vn_rotate_result *r, struct vn_error *err);

/* ---- set-stoken ----------------------------------------------------------------------- */

struct vn_set_stoken_result {
    int64_t token_expires_ms; /* as Apple states it */
    char other_mdm[1024];     /* another MDM named by Apple (JSON): the location is taken over */
};

/*
 * Install stoken (borrowed, parsed) for the stored location uid (see above). Codes:
 * VN_ENOTFOUND (no such location), VN_EPARSE (the sToken belongs to another location), Apple's
 * failure (the sToken refused) or the store's.
 */
int vn_workflow_set_stoken(const struct vn_workflow *wf, const char *uid,
                           const struct vn_stoken *stoken, struct vn_set_stoken_result *r,
                           struct vn_error *err);

#endif
