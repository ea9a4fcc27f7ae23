/*
 * admin_cli.c - `seatmapd user add`, `token add` and `show add`: the
 * administrative subcommands that change the ledger from the command line
 * (see admin_cli.h and PROTOCOL.md).
 *
 * Each parses its flags, checks every argument before touching anything,
 * opens the ledger, makes one change and prints one line. Errors are one
 * line on stderr starting "seatmapd: ". Not here: the server (`serve`).
 */
#include "admin_cli.h"

#include "auth.h"
#include "ledger.h"
#include "ledger_accounts.h"
#include "util.h"
#include "venue.h"

#include <sodium.h>

#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define CLI_DEFAULT_DB "seatmap.db"
#define CLI_DEFAULT_ROLE "boxoffice"
#define CLI_TOKEN_PREFIX "smt_"
#define CLI_PASSWORD_MIN 8
#define CLI_PASSWORD_MAX 1024
#define CLI_MAX_POSITIONAL 1

#define USAGE_USER "seatmapd user add NAME [--role boxoffice|admin] [--db FILE]"
#define USAGE_TOKEN "seatmapd token add NAME [--role boxoffice|admin] [--db FILE]"
#define USAGE_SHOW "seatmapd show add ID --venue FILE --name TEXT [--starts-at ISO8601] [--db FILE]"

/* Which flags a subcommand takes. */
enum {
    OPT_DB = 1 << 0,
    OPT_ROLE = 1 << 1,
    OPT_VENUE = 1 << 2,
    OPT_NAME = 1 << 3,
    OPT_STARTS_AT = 1 << 4,
};

typedef struct cli_opts {
    const char *db, *role, *venue, *name, *starts_at;
    const char *pos[CLI_MAX_POSITIONAL];
    int npos;
    int help;
} cli_opts;

