/*
 * notification.h - Apple's notification envelope and payloads as typed C structs, and the
 * strict parser that builds them (apple-api.md section 5, contract.md sections 2-3).
 *
 * Parsing happens in two steps, because the two kinds of failure are answered differently:
 *
 *   1. The envelope: JSON, then a string notificationId, notificationType and uId and an object
 *      notification. A failure here is VN_EPARSE: HTTP 400, raw body quarantined.
 *   2. The payload of a known type. A failure here is not an error of the call: the
 *      notification is returned with valid = 0 and a message naming the field path
 *      ("notification.assignments[3].adamId: expected string or number, got boolean"). It is
 *      stored and answered 202, and `replay` may apply it after an upgrade.
 *
 * Unknown notification types parse fine with type VN_NT_UNKNOWN and valid = 0 (stored, 202).
 * Unknown extra keys anywhere are ignored. adamId is accepted as a JSON string of digits or a
 * non-negative JSON integer and always exposed as its decimal text.
 *
 * Ownership: vn_notification_parse returns an owned struct (free with vn_notification_free).
 * Every const char * inside it borrows from the struct's own JSON tree or inline buffers, and
 * lives exactly as long as the struct.
 */
#ifndef VPPNOTIFY_NOTIFICATION_H
#define VPPNOTIFY_NOTIFICATION_H

#include <stddef.h>
#include <stdint.h>

struct vn_error;

enum vn_ntype {
    VN_NT_UNKNOWN = 0,
    VN_NT_TEST_NOTIFICATION,
    VN_NT_ASSET_COUNT,
    VN_NT_ASSET_MANAGEMENT,
    VN_NT_USER_MANAGEMENT,
    VN_NT_USER_ASSOCIATED,
    VN_NT_SUBSCRIPTION_COUNT,
    VN_NT_SUBSCRIPTION_MANAGEMENT,
};

/* The "type" of a *_MANAGEMENT payload. */
enum vn_action {
    VN_ACT_NONE = 0,
    VN_ACT_ASSOCIATE,
    VN_ACT_DISASSOCIATE,
    VN_ACT_REVOKE,
    VN_ACT_CREATE,
    VN_ACT_UPDATE,
    VN_ACT_RETIRE,
};

enum vn_result { VN_RES_NONE = 0, VN_RES_SUCCESS, VN_RES_FAILURE };

/* Limits the parser enforces; exceeding one makes the payload invalid (or the envelope, for
 * the envelope's own strings). */
#define VN_ID_MAX      256   /* notificationId, uId, eventId, clientUserId, serialNumber... */
#define VN_TEXT_MAX    1024  /* email, errorMessage, idHash, inviteCode */
#define VN_ADAM_ID_MAX 20    /* digits of an adamId (fits in uint64) */
#define VN_ITEMS_MAX   10000 /* elements of assignments / users arrays (Apple sends <= 100) */

/* An adamId as decimal text, whatever its JSON type. */
struct vn_adam_id {
    char s[VN_ADAM_ID_MAX + 1];
};

/*
 * An adamId given as text (a string from Apple, a --adam-id filter, an API query parameter) in
 * the canonical form the mirror stores: 1..VN_ADAM_ID_MAX ASCII digits, leading zeros dropped
 * ("0042" and "42" name the same product; "000" is "0"). s is borrowed, len its length.
 * Returns 0, or VN_EPARSE with err saying why ("'4x2' is not a string of digits").
 */
int vn_adam_id_canonical(const char *s, size_t len, struct vn_adam_id *out, struct vn_error *err);

/* One element of ASSET_MANAGEMENT assignments: exactly one of client_user_id/serial_number.
 * In a FAILURE notification adam_id may be empty ("": Apple did not say) and pricing_param
 * NULL then. */
struct vn_assignment {
    struct vn_adam_id adam_id;
    const char *pricing_param;  /* "STDQ" when absent (Apple's default) */
    const char *client_user_id; /* NULL for a device assignment */
    const char *serial_number;  /* NULL for a user assignment */
};

/* One user of USER_MANAGEMENT users or USER_ASSOCIATED associatedUsers. */
struct vn_user {
    const char *client_user_id; /* required */
    const char *email;          /* optional: NULL when absent */
    const char *invite_code;
    const char *id_hash;
    const char *status; /* "Registered", "Associated", "Retired", ... or NULL */
};

/* One element of SUBSCRIPTION_MANAGEMENT assignments (FAILURE: adam_id may be ""). */
struct vn_seat {
    struct vn_adam_id adam_id;
    const char *client_user_id;
    int renewing; /* 1 when absent */
};

/* The error object of a FAILURE payload. */
struct vn_apple_error {
    int present;
    long long number;    /* errorNumber; 0 when absent */
    const char *message; /* errorMessage or NULL */
};

struct vn_counts {
    long long available_renewing, available_expiring;
    long long total_renewing, total_expiring;
};

struct vn_notification {
    /* Envelope: always set after a successful parse. */
    const char *id;        /* notificationId */
    const char *type_name; /* notificationType as received */
    const char *uid;       /* uId */
    enum vn_ntype type;

    /* Payload: valid = 1 when the payload of a known type validated; else error says why. */
    int valid;
    char error[256];

    /* *_MANAGEMENT */
    enum vn_action action;
    enum vn_result result;
    const char *event_id; /* NULL when absent */
    struct vn_apple_error apple_error;

    /* ASSET_COUNT, SUBSCRIPTION_COUNT */
    struct vn_adam_id adam_id;
    const char *pricing_param; /* ASSET_COUNT; "STDQ" when absent (Apple's default) */
    long long count_delta;     /* ASSET_COUNT */
    int has_parent_adam_id;    /* SUBSCRIPTION_COUNT: 0 when absent or null */
    struct vn_adam_id parent_adam_id;
    struct vn_counts counts;

    /* Lists: exactly one of these is used, per type. */
    struct vn_assignment *assignments; /* ASSET_MANAGEMENT */
    struct vn_user *users;             /* USER_MANAGEMENT, USER_ASSOCIATED */
    struct vn_seat *seats;             /* SUBSCRIPTION_MANAGEMENT */
    size_t n_items;

    void *priv; /* the JSON tree the strings borrow from */
};

/* Knobs of the parser. Zero fields take the defaults. */
struct vn_parse_limits {
    size_t max_depth; /* JSON nesting; default VN_JSON_DEFAULT_DEPTH (32) */
};

/*
 * Parse a notification body of len bytes (it need not be NUL-terminated).
 * On success returns 0 and an owned *out (check (*out)->valid). On an envelope failure
 * returns VN_EPARSE with err naming the problem ("notificationId: expected string, got
 * number"), or -ENOMEM; *out is then NULL.
 */
int vn_notification_parse(const char *body, size_t len, const struct vn_parse_limits *limits,
                          struct vn_notification **out, struct vn_error *err);

/* Free a parsed notification; NULL is allowed. */
void vn_notification_free(struct vn_notification *n);

/* Names: "ASSET_COUNT", "ASSOCIATE", "SUCCESS"; NULL for the NONE/UNKNOWN values. */
const char *vn_ntype_name(enum vn_ntype t);
const char *vn_action_name(enum vn_action a);
const char *vn_result_name(enum vn_result r);

/* Reverse of vn_ntype_name; VN_NT_UNKNOWN for anything else. */
enum vn_ntype vn_ntype_from_name(const char *s);

#endif
