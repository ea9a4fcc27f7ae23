/*
 * admin_cli.h - the administrative subcommands of seatmapd: `user add`,
 * `token add` and `show add` (PROTOCOL.md, "Command line"). They open the
 * ledger, change it, print one line and exit; no server runs.
 *
 * Not here: `serve` and its flags (config.h, main.c).
 */
#ifndef SEATMAP_ADMIN_CLI_H
#define SEATMAP_ADMIN_CLI_H

/* Exit statuses of admin_cli_main. */
#define ADMIN_CLI_OK 0
#define ADMIN_CLI_FAIL 1  /* the command was understood but failed */
#define ADMIN_CLI_USAGE 2 /* bad subcommand, flag or argument */

/*
 * Runs one subcommand. argv[0] is the subcommand word ("user", "token" or
 * "show"), the rest its arguments, e.g. {"user", "add", "alice", "--role",
 * "admin", "--db", "x.db"}. `--db` defaults to $SEATMAP_DB, else
 * "seatmap.db". `user add` reads the password from the first line of stdin.
 * Errors are one line on stderr starting "seatmapd: ". Returns an
 * ADMIN_CLI_* status for main() to exit with.
 */
int admin_cli_main(int argc, char **argv);

#endif
