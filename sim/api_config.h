/*
 * api_config.h - Apple's Service Config (GET /mdm/v2/service/config), Client Config
 * (GET/POST /mdm/v2/client/config, with the TEST_NOTIFICATION delivered before the answer)
 * and Event Status (GET /mdm/v2/status). Handlers: run on the engine thread (engine.h).
 */
#ifndef VPPSIM_API_CONFIG_H
#define VPPSIM_API_CONFIG_H

struct sim_req;

void api_service_config(struct sim_req *r);
void api_client_config_get(struct sim_req *r);
/* Waits for its TEST_NOTIFICATION (engine.h) when it sets a notification URL. */
void api_client_config_post(struct sim_req *r);
void api_status(struct sim_req *r);

/* Whether url may be a notificationUrl: https (or http on 127.0.0.1, localhost, [::1]), a
 * host and a path, no query, fragment or user. 0 or -1. */
int sim_url_acceptable(const char *url);

#endif
