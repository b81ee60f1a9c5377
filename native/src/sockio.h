/* Batched socket I/O shared by the UDP and raw transports: the send/recv functions are
 * picked once from -B and -m (one syscall per packet or sendmmsg/recvmmsg; blocking or
 * MSG_DONTWAIT), so the transports' burst functions have no branches on options. */
#ifndef ICPERF_SOCKIO_H
#define ICPERF_SOCKIO_H

#include <stdbool.h>
#include <sys/socket.h>

#include "options.h"

/* Blocking sockets wake up this often with nothing to do, so loops see signals and ticks. */
#define SOCKIO_TIMEOUT_US 20000

struct sockio {
	int fd;
	int tx_flags;
	int rx_flags;
	/* Return how many of m[0..n-1] went / arrived: always a prefix. */
	unsigned (*send)(struct sockio *s, struct mmsghdr *m, unsigned n);
	unsigned (*recv)(struct sockio *s, struct mmsghdr *m, unsigned n);
	bool tx_error_reported, rx_error_reported;
};

/* Configures fd (buffers, timeouts) and picks the functions. Never fails: a buffer size
 * the kernel refuses only costs headroom. */
void sockio_init(struct sockio *s, int fd, const struct options *o);

#endif
