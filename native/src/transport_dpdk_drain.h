/* Waiting for the peer to take what a DPDK port's transmit ring still holds. */
#ifndef ICPERF_TRANSPORT_DPDK_DRAIN_H
#define ICPERF_TRANSPORT_DPDK_DRAIN_H

#include <stdint.h>

/* Waits until the peer has taken every frame of transmit queue `queue` of `port`, polling
 * every millisecond for at most timeout_ms. Returns the frames still in the ring (0 when
 * all were taken), or -1 when the driver cannot tell: then it has waited fallback_ms. */
long dpdk_tx_drain(uint16_t port, uint16_t queue, unsigned timeout_ms, unsigned fallback_ms);

#endif
