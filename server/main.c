/*
 * main.c - the seatmapd command line: `serve` runs the server (server.c);
 * `user`, `token` and `show` are administrative commands on the database
 * (admin_cli.c).
 */
#include "admin_cli.h"
#include "check_cli.h"
#include "webhook_cli.h"
#include "config.h"
#include "failpoint.h"
#include "server.h"
#include "supervisor.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage:\n"
    "  seatmapd serve [--listen 127.0.0.1:8080] [--redis redis://127.0.0.1:6379/0]\n"
    "                 [--redis redis+cluster://HOST:PORT[,HOST:PORT...]]\n"
    "                 [--db seatmap.db] [--hold-ttl SECONDS] [--web DIR] [--demo]\n"
    "                 [--demo-venue FILE] [--max-seats N] [--tick-ms MS] [--sweep-ms MS]\n"
    "                 [--rate N] [--stuck-reader-ms MS] [--ws-ping-s SECONDS]\n"
    "                 [--metrics-listen HOST:PORT]\n"
    "                 [--config FILE]\n"
    "                 [--log-level debug|info|warn|error] [--log-format text|json]\n"
    "                 [--log-file FILE] [--shutdown-timeout SECONDS] [--reuse-port]\n"
    "                 [--workers N]   (processes on one port, docs/scaling.md)\n"
    "                 [--tls-cert FILE --tls-key FILE] [--http-redirect-port PORT]\n"
    "                 [--trust-proxy CIDR[,CIDR...]]   (docs/operations.md)\n"
    "                 [--ip-limits on|off] [--max-conns N] [--max-conns-per-ip N]\n"
    "                 [--new-buyers-per-ip N] [--max-held-per-ip N]   (docs/security.md)\n"
    "  seatmapd check [--config FILE] [--venue FILE]...   (says what is wrong; exit 0 or 1)\n"
    "  seatmapd user add NAME [--role boxoffice|admin] [--db FILE]   (password on stdin)\n"
    "  seatmapd token add NAME [--role boxoffice|admin] [--db FILE]  (prints an API token)\n"
    "  seatmapd show add ID --venue FILE --name TEXT [--starts-at ISO8601] [--db FILE]\n"
    "  seatmapd webhook add URL --events TYPE,...|'*' [--db FILE]  (prints id and secret)\n"
    "  seatmapd webhook list [--db FILE] | webhook rm ID [--db FILE]\n"
    "Every serve flag also reads an environment variable: SEATMAP_LISTEN, SEATMAP_REDIS,\n"
    "SEATMAP_DB, SEATMAP_HOLD_TTL, SEATMAP_WEB, SEATMAP_DEMO, SEATMAP_MAX_SEATS, ...\n"
    "--config FILE reads `name = value` lines with the same names (listen, redis, db, ...);\n"
    "the environment overrides the file and the command line overrides both. See seatmapd(8).\n";

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";

    if (failpoint_init()) /* test builds only (failpoint.h) */
        return 2;

    if (strcmp(cmd, "serve") == 0) {
        config cfg;
        char err[512];
        if (config_parse(&cfg, argc - 2, argv + 2, err, sizeof(err))) {
            fprintf(stderr, "seatmapd: %s\n", err);
            return 2;
        }
        return cfg.workers > 1 ? supervisor_run(&cfg) : server_run(&cfg);
    }
    if (strcmp(cmd, "check") == 0)
        return check_cli_main(argc - 1, argv + 1);
    if (strcmp(cmd, "user") == 0 || strcmp(cmd, "token") == 0 || strcmp(cmd, "show") == 0)
        return admin_cli_main(argc - 1, argv + 1);
    if (strcmp(cmd, "webhook") == 0)
        return webhook_cli_main(argc - 1, argv + 1);
    if (strcmp(cmd, "--version") == 0) {
        printf("seatmapd " SM_VERSION "\n");
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    fprintf(stderr, "seatmapd: %s\n%s", *cmd ? "unknown command" : "no command given", usage);
    return 2;
}
