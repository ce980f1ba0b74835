/* core/evidence/jsonwrite.h: JSON text written byte for byte as Python writes it, so that anyone
 * can reproduce a signed document's canonical form and file with a tool of their own:
 *
 *     json.dumps(v, sort_keys=True, ensure_ascii=False, separators=(",", ":"))  (compact)
 *     json.dumps(v, sort_keys=True, ensure_ascii=False, indent=N)               (indented)
 *
 * Only the values both write alike are accepted: objects, arrays, strings, integers, true, false
 * and null. Reals are refused (their digits differ between tools), and so are strings holding a
 * control character other than \n and \t (C0, DEL, C1: tools escape them differently) or bytes
 * that are not UTF-8. Keys are sorted by their UTF-8 bytes, which is Python's code point order. */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "core/base/buf.h"

/* Appends v to out: compact when indent < 0, else indented by indent spaces per level. skip: a
 * member of v (an object) left out, or NULL. 0; -EINVAL for a value outside the rule above, with
 * where it is ("artifacts[2].name: a control character (U+0007)") in why (why_size bytes,
 * terminated; why may be NULL); -ENOMEM. out may hold part of the text after a failure. */
int yb_json_write(const json_t *v, int indent, const char *skip, YbBuf *out, char *why,
                  size_t why_size);

/* Whether the UTF-8 string s (n bytes) is one the rule above accepts: 0, or -EINVAL with the
 * problem ("a control character (U+0007) at byte 3") in why. */
int yb_json_string_check(const char *s, size_t n, char *why, size_t why_size);
