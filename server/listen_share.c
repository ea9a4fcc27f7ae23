/*
 * listen_share.c - SO_REUSEPORT before bind(2) (see listen_share.h).
 */
#include "listen_share.h"

#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

static int share;

void listen_share_enable(int on)
{
    share = on;
}

int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    static int (*libc_bind)(int, const struct sockaddr *, socklen_t);
    int type = 0, one = 1;
    socklen_t tl = sizeof(type);

    if (!libc_bind) {
        libc_bind = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "bind");
        if (!libc_bind) {
            errno = ENOSYS;
            return -1;
        }
    }
    if (share && addr && (addr->sa_family == AF_INET || addr->sa_family == AF_INET6) &&
        getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_STREAM &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
        return -1; /* errno from setsockopt */
    return libc_bind(fd, addr, len);
}
