/* orchestrator/api.h: yunbakd's control API (orchestrator/api.c; docs/api.md), served on the
 * unix socket by the HTTP layer (orchestrator/httpd.h). */
#pragma once

#include "orchestrator/httpd.h"

/* Answers one request (a YbHttpHandler); userdata is the YbDaemon. Takes the daemon's lock; every
 * change and every refusal is audited. */
void yb_api_handle(void *userdata, const YbHttpRequest *req, YbHttpResponse *resp);
