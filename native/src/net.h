/* Address parsing and formatting. */
#ifndef ICPERF_NET_H
#define ICPERF_NET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

bool net_parse_ipv4(const char *s, struct in_addr *out);
bool net_parse_mac(const char *s, uint8_t mac[6]);

/* Writes "aa:bb:cc:dd:ee:ff" (18 bytes with NUL). */
void net_format_mac(const uint8_t mac[6], char out[18]);

#endif
