/*
 * peer.c - the client's address, behind trusted proxies or not (see
 * peer.h).
 */
#include "peer.h"

#include <arpa/inet.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PEER_XFF_MAX 1024

/* Text to family + bytes; a mapped IPv4 address becomes IPv4. 0 or -1. */
static int parse_addr(const char *s, int *family, uint8_t out[16])
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (inet_pton(AF_INET, s, out) == 1) {
        *family = 4;
        return 0;
    }
    if (inet_pton(AF_INET6, s, out) == 1) {
        *family = 6;
        if (memcmp(out, mapped, 12) == 0) {
            memmove(out, out + 12, 4);
            *family = 4;
        }
        return 0;
    }
    return -1;
}

static int parse_cidr(const char *s, peer_cidr *c)
{
    char buf[PEER_ADDR_MAX + 8], *slash, *end;
    long bits;

    if (strlen(s) >= sizeof(buf))
        return -1;
    strcpy(buf, s);
    slash = strchr(buf, '/');
    if (slash)
        *slash = '\0';
    memset(c, 0, sizeof(*c));
    if (parse_addr(buf, &c->family, c->addr))
        return -1;
    if (!slash) {
        c->bits = c->family == 4 ? 32 : 128;
        return 0;
    }
    bits = strtol(slash + 1, &end, 10);
    if (!slash[1] || *end || bits < 0 || bits > (c->family == 4 ? 32 : 128))
        return -1;
    c->bits = (int)bits;
    return 0;
}

/* Copies the next comma-separated item of *p, trimmed, into out; 0 at the
 * end of the list. */
static int next_item(const char **p, char *out, size_t len)
{
    const char *s = *p, *e;
    size_t n;
    while (*s == ' ' || *s == '\t')
        s++;
    if (!*s)
        return 0;
    e = strchr(s, ',');
    if (!e)
        e = s + strlen(s);
    *p = *e ? e + 1 : e;
    n = (size_t)(e - s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n >= len)
        n = len - 1;
    memcpy(out, s, n);
    out[n] = '\0';
    return 1;
}

int peer_config_parse(peer_config *pc, const char *list, char *err, size_t errlen)
{
    peer_config tmp;
    char item[PEER_ADDR_MAX + 8];
    const char *p = list;

    memset(&tmp, 0, sizeof(tmp));
    while (next_item(&p, item, sizeof(item))) {
        if (tmp.n == PEER_MAX_CIDRS) {
            snprintf(err, errlen, "--trust-proxy takes at most %d ranges", PEER_MAX_CIDRS);
            return -1;
        }
        if (!item[0] || parse_cidr(item, &tmp.cidrs[tmp.n])) {
            snprintf(err, errlen,
                     "--trust-proxy wants addresses or CIDR ranges separated by commas "
                     "(like 10.0.0.0/8,::1), got '%s'",
                     item);
            return -1;
        }
        tmp.n++;
    }
    *pc = tmp;
    return 0;
}

static int in_cidr(const peer_cidr *c, int family, const uint8_t a[16])
{
    int full = c->bits / 8, rest = c->bits % 8;
    if (c->family != family || memcmp(c->addr, a, (size_t)full) != 0)
        return 0;
    if (!rest)
        return 1;
    return ((c->addr[full] ^ a[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

int peer_trusted(const peer_config *pc, const char *addr)
{
    uint8_t a[16];
    int family;
    size_t i;

    if (!pc || !pc->n || parse_addr(addr, &family, a))
        return 0;
    for (i = 0; i < pc->n; i++)
        if (in_cidr(&pc->cidrs[i], family, a))
            return 1;
    return 0;
}

int peer_resolve(const peer_config *pc, const char *peer, const char *xff, char *out, size_t len)
{
    char hops[PEER_XFF_MAX], cur[PEER_ADDR_MAX];
    uint8_t a[16];
    int family;
    size_t end;

    snprintf(out, len, "%s", peer);
    if (parse_addr(peer, &family, a))
        return -1;
    snprintf(cur, sizeof(cur), "%s", peer);
    snprintf(hops, sizeof(hops), "%s", xff ? xff : "");
    end = strlen(hops);
    while (peer_trusted(pc, cur) && end > 0) {
        char *item, *comma;
        size_t n;
        hops[end] = '\0';
        comma = strrchr(hops, ',');
        item = comma ? comma + 1 : hops;
        end = comma ? (size_t)(comma - hops) : 0;
        while (*item == ' ' || *item == '\t')
            item++;
        n = strlen(item);
        while (n && (item[n - 1] == ' ' || item[n - 1] == '\t'))
            item[--n] = '\0';
        if (!*item)
            continue;
        if (n >= sizeof(cur) || parse_addr(item, &family, a))
            break; /* not an address: keep the last good one */
        memcpy(cur, item, n + 1);
    }
    /* one spelling per address: ::ffff:10.0.0.1 is 10.0.0.1 */
    if (parse_addr(cur, &family, a) == 0)
        inet_ntop(family == 4 ? AF_INET : AF_INET6, a, out, (socklen_t)len);
    else
        snprintf(out, len, "%s", cur);
    return 0;
}

int peer_address(struct lws *wsi, const peer_config *trust, char *out, size_t len)
{
    char peer[PEER_ADDR_MAX], xff[PEER_XFF_MAX];
    const char *p = wsi ? lws_get_peer_simple(wsi, peer, sizeof(peer)) : NULL;

    if (!p || !*p) {
        snprintf(out, len, "unknown");
        return -1;
    }
    xff[0] = '\0';
    if (trust && trust->n && peer_trusted(trust, p) &&
        lws_hdr_copy(wsi, xff, (int)sizeof(xff), WSI_TOKEN_X_FORWARDED_FOR) <= 0)
        xff[0] = '\0';
    return peer_resolve(trust, p, xff, out, len);
}
