/*
 * wsc.c - the load generator's WebSocket client (see wsc.h).
 *
 * Reads are level-triggered and take one recv() per readiness into a shared
 * buffer: frames that arrive whole are handed over from there without a copy;
 * only a frame split across reads is kept in the connection's own buffer,
 * which is freed again once it drains.
 */
#include "wsc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define WSC_READ_BUF (256u * 1024u)
#define WSC_EVENTS 1024
/* A connection keeps a receive buffer no bigger than this once it drains. */
#define WSC_KEEP_RX 16384u
/* Distinct loopback source addresses used for outgoing connections. */
#define WSC_SOURCES 200
#define WSC_PER_SOURCE 5000

/* RFC 6455 example key; the accept value below is its known answer. */
#define WSC_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define WSC_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static char wsc__rbuf[WSC_READ_BUF];

int wsc_loop_init(wsc_loop *l, const char *host, int port, const char *protocol, const wsc_ops *ops,
                  void *ud)
{
    memset(l, 0, sizeof(*l));
    l->server.sin_family = AF_INET;
    l->server.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &l->server.sin_addr) != 1)
        return -1;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0)
        return -1;
    l->ops = ops;
    l->ud = ud;
    l->request_len = (size_t)snprintf(l->request, sizeof(l->request),
                                      "GET /ws HTTP/1.1\r\nHost: %s:%d\r\n"
                                      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                      "Sec-WebSocket-Key: " WSC_KEY "\r\n"
                                      "Sec-WebSocket-Version: 13\r\n"
                                      "Sec-WebSocket-Protocol: %s\r\n\r\n",
                                      host, port, protocol);
    return 0;
}

void wsc_loop_free(wsc_loop *l)
{
    if (l->epfd >= 0)
        close(l->epfd);
    l->epfd = -1;
}

/* Grows *buf so that it holds len + extra bytes; -1 past WSC_MAX_MESSAGE. */
static int wsc__grow(char **buf, uint32_t *cap, uint32_t len, size_t extra)
{
    size_t need = (size_t)len + extra, ncap;
    char *p;

    if (need <= *cap)
        return 0;
    if (need > WSC_MAX_MESSAGE + 64)
        return -1;
    ncap = *cap ? *cap : 4096;
    while (ncap < need)
        ncap *= 2;
    p = realloc(*buf, ncap);
    if (!p)
        return -1;
    *buf = p;
    *cap = (uint32_t)ncap;
    return 0;
}

static void wsc__free_bufs(wsc_conn *c)
{
    free(c->rx);
    free(c->msg);
    free(c->tx);
    c->rx = c->msg = c->tx = NULL;
    c->rx_len = c->rx_cap = c->msg_len = c->msg_cap = c->tx_len = c->tx_cap = 0;
}

