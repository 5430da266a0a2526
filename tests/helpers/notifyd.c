/* tests/helpers/notifyd.c: a stand-in for systemd's end of the notify protocol, for
 * t_ops. Binds a Unix datagram socket at SOCKET and appends each message it receives to
 * OUT as one line (fields joined by '|'); when a message says READY=1 it checks, that
 * very moment, whether FILE (par.txt through the mount) can be read, and writes
 * "ready-check ok" or "ready-check fail: why". Runs until killed.
 *   notifyd SOCKET FILE OUT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: notifyd SOCKET FILE OUT\n");
        return 2;
    }
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", argv[1]);
    unlink(argv[1]);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("notifyd: bind");
        return 1;
    }
    FILE *out = fopen(argv[3], "a");
    if (!out) {
        perror("notifyd: open");
        return 1;
    }
    setvbuf(out, NULL, _IOLBF, 0);
    fprintf(out, "listening\n");
    char m[4096];
    for (;;) {
        ssize_t n = recv(s, m, sizeof m - 1, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return 1;
        m[n] = 0;
        if (strstr(m, "READY=1")) {
            int fd = open(argv[2], O_RDONLY);
            char c;
            if (fd >= 0 && read(fd, &c, 1) == 1) fprintf(out, "ready-check ok\n");
            else fprintf(out, "ready-check fail: %s\n", strerror(errno));
            if (fd >= 0) close(fd);
        }
        for (char *p = m; *p; p++)
            if (*p == '\n') *p = '|';
        fprintf(out, "%s\n", m);
    }
}
