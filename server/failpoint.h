/*
 * failpoint.h - named failpoints for the fault-injection tests
 * (tests/integration/failpoints.test.mjs), compiled in only when CMake's
 * SEATMAP_FAILPOINTS option is on (test builds); in every other build the
 * macros below are constants and no code is left.
 *
 * Configured once, at start, from the environment:
 *
 *   SEATMAP_FAILPOINTS=confirm.after_commit=crash,store.reply=error*3,ws.hold=delay(200)
 *
 * Actions: `crash` ends the process at once (_exit(99), no cleanup, as a
 * kill would); `error` makes the step fail as if its dependency had failed
 * (each call site says what that means); `delay(MS)` blocks the calling
 * thread (the event loop) for MS milliseconds, then goes on. A suffix `*N`
 * fires only the first N times, after which the point is off. An unknown
 * name or action is refused at start. `SEATMAP_FAILPOINTS=list` prints the
 * names (one a line) and exits 0: how the tests know that a binary has
 * failpoints.
 *
 * The names (see FAILPOINT_NAMES in failpoint.c and docs/testing.md):
 * confirm.before_freeze, confirm.after_freeze, confirm.before_commit,
 * confirm.after_commit, confirm.before_book (booking.c); ws.hold, ws.release
 * (ws.c); show.sweep, show.expire (show.c); store.reply (store.c);
 * ledger.write (ledger.c).
 *
 * Not here: anything a release build may depend on.
 */
#ifndef SEATMAP_FAILPOINT_H
#define SEATMAP_FAILPOINT_H
#include <stddef.h>

#ifdef SEATMAP_FAILPOINTS
/* Reads SEATMAP_FAILPOINTS; 0, or -1 after printing why to stderr. */
int failpoint_init(void);
/* Parses a spec (the variable's syntax) and arms it, replacing the
 * previous one; 0, or -1 with one sentence in err. */
int failpoint_configure(const char *spec, char *err, size_t errlen);
/* Passes point `name`: 0 to go on (also after a delay), -1 when the step
 * must fail. Never returns on crash. */
int failpoint_hit(const char *name);
#define SM_FAILPOINT(name) failpoint_hit(name)
#else
#define failpoint_init() 0
#define SM_FAILPOINT(name) 0
#endif

#endif
