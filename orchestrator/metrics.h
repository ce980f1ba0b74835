/* orchestrator/metrics.h: yunbakd's /metrics in the Prometheus text format (orchestrator/metrics.c;
 * docs/api.md, "Metrics"). */
#pragma once

#include "orchestrator/httpd.h"

/* Answers GET /metrics (a YbHttpHandler) from the daemon's memory; userdata is the YbDaemon.
 * Takes the daemon's lock. */
void yb_metrics_handle(void *userdata, const YbHttpRequest *req, YbHttpResponse *resp);
