/*
 * json_input.h - strictness for JSON that comes from outside (WebSocket
 * messages, API bodies): no string may carry a NUL or another control
 * character.
 *
 * Why: cJSON decodes "a\u0000zzz" into a C string that ends at the NUL, so
 * every later strcmp sees "a": a payment ref, a show id or a seat id would
 * silently name something else. cJSON keeps no decoded length, so the NUL
 * is found in the raw text (an escaped \u0000), and the other control
 * characters in the decoded strings.
 *
 * Not here: what the fields mean (ws.c, api_*.c).
 */
#ifndef SEATMAP_JSON_INPUT_H
#define SEATMAP_JSON_INPUT_H

#include <cjson/cJSON.h>
#include <stddef.h>

#define JSON_INPUT_MESSAGE "strings may not contain NUL or other control characters"

/* 0 when the raw text (len bytes, as parsed into root) has no escaped NUL
 * and no string value or member name of root holds a byte below 0x20 or
 * 0x7f; -1 otherwise. */
int json_input_check(const char *text, size_t len, const cJSON *root);

#endif
