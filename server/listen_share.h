/*
 * listen_share.h - SO_REUSEPORT on our listening sockets (--reuse-port), so
 * that a second seatmapd can listen on the same port during a rolling
 * restart.
 *
 * Why this exists: lws 4.1.6 sets SO_REUSEPORT only when it runs several
 * service threads (LWS_SERVER_OPTION_ALLOW_LISTEN_SHARE alone does nothing
 * with one thread on a foreign loop), and the option must be set before
 * bind(2). lws creates and binds its sockets itself, so seatmapd provides
 * bind(): when sharing is on, a TCP socket gets SO_REUSEPORT and then the
 * C library's bind runs. The dynamic linker resolves lws's bind to the
 * executable's (an executable's definitions come first), so nothing else
 * changes; with sharing off it is the C library's bind and nothing more.
 */
#ifndef SEATMAP_LISTEN_SHARE_H
#define SEATMAP_LISTEN_SHARE_H

/* Turns SO_REUSEPORT on (1) or off (0) for TCP sockets bound from now on. */
void listen_share_enable(int on);

#endif
