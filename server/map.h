/*
 * map.h - a string-keyed hash map (open addressing, linear probing) for the
 * server's indexes: shows by id, clients by buyer id, holds by ref.
 *
 * The map copies keys and owns the copies; values are the caller's
 * pointers, never freed by the map. Not thread-safe (nothing here is: the
 * server is one event loop).
 */
#ifndef SEATMAP_MAP_H
#define SEATMAP_MAP_H

#include <stddef.h>

typedef struct sm_map_slot {
    char *key; /* NULL: empty; MAP_TOMBSTONE: deleted */
    void *value;
} sm_map_slot;

typedef struct sm_map {
    sm_map_slot *slots;
    size_t cap;  /* power of two, or 0 */
    size_t used; /* live keys */
    size_t dead; /* tombstones */
} sm_map;

void sm_map_init(sm_map *m);
/* Frees the key copies and the table; the values are untouched. */
void sm_map_free(sm_map *m);
void *sm_map_get(const sm_map *m, const char *key);
/* Inserts or replaces; 0 or -1 (out of memory). */
int sm_map_set(sm_map *m, const char *key, void *value);
/* Removes the key; returns its value or NULL. */
void *sm_map_del(sm_map *m, const char *key);

/* Iteration: for (i = 0; sm_map_next(m, &i, &k, &v);) ... Do not insert
 * while iterating; deleting the current key is fine. */
int sm_map_next(const sm_map *m, size_t *iter, const char **key, void **value);

#endif
