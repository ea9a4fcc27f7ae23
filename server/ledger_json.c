/*
 * ledger_json.c - see ledger_json.h.
 */
#include "ledger_json.h"

#define LEDGER_JSON_MAX (1024u * 1024)

void ledger_booking_json(sm_buf *b, const ledger_booking *bk)
{
    size_t i;
    sm_buf_printf(b, "{\"id\":%lld,\"show\":", (long long)bk->id);
    sm_buf_add_json_str(b, bk->show);
    sm_buf_adds(b, ",\"seats\":[");
    for (i = 0; i < bk->nseats; i++) {
        sm_buf_adds(b, i ? "," : "");
        sm_buf_add_json_str(b, bk->seats[i]);
    }
    sm_buf_adds(b, "],\"payment_ref\":");
    sm_buf_add_json_str(b, bk->payment_ref);
    sm_buf_printf(b, ",\"created_at\":%lld,\"by\":", (long long)bk->created_at);
    sm_buf_add_json_str(b, bk->by);
    sm_buf_adds(b, ",\"hold\":");
    if (bk->hold_ref[0])
        sm_buf_add_json_str(b, bk->hold_ref);
    else
        sm_buf_adds(b, "null");
    if (bk->cancelled_at)
        sm_buf_printf(b, ",\"cancelled_at\":%lld,\"status\":\"cancelled\"}",
                      (long long)bk->cancelled_at);
    else
        sm_buf_adds(b, ",\"cancelled_at\":null,\"status\":\"active\"}");
}

char *ledger_booking_json_str(const ledger_booking *bk)
{
    sm_buf b;
    sm_buf_init(&b, LEDGER_JSON_MAX);
    ledger_booking_json(&b, bk);
    return sm_buf_steal(&b, NULL);
}
