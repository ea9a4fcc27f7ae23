/*
 * webhook_cli.c - see webhook_cli.h. Checks every argument before opening
 * the ledger; one change, one line of output.
 */
#include "webhook_cli.h"

#include "ledger.h"
#include "ledger_webhooks.h"
#include "util.h"
#include "webhook_sign.h"

#include <sodium.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USAGE                                                                                      \
    "seatmapd webhook add URL --events TYPE[,TYPE...]|'*' [--db FILE]\n"                           \
    "       seatmapd webhook list [--db FILE]\n"                                                   \
    "       seatmapd webhook rm ID [--db FILE]"

typedef struct wopts {
    const char *db, *events, *arg;
} wopts;

/* argv[2..] into o. 0, or 2 after a message. */
static int parse(int argc, char **argv, wopts *o)
{
    int i;
    memset(o, 0, sizeof(*o));
    for (i = 2; i < argc; i++) {
        const char **dst = NULL;
        if (strcmp(argv[i], "--db") == 0)
            dst = &o->db;
        else if (strcmp(argv[i], "--events") == 0)
            dst = &o->events;
        if (dst) {
            if (i + 1 >= argc || !argv[i + 1][0]) {
                fprintf(stderr, "seatmapd: %s needs a value\nusage: %s\n", argv[i], USAGE);
                return 2;
            }
            *dst = argv[++i];
        } else if (argv[i][0] == '-' || o->arg) {
            fprintf(stderr, "seatmapd: unexpected argument '%s'\nusage: %s\n", argv[i], USAGE);
            return 2;
        } else {
            o->arg = argv[i];
        }
    }
    if (!o->db)
        o->db = getenv("SEATMAP_DB") && *getenv("SEATMAP_DB") ? getenv("SEATMAP_DB") : "seatmap.db";
    return 0;
}

static ledger *open_db(const char *path)
{
    char err[512];
    ledger *l = NULL;
    if (ledger_open(path, &l, err, sizeof(err))) {
        fprintf(stderr, "seatmapd: %s\n", err);
        return NULL;
    }
    return l;
}

static int cmd_add(const wopts *o)
{
    char secret[WH_SECRET_LEN + 1];
    int64_t id = 0;
    ledger *l;
    int rc = 0;

    if (!o->arg || !o->events) {
        fprintf(stderr, "seatmapd: webhook add needs a URL and --events\nusage: %s\n", USAGE);
        return 2;
    }
    if (!ledger_webhook_url_ok(o->arg)) {
        fprintf(stderr, "seatmapd: bad URL '%s': only http:// and https:// URLs with a host\n",
                o->arg);
        return 2;
    }
    if (!ledger_webhook_events_ok(o->events)) {
        fprintf(stderr,
                "seatmapd: bad --events '%s': use hold.created, hold.updated, hold.released, "
                "hold.expired, booking.created, booking.cancelled (comma-separated), or '*'\n",
                o->events);
        return 2;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "seatmapd: cannot initialise libsodium\n");
        return 1;
    }
    l = open_db(o->db);
    if (!l)
        return 1;
    wh_secret_new(secret);
    if (ledger_webhook_add(l, o->arg, o->events, secret, sm_now_ms(), &id)) {
        fprintf(stderr, "seatmapd: cannot add the webhook: %s\n", ledger_errmsg(l));
        rc = 1;
    }
    ledger_close(l);
    if (!rc) {
        printf("%lld %s\n", (long long)id, secret);
        fflush(stdout);
        fprintf(stderr, "seatmapd: webhook %lld added; its secret is shown only this once\n",
                (long long)id);
    }
    sodium_memzero(secret, sizeof(secret));
    return rc;
}

static int cmd_list(const wopts *o)
{
    ledger_webhook *list = NULL;
    size_t n = 0, i;
    ledger *l;

    if (o->arg || o->events) {
        fprintf(stderr, "seatmapd: webhook list takes only --db\nusage: %s\n", USAGE);
        return 2;
    }
    l = open_db(o->db);
    if (!l)
        return 1;
    if (ledger_webhook_list(l, &list, &n)) {
        fprintf(stderr, "seatmapd: cannot list webhooks: %s\n", ledger_errmsg(l));
        ledger_close(l);
        return 1;
    }
    for (i = 0; i < n; i++)
        printf("%lld\t%s\t%s\n", (long long)list[i].id, list[i].url, list[i].events);
    free(list);
    ledger_close(l);
    return 0;
}

static int cmd_rm(const wopts *o)
{
    char *end = NULL;
    long long id;
    ledger *l;
    int rc = 0;

    if (!o->arg || o->events) {
        fprintf(stderr, "seatmapd: webhook rm needs an ID\nusage: %s\n", USAGE);
        return 2;
    }
    id = strtoll(o->arg, &end, 10);
    if (*end || id <= 0 || o->arg[0] == '+' || o->arg[0] == ' ') {
        fprintf(stderr, "seatmapd: bad webhook id '%s': a positive number\n", o->arg);
        return 2;
    }
    l = open_db(o->db);
    if (!l)
        return 1;
    if (ledger_webhook_delete(l, id)) {
        fprintf(stderr, "seatmapd: cannot remove webhook %lld: %s\n", id, ledger_errmsg(l));
        rc = 1;
    } else {
        printf("webhook %lld removed\n", id);
    }
    ledger_close(l);
    return rc;
}

int webhook_cli_main(int argc, char **argv)
{
    wopts o;
    int rc;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        if (argc < 2)
            fprintf(stderr, "seatmapd: webhook needs an action\n");
        fprintf(argc < 2 ? stderr : stdout, "usage: %s\n", USAGE);
        return argc < 2 ? 2 : 0;
    }
    rc = parse(argc, argv, &o);
    if (rc)
        return rc;
    if (strcmp(argv[1], "add") == 0)
        return cmd_add(&o);
    if (strcmp(argv[1], "list") == 0)
        return cmd_list(&o);
    if (strcmp(argv[1], "rm") == 0)
        return cmd_rm(&o);
    fprintf(stderr, "seatmapd: unknown webhook action '%s'\nusage: %s\n", argv[1], USAGE);
    return 2;
}
