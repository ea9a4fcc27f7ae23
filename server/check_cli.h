/*
 * check_cli.h - `seatmapd check [--config FILE] [--venue FILE]...`: says
 * whether a config (the file, the SEATMAP_* variables and the defaults, as
 * `serve` would see them) and venue files are usable, and what is wrong
 * when they are not, without starting a server or touching Redis or the
 * database.
 *
 * Not here: reading the config (config.c), parsing venues (venue.c).
 */
#ifndef SEATMAP_CHECK_CLI_H
#define SEATMAP_CHECK_CLI_H

#define CHECK_CLI_OK 0
#define CHECK_CLI_FAIL 1  /* something checked is wrong (said on stderr) */
#define CHECK_CLI_USAGE 2 /* bad flag */

/* argv[0] is "check". Prints one line per thing checked: "ok: ..." on
 * stdout, "error: ..." on stderr. Returns a CHECK_CLI_* status. */
int check_cli_main(int argc, char **argv);

#endif
