/*
 * wsc.h - a minimal WebSocket client on one epoll loop, for the load
 * generator. It speaks exactly what seatmapd needs: an HTTP/1.1 upgrade with
 * a subprotocol (seatmap.v1 or v2), masked text frames out, unmasked (possibly
 * fragmented) text or binary frames in, ping/pong and close.
 *
 * Why not the libwebsockets client: one generator process holds 10k+
 * connections on a 2-core machine it shares with the server, so every
 * microsecond per frame counts. Here a readable socket costs one recv() into a
 * shared buffer and no per-connection buffer is kept unless a frame is split
 * across reads, so an idle connection costs the generator about 120 bytes.
 *
 * Not here: TLS, extensions (permessage-deflate is never offered), HTTP
 * other than the upgrade, anything that knows the seatmap messages.
 */
#ifndef SEATMAP_BENCH_WSC_H
#define SEATMAP_BENCH_WSC_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

/* Largest message we accept from the server (a 200k-seat snapshot fits). */
#define WSC_MAX_MESSAGE (4u * 1024u * 1024u)
/* Largest message we send (the server's limit is 16 KiB). */
#define WSC_MAX_SEND 16384u

enum wsc_state { WSC_IDLE, WSC_CONNECTING, WSC_UPGRADING, WSC_OPEN, WSC_CLOSED };

typedef struct wsc_conn {
    int fd;
    uint8_t state;
    uint8_t role; /* set by the caller, never read here */
    uint32_t idx; /* set by the caller, never read here */
    char *rx;     /* unparsed bytes: a partial frame or handshake */
    uint32_t rx_len, rx_cap;
    char *msg; /* fragments of a message being assembled */
    uint32_t msg_len, msg_cap;
    char *tx; /* bytes the socket did not take yet */
    uint32_t tx_len, tx_cap;
} wsc_conn;

typedef struct wsc_ops {
    void (*on_open)(wsc_conn *c, void *ud);
    /* p points into a buffer that is only valid during the call; it may be
     * modified. The callback may close c. */
    void (*on_message)(wsc_conn *c, char *p, size_t n, void *ud);
    /* called once when a connection that was opened ends, for any reason */
    void (*on_close)(wsc_conn *c, const char *why, void *ud);
} wsc_ops;

typedef struct wsc_loop {
    int epfd;
    struct sockaddr_in server;
    char request[512]; /* the upgrade request */
    size_t request_len;
    const wsc_ops *ops;
    void *ud;
    uint32_t n_pending; /* connections not yet open */
    uint32_t n_open;
    uint64_t n_started;
    uint64_t bytes_in, frames_in, bytes_out, frames_out;
} wsc_loop;

/* Prepares a loop for host:port (IPv4 address), upgrading with the
 * subprotocol named. ops and ud must outlive it. */
int wsc_loop_init(wsc_loop *l, const char *host, int port, const char *protocol, const wsc_ops *ops,
                  void *ud);
void wsc_loop_free(wsc_loop *l);

/*
 * Starts connecting c (caller-owned memory; c->role and c->idx are kept).
 * Source addresses rotate over 127.0.0.2..127.0.0.201 when the server is on
 * loopback so that repeated runs do not run out of ephemeral ports.
 * Returns 0, or -1 with errno set.
 */
int wsc_connect(wsc_loop *l, wsc_conn *c);

/* Queues one text message (n <= WSC_MAX_SEND). 0, or -1 when c is not open. */
int wsc_send_text(wsc_loop *l, wsc_conn *c, const char *s, size_t n);

/* One epoll_wait (up to timeout_ms) and the dispatch of what it returned.
 * Returns the number of events, or -1 on a loop error. */
int wsc_poll(wsc_loop *l, int timeout_ms);

/* Closes c now and frees its buffers (no on_close call). With abortive set the
 * socket is reset (SO_LINGER 0), which leaves no TIME_WAIT behind. */
void wsc_close(wsc_loop *l, wsc_conn *c, int abortive);

#endif
