/*
 * options.c - the one table of vppnotify's options (house style: Redis static_configs).
 * --help of every command, the config file and docs/CLI.md are generated from it.
 */
#include <stddef.h>

#include "cli.h"

#define F(field) offsetof(struct vn_cli, field)
#define SEC 1000LL
#define DAY (86400LL * SEC)

static const struct vn_opt table[] = {
    {"help", VN_OPT_FLAG, NULL, 0, 0, NULL, NULL, NULL, "show this help and exit", F(help)},
    {"config", VN_OPT_STRING, NULL, 0, 0, NULL, "VPPNOTIFY_CONFIG", "FILE",
     "read options from FILE ('name = value' lines; flags and env override it)", F(config)},
    {"db", VN_OPT_STRING, "./vppnotify.db", 0, 0, NULL, "VPPNOTIFY_DB", "PATH",
     "database: an SQLite file path", F(db)},
    {"json", VN_OPT_FLAG, NULL, 0, 0, NULL, NULL, NULL,
     "print one JSON array of objects instead of a table", F(json)},
    {"log-level", VN_OPT_CHOICE, "info", 0, 0, "error|warn|info|debug", "VPPNOTIFY_LOG_LEVEL",
     "LEVEL", "least important log lines shown", F(log_level)},
    {"log-format", VN_OPT_CHOICE, "text", 0, 0, "text|json", "VPPNOTIFY_LOG_FORMAT", "FORMAT",
     "log line format", F(log_format)},

    {"uid", VN_OPT_STRING, NULL, 0, 0, NULL, NULL, "UID", "location (Apple's uId)", F(uid)},
    {"adam-id", VN_OPT_STRING, NULL, 0, 0, NULL, NULL, "ID", "only this product (adamId)",
     F(adam_id)},
    {"client-user-id", VN_OPT_STRING, NULL, 0, 0, NULL, NULL, "ID", "only this user",
     F(client_user_id)},
    {"serial", VN_OPT_STRING, NULL, 0, 0, NULL, NULL, "SERIAL", "only this device serial number",
     F(serial)},
    {"event-id", VN_OPT_STRING, NULL, 0, 0, NULL, NULL, "ID", "only this eventId", F(event_id)},
    {"state", VN_OPT_CHOICE, NULL, 0, 0, "applied|stored", NULL, "STATE",
     "only notifications in this state", F(state)},
    {"type", VN_OPT_STRING, NULL, 0, 0, NULL, NULL, "TYPE",
     "only this notificationType (ASSET_COUNT, ...)", F(type)},
    {"limit", VN_OPT_INT, "0", 0, 1000000000, NULL, NULL, "N", "at most N rows (0: all)",
     F(limit)},

    {"name", VN_OPT_STRING, NULL, 0, 0, NULL, NULL, "NAME", "a name for people (default: the uId)",
     F(name)},
    {"token-file", VN_OPT_STRING, NULL, 0, 0, NULL, NULL, "FILE",
     "read the notification token from FILE (mode 0600) instead of generating one",
     F(token_file)},
    {"grace", VN_OPT_DURATION, "1h", 0, 30 * DAY, NULL, NULL, "DURATION",
     "how long the previous token stays valid after a rotation", F(grace_ms)},

    {"listen", VN_OPT_STRING, "127.0.0.1:8080", 0, 0, NULL, "VPPNOTIFY_LISTEN", "ADDR:PORT",
     "address to listen on (port 0: any free port)", F(listen)},
    {"path", VN_OPT_STRING, "/notifications", 0, 0, NULL, NULL, "PATH",
     "URL path that receives notifications", F(path)},
    {"tls-cert", VN_OPT_STRING, NULL, 0, 0, NULL, NULL, "FILE",
     "serve HTTPS with this PEM certificate (chain)", F(tls_cert)},
    {"tls-key", VN_OPT_STRING, NULL, 0, 0, NULL, NULL, "FILE",
     "PEM private key of --tls-cert (must be mode 0600)", F(tls_key)},
    {"max-body", VN_OPT_SIZE, "1M", 1024, 64LL << 20, NULL, NULL, "SIZE",
     "largest notification body accepted (413 beyond)", F(max_body)},
    {"max-header", VN_OPT_SIZE, "32K", 4096, 1LL << 20, NULL, NULL, "SIZE",
     "memory per connection for request headers (431 beyond)", F(max_header)},
    {"max-connections", VN_OPT_INT, "1024", 1, 65536, NULL, NULL, "N",
     "simultaneous connections in total", F(max_connections)},
    {"max-per-ip", VN_OPT_INT, "256", 0, 65536, NULL, NULL, "N",
     "simultaneous connections from one IP address (0: no limit)", F(max_per_ip)},
    {"idle-timeout", VN_OPT_DURATION, "30s", 1 * SEC, 3600 * SEC, NULL, NULL, "DURATION",
     "close a connection idle for this long", F(idle_timeout_ms)},
    {"read-timeout", VN_OPT_DURATION, "30s", 100, 3600 * SEC, NULL, NULL, "DURATION",
     "a request body must arrive within this", F(read_timeout_ms)},
    {"threads", VN_OPT_INT, "0", 0, 256, NULL, NULL, "N", "HTTP worker threads (0: one per CPU)",
     F(threads)},
    {"max-depth", VN_OPT_INT, "32", 2, 1000, NULL, NULL, "N", "deepest JSON nesting accepted",
     F(max_depth)},
    {"retry-after", VN_OPT_DURATION, "10s", 1 * SEC, 3600 * SEC, NULL, NULL, "DURATION",
     "Retry-After of a 503 answer", F(retry_after_ms)},
    {"queue-max", VN_OPT_INT, "4096", 1, 1000000, NULL, NULL, "N",
     "notifications waiting for the writer (503 beyond)", F(queue_max)},
    {"batch-max", VN_OPT_INT, "1024", 1, 100000, NULL, NULL, "N",
     "notifications committed in one transaction at most", F(batch_max)},
    {"db-busy-timeout", VN_OPT_DURATION, "5s", 0, 600 * SEC, NULL, NULL, "DURATION",
     "wait this long for another writer of the database", F(db_busy_timeout_ms)},
    {"max-db-size", VN_OPT_SIZE, "0", 0, 1LL << 50, NULL, NULL, "SIZE",
     "refuse writes that would grow the database beyond SIZE, as a full disk would (0: no "
     "limit)",
     F(max_db_size)},
    {"auth-refresh", VN_OPT_DURATION, "1s", 10, 3600 * SEC, NULL, NULL, "DURATION",
     "a removed or rotated-out token stops working within this (new tokens work at once)",
     F(auth_refresh_ms)},
    {"shutdown-timeout", VN_OPT_DURATION, "10s", 0, 600 * SEC, NULL, NULL, "DURATION",
     "on SIGTERM, wait this long for requests in progress", F(shutdown_timeout_ms)},
    {"quarantine-max", VN_OPT_SIZE, "64K", 0, 64LL << 20, NULL, NULL, "SIZE",
     "bytes of a rejected (non-JSON) body kept in quarantine", F(quarantine_max)},
    {"ready-file", VN_OPT_STRING, NULL, 0, 0, NULL, NULL, "FILE",
     "write the bound ADDR:PORT to FILE once listening", F(ready_file)},
};

const struct vn_opt_table vn_cli_options = {table, sizeof(table) / sizeof(table[0])};
