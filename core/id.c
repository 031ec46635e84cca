/* Id validation, the first gate for every name that comes from the network. */
#include "core/id.h"

#include <string.h>

bool mqc_id_valid(const char *s, size_t len)
{
    if (!s || len == 0 || len > MQC_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

bool mqc_id_valid_str(const char *s)
{
    return s && mqc_id_valid(s, strnlen(s, MQC_ID_MAX + 1));
}

bool mqc_push_token_valid(const char *t, size_t max)
{
    size_t n = t ? strnlen(t, max + 1) : 0;
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == ':' || c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}
