/*
 * vn_sdlisten.c - the service manager's end of the sd_notify protocol, for the integration
 * tests: a datagram socket that writes every message it receives as one line.
 *
 *   vn_sdlisten SOCKET_PATH OUT_FILE
 *
 * Binds an AF_UNIX datagram socket at SOCKET_PATH (point $NOTIFY_SOCKET at it) and appends
 * each datagram to OUT_FILE as one line, its newlines written as " | ". Runs until SIGTERM or
 * SIGINT, then removes the socket and exits 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct sigaction act = {.sa_handler = on_signal};
    char msg[4096];
    FILE *out;
    int fd;

    if (argc != 3 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "usage: vn_sdlisten SOCKET_PATH OUT_FILE\n");
        return 2;
    }
    sigaction(SIGTERM, &act, NULL);
    sigaction(SIGINT, &act, NULL);
    memcpy(sa.sun_path, argv[1], strlen(argv[1]) + 1);
    unlink(argv[1]);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        fprintf(stderr, "vn_sdlisten: cannot bind '%s': %s\n", argv[1], strerror(errno));
        return 1;
    }
    out = fopen(argv[2], "ae");
    if (!out) {
        fprintf(stderr, "vn_sdlisten: cannot open '%s': %s\n", argv[2], strerror(errno));
        return 1;
    }
    while (!stop) {
        ssize_t n = recv(fd, msg, sizeof(msg) - 1, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "vn_sdlisten: recv: %s\n", strerror(errno));
            break;
        }
        msg[n] = '\0';
        for (ssize_t i = 0; i < n; i++) {
            if (msg[i] == '\n')
                fputs(" | ", out);
            else
                fputc(msg[i], out);
        }
        fputc('\n', out);
        fflush(out);
    }
    fclose(out);
    close(fd);
    unlink(argv[1]);
    return 0;
}
