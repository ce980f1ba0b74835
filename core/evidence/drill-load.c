/* Reading a drill record's file back, JSON or HTML (drill.h: yb_drill_load): the record as a
 * kind of signed document for core/evidence/signed-file.h's reader. */
#include "core/evidence/drill.h"
#include "core/evidence/signed-file.h"

static const YbSignedFileKind DRILL = {
        .type = YB_DRILL_TYPE,
        .noun = "drill record",
        .what = "a yunbak drill record",
        .script_id = "yunbak-drill",
        .command = "drill",
        .check = yb_drill_check,
        .html = yb_drill_html,
};

int yb_drill_load(const char *path, json_t **ret, bool *ret_html, char *why, size_t why_size) {
        return yb_signed_file_load(path, &DRILL, ret, ret_html, why, why_size);
}
