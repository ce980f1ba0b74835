/* orchestrator/api.h: yunbakd's control API (orchestrator/api.c; docs/api.md), served on the
 * unix socket by the HTTP layer (orchestrator/httpd.h). */
#pragma once

#include "orchestrator/httpd.h"

/* Answers one request (a YbHttpHandler); userdata is the YbDaemon. Takes the daemon's lock; every
 * change and every refusal is audited. */
void yb_api_handle(void *userdata, const YbHttpRequest *req, YbHttpResponse *resp);

/* Whether uid is one of the people of yunbakd.yaml (a YbHttpGate's admit); userdata is the
 * YbDaemon. The people are read once at start, so no lock is taken. */
bool yb_api_admit(void *userdata, uid_t uid);
/* Audits count connections of uid refused in the minute from minute_usec as one record (a
 * YbHttpGate's refused), so that a flood of them cannot fill the audit log. Takes the lock. */
void yb_api_refused(void *userdata, uid_t uid, unsigned count, int64_t minute_usec);
