/*
 * test_db.h - a database file for a unit test: a fresh path in /tmp, and
 * its removal with SQLite's -wal and -shm companions.
 *
 * Header-only (static functions): each test program is one file.
 */
#ifndef SEATMAP_TEST_DB_H
#define SEATMAP_TEST_DB_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Creates an empty file named /tmp/seatmap-test-NAME-XXXXXX into path;
 * 0 or -1. */
__attribute__((unused)) static int test_db_create(char *path, size_t len, const char *name)
{
    int fd;
    snprintf(path, len, "/tmp/seatmap-test-%s-XXXXXX", name);
    fd = mkstemp(path);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

__attribute__((unused)) static void test_db_remove(const char *path)
{
    char p[512];
    unlink(path);
    snprintf(p, sizeof(p), "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", path);
    unlink(p);
}

#endif
