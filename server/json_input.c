/*
 * json_input.c - refusing control characters in JSON input (see
 * json_input.h).
 */
#include "json_input.h"

#include <string.h>

/* An escape \u0000 anywhere: backslashes appear only inside strings in
 * JSON, and an escaped backslash is skipped as a pair. */
static int has_nul_escape(const char *text, size_t len)
{
    size_t i;
    for (i = 0; i + 1 < len; i++) {
        if (text[i] == '\0')
            return 1;
        if (text[i] != '\\')
            continue;
        if (text[i + 1] == 'u' && i + 5 < len && memcmp(text + i + 2, "0000", 4) == 0)
            return 1;
        i++; /* the escaped character */
    }
    return len && text[len - 1] == '\0';
}

static int clean_string(const char *s)
{
    for (; s && *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

static int clean_tree(const cJSON *j, int depth)
{
    const cJSON *it;
    if (depth > 64)
        return 0;
    if (j->string && !clean_string(j->string))
        return 0;
    if (cJSON_IsString(j) && !clean_string(j->valuestring))
        return 0;
    for (it = j->child; it; it = it->next)
        if (!clean_tree(it, depth + 1))
            return 0;
    return 1;
}

int json_input_check(const char *text, size_t len, const cJSON *root)
{
    if (has_nul_escape(text, len))
        return -1;
    return root && !clean_tree(root, 0) ? -1 : 0;
}
