/* icperf: one multi-call binary; the applet is argv[0]'s basename (a link named after it)
 * or the first argument. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "options.h"
#include "selftest.h"

struct applet {
	const char *name;
	int (*run)(const struct options *o);
	enum role role;
	bool dpdk;
};

static const struct applet applets[] = {
	{ "send", app_send, ROLE_SEND, false },
	{ "recv", app_recv, ROLE_RECV, false },
	{ "client", app_client, ROLE_CLIENT, false },
	{ "server", app_server, ROLE_SERVER, false },
#ifdef ICPERF_HAVE_DPDK
	{ "dpdk-send", app_send, ROLE_SEND, true },
	{ "dpdk-recv", app_recv, ROLE_RECV, true },
	{ "dpdk-client", app_client, ROLE_CLIENT, true },
	{ "dpdk-server", app_server, ROLE_SERVER, true },
#endif
};

static const struct applet *find_applet(const char *name)
{
	for (size_t i = 0; i < sizeof(applets) / sizeof(applets[0]); i++)
		if (!strcmp(applets[i].name, name))
			return &applets[i];
	return NULL;
}

static void list_applets(FILE *f)
{
	for (size_t i = 0; i < sizeof(applets) / sizeof(applets[0]); i++)
		fprintf(f, "%s%s", i ? ", " : "", applets[i].name);
}

int main(int argc, char **argv)
{
	const char *base = strrchr(argv[0], '/');
	base = base ? base + 1 : argv[0];
	const struct applet *a = find_applet(base);
	if (!a) {
		if (argc < 2) {
			fprintf(stderr, "icperf: missing applet (");
			list_applets(stderr);
			fprintf(stderr, "); see icperf --help\n");
			return 2;
		}
		if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
			options_usage(stdout, NULL);
			return 0;
		}
		if (!strcmp(argv[1], "selftest-hist"))
			return selftest_hist(argc - 1, argv + 1);
		a = find_applet(argv[1]);
		if (!a) {
			fprintf(stderr, "icperf: %s: unknown applet (", argv[1]);
			list_applets(stderr);
			fprintf(stderr, ")\n");
			return 2;
		}
		argc--;
		argv++;
	}

	struct options o;
	int rc = options_parse(&o, a->name, a->role, a->dpdk, argc, argv);
	if (rc)
		return rc < 0 ? 0 : rc;
	static char outbuf[1 << 16];
	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	app_install_signals();
	return a->run(&o);
}
