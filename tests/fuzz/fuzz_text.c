/*
 * fuzz_text.c - libFuzzer harness of the small text parsers that see outside input: the
 * Authorization header (auth.c), ISO-8601 times (Apple's expDate and tokenExpirationDate),
 * durations, sizes and integers (util.c), Apple's sToken files (stoken.c), and --trusted-proxy
 * ranges and X-Forwarded-For lists (net.c; values separated by newlines). The first byte picks
 * the parser (modulo 8); the rest is the NUL-terminated text. Each parser's promises are checked; a
 * broken one aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "vppnotify/auth.h"
#include "vppnotify/error.h"
#include "vppnotify/net.h"
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
    switch (data[0] % 8) {
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
    case 6: {
        struct vn_cidr c;
        rc = vn_cidr_parse(s, &c, NULL);
        CHECK(rc == 0 || rc == VN_EUSAGE);
        CHECK(rc != 0 || (c.family == AF_INET && c.bits <= 32) ||
              (c.family == AF_INET6 && c.bits <= 128));
        break;
    }
    case 7: {
        /* The walk names an address of the list, or the peer; never reads past a value. */
        static struct vn_cidr trusted[2];
        struct sockaddr_storage peer = {0}, client;
        const char *values[16];
        size_t n = 0;
        char *p = s;
        if (!trusted[0].family) {
            CHECK(vn_cidr_parse("10.0.0.0/8", &trusted[0], NULL) == 0);
            CHECK(vn_cidr_parse("2001:db8::/32", &trusted[1], NULL) == 0);
        }
        peer.ss_family = AF_INET;
        while (n < 16) {
            char *nl = strchr(p, '\n');
            values[n++] = p;
            if (!nl)
                break;
            *nl = '\0';
            p = nl + 1;
        }
        rc = vn_forwarded_client(values, n, trusted, 2, (struct sockaddr *)&peer, &client);
        CHECK(rc == 0 || rc == VN_EPARSE);
        CHECK(client.ss_family == AF_INET || client.ss_family == AF_INET6);
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
