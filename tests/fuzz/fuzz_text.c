/*
 * fuzz_text.c - libFuzzer harness of the small text parsers that see outside input: the
 * Authorization header (auth.c), ISO-8601 times (Apple's expDate and tokenExpirationDate),
 * durations, sizes and integers (util.c), and Apple's sToken files (stoken.c). The first byte picks
 * the parser; the rest is the NUL-terminated text. Each parser's promises are checked; a broken one
 * aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vppnotify/auth.h"
#include "vppnotify/error.h"
#include "vppnotify/stoken.h"
#include "vppnotify/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_text: broken promise: %s (line %d)\n", #cond, __LINE__);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s;
    const char *tok;
    size_t len;
    long long v;
    int64_t ms;
    int rc;

    if (size < 1 || size > 4096)
        return 0;
    s = malloc(size);
    if (!s)
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    switch (data[0] % 6) {
    case 0:
        rc = vn_auth_parse_bearer(s, &tok, &len);
        CHECK(rc == 0 || rc == VN_EAUTH);
        if (rc == 0) {
            CHECK(len > 0 && tok >= s && tok + len == s + strlen(s));
            for (size_t i = 0; i < len; i++)
                CHECK((unsigned char)tok[i] > 0x20 && (unsigned char)tok[i] < 0x7f);
        }
        break;
    case 1:
        rc = vn_time_parse(s, &ms);
        CHECK(rc == 0 || rc == VN_EPARSE);
        if (rc == 0) {
            char iso[VN_TIME_ISO_LEN];
            int64_t back;
            /* What we print, we read back to the same instant. */
            vn_time_iso(ms, iso);
            CHECK(vn_time_parse(iso, &back) == 0 && back == ms);
        }
        break;
    case 2:
        rc = vn_parse_duration_ms(s, &v);
        CHECK(rc == 0 || rc == VN_EPARSE || rc == VN_ETOOBIG);
        CHECK(rc != 0 || v >= 0);
        break;
    case 3:
        rc = vn_parse_size(s, &v);
        CHECK(rc == 0 || rc == VN_EPARSE || rc == VN_ETOOBIG);
        CHECK(rc != 0 || v >= 0);
        break;
    case 5: {
        struct vn_stoken t = {0};
        rc = vn_stoken_parse(s, &t, NULL);
        CHECK(rc == 0 || rc == VN_EPARSE);
        CHECK(rc != 0 || (t.text && t.text[0] && strlen(t.org_name) < sizeof(t.org_name)));
        vn_stoken_release(&t);
        break;
    }
    default:
        rc = vn_parse_ll(s, -1000, 1000, &v);
        CHECK(rc == 0 || rc == VN_EPARSE || rc == VN_ETOOBIG);
        CHECK(rc != 0 || (v >= -1000 && v <= 1000));
        break;
    }
    free(s);
    return 0;
}
