/*
 * map.c - see map.h.
 */
#include "map.h"

#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static char tombstone;
#define MAP_TOMBSTONE (&tombstone)

void sm_map_init(sm_map *m)
{
    memset(m, 0, sizeof(*m));
}

void sm_map_free(sm_map *m)
{
    size_t i;
    for (i = 0; i < m->cap; i++)
        if (m->slots[i].key && m->slots[i].key != MAP_TOMBSTONE)
            free(m->slots[i].key);
    free(m->slots);
    sm_map_init(m);
}

static sm_map_slot *find(const sm_map *m, const char *key)
{
    size_t i, mask;
    if (!m->cap)
        return NULL;
    mask = m->cap - 1;
    for (i = sm_hash(key) & mask;; i = (i + 1) & mask) {
        sm_map_slot *s = &m->slots[i];
        if (!s->key)
            return NULL;
        if (s->key != MAP_TOMBSTONE && strcmp(s->key, key) == 0)
            return s;
    }
}

static int grow(sm_map *m)
{
    sm_map old = *m;
    size_t cap = m->cap ? m->cap : 16, i;

    while ((m->used + 1) * 2 > cap)
        cap *= 2;
    m->slots = calloc(cap, sizeof(*m->slots));
    if (!m->slots) {
        *m = old;
        return -1;
    }
    m->cap = cap;
    m->used = m->dead = 0;
    for (i = 0; i < old.cap; i++) {
        sm_map_slot *s = &old.slots[i];
        if (s->key && s->key != MAP_TOMBSTONE) {
            size_t j, mask = cap - 1;
            for (j = sm_hash(s->key) & mask; m->slots[j].key; j = (j + 1) & mask)
                ;
            m->slots[j] = *s;
            m->used++;
        }
    }
    free(old.slots);
    return 0;
}

void *sm_map_get(const sm_map *m, const char *key)
{
    sm_map_slot *s = find(m, key);
    return s ? s->value : NULL;
}

int sm_map_set(sm_map *m, const char *key, void *value)
{
    sm_map_slot *s = find(m, key);
    size_t i, mask;

    if (s) {
        s->value = value;
        return 0;
    }
    if ((m->used + m->dead + 1) * 4 > m->cap * 3 && grow(m))
        return -1;
    mask = m->cap - 1;
    for (i = sm_hash(key) & mask; m->slots[i].key && m->slots[i].key != MAP_TOMBSTONE;
         i = (i + 1) & mask)
        ;
    if (m->slots[i].key == MAP_TOMBSTONE)
        m->dead--;
    m->slots[i].key = strdup(key);
    if (!m->slots[i].key)
        return -1;
    m->slots[i].value = value;
    m->used++;
    return 0;
}

void *sm_map_del(sm_map *m, const char *key)
{
    sm_map_slot *s = find(m, key);
    void *v;
    if (!s)
        return NULL;
    v = s->value;
    free(s->key);
    s->key = MAP_TOMBSTONE;
    s->value = NULL;
    m->used--;
    m->dead++;
    return v;
}

int sm_map_next(const sm_map *m, size_t *iter, const char **key, void **value)
{
    for (; *iter < m->cap; (*iter)++) {
        sm_map_slot *s = &m->slots[*iter];
        if (s->key && s->key != MAP_TOMBSTONE) {
            if (key)
                *key = s->key;
            if (value)
                *value = s->value;
            (*iter)++;
            return 1;
        }
    }
    return 0;
}
