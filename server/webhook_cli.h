/*
 * webhook_cli.h - `seatmapd webhook add URL --events a,b [--db FILE]`,
 * `webhook list [--db FILE]` and `webhook rm ID [--db FILE]`: the webhooks
 * registry from the command line (docs/webhooks.md). No server runs.
 */
#ifndef SEATMAP_WEBHOOK_CLI_H
#define SEATMAP_WEBHOOK_CLI_H

/* argv[0] is "webhook". Returns an exit status: 0, 1 (failed), 2 (usage).
 * `add` prints "ID SECRET" on stdout (the secret is shown only this once);
 * `list` prints "ID<TAB>URL<TAB>EVENTS" per webhook; errors are one line on
 * stderr starting "seatmapd: ". --db defaults to $SEATMAP_DB, else
 * seatmap.db. */
int webhook_cli_main(int argc, char **argv);

#endif
