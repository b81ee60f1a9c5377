/* EAL start-up for the DPDK transport, with its diagnostics kept off standard output. */
#ifndef ICPERF_TRANSPORT_DPDK_EAL_H
#define ICPERF_TRANSPORT_DPDK_EAL_H

#include <stdbool.h>
#include <stddef.h>

#include "options.h"

/* Runs rte_eal_init on the applet name and the arguments after "--". EAL writes its usage
 * text to standard output and several lines per failure: while it runs, standard output goes
 * nowhere and standard error into a buffer. On failure one line names the EAL arguments and
 * the reason, and 1 is returned. On success *log is what EAL wrote (malloc'd, may be NULL),
 * for the caller to show or to pick a reason from, and 0 is returned. */
int dpdk_eal_init(const struct options *o, char **log);

/* One line of an EAL log that says why: after a failed rte_eal_init its fatal message and
 * the line before it; after a successful one (that found no port) the first line that
 * mentions a failure or an error. Empty when there is none. */
void dpdk_eal_reason(const char *log, bool init_failed, char *out, size_t size);

#endif
