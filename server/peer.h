/*
 * peer.h - who the client is: the address of the peer, or, when the peer is
 * a proxy the operator trusts (--trust-proxy CIDR[,CIDR...]), the address
 * that proxy put in X-Forwarded-For.
 *
 * The rule (nginx's real_ip_recursive): start from the peer's address;
 * while the address in hand is trusted and X-Forwarded-For has an entry to
 * its left not yet taken, take the rightmost such entry. So with one proxy
 * the answer is the last hop it appended; a client cannot pass as anyone by
 * sending its own X-Forwarded-For, because only what trusted hops appended
 * is believed; and without --trust-proxy the header is never read.
 *
 * Addresses are text as inet_ntop writes them; an IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) counts as the IPv4 address.
 *
 * Not here: what the address is used for (logs, per-address limits).
 */
#ifndef SEATMAP_PEER_H
#define SEATMAP_PEER_H

#include <stddef.h>
#include <stdint.h>

struct lws;

#define PEER_MAX_CIDRS 32
#define PEER_ADDR_MAX 64 /* room for any address as text, NUL included */

typedef struct peer_cidr {
    int family; /* 4 or 6 */
    uint8_t addr[16];
    int bits;
} peer_cidr;

/* The trusted proxies; n == 0 trusts nobody (the default). */
typedef struct peer_config {
    size_t n;
    peer_cidr cidrs[PEER_MAX_CIDRS];
} peer_config;

/* Parses "10.0.0.0/8,192.168.1.1,::1,fd00::/8" (a bare address is a /32 or
 * /128; spaces around commas are allowed) into pc, replacing what it had.
 * 0, or -1 with a sentence in err. */
int peer_config_parse(peer_config *pc, const char *list, char *err, size_t errlen);

/* 1 when addr (text) is inside one of the trusted ranges. */
int peer_trusted(const peer_config *pc, const char *addr);

/* The client's address from the peer's address and the X-Forwarded-For
 * value (NULL or "" when absent), by the rule above, into out. An entry
 * that is not an address stops the walk at the last good one. 0, or -1
 * when peer is not an address (out = peer, cut to fit). */
int peer_resolve(const peer_config *pc, const char *peer, const char *xff, char *out, size_t len);

/* The same for a connection: its peer address and its X-Forwarded-For
 * header. out gets "unknown" when lws cannot tell. 0 or -1. */
int peer_address(struct lws *wsi, const peer_config *trust, char *out, size_t len);

#endif
