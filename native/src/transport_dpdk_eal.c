#include "transport_dpdk_eal.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_log.h>

/* Standard output and error redirected for the time of a call. */
struct capture {
	int saved_out, saved_err, buf;
};

static bool capture_begin(struct capture *c)
{
	fflush(stdout);
	fflush(stderr);
	c->buf = memfd_create("icperf-eal-log", MFD_CLOEXEC);
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	c->saved_out = dup(STDOUT_FILENO);
	c->saved_err = dup(STDERR_FILENO);
	bool ok = c->buf >= 0 && null >= 0 && c->saved_out >= 0 && c->saved_err >= 0 &&
		  dup2(null, STDOUT_FILENO) >= 0 && dup2(c->buf, STDERR_FILENO) >= 0;
	if (null >= 0)
		close(null);
	return ok;
}

/* Restores the descriptors and returns what was written to standard error (malloc'd). */
static char *capture_end(struct capture *c)
{
	fflush(stdout); /* EAL's usage text: it goes nowhere, never into the records */
	fflush(stderr);
	if (c->saved_out >= 0) {
		dup2(c->saved_out, STDOUT_FILENO);
		close(c->saved_out);
	}
	if (c->saved_err >= 0) {
		dup2(c->saved_err, STDERR_FILENO);
		close(c->saved_err);
	}
	char *text = NULL;
	if (c->buf >= 0) {
		off_t len = lseek(c->buf, 0, SEEK_END);
		text = calloc(1, (size_t)(len > 0 ? len : 0) + 1);
		if (text && len > 0 && pread(c->buf, text, (size_t)len, 0) < 0)
			text[0] = '\0';
		close(c->buf);
	}
	return text;
}

/* Calls fn on each non-empty line of text (without its newline and an "EAL: " prefix);
 * stops when fn returns true. */
static void each_line(const char *text, bool (*fn)(const char *line, int len, void *arg),
		      void *arg)
{
	for (const char *line = text; line && *line;) {
		const char *end = strchr(line, '\n');
		int len = end ? (int)(end - line) : (int)strlen(line);
		const char *body = line;
		if (len >= 5 && !strncmp(body, "EAL: ", 5)) {
			body += 5;
			len -= 5;
		}
		if (len > 0 && fn(body, len, arg))
			return;
		line = end ? end + 1 : NULL;
	}
}

struct why {
	const char *fatal, *detail, *failure;
	int fatal_len, detail_len, failure_len;
};

/* EAL's last word is a "FATAL: ..." line; the line before it usually says what was wrong
 * (getopt's complaint, the core that does not exist, the missing hugepages). */
static bool find_fatal(const char *line, int len, void *arg)
{
	struct why *w = arg;
	if (len > 7 && !strncmp(line, "FATAL: ", 7)) {
		w->fatal = line + 7;
		w->fatal_len = len - 7;
		return true;
	}
	if (strncmp(line, "Detected ", 9) != 0) {
		w->detail = line;
		w->detail_len = len;
	}
	return false;
}

static bool find_failure(const char *line, int len, void *arg)
{
	struct why *w = arg;
	if (!memmem(line, (size_t)len, "fail", 4) && !memmem(line, (size_t)len, "error", 5))
		return false;
	w->failure = line;
	w->failure_len = len;
	return true;
}

void dpdk_eal_reason(const char *log, bool init_failed, char *out, size_t size)
{
	struct why w = { 0 };
	out[0] = '\0';
	if (!log)
		return;
	if (!init_failed) {
		each_line(log, find_failure, &w);
		if (w.failure)
			snprintf(out, size, "%.*s", w.failure_len, w.failure);
		return;
	}
	each_line(log, find_fatal, &w);
	if (w.fatal && w.detail)
		snprintf(out, size, "%.*s (%.*s)", w.fatal_len, w.fatal, w.detail_len, w.detail);
	else if (w.fatal || w.detail)
		snprintf(out, size, "%.*s", w.fatal ? w.fatal_len : w.detail_len,
			 w.fatal ? w.fatal : w.detail);
}

static void join_args(const struct options *o, char *out, size_t size)
{
	size_t used = 0;
	out[0] = '\0';
	for (int i = 0; i < o->extra_argc && used + 1 < size; i++)
		used += (size_t)snprintf(out + used, size - used, "%s%s", i ? " " : "",
					 o->extra_argv[i]);
}

int dpdk_eal_init(const struct options *o, char **log)
{
	*log = NULL;
	/* EAL keeps pointers into its argv: the copy lives as long as the process. */
	char **argv = calloc((size_t)o->extra_argc + 2, sizeof(char *));
	if (!argv) {
		fprintf(stderr, "icperf: %s: out of memory\n", o->applet);
		return 1;
	}
	argv[0] = (char *)o->applet;
	for (int i = 0; i < o->extra_argc; i++)
		argv[i + 1] = o->extra_argv[i];

	struct capture cap;
	bool captured = capture_begin(&cap);
	rte_openlog_stream(stderr);
	opterr = 1; /* getopt's message is the one that names a mistyped EAL option */
	int rc = rte_eal_init(o->extra_argc + 1, argv);
	int err = rte_errno;
	char *text = capture_end(&cap);
	if (rc >= 0) {
		*log = text;
		return 0;
	}
	char args[512], why[512] = "";
	join_args(o, args, sizeof(args));
	if (captured)
		dpdk_eal_reason(text, true, why, sizeof(why));
	fprintf(stderr, "icperf: %s: EAL arguments after -- (%s) rejected: %s\n", o->applet,
		args[0] ? args : "none", why[0] ? why : rte_strerror(err));
	free(text);
	return 1;
}
