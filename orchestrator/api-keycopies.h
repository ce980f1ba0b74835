/* orchestrator/api-keycopies.h: the control API's key copies (docs/api.md, "Key copies";
 * docs/decommission.md, "Key copies"): every copy of a system's private key is registered (a
 * file on a host, or an offline copy: paper, removable media), a key file presented to yunbakd
 * that nobody registered is recorded and warned about, a file copy is reported destroyed with
 * what `yunbak key destroy` checked, and an offline copy is attested destroyed by its holder,
 * yunbakd signing the attestation. Implemented in api-keycopies.c; api.c routes to them under
 * the daemon's lock. A copy registered by mistake is withdrawn by two people
 * (api-keywithdraw.c). Every call, allowed or refused, is audited (key.register, key.seen,
 * key.unregistered, key.destroyed, key.attested, key.withdraw, key.withdrawn). */
#pragma once

#include "orchestrator/api-call.h"

/* POST /v1/systems/{id}/key-copies: registers a copy (201), or answers the same held file copy
 * registered already (200). The system's department or an operator. */
void orch_api_post_key_copy(Call *c, const char *system);
/* GET /v1/systems/{id}/key-copies: {"copies": [...]}, oldest first. Whoever may read the
 * system. */
void orch_api_get_key_copies(Call *c, const char *system);
/* POST /v1/systems/{id}/key-copies/seen: which copy a key file at a host and path is
 * ({"registered": bool, "copy": {...}}); one nobody registered is recorded (found) and warned
 * about in the audit log. The system's department or an operator. */
void orch_api_post_key_copy_seen(Call *c, const char *system);
/* POST /v1/key-copies/{copy}/destroyed: a held file copy reported destroyed, with the evidence
 * of `yunbak key destroy`. The system's department or an operator. */
void orch_api_post_key_copy_destroyed(Call *c, const char *copy);
/* POST /v1/key-copies/{copy}/attest: a held offline copy attested destroyed by its holder (and
 * only by its holder), the attestation signed by yunbakd. */
void orch_api_post_key_copy_attest(Call *c, const char *copy);
/* POST /v1/key-copies/{copy}/withdraw: {"reason"} asks to withdraw a held copy registered by
 * mistake (202; the system's department, or the operator who registered it); {"confirm": true}
 * confirms it (200; an operator who neither asked nor holds the copy): the copy is then
 * "withdrawn", its record kept, the withdrawal signed by yunbakd (api-keywithdraw.c). */
void orch_api_post_key_copy_withdraw(Call *c, const char *copy);
