/* fuzz_rest: requests to the daemon's REST server, over a real connection to a running
 * control thread: "METHOD PATH\nBODY" made into a well-formed HTTP/1.1 request (the
 * Content-Length right), so the fuzzer spends its time in our routes and their JSON
 * bodies rather than in libmicrohttpd's parser. A clean request line must get an HTTP
 * answer; a JSON answer must parse, and an error must say why in "error".
 * Raw bytes are not sent: libmicrohttpd (0.9.75) holds a request cut short by the
 * client's FIN until its idle timeout (10 s here), which would make every such input a
 * ten-second one; that bounded wait is t_hostile's subject (trickling connections). */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/fuzz/control_door.h"

static char answer[1 << 20];

static bool clean_line(const char *m, size_t ml, const char *p, size_t pl)
{
    if (!ml || ml > 16 || !pl || p[0] != '/') return false;
    for (size_t i = 0; i < ml; i++)
        if (m[i] < 'A' || m[i] > 'Z') return false;
    for (size_t i = 0; i < pl; i++)
        if ((unsigned char)p[i] <= ' ' || (unsigned char)p[i] >= 0x7f) return false;
    return true;
}

/* A JSON answer of ours: an object or array; an error status carries "error". */
static void check_answer(const char *a, size_t n, bool head)
{
    if (strncmp(a, "HTTP/1.1 ", 9) || n < 12) door_die("REST", "a clean request got no HTTP answer");
    int status = atoi(a + 9);
    const char *end = strstr(a, "\r\n\r\n");
    if (!end) door_die("REST", "an answer without the end of its headers");
    const char *ct = strcasestr(a, "\r\nContent-Type: application/json");
    if (head || !ct || ct > end) return;
    json_error_t je;
    json_t *j = json_loads(end + 4, 0, &je);
    if (!j) door_die("REST", "a JSON answer that is not JSON");
    if (status >= 400) {
        const char *e = json_string_value(json_object_get(j, "error"));
        if (!e || !e[0]) door_die("REST", "an error answer without an \"error\" message");
    }
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
    if (!door_g.ctl) door_open();
    int fd = door_tcp(door_g.http_port);
    const char *s = (const char *)p, *nl = memchr(s, '\n', n);
    size_t line = nl ? (size_t)(nl - s) : n;
    const char *sp = memchr(s, ' ', line);
    size_t ml = sp ? (size_t)(sp - s) : line;
    const char *path = sp ? sp + 1 : "/";
    size_t pl = sp ? line - ml - 1 : 1;
    const char *body = nl ? nl + 1 : "";
    size_t bl = nl ? n - line - 1 : 0;
    char head[512];
    int hl = snprintf(head, sizeof head, "%.*s %.*s HTTP/1.1\r\nHost: fuzz\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\nConnection: close\r\n\r\n", (int)(ml > 64 ? 64 : ml), s,
                      (int)(pl > 300 ? 300 : pl), path, bl);
    char *req = malloc((size_t)hl + bl);
    if (!req) return 0;
    memcpy(req, head, (size_t)hl);
    memcpy(req + hl, body, bl);
    size_t got = door_exchange(fd, req, (size_t)hl + bl, answer, sizeof answer);
    free(req);
    if (clean_line(s, ml, path, pl) && ml <= 64 && pl <= 300 && bl <= 60000)
        check_answer(answer, got, ml == 4 && !memcmp(s, "HEAD", 4));
    return 0;
}
