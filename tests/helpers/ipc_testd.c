/* tests/helpers/ipc_testd.c: a q IPC server with the test functions of
 * ipc_handlers.h, for peers in other languages (node-q). Prints "port N" once
 * listening; stops on SIGTERM or SIGINT.
 *   ipc_testd [--port N] [--unix PATH] [--users FILE] [--max-msg BYTES]
 *             [--handshake-ms MS] [--compress-local] */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "ipc/ev.h"
#include "ipc/ipc_server.h"
#include "tests/helpers/ipc_handlers.h"

static struct ev_loop *the_loop;   /* for the signal handler only */

static void on_signal(int sig)
{
    (void)sig;
    ev_stop_async(the_loop);   /* an eventfd write: async-signal-safe */
}

int main(int argc, char **argv)
{
    struct ipc_server_opts o = {.port = 0};
    static const struct option opts[] = {
        {"port", required_argument, NULL, 'p'}, {"unix", required_argument, NULL, 'u'},
        {"users", required_argument, NULL, 'U'}, {"max-msg", required_argument, NULL, 'm'},
        {"handshake-ms", required_argument, NULL, 'h'}, {"compress-local", no_argument, NULL, 'z'},
        {0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'p': o.port = atoi(optarg); break;
        case 'u': o.unix_path = optarg; break;
        case 'U': o.user_file = optarg; break;
        case 'm': o.max_msg = strtoull(optarg, NULL, 10); break;
        case 'h': o.handshake_ms = atoi(optarg); break;
        case 'z': o.compress_local = true; break;
        default: return 2;
        }
    }
    struct smfs_err err;
    struct ipc_server *s = NULL;
    struct test_state ts = {.lock = PTHREAD_MUTEX_INITIALIZER};
    if (ev_new(&the_loop, &err) || ipc_server_new(the_loop, &o, &s, &err)) {
        fprintf(stderr, "ipc_testd: %s\n", err.msg);
        return 1;
    }
    if (test_handlers(s, &ts)) return 1;
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    printf("port %d\n", ipc_server_port(s));
    fflush(stdout);
    int rc = ev_run(the_loop, &err);
    ipc_server_free(s);
    ev_free(the_loop);
    k_free(ts.last_async);
    return rc ? 1 : 0;
}
