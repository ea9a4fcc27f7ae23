/*
 * fuzz_ws.c - the buyer's WebSocket requests (seatmap.v1) through ws.c's
 * dispatcher: each input is one connection's messages, one per line, fed to
 * ws_handle_message on a socketless client of the shared app (fuzz_app.h).
 * Holds and releases reach store_run, which fails as when Redis is down.
 */
#include "fuzz_app.h"
#include "ws.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    app *a = fuzz_app_get();
    ws_session pss;
    const char *p = (const char *)data, *end = p + size, *nl;

    memset(&pss, 0, sizeof(pss));
    if (!(pss.c = client_new(NULL, a->cfg.max_queue)))
        return 0;
    pss.tokens = a->cfg.rate * 2;
    pss.tokens_at = sm_mono_ms();
    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            nl = end;
        ws_handle_message(a, &pss, p, (size_t)(nl - p));
        shows_tick(a->shows);
        fuzz_drain_client(pss.c);
        p = nl + 1;
    }
    /* what ws.c's on_closed does */
    show_unwatch(pss.w);
    client_detach(pss.c);
    client_unref(pss.c);
    fuzz_app_drain(a);
    return 0;
}
