/*
 * check_cli.c - `seatmapd check` (see check_cli.h). Each check prints one
 * line; every check runs even after one failed, so one run lists all that
 * is wrong.
 */
#include "check_cli.h"

#include "config.h"
#include "store.h"
#include "venue.h"

#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHECK_MAX_VENUES 64

static int failures;

static void ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void ok(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("ok: ");
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
}

static void bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "error: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    failures++;
}

static void check_venue(const char *path)
{
    venue *v;
    char *text = NULL, err[512];

    if (venue_load_file(path, &v, &text, err, sizeof(err))) {
        /* venue.c's message may start with the path already */
        if (strncmp(err, path, strlen(path)) == 0)
            bad("venue %s", err);
        else
            bad("venue %s: %s", path, err);
        return;
    }
    ok("venue %s: \"%s\", %zu seats", path, venue_name(v), venue_seat_count(v));
    venue_free(v);
    free(text);
}

/* The database's directory must exist and be writable (SQLite creates the
 * file and its -wal and -shm next to it). */
static void check_db(const char *db)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(db, '/');

    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == db)
        snprintf(dir, sizeof(dir), "/");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - db), db);
    if (access(dir, F_OK) != 0)
        bad("db %s: its directory %s does not exist", db, dir);
    else if (access(dir, W_OK) != 0)
        bad("db %s: its directory %s is not writable by this user", db, dir);
    else if (access(db, F_OK) == 0 && access(db, R_OK | W_OK) != 0)
        bad("db %s: the file exists but this user cannot read and write it", db);
    else
        ok("db %s", db);
}

static void check_config(const config *cfg, int demo_checked_as_venue)
{
    struct stat st;
    char path[PATH_MAX], host[256], why[400];
    int port;
    int rc = store_check_url(cfg->redis_url);

    if (rc)
        bad("redis %s: %s", cfg->redis_url, store_strerror(rc));
    else
        ok("redis %s", cfg->redis_url);
    check_db(cfg->db_path);
    snprintf(path, sizeof(path), "%s/index.html", cfg->web_dir);
    if (stat(cfg->web_dir, &st) || !S_ISDIR(st.st_mode))
        bad("web %s: no such directory (the pages would answer 404)", cfg->web_dir);
    else if (access(path, R_OK) != 0)
        bad("web %s: has no readable index.html", cfg->web_dir);
    else
        ok("web %s", cfg->web_dir);
    if (cfg->metrics_listen[0]) {
        if (config_split_addr(cfg->metrics_listen, host, sizeof(host), &port, why, sizeof(why)))
            bad("metrics-listen %s", why);
        else if (port == cfg->listen_port &&
                 (strcmp(host, cfg->listen_host) == 0 || strcmp(host, "0.0.0.0") == 0 ||
                  strcmp(cfg->listen_host, "0.0.0.0") == 0))
            bad("metrics-listen %s: the same port as --listen (%s)", cfg->metrics_listen,
                cfg->listen_host);
        else
            ok("metrics-listen %s", cfg->metrics_listen);
    }
    if (cfg->demo && !demo_checked_as_venue)
        check_venue(cfg->demo_venue);
}

int check_cli_main(int argc, char **argv)
{
    const char *venues[CHECK_MAX_VENUES];
    char *cargv[2];
    int nvenues = 0, cargc = 0, a;
    config cfg;
    char err[1024];

    failures = 0;
    for (a = 1; a < argc; a++) {
        int last = a + 1 >= argc;
        if (strcmp(argv[a], "--config") == 0 && !last) {
            cargv[0] = "--config";
            cargv[1] = argv[++a];
            cargc = 2;
        } else if (strcmp(argv[a], "--venue") == 0 && !last && nvenues < CHECK_MAX_VENUES) {
            venues[nvenues++] = argv[++a];
        } else {
            fprintf(stderr, "seatmapd: check wants [--config FILE] [--venue FILE]..., got '%s'%s\n",
                    argv[a], last && argv[a][0] == '-' ? " without a value" : "");
            return CHECK_CLI_USAGE;
        }
    }
    if (config_parse(&cfg, cargc, cargv, err, sizeof(err))) {
        bad("config: %s", err);
    } else {
        if (cargc)
            ok("config %s", cfg.config_file);
        check_config(&cfg, 0);
    }
    for (a = 0; a < nvenues; a++)
        check_venue(venues[a]);
    if (failures) {
        fprintf(stderr, "%d problem%s found\n", failures, failures == 1 ? "" : "s");
        return CHECK_CLI_FAIL;
    }
    printf("all good\n");
    return CHECK_CLI_OK;
}
