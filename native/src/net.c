#include "net.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

bool net_parse_ipv4(const char *s, struct in_addr *out)
{
	/* inet_pton accepts only the strict dotted-quad form, refusing "10.0.0" and "10.0.0.1x". */
	return inet_pton(AF_INET, s, out) == 1;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool net_parse_mac(const char *s, uint8_t mac[6])
{
	if (strlen(s) != 17)
		return false;
	for (int i = 0; i < 6; i++) {
		const char *p = s + 3 * i;
		int hi = hex_digit(p[0]), lo = hex_digit(p[1]);
		if (hi < 0 || lo < 0)
			return false;
		if (i < 5 && p[2] != ':')
			return false;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

void net_format_mac(const uint8_t mac[6], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x",
		 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}
