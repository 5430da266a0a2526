/* fuzz_admin: lines to the admin socket smctl speaks to (a JSON object a line), over a
 * real connection to a running control thread: the framing, jansson, and every command's
 * reading of its arguments (status, versions, clients, vacuum, verify, migrate, eod,
 * stream-rows, unknown ones). Every answer must be one JSON object with a boolean "ok",
 * and a refusal must say why in "error". "ingest" and "stop" are never sent (see
 * control_door.h). */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/fuzz/control_door.h"

static char answer[1 << 20];

static bool forbidden(const uint8_t *p, size_t n)
{
    json_error_t je;
    json_t *j = json_loadb((const char *)p, n, 0, &je);   /* as ipc/admin.c reads it */
    const char *cmd = json_string_value(json_object_get(j, "cmd"));
    bool no = cmd && (!strcmp(cmd, "ingest") || !strcmp(cmd, "stop"));
    json_decref(j);
    return no;
}

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
    if (!door_g.ctl) door_open();
    const uint8_t *nl = memchr(p, '\n', n);
    size_t line = nl ? (size_t)(nl - p) : n;
    if (forbidden(p, line)) return -1;
    uint8_t *req = malloc(line + 1);
    if (!req) return 0;
    memcpy(req, p, line);
    req[line] = '\n';
    size_t got = door_exchange(door_unix(door_g.admin), req, line + 1, answer, sizeof answer);
    free(req);
    json_error_t je;
    json_t *j = json_loadb(answer, got, 0, &je);
    if (!json_is_object(j)) door_die("admin", "an answer that is not one JSON object");
    json_t *ok = json_object_get(j, "ok");
    if (!json_is_boolean(ok)) door_die("admin", "an answer without a boolean \"ok\"");
    if (json_is_false(ok)) {
        const char *e = json_string_value(json_object_get(j, "error"));
        if (!e || !e[0]) door_die("admin", "a refusal without an \"error\" message");
    }
    json_decref(j);
    return 0;
}
