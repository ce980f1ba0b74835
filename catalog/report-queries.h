/* catalog/report-queries.h: what the monthly, quarterly and annual reports read from the catalog
 * over a period [from, to) (docs/reports.md, "The numbers"): a system's jobs by end state, its good
 * tier-1 snapshot times, its newest off-site copy and its storage samples (its lag hours are
 * catalog/lag.h's, its drills catalog/drills.h's); and the two computations over them that need no
 * catalog: the RPO met over a list of snapshot times, and the lag's figures over hourly rows. Every
 * figure is an integer; a query that finds nothing says so (-ENOENT, or a count of 0 where 0 is the
 * true answer). The caller holds whatever lock guards the catalog connection. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "catalog/lag.h"

/* A system's jobs of one tier whose finished_usec lies in [from, to), by end state. */
typedef struct YbReportJobs {
        int64_t succeeded, partial, failed, cancelled;
} YbReportJobs;

/* Counts the system's jobs of tier that finished in [from, to). 0 or -errno. */
int yb_report_jobs(YbCatalog *c, const char *system, int tier, int64_t from, int64_t to,
                   YbReportJobs *ret);

/* When yunbakd first loaded the system's policy (its oldest policy_versions row): 0, or
 * -ENOENT when the catalog has none, or -errno. */
int yb_report_first_loaded(YbCatalog *c, const char *system, int64_t *ret);

/* The times (ascending) at which yunbakd first loaded a new version of the system's policy in
 * (from, to): *ret (malloc'ed, the caller frees it; NULL when none) and *ret_n. 0 or -errno. */
int yb_report_policy_changes(YbCatalog *c, const char *system, int64_t from, int64_t to,
                             int64_t **ret, size_t *ret_n);

/* The times (finished_usec, ascending) of the system's good tier-1 snapshots made in
 * [since, until) (the RPO met over a period starting at from needs those since from - rpo): rows of
 * store neither partial nor quarantined, and the finished times of succeeded tier-1 jobs whose
 * snapshot the catalog no longer lists in store (pruned since, even if an off-site copy of it is
 * still listed). *ret (malloc'ed, the caller frees it; NULL when none) and *ret_n. 0 or -errno. */
int yb_report_good_times(YbCatalog *c, const char *system, const char *store, int64_t since,
                         int64_t until, int64_t **ret, size_t *ret_n);

/* The RPO met over seen = [from, to) (usec): at each instant t the RPO is met when some time
 * t_i <= t of times has t - t_i <= rpo_usec. */
typedef struct YbRpoMet {
        int64_t seen_usec, met_usec;
        int64_t longest_start_usec, longest_usec; /* the longest breach; 0, 0: none */
        int64_t snapshots;                        /* times in [from, to) */
} YbRpoMet;

/* Computes the RPO met from n times (ascending; any before from count, any at or after to do
 * not) for rpo_usec over [from, to); from >= to gives an empty seen (all zero). charge_usec,
 * when yunbakd took charge of the system (first loaded its policy; INT64_MIN: not known),
 * covers [charge, charge + rpo] as a snapshot would without counting as one: yunbakd has one
 * rpo to make the first backup of a system it was just given (docs/reports.md). */
void yb_report_rpo_met(const int64_t *times, size_t n, int64_t charge_usec, int64_t rpo_usec,
                       int64_t from, int64_t to, YbRpoMet *ret);

/* The lag over hours (docs/reports.md, "lag"): the rows, samples and unknown seconds summed;
 * max_ms the largest hourly max (-1: none known); p50_ms and p99_ms the known-sample-weighted
 * quantiles of the hourly p50s and p99s (-1: no known sample). */
typedef struct YbReportLag {
        int64_t hours, samples, unknown_seconds, known;
        int64_t p50_ms, p99_ms, max_ms;
} YbReportLag;

/* Computes ret from n hours. */
void yb_report_lag_summary(const YbLagHour *hours, size_t n, YbReportLag *ret);

/* The newest off-site copy at end (docs/reports.md, "offsite"): among the snapshots of store
 * (the tier-3 store), neither partial nor quarantined, that were there by end (from the end of the
 * succeeded tier-3 job that copied each, or its own finished time when there is none), the one with
 * the newest finished time: its id in ret_id (room for 64 bytes) and time in *ret_usec. 0, -ENOENT
 * when there is none, or -errno. */
int yb_report_newest_copy(YbCatalog *c, const char *system, const char *store, int64_t end,
                          char ret_id[64], int64_t *ret_usec);

/* One storage_usage sample. */
typedef struct YbStorageSample {
        int64_t day_usec, bytes, snapshots;
} YbStorageSample;

/* The sample of system in store with the latest day_usec at or before at: 0, -ENOENT when
 * there is none, or -errno. */
int yb_report_storage_at(YbCatalog *c, const char *system, const char *store, int64_t at,
                         YbStorageSample *ret);

/* Measures the system's storage in store now and keeps it as the sample of day_usec (a UTC
 * midnight), replacing one of that day: the bytes_stored summed and the number of the catalog's
 * snapshots rows of the system in store, quarantined and partial ones included. With
 * only_if_listed, nothing is kept when the catalog lists no snapshot there (tier 2, whose store
 * the catalog lists only after a rebuild). 0 or -errno. */
int yb_report_storage_measure(YbCatalog *c, const char *system, int tier, const char *store,
                              int64_t day_usec, bool only_if_listed);
