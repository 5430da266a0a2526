/* fuzz_qserver: bytes to the daemon's q IPC port, over a real connection to a running
 * control thread: after a login (first byte even), the rest as the messages a q process
 * sends -- framing, decompression, decoding and the .sm.api calls' reading of their
 * arguments; first byte odd, the rest as raw bytes from the first (the handshake too).
 * fuzz_ipc holds the decoder alone to its round trip; this target holds the server to
 * answering and closing. */
#include <stddef.h>
#include <stdint.h>

#include "tests/fuzz/control_door.h"

static char answer[1 << 20];

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
    if (!door_g.ctl) door_open();
    if (n < 1) return 0;
    int fd = door_tcp(door_g.q_port);
    if (!(p[0] & 1)) {
        static const char login[] = "fuzz\3";   /* with its NUL: capability 3 */
        char cap;
        if (send(fd, login, sizeof login, MSG_NOSIGNAL) != (ssize_t)sizeof login || recv(fd, &cap, 1, 0) != 1)
            door_die("q", "the login was not answered");
    }
    door_exchange(fd, p + 1, n - 1, answer, sizeof answer);
    return 0;
}
