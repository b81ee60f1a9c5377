#include "sockio.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "clock.h"
#include "payload.h"

/* Drops at the sender are expected and counted; anything else is said once on stderr so a
 * run that sends nothing at all explains itself. */
static void __attribute__((cold)) report_error(struct sockio *s, bool tx, int err)
{
	if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ENOBUFS)
		return;
	bool *done = tx ? &s->tx_error_reported : &s->rx_error_reported;
	if (*done)
		return;
	*done = true;
	fprintf(stderr, "icperf: %s failed: %s (counted as %s, reported once)\n",
		tx ? "send" : "receive", strerror(err), tx ? "dropped" : "nothing received");
}

static unsigned send_each(struct sockio *s, struct mmsghdr *m, unsigned n)
{
	unsigned i;
	for (i = 0; i < n; i++) {
		if (sendmsg(s->fd, &m[i].msg_hdr, s->tx_flags) < 0) {
			report_error(s, true, errno);
			break;
		}
	}
	return i;
}

static unsigned send_mmsg(struct sockio *s, struct mmsghdr *m, unsigned n)
{
	int r = sendmmsg(s->fd, m, n, s->tx_flags);
	if (r < 0) {
		report_error(s, true, errno);
		return 0;
	}
	return (unsigned)r;
}

static inline uint8_t *payload_of(const struct sockio *s, const struct mmsghdr *m)
{
	return (uint8_t *)m->msg_hdr.msg_iov->iov_base + s->payload_off;
}

/* Packet i's timestamp must not include the i sendmsg() calls before it. */
static unsigned send_each_stamped(struct sockio *s, struct mmsghdr *m, unsigned n)
{
	unsigned i;
	for (i = 0; i < n; i++) {
		payload_put_ts(payload_of(s, &m[i]), clock_now_ns());
		if (sendmsg(s->fd, &m[i].msg_hdr, s->tx_flags) < 0) {
			report_error(s, true, errno);
			break;
		}
	}
	return i;
}

/* One syscall hands the whole burst over: the latest time common to all its packets. */
static unsigned send_mmsg_stamped(struct sockio *s, struct mmsghdr *m, unsigned n)
{
	const uint64_t ts = clock_now_ns();
	for (unsigned i = 0; i < n; i++)
		payload_put_ts(payload_of(s, &m[i]), ts);
	return send_mmsg(s, m, n);
}

/* The first call may block (-B); the rest of the burst takes only what is already queued. */
static unsigned recv_each(struct sockio *s, struct mmsghdr *m, unsigned n)
{
	unsigned i;
	int flags = s->rx_flags;
	for (i = 0; i < n; i++) {
		ssize_t r = recvmsg(s->fd, &m[i].msg_hdr, flags);
		if (r < 0) {
			report_error(s, false, errno);
			break;
		}
		m[i].msg_len = (unsigned)r;
		flags = MSG_DONTWAIT;
	}
	return i;
}

static unsigned recv_mmsg(struct sockio *s, struct mmsghdr *m, unsigned n)
{
	int r = recvmmsg(s->fd, m, n, s->rx_flags, NULL);
	if (r < 0) {
		report_error(s, false, errno);
		return 0;
	}
	return (unsigned)r;
}

static void set_buffer(int fd, int force_opt, int opt, int bytes)
{
	/* The FORCE variants (CAP_NET_ADMIN) may exceed net.core.[rw]mem_max. */
	if (setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof(bytes)) < 0)
		setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof(bytes));
}

void sockio_init(struct sockio *s, int fd, const struct options *o, uint32_t payload_off)
{
	*s = (struct sockio){ .fd = fd, .payload_off = payload_off };
	set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, 16 << 20);
	set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, 4 << 20);
	if (o->blocking) {
		struct timeval tv = { 0, SOCKIO_TIMEOUT_US };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		s->tx_flags = 0;
		s->rx_flags = o->mmsg ? MSG_WAITFORONE : 0;
	} else {
		s->tx_flags = MSG_DONTWAIT;
		s->rx_flags = MSG_DONTWAIT;
	}
	s->send = o->mmsg ? send_mmsg : send_each;
	s->recv = o->mmsg ? recv_mmsg : recv_each;
	s->send_stamped = o->mmsg ? send_mmsg_stamped : send_each_stamped;
	s->tx_stamp = o->mmsg ? "per-burst" : "per-packet";
}
