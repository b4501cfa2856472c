/*
 * The floor for one core: a one-thread blocking connect() loop.
 *
 *   floor ADDR FIRST LAST     (IPv4 only; prints one open port per line)
 *
 * Per port: socket, blocking connect, close. That is the least work a connect scan can do per
 * port, so its wall time on loopback is what one core costs. On success it also compares
 * getsockname with getpeername: in the ephemeral range the kernel can pick the destination port
 * as the source port, and the "connection" is then the socket talking to itself (TCP
 * simultaneous open), not a listener. Those two calls happen on open ports only.
 *
 * Built by bench/run.sh with gcc -O2. Only meant for the benchmark's own namespaces.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s ADDR FIRST LAST\n", argv[0]);
        return 2;
    }
    struct sockaddr_in dst;
    memset(&dst, 0, sizeof dst);
    dst.sin_family = AF_INET;
    if (inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1) {
        fprintf(stderr, "floor: not an IPv4 address: %s\n", argv[1]);
        return 2;
    }
    long first = strtol(argv[2], NULL, 10), last = strtol(argv[3], NULL, 10);
    if (first < 1 || last > 65535 || first > last) {
        fprintf(stderr, "floor: bad port range %s-%s\n", argv[2], argv[3]);
        return 2;
    }
    long open_ports = 0, errors = 0;
    for (long port = first; port <= last; port++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) {
            perror("floor: socket");
            return 1;
        }
        dst.sin_port = htons((unsigned short)port);
        if (connect(fd, (struct sockaddr *)&dst, sizeof dst) == 0) {
            struct sockaddr_in me, peer;
            socklen_t ml = sizeof me, pl = sizeof peer;
            int self = getsockname(fd, (struct sockaddr *)&me, &ml) == 0 &&
                       getpeername(fd, (struct sockaddr *)&peer, &pl) == 0 &&
                       me.sin_port == peer.sin_port &&
                       me.sin_addr.s_addr == peer.sin_addr.s_addr;
            if (!self) {
                printf("%ld\n", port);
                open_ports++;
            }
        } else if (errno != ECONNREFUSED) {
            errors++;
        }
        close(fd);
    }
    fprintf(stderr, "floor: %ld ports, %ld open, %ld errors other than refused\n",
            last - first + 1, open_ports, errors);
    return 0;
}
