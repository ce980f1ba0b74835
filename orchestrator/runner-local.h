/* orchestrator/runner-local.h: the job runner's transport for this machine: the command as a
 * child process in its own process group (core/base/spawn). */
#pragma once

#include "orchestrator/run.h"

/* Runs argv to its end (env[] as in yb_run, already checked), filling run->r's exit status and
 * run->out and run->err. Returns 0 when it ran to an end, else -errno through orch_run_fail or
 * orch_run_stop_fail. */
int orch_run_local(OrchRun *run, char *const argv[], char *const env[]);
