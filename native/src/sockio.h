/* Batched socket I/O shared by the UDP and raw transports: the send/recv functions are
 * picked once from -B and -m (one syscall per packet or sendmmsg/recvmmsg; blocking or
 * MSG_DONTWAIT), so the transports' burst functions have no branches on options. */
#ifndef ICPERF_SOCKIO_H
#define ICPERF_SOCKIO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "options.h"

/* Blocking sockets wake up this often with nothing to do, so loops see signals and ticks. */
#define SOCKIO_TIMEOUT_US 20000

struct sockio {
	int fd;
	int tx_flags;
	int rx_flags;
	uint32_t payload_off; /* where the icperf payload starts in each message's buffer */
	/* Return how many of m[0..n-1] went / arrived: always a prefix. */
	unsigned (*send)(struct sockio *s, struct mmsghdr *m, unsigned n);
	unsigned (*recv)(struct sockio *s, struct mmsghdr *m, unsigned n);
	/* send() that first writes the clock into each payload's timestamp: right before each
	 * packet's own sendmsg(), or once right before the burst's sendmmsg() (-m); tx_stamp
	 * names which ("per-packet", "per-burst"). */
	unsigned (*send_stamped)(struct sockio *s, struct mmsghdr *m, unsigned n);
	const char *tx_stamp;
	bool tx_error_reported, rx_error_reported;
};

/* Configures fd (buffers, timeouts) and picks the functions. Never fails: a buffer size
 * the kernel refuses only costs headroom. payload_off is the offset of the icperf payload
 * in the messages' buffers: 0 for UDP, the header length for raw frames. */
void sockio_init(struct sockio *s, int fd, const struct options *o, uint32_t payload_off);

#endif
