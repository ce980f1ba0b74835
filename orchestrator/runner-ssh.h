/* orchestrator/runner-ssh.h: the job runner's transport to another host: libssh2, the host
 * key checked against known_hosts first, the command under a wrapper that kills its process
 * group when the channel's stdin closes. */
#pragma once

#include "orchestrator/run.h"

/* Runs argv on t's host to its end, as orch_run_local does here. */
int orch_run_ssh(OrchRun *run, const YbRunTarget *t, char *const argv[], char *const env[]);
