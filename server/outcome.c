/*
 * outcome.c - the table behind outcome.h.
 */
#include "outcome.h"

#include <string.h>

static const struct {
    const char *code;
    int status;
    const char *message;
} table[OUT_COUNT_] = {
    [OUT_OK] = {"ok", 200, "ok"},
    [OUT_BAD_REQUEST] = {"bad_request", 400, "the request is not valid"},
    [OUT_HELLO_REQUIRED] = {"hello_required", 400, "send hello first"},
    [OUT_RATE_LIMITED] = {"rate_limited", 429, "too many requests; slow down"},
    [OUT_TOO_LARGE] = {"too_large", 413, "the body is too large"},
    [OUT_LENGTH_REQUIRED] = {"length_required", 411, "send the body with a Content-Length"},
    [OUT_URI_TOO_LONG] = {"uri_too_long", 414, "the address is too long"},
    [OUT_NOT_FOUND] = {"not_found", 404, "no such API endpoint"},
    [OUT_METHOD_NOT_ALLOWED] = {"method_not_allowed", 405, "this method is not supported here"},
    [OUT_UNAUTHORIZED] = {"unauthorized", 401, "log in as box-office staff first"},
    [OUT_FORBIDDEN] = {"forbidden", 403, "this needs an administrator"},
    [OUT_BAD_ORIGIN] = {"bad_origin", 403, "requests from other sites are not accepted"},
    [OUT_BAD_CREDENTIALS] = {"bad_credentials", 401, "wrong user name or password"},
    [OUT_UNKNOWN_SHOW] = {"unknown_show", 404, "there is no such show"},
    [OUT_UNKNOWN_SEAT] = {"unknown_seat", 400, "this show has no such seat"},
    [OUT_SEAT_UNAVAILABLE] = {"seat_unavailable", 409, "some of these seats are not free"},
    [OUT_HOLD_LIMIT] = {"hold_limit", 409, "a hold has too many seats"},
    [OUT_NOT_HELD] = {"not_held", 409, "these seats are not in your hold"},
    [OUT_HOLD_LOCKED] = {"hold_locked", 409, "this hold is being confirmed right now"},
    [OUT_HOLD_EXPIRED] = {"hold_expired", 409,
                          "this hold has expired or does not exist; its seats were released"},
    [OUT_ALREADY_CANCELLED] = {"already_cancelled", 409, "this booking was already cancelled"},
    [OUT_RETRY] = {"retry", 503, "try again"},
    [OUT_MORE] = {"more", 200, "more to do"},
    [OUT_UNAVAILABLE] = {"unavailable", 503, "the seat store is unavailable; try again"},
    [OUT_INTERNAL] = {"internal", 500, "something went wrong on our side"},
};

static int known(outcome o)
{
    return (int)o >= 0 && o < OUT_COUNT_;
}

const char *outcome_code(outcome o)
{
    return known(o) ? table[o].code : table[OUT_INTERNAL].code;
}

int outcome_http_status(outcome o)
{
    return known(o) ? table[o].status : table[OUT_INTERNAL].status;
}

const char *outcome_message(outcome o)
{
    return known(o) ? table[o].message : table[OUT_INTERNAL].message;
}

outcome outcome_parse(const char *word)
{
    int i;
    for (i = 0; word && i < OUT_COUNT_; i++)
        if (strcmp(word, table[i].code) == 0)
            return (outcome)i;
    return OUT_INTERNAL;
}
