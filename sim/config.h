/*
 * config.h - vppsim's configuration, as main.c's option table fills it (one field per option;
 * docs/VPPSIM.md "Options" is generated from that table). Read-only once vppsim runs, so
 * every thread may read it without a lock.
 *
 * Ownership: main.c owns the struct and its strings (vn_opts_release); everything else
 * borrows it for vppsim's lifetime.
 */
#ifndef VPPSIM_CONFIG_H
#define VPPSIM_CONFIG_H

#include "vppnotify/opts.h"

struct sim_config {
    char *listen;
    char *ready_file;
    char *time_scale_text;
    long long page_size;
    char *state;
    long long seed;
    struct vn_strlist limit; /* "key=value" texts */
    long long max_body;
    long long max_control_body;
    long long http_threads;
    long long request_log;
    long long connect_timeout_ms;
    long long delivery_timeout_ms;
    long long delivery_workers;
    char *ca_file;
    long long event_delay_ms;
    long long event_batch;
    long long event_step_ms;
    char *token_expiration_field;
    char *fault_duplicate;
    char *fault_drop;
    char *fault_reorder;
    char *fault_delay;
    long long fault_delay_by_ms;
    long long fault_latency_ms;
    long long fault_429;
    long long fault_503;
    long long fault_500;
    long long fault_error_body;
    long long fault_retry_after;
    char *fault_path;
    long long fault_version_change;
    char *log_level;
    char *log_format;
    int markdown;
    int help;
    char *config;
};

#endif