void wsc_close(wsc_loop *l, wsc_conn *c, int abortive)
{
    if (c->state == WSC_IDLE || c->state == WSC_CLOSED)
        return;
    if (c->state == WSC_OPEN)
        l->n_open--;
    else
        l->n_pending--;
    if (abortive) {
        struct linger lg = {1, 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->state = WSC_CLOSED;
    wsc__free_bufs(c);
}

static void wsc__fail(wsc_loop *l, wsc_conn *c, const char *why)
{
    wsc_close(l, c, 0);
    if (l->ops->on_close)
        l->ops->on_close(c, why, l->ud);
}

static void wsc__want_write(wsc_loop *l, wsc_conn *c, int on)
{
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(l->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Sends raw bytes, keeping what the socket does not take. */
static int wsc__send_raw(wsc_loop *l, wsc_conn *c, const char *p, size_t n)
{
    ssize_t w = 0;

    if (c->tx_len == 0) {
        w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return -1;
            w = 0;
        }
        if ((size_t)w == n)
            return 0;
        wsc__want_write(l, c, 1);
    }
    if (wsc__grow(&c->tx, &c->tx_cap, c->tx_len, n - (size_t)w))
        return -1;
    memcpy(c->tx + c->tx_len, p + w, n - (size_t)w);
    c->tx_len += (uint32_t)(n - (size_t)w);
    return 0;
}

static int wsc__send_frame(wsc_loop *l, wsc_conn *c, int opcode, const char *s, size_t n)
{
    char frame[WSC_MAX_SEND + 16];
    size_t h = 0;
    /* The mask only has to be unpredictable to browsers' scripts, not here. */
    static const unsigned char mask[4] = {0x5a, 0x17, 0xc3, 0x8e};

    if (n > WSC_MAX_SEND)
        return -1;
    frame[h++] = (char)(0x80 | opcode);
    if (n < 126) {
        frame[h++] = (char)(0x80 | n);
    } else {
        frame[h++] = (char)(0x80 | 126);
        frame[h++] = (char)(n >> 8);
        frame[h++] = (char)(n & 0xff);
    }
    memcpy(frame + h, mask, 4);
    h += 4;
    for (size_t i = 0; i < n; i++)
        frame[h + i] = (char)(s[i] ^ mask[i & 3]);
    l->frames_out++;
    l->bytes_out += h + n;
    return wsc__send_raw(l, c, frame, h + n);
}

int wsc_send_text(wsc_loop *l, wsc_conn *c, const char *s, size_t n)
{
    if (c->state != WSC_OPEN)
        return -1;
    if (wsc__send_frame(l, c, 1, s, n)) {
        wsc__fail(l, c, "send failed");
        return -1;
    }
    return 0;
}

int wsc_connect(wsc_loop *l, wsc_conn *c)
{
    struct epoll_event ev;
    int one = 1, fd;

    c->fd = -1;
    c->rx = c->msg = c->tx = NULL;
    c->rx_len = c->rx_cap = c->msg_len = c->msg_cap = c->tx_len = c->tx_cap = 0;
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if ((ntohl(l->server.sin_addr.s_addr) >> 24) == 127) {
        struct sockaddr_in src = {.sin_family = AF_INET};
        uint32_t k = (uint32_t)((l->n_started / WSC_PER_SOURCE) % WSC_SOURCES);
        src.sin_addr.s_addr = htonl((127u << 24) | (2u + k));
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
            close(fd);
            return -1;
        }
    }
    l->n_started++;
    if (connect(fd, (struct sockaddr *)&l->server, sizeof(l->server)) < 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.ptr = c;
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        close(fd);
        return -1;
    }
    c->fd = fd;
    c->state = WSC_CONNECTING;
    l->n_pending++;
    return 0;
}

/* Checks the 101 answer. Returns bytes used, 0 when incomplete, -1 when bad. */
static long wsc__handshake(wsc_conn *c, char *p, size_t n)
{
    char *end = memmem(p, n, "\r\n\r\n", 4);

    (void)c;
    if (!end)
        return n > 8192 ? -1 : 0;
    if (n < 12 || memcmp(p, "HTTP/1.1 101", 12) != 0)
        return -1;
    if (!memmem(p, (size_t)(end - p), WSC_ACCEPT, strlen(WSC_ACCEPT)))
        return -1;
    return (long)(end - p) + 4;
}

/* Hands one complete message to the user, assembling fragments. */
static int wsc__deliver(wsc_loop *l, wsc_conn *c, int op, int fin, char *p, size_t n)
{
    if (op != 0 && c->msg_len == 0 && fin) {
        l->frames_in++;
        l->ops->on_message(c, p, n, l->ud);
        return 0;
    }
    if (wsc__grow(&c->msg, &c->msg_cap, c->msg_len, n + 1))
        return -1;
    memcpy(c->msg + c->msg_len, p, n);
    c->msg_len += (uint32_t)n;
    if (fin) {
        uint32_t len = c->msg_len;
        c->msg_len = 0;
        l->frames_in++;
        l->ops->on_message(c, c->msg, len, l->ud);
        if (c->state == WSC_OPEN && c->msg_cap > WSC_KEEP_RX) {
            free(c->msg);
            c->msg = NULL;
            c->msg_cap = 0;
        }
    }
    return 0;
}

/*
 * Parses as many frames as p holds. Returns the bytes consumed, or -1 when
 * the connection was closed (by a callback, a close frame or an error).
 */
static long wsc__frames(wsc_loop *l, wsc_conn *c, char *p, size_t n)
{
    size_t off = 0;

    if (c->state == WSC_UPGRADING) {
        long used = wsc__handshake(c, p, n);
        if (used < 0) {
            wsc__fail(l, c, "bad handshake");
            return -1;
        }
        if (used == 0)
            return 0;
        off = (size_t)used;
        c->state = WSC_OPEN;
        l->n_pending--;
        l->n_open++;
        if (l->ops->on_open)
            l->ops->on_open(c, l->ud);
        if (c->state != WSC_OPEN)
            return -1;
    }
    while (n - off >= 2) {
        unsigned char b0 = (unsigned char)p[off], b1 = (unsigned char)p[off + 1];
        int fin = b0 & 0x80, op = b0 & 0x0f, masked = b1 & 0x80;
        size_t h = 2;
        uint64_t len = b1 & 0x7f;
        char *pl;

        if (len == 126) {
            if (n - off < 4)
                break;
            len = ((uint64_t)(unsigned char)p[off + 2] << 8) | (unsigned char)p[off + 3];
            h = 4;
        } else if (len == 127) {
            if (n - off < 10)
                break;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = (len << 8) | (unsigned char)p[off + 2 + i];
            h = 10;
        }
        if (len > WSC_MAX_MESSAGE) {
            wsc__fail(l, c, "frame too large");
            return -1;
        }
        if (masked)
            h += 4;
        if (n - off < h + len)
            break;
        pl = p + off + h;
        if (masked) {
            const char *m = p + off + h - 4;
            for (uint64_t i = 0; i < len; i++)
                pl[i] ^= m[i & 3];
        }
        off += h + (size_t)len;
        l->bytes_in += h + len;
        switch (op) {
        case 0:
        case 1:
        case 2:
            if (wsc__deliver(l, c, op, fin, pl, (size_t)len)) {
                wsc__fail(l, c, "message too large");
                return -1;
            }
            if (c->state != WSC_OPEN)
                return -1;
            break;
        case 8:
            wsc__fail(l, c, "closed by server");
            return -1;
        case 9:
            if (wsc__send_frame(l, c, 10, pl, (size_t)len)) {
                wsc__fail(l, c, "send failed");
                return -1;
            }
            break;
        default:
            break;
        }
    }
    return (long)off;
}

static void wsc__readable(wsc_loop *l, wsc_conn *c)
{
    ssize_t r = recv(c->fd, wsc__rbuf, sizeof(wsc__rbuf), 0);
    long used;

    if (r == 0) {
        wsc__fail(l, c, "closed by peer");
        return;
    }
    if (r < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            wsc__fail(l, c, strerror(errno));
        return;
    }
    if (c->rx_len == 0) {
        used = wsc__frames(l, c, wsc__rbuf, (size_t)r);
        if (used < 0)
            return;
        if ((size_t)used < (size_t)r) {
            if (wsc__grow(&c->rx, &c->rx_cap, 0, (size_t)r - (size_t)used)) {
                wsc__fail(l, c, "out of memory");
                return;
            }
            memcpy(c->rx, wsc__rbuf + used, (size_t)r - (size_t)used);
            c->rx_len = (uint32_t)((size_t)r - (size_t)used);
        }
        return;
    }
    if (wsc__grow(&c->rx, &c->rx_cap, c->rx_len, (size_t)r)) {
        wsc__fail(l, c, "message too large");
        return;
    }
    memcpy(c->rx + c->rx_len, wsc__rbuf, (size_t)r);
    c->rx_len += (uint32_t)r;
    used = wsc__frames(l, c, c->rx, c->rx_len);
    if (used < 0)
        return;
    memmove(c->rx, c->rx + used, c->rx_len - (size_t)used);
    c->rx_len -= (uint32_t)used;
    if (c->rx_len == 0 && c->rx_cap > WSC_KEEP_RX) {
        free(c->rx);
        c->rx = NULL;
        c->rx_cap = 0;
    }
}

static void wsc__writable(wsc_loop *l, wsc_conn *c)
{
    if (c->state == WSC_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            wsc__fail(l, c, strerror(err));
            return;
        }
        c->state = WSC_UPGRADING;
        wsc__want_write(l, c, 0);
        if (wsc__send_raw(l, c, l->request, l->request_len))
            wsc__fail(l, c, "send failed");
        return;
    }
    while (c->tx_len) {
        ssize_t w = send(c->fd, c->tx, c->tx_len, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            wsc__fail(l, c, strerror(errno));
            return;
        }
        memmove(c->tx, c->tx + w, c->tx_len - (size_t)w);
        c->tx_len -= (uint32_t)w;
    }
    wsc__want_write(l, c, 0);
}

int wsc_poll(wsc_loop *l, int timeout_ms)
{
    struct epoll_event ev[WSC_EVENTS];
    int n = epoll_wait(l->epfd, ev, WSC_EVENTS, timeout_ms);

    if (n < 0)
        return errno == EINTR ? 0 : -1;
    for (int i = 0; i < n; i++) {
        wsc_conn *c = ev[i].data.ptr;
        if (c->state == WSC_CLOSED || c->state == WSC_IDLE)
            continue;
        if (ev[i].events & EPOLLOUT)
            wsc__writable(l, c);
        if (c->state == WSC_CLOSED)
            continue;
        if (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
            wsc__readable(l, c);
    }
    return n;
}
