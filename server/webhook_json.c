/*
 * webhook_json.c - see webhook_json.h.
 */
#include "webhook_json.h"

#include <stdio.h>
#include <string.h>

void webhook_json_events(sm_buf *b, const char *events)
{
    const char *p = events;
    int first = 1;
    sm_buf_addc(b, '[');
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char word[LEDGER_EVENTS_MAX + 1];
        snprintf(word, sizeof(word), "%.*s", (int)n, p);
        sm_buf_adds(b, first ? "" : ",");
        sm_buf_add_json_str(b, word);
        first = 0;
        if (!e)
            break;
        p = e + 1;
    }
    sm_buf_addc(b, ']');
}

void webhook_json_delivery(sm_buf *b, const ledger_delivery *d)
{
    sm_buf_printf(b, "{\"id\":%lld,\"webhook_id\":%lld,\"event_id\":", (long long)d->id,
                  (long long)d->webhook_id);
    sm_buf_add_json_str(b, d->event_id);
    sm_buf_adds(b, ",\"event_type\":");
    sm_buf_add_json_str(b, d->event_type);
    sm_buf_printf(b, ",\"status\":\"%s\",\"attempts\":%d,\"last_error\":", d->status, d->attempts);
    if (d->last_error[0])
        sm_buf_add_json_str(b, d->last_error);
    else
        sm_buf_adds(b, "null");
    if (d->next_attempt_at)
        sm_buf_printf(b, ",\"next_attempt_at\":%lld", (long long)d->next_attempt_at);
    else
        sm_buf_adds(b, ",\"next_attempt_at\":null");
    sm_buf_printf(b, ",\"created_at\":%lld}", (long long)d->created_at);
}
