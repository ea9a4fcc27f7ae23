/*
 * fuzz_show.c - what Redis sends a show's cache: script replies (RESP, read
 * by hiredis's reader, then store_read_reply and show_apply_result),
 * snapshot answers (show_sync_from) and pub/sub transition payloads
 * (show_apply), on show t2 of the shared app (fuzz_app.h), which is reset
 * to a fixed snapshot before each input. A watcher sees every delta.
 *
 * Input: byte 0 picks the mode: 0 lines of pub/sub payloads; 1 the first
 * line is a snapshot answer, then pub/sub payloads; 2 RESP replies of a
 * script (each applied as a hold's reply).
 */
#include "fuzz_app.h"

#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void lines(show *s, const char *p, const char *end, int first_is_snapshot)
{
    const char *nl;
    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            nl = end;
        if (first_is_snapshot) {
            fuzz_sync(s, p, (size_t)(nl - p));
            first_is_snapshot = 0;
        } else {
            show_apply(s, p, (size_t)(nl - p));
        }
        p = nl + 1;
    }
}

static void replies(show *s, const char *p, size_t len)
{
    redisReader *rd = redisReaderCreate();
    void *reply = NULL;
    store_result res;
    int n = 0;

    if (!rd)
        return;
    if (redisReaderFeed(rd, p, len) == REDIS_OK)
        while (n++ < 16 && redisReaderGetReply(rd, &reply) == REDIS_OK && reply) {
            store_read_reply(reply, &res);
            show_apply_result(s, &res, NULL);
            free((void *)res.msgs);
            freeReplyObject(reply);
            reply = NULL;
        }
    redisReaderFree(rd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    app *a = fuzz_app_get();
    show *s = shows_get(a->shows, "t2");
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    client *c;
    watcher *w;

    if (size < 1 || !s)
        return 0;
    fuzz_sync(s, FUZZ_SNAPSHOT, strlen(FUZZ_SNAPSHOT));
    if (!(c = client_new(NULL, a->cfg.max_queue)))
        return 0;
    w = show_watch(s, c);
    switch (data[0] % 3) {
    case 0:
        lines(s, p, end, 0);
        break;
    case 1:
        lines(s, p, end, 1);
        break;
    default:
        replies(s, p, (size_t)(end - p));
    }
    shows_tick(a->shows);
    (void)show_states(s);
    fuzz_drain_client(c);
    show_unwatch(w);
    client_detach(c);
    client_unref(c);
    return 0;
}
