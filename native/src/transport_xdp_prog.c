/* AF_XDP transport (-X IFACE): the steering program. bpf/xdp_steer.bpf.c is compiled at
 * build time and linked into the binary (bpf/xdp_steer_embed.S), so a container needs no
 * file besides icperf and no bpffs.
 *
 * The program is attached through a bpf_link, never through netlink: the link lives as
 * long as a descriptor refers to it, so the kernel detaches the program when the applet
 * exits in any way, SIGKILL included, and nothing is left on the interface. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_link.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "transport_xdp.h"
#include "xdp_steer.h"

extern const unsigned char icperf_xdp_steer_obj[], icperf_xdp_steer_obj_end[];

static int fail(const struct options *o, const char *what, int err, const char *hint)
{
	fprintf(stderr, "icperf: -X %s: %s: %s%s\n", o->iface, what, strerror(err), hint);
	return 1;
}

static int load(struct xdp_prog *p, const struct options *o)
{
	LIBBPF_OPTS(bpf_object_open_opts, open_opts, .object_name = "icperf_xdp");
	p->obj = bpf_object__open_mem(icperf_xdp_steer_obj,
				      (size_t)(icperf_xdp_steer_obj_end - icperf_xdp_steer_obj),
				      &open_opts);
	if (!p->obj) {
		int err = errno;
		p->obj = NULL;
		return fail(o, "cannot open the built-in XDP program", err, "");
	}
	const struct xdp_steer_cfg cfg = { .ip = o->local_ip.s_addr,
					   .port = htons((uint16_t)o->port) };
	struct bpf_map *rodata = bpf_object__find_map_by_name(p->obj, ".rodata");
	if (!rodata || bpf_map__set_initial_value(rodata, &cfg, sizeof(cfg)) != 0)
		return fail(o, "the built-in XDP program has no flow settings", EINVAL, "");
	int rc = bpf_object__load(p->obj);
	if (rc)
		return fail(o, "the kernel refused the XDP program", -rc,
			    rc == -EPERM ? " (needs CAP_BPF and CAP_NET_ADMIN)" : "");
	p->map_fd = bpf_object__find_map_fd_by_name(p->obj, "icperf_xsks");
	return 0;
}

/* Another program on the interface (or a netlink attachment in the other mode) makes
 * the link fail with EBUSY or EEXIST: say which program it is. */
static int busy(const struct options *o, unsigned ifindex, int err)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	if (bpf_xdp_query((int)ifindex, 0, &q) == 0 && q.prog_id) {
		const char *mode = q.attach_mode == XDP_ATTACHED_SKB ? "generic" : "native";
		fprintf(stderr, "icperf: -X %s: another XDP program (id %u, %s mode) is attached "
			"to the interface (detach it: ip link set dev %s xdp off)\n", o->iface,
			q.prog_id, mode, o->iface);
		return 1;
	}
	return fail(o, "cannot attach the XDP program", err, "");
}

static int link_in_mode(int prog_fd, unsigned ifindex, __u32 mode)
{
	LIBBPF_OPTS(bpf_link_create_opts, lo, .flags = mode);
	int fd = bpf_link_create(prog_fd, (int)ifindex, BPF_XDP, &lo);
	return fd < 0 ? -errno : fd;
}

int xdp_prog_attach(struct xdp_prog *p, const struct options *o, unsigned ifindex)
{
	/* libbpf would print its own view of every failure next to ours. */
	libbpf_set_print(NULL);
	if (load(p, o))
		return 1;
	int prog_fd = bpf_program__fd(bpf_object__find_program_by_name(p->obj, "icperf_steer"));
	int fd = link_in_mode(prog_fd, ifindex, XDP_FLAGS_DRV_MODE);
	p->mode = "native";
	/* No native hook (the driver has none, or refuses it for this device's settings):
	 * the generic hook runs the same program on every netdev, later in the stack. */
	if (fd < 0 && fd != -EBUSY && fd != -EEXIST && fd != -EPERM) {
		if (fd != -EOPNOTSUPP) /* the driver has a native hook but refuses it here */
			fprintf(stderr, "icperf: -X %s: native XDP refused (%s): generic XDP "
				"instead\n", o->iface, strerror(-fd));
		fd = link_in_mode(prog_fd, ifindex, XDP_FLAGS_SKB_MODE);
		p->mode = "generic";
	}
	if (fd == -EBUSY || fd == -EEXIST)
		return busy(o, ifindex, -fd);
	if (fd == -EPERM)
		return fail(o, "cannot attach the XDP program", -fd, " (needs CAP_NET_ADMIN)");
	if (fd < 0)
		return fail(o, "the interface takes no XDP program, native or generic", -fd,
			    fd == -EINVAL ? " (a kernel before Linux 5.9 has no XDP links)" : "");
	p->link_fd = fd;
	return 0;
}

int xdp_prog_add_socket(struct xdp_prog *p, const struct options *o, int xsk_fd)
{
	__u32 key = XDP_QUEUE, value = (__u32)xsk_fd;
	if (bpf_map_update_elem(p->map_fd, &key, &value, BPF_ANY) != 0)
		return fail(o, "cannot steer queue 0 to the socket", errno, "");
	return 0;
}

void xdp_prog_close(struct xdp_prog *p)
{
	if (p->link_fd >= 0)
		close(p->link_fd);
	p->link_fd = -1;
	bpf_object__close(p->obj);
	p->obj = NULL;
}
