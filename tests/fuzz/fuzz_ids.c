/*
 * fuzz_ids.c - the identifiers of the protocol (util.c): show ids and seat
 * ids, checked against their definition ([A-Za-z0-9_-]{1,64} and
 * [A-Za-z0-9_.-]{1,32}), and JSON string escaping, which must give back the
 * same string through cJSON. Also the show name inside a Redis key
 * (store_show_of_key), which pub/sub channels and expired keys carry.
 */
#include "store.h"
#include "util.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int in_set(const char *s, size_t max, int dot)
{
    size_t n = strlen(s), i;
    if (n < 1 || n > max)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-' || (dot && ch == '.')))
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), show[SM_SHOW_ID_MAX + 1];
    sm_buf b;
    cJSON *j;

    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (sm_valid_show_id(s) != in_set(s, SM_SHOW_ID_MAX, 0))
        abort();
    if (sm_valid_seat_id(s) != in_set(s, SM_SEAT_ID_MAX, 1))
        abort();
    (void)sm_hash(s);

    sm_buf_init(&b, 1 << 20);
    if (sm_buf_add_json_str(&b, s) == 0) {
        j = cJSON_ParseWithLength(b.data, b.len);
        /* cJSON reads back what was escaped, up to the first NUL */
        if (!cJSON_IsString(j) || strcmp(j->valuestring, s) != 0)
            abort();
        cJSON_Delete(j);
    }
    sm_buf_free(&b);

    if (store_show_of_key((const char *)data, size, show, sizeof(show)) == 0 &&
        strlen(show) > SM_SHOW_ID_MAX)
        abort();
    free(s);
    return 0;
}
