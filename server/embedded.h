/*
 * embedded.h - Lua scripts (server/lua) and SQL migrations (schema/) compiled
 * into the binary by cmake/embed.cmake. Both tables end with {NULL, NULL}.
 * SQL migrations are sorted by file name ("001_init", "002_..."); those for
 * PostgreSQL (schema/pg/) are in their own table.
 */
#ifndef SEATMAP_EMBEDDED_H
#define SEATMAP_EMBEDDED_H

typedef struct embedded_file {
    const char *name; /* file name without directory and extension */
    const char *text; /* NUL-terminated contents, static */
} embedded_file;

extern const embedded_file embedded_lua[];
extern const embedded_file embedded_sql[];
/* PostgreSQL migrations (schema/pg/NNN_*.sql), sorted the same way. */
extern const embedded_file embedded_pg_sql[];

#endif