static void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void cli_err(const char *fmt, ...)
{
    va_list ap;
    fputs("seatmapd: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Parses argv[first..] into o (pointers into argv: no copies). Returns 0,
 * or ADMIN_CLI_USAGE after printing why. */
static int parse_opts(int argc, char **argv, int first, unsigned allowed, const char *usage,
                      cli_opts *o)
{
    static const struct {
        const char *flag;
        unsigned bit;
        size_t off;
    } flags[] = {
        {"--db", OPT_DB, offsetof(cli_opts, db)},
        {"--role", OPT_ROLE, offsetof(cli_opts, role)},
        {"--venue", OPT_VENUE, offsetof(cli_opts, venue)},
        {"--name", OPT_NAME, offsetof(cli_opts, name)},
        {"--starts-at", OPT_STARTS_AT, offsetof(cli_opts, starts_at)},
    };
    int i;

    memset(o, 0, sizeof(*o));
    for (i = first; i < argc; i++) {
        const char *a = argv[i];
        const char *value = NULL;
        size_t f, n;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            o->help = 1;
            return 0;
        }
        if (a[0] != '-' || a[1] == '\0') {
            if (o->npos == CLI_MAX_POSITIONAL) {
                cli_err("unexpected argument '%s' (usage: %s)", a, usage);
                return ADMIN_CLI_USAGE;
            }
            o->pos[o->npos++] = a;
            continue;
        }
        for (f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
            n = strlen(flags[f].flag);
            if (strncmp(a, flags[f].flag, n) == 0 && (a[n] == '\0' || a[n] == '='))
                break;
        }
        if (f == sizeof(flags) / sizeof(flags[0]) || !(allowed & flags[f].bit)) {
            cli_err("unknown flag %s (usage: %s)", a, usage);
            return ADMIN_CLI_USAGE;
        }
        n = strlen(flags[f].flag);
        if (a[n] == '=') {
            value = a + n + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            cli_err("%s needs a value (usage: %s)", flags[f].flag, usage);
            return ADMIN_CLI_USAGE;
        }
        if (!value[0]) {
            cli_err("%s needs a non-empty value (usage: %s)", flags[f].flag, usage);
            return ADMIN_CLI_USAGE;
        }
        *(const char **)((char *)o + flags[f].off) = value;
    }
    return 0;
}

static const char *db_path(const cli_opts *o)
{
    const char *env;
    if (o->db)
        return o->db;
    env = getenv("SEATMAP_DB");
    return env && env[0] ? env : CLI_DEFAULT_DB;
}

/* n digits at s, as a number within [lo, hi]; -1 otherwise. */
static int digits(const char *s, int n, int lo, int hi)
{
    int i, v = 0;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v >= lo && v <= hi ? v : -1;
}

/* Loose ISO 8601: YYYY-MM-DDTHH:MM[:SS[.fraction]][Z|+HH:MM|-HH:MM]. */
static int starts_at_valid(const char *s)
{
    const char *p = s;
    if (strlen(s) > LEDGER_STARTS_AT_MAX)
        return 0;
    if (digits(p, 4, 1900, 9999) < 0 || p[4] != '-' || digits(p + 5, 2, 1, 12) < 0 || p[7] != '-' ||
        digits(p + 8, 2, 1, 31) < 0 || (p[10] != 'T' && p[10] != 't') ||
        digits(p + 11, 2, 0, 23) < 0 || p[13] != ':' || digits(p + 14, 2, 0, 59) < 0)
        return 0;
    p += 16;
    if (*p == ':') {
        if (digits(p + 1, 2, 0, 60) < 0)
            return 0;
        p += 3;
        if (*p == '.') {
            p++;
            if (*p < '0' || *p > '9')
                return 0;
            while (*p >= '0' && *p <= '9')
                p++;
        }
    }
    if (*p == 'Z' || *p == 'z')
        return p[1] == '\0';
    if (*p == '+' || *p == '-')
        return digits(p + 1, 2, 0, 23) >= 0 && p[3] == ':' && digits(p + 4, 2, 0, 59) >= 0 &&
               p[6] == '\0';
    return *p == '\0';
}

static int open_ledger(const cli_opts *o, ledger **out)
{
    char err[512];
    if (ledger_open(db_path(o), out, err, sizeof(err)) != 0) {
        cli_err("%s", err);
        return ADMIN_CLI_FAIL;
    }
    return 0;
}

/* Reads the first line of stdin into buf (without the line end), with the
 * echo off when stdin is a terminal. 0, or ADMIN_CLI_FAIL after a message. */
static int read_password(const char *user, char *buf, size_t buflen)
{
    struct termios old, quiet;
    int tty = isatty(STDIN_FILENO), echo_off = 0;
    size_t n;
    char *ok;

    if (tty) {
        fprintf(stderr, "Password for %s: ", user);
        fflush(stderr);
        if (tcgetattr(STDIN_FILENO, &old) == 0) {
            quiet = old;
            quiet.c_lflag &= ~(tcflag_t)ECHO;
            echo_off = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
        }
    }
    ok = fgets(buf, (int)buflen, stdin);
    if (echo_off)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    if (tty)
        fputc('\n', stderr);
    if (!ok) {
        cli_err("no password on stdin (give it as the first line)");
        return ADMIN_CLI_FAIL;
    }
    n = strlen(buf);
    if (n == buflen - 1 && buf[n - 1] != '\n' && !feof(stdin)) {
        cli_err("password too long (at most %d characters)", CLI_PASSWORD_MAX);
        return ADMIN_CLI_FAIL;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    if (n == 0) {
        cli_err("empty password refused");
        return ADMIN_CLI_FAIL;
    }
    if (n < CLI_PASSWORD_MIN) {
        cli_err("password too short: at least %d characters please", CLI_PASSWORD_MIN);
        return ADMIN_CLI_FAIL;
    }
    return 0;
}

static int cmd_user_add(const cli_opts *o)
{
    char password[CLI_PASSWORD_MAX + 2];
    char hash[AUTH_PWHASH_MAX];
    const char *name = o->pos[0];
    const char *role = o->role ? o->role : CLI_DEFAULT_ROLE;
    ledger *l = NULL;
    int rc;

    if (!name) {
        cli_err("user add needs a NAME (usage: %s)", USAGE_USER);
        return ADMIN_CLI_USAGE;
    }
    if (!ledger_valid_name(name, LEDGER_NAME_MAX)) {
        cli_err("bad user name '%s': use 1 to %d of A-Z a-z 0-9 _ . @ -", name, LEDGER_NAME_MAX);
        return ADMIN_CLI_USAGE;
    }
    if (!ledger_valid_role(role)) {
        cli_err("bad role '%s': use boxoffice or admin", role);
        return ADMIN_CLI_USAGE;
    }
    rc = open_ledger(o, &l);
    if (rc)
        return rc;
    rc = read_password(name, password, sizeof(password));
    if (!rc && auth_password_hash(password, hash) != 0) {
        cli_err("cannot hash the password (out of memory?)");
        rc = ADMIN_CLI_FAIL;
    }
    sodium_memzero(password, sizeof(password));
    if (!rc && ledger_user_add(l, name, role, hash) != 0) {
        cli_err("cannot add user %s: %s", name, ledger_errmsg(l));
        rc = ADMIN_CLI_FAIL;
    }
    ledger_close(l);
    if (!rc)
        printf("user %s added (role %s)\n", name, role);
    return rc;
}

static int cmd_token_add(const cli_opts *o)
{
    char token[sizeof(CLI_TOKEN_PREFIX) - 1 + AUTH_TOKEN_HEX + 1];
    char hash[AUTH_HASH_HEX + 1];
    const char *name = o->pos[0];
    const char *role = o->role ? o->role : CLI_DEFAULT_ROLE;
    ledger *l = NULL;
    int rc;

    if (!name) {
        cli_err("token add needs a NAME (usage: %s)", USAGE_TOKEN);
        return ADMIN_CLI_USAGE;
    }
    if (!ledger_valid_name(name, LEDGER_TOKEN_NAME_MAX)) {
        cli_err("bad token name '%s': use 1 to %d of A-Z a-z 0-9 _ . @ -", name,
                LEDGER_TOKEN_NAME_MAX);
        return ADMIN_CLI_USAGE;
    }
    if (!ledger_valid_role(role)) {
        cli_err("bad role '%s': use boxoffice or admin", role);
        return ADMIN_CLI_USAGE;
    }
    rc = open_ledger(o, &l);
    if (rc)
        return rc;
    /* The whole string, prefix included, is what clients send and what the
     * server hashes; only the hash is stored. */
    memcpy(token, CLI_TOKEN_PREFIX, sizeof(CLI_TOKEN_PREFIX) - 1);
    auth_random_token(token + sizeof(CLI_TOKEN_PREFIX) - 1);
    auth_token_hash(token, hash);
    if (ledger_token_add(l, name, role, hash) != 0) {
        cli_err("cannot add token %s: %s", name, ledger_errmsg(l));
        rc = ADMIN_CLI_FAIL;
    }
    ledger_close(l);
    if (!rc) {
        printf("%s\n", token);
        fflush(stdout);
        fprintf(stderr, "seatmapd: token %s added (role %s); it is shown only this once\n", name,
                role);
    }
    sodium_memzero(token, sizeof(token));
    return rc;
}

static int cmd_show_add(const cli_opts *o)
{
    const char *id = o->pos[0];
    char err[512];
    venue *v = NULL;
    char *text = NULL;
    ledger *l = NULL;
    int rc;

    if (!id) {
        cli_err("show add needs an ID (usage: %s)", USAGE_SHOW);
        return ADMIN_CLI_USAGE;
    }
    if (!sm_valid_show_id(id)) {
        cli_err("bad show id '%s': use 1 to %d of A-Z a-z 0-9 _ -", id, SM_SHOW_ID_MAX);
        return ADMIN_CLI_USAGE;
    }
    if (!o->venue) {
        cli_err("show add needs --venue FILE (usage: %s)", USAGE_SHOW);
        return ADMIN_CLI_USAGE;
    }
    if (!o->name) {
        cli_err("show add needs --name TEXT (usage: %s)", USAGE_SHOW);
        return ADMIN_CLI_USAGE;
    }
    if (strlen(o->name) > LEDGER_SHOW_NAME_MAX) {
        cli_err("show name too long (at most %d bytes)", LEDGER_SHOW_NAME_MAX);
        return ADMIN_CLI_USAGE;
    }
    if (o->starts_at && !starts_at_valid(o->starts_at)) {
        cli_err("bad --starts-at '%s': use ISO 8601 like 2025-06-01T19:30:00+02:00", o->starts_at);
        return ADMIN_CLI_USAGE;
    }
    err[0] = '\0';
    if (venue_load_file(o->venue, &v, &text, err, sizeof(err)) != 0) {
        /* The venue module's message usually names the file already. */
        if (err[0] && strstr(err, o->venue))
            cli_err("cannot load venue: %s", err);
        else
            cli_err("cannot load venue %s: %s", o->venue, err[0] ? err : "unknown error");
        return ADMIN_CLI_FAIL;
    }
    rc = open_ledger(o, &l);
    if (!rc) {
        if (ledger_show_add(l, id, o->name, venue_name(v), o->starts_at ? o->starts_at : "",
                            text) != 0) {
            cli_err("cannot add show %s: %s", id, ledger_errmsg(l));
            rc = ADMIN_CLI_FAIL;
        }
        ledger_close(l);
    }
    if (!rc)
        printf("show %s added (venue %s, %zu seats)\n", id, venue_name(v), venue_seat_count(v));
    venue_free(v);
    free(text);
    return rc;
}

int admin_cli_main(int argc, char **argv)
{
    static const struct {
        const char *word;
        unsigned flags;
        const char *usage;
        int (*run)(const cli_opts *o);
    } cmds[] = {
        {"user", OPT_DB | OPT_ROLE, USAGE_USER, cmd_user_add},
        {"token", OPT_DB | OPT_ROLE, USAGE_TOKEN, cmd_token_add},
        {"show", OPT_DB | OPT_VENUE | OPT_NAME | OPT_STARTS_AT, USAGE_SHOW, cmd_show_add},
    };
    cli_opts o;
    size_t c;
    int rc;

    if (argc < 1 || !argv[0]) {
        cli_err("missing subcommand (user, token or show)");
        return ADMIN_CLI_USAGE;
    }
    for (c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++)
        if (strcmp(argv[0], cmds[c].word) == 0)
            break;
    if (c == sizeof(cmds) / sizeof(cmds[0])) {
        cli_err("unknown subcommand '%s' (use user, token or show)", argv[0]);
        return ADMIN_CLI_USAGE;
    }
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: %s\n", cmds[c].usage);
        return ADMIN_CLI_OK;
    }
    if (argc < 2) {
        cli_err("%s: missing action (usage: %s)", argv[0], cmds[c].usage);
        return ADMIN_CLI_USAGE;
    }
    if (strcmp(argv[1], "add") != 0) {
        cli_err("%s: unknown action '%s' (usage: %s)", argv[0], argv[1], cmds[c].usage);
        return ADMIN_CLI_USAGE;
    }
    rc = parse_opts(argc, argv, 2, cmds[c].flags, cmds[c].usage, &o);
    if (rc)
        return rc;
    if (o.help) {
        printf("usage: %s\n", cmds[c].usage);
        return ADMIN_CLI_OK;
    }
    if (auth_init() != 0) {
        cli_err("cannot initialise libsodium");
        return ADMIN_CLI_FAIL;
    }
    return cmds[c].run(&o);
}
