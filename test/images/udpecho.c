/*
 * udpecho: the UDP half of the test image (Debian's busybox nc has no UDP mode).
 *
 *   udpecho -l PORT               answer every datagram with "<hostname> <client-ip>:<client-port>\n"
 *                                 (the client address lets tests check source-IP preservation)
 *   udpecho [-w MS] [-n TRIES] [-s SRCPORT] HOST PORT [MESSAGE]
 *                                 send MESSAGE (default "ping"), print the first answer and exit 0;
 *                                 exit 1 when no answer came after TRIES waits of MS milliseconds;
 *                                 -s fixes the source port, so successive runs share one conntrack
 *                                 entry (the UDP-survives-pod-cycling check needs exactly that)
 *
 * IPv4 and IPv6 literals; no name resolution (tests pass addresses, and a static binary cannot use
 * NSS). Built static by test/images/build-busybox-image.ts.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int usage(void) {
  fprintf(stderr, "usage: udpecho -l PORT | udpecho [-w MS] [-n TRIES] [-s SRCPORT] HOST PORT [MESSAGE]\n");
  return 2;
}

static int serve(int port) {
  struct sockaddr_storage addr;
  socklen_t addrlen;
  int fd = socket(AF_INET6, SOCK_DGRAM, 0);
  int off = 0;
  char host[256];
  memset(&addr, 0, sizeof addr);
  if (fd >= 0) {
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&addr;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off); /* one socket for v4 and v6 */
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((unsigned short)port);
    a6->sin6_addr = in6addr_any;
    addrlen = sizeof *a6;
  } else {
    struct sockaddr_in *a4 = (struct sockaddr_in *)&addr; /* a kernel without IPv6 */
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) { perror("socket"); return 1; }
    a4->sin_family = AF_INET;
    a4->sin_port = htons((unsigned short)port);
    a4->sin_addr.s_addr = htonl(INADDR_ANY);
    addrlen = sizeof *a4;
  }
  if (bind(fd, (struct sockaddr *)&addr, addrlen) < 0) { perror("bind"); return 1; }
  if (gethostname(host, sizeof host) < 0) strcpy(host, "unknown");
  for (;;) {
    char buf[65536], ip[INET6_ADDRSTRLEN], out[512];
    struct sockaddr_storage peer;
    socklen_t len = sizeof peer;
    ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&peer, &len);
    const char *shown = ip;
    unsigned peer_port;
    if (n < 0) { if (errno == EINTR) continue; perror("recvfrom"); return 1; }
    if (peer.ss_family == AF_INET6) {
      inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&peer)->sin6_addr, ip, sizeof ip);
      if (strncmp(ip, "::ffff:", 7) == 0) shown = ip + 7; /* a v4 client, as v4 */
      peer_port = ntohs(((struct sockaddr_in6 *)&peer)->sin6_port);
    } else {
      inet_ntop(AF_INET, &((struct sockaddr_in *)&peer)->sin_addr, ip, sizeof ip);
      peer_port = ntohs(((struct sockaddr_in *)&peer)->sin_port);
    }
    snprintf(out, sizeof out, "%s %s:%u\n", host, shown, peer_port);
    sendto(fd, out, strlen(out), 0, (struct sockaddr *)&peer, len);
  }
}

static int ask(const char *host, int port, const char *msg, int wait_ms, int tries, int src_port) {
  struct sockaddr_storage addr;
  socklen_t len;
  int fd, i;
  memset(&addr, 0, sizeof addr);
  if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&addr)->sin_addr) == 1) {
    ((struct sockaddr_in *)&addr)->sin_family = AF_INET;
    ((struct sockaddr_in *)&addr)->sin_port = htons((unsigned short)port);
    len = sizeof(struct sockaddr_in);
  } else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&addr)->sin6_addr) == 1) {
    ((struct sockaddr_in6 *)&addr)->sin6_family = AF_INET6;
    ((struct sockaddr_in6 *)&addr)->sin6_port = htons((unsigned short)port);
    len = sizeof(struct sockaddr_in6);
  } else {
    fprintf(stderr, "udpecho: %s is not an IP address\n", host);
    return 2;
  }
  fd = socket(addr.ss_family, SOCK_DGRAM, 0);
  if (fd < 0) { perror("socket"); return 1; }
  if (src_port > 0) {
    struct sockaddr_storage local;
    int on = 1;
    memset(&local, 0, sizeof local);
    local.ss_family = addr.ss_family;
    if (addr.ss_family == AF_INET) ((struct sockaddr_in *)&local)->sin_port = htons((unsigned short)src_port);
    else ((struct sockaddr_in6 *)&local)->sin6_port = htons((unsigned short)src_port);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (bind(fd, (struct sockaddr *)&local, len) < 0) { perror("bind"); return 1; }
  }
  /* connect() so that an ICMP port-unreachable comes back as ECONNREFUSED. */
  if (connect(fd, (struct sockaddr *)&addr, len) < 0) { perror("connect"); return 1; }
  for (i = 0; i < tries; i++) {
    struct pollfd p = { fd, POLLIN, 0 };
    char buf[65536];
    if (send(fd, msg, strlen(msg), 0) < 0 && errno != ECONNREFUSED) { perror("send"); return 1; }
    if (poll(&p, 1, wait_ms) > 0) {
      ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
      if (n >= 0) { buf[n] = 0; fputs(buf, stdout); return 0; }
      if (errno == ECONNREFUSED) { fprintf(stderr, "udpecho: connection refused\n"); return 1; }
    }
  }
  fprintf(stderr, "udpecho: no answer from %s:%d\n", host, port);
  return 1;
}

int main(int argc, char **argv) {
  int wait_ms = 1000, tries = 3, src_port = 0, opt;
  while ((opt = getopt(argc, argv, "l:w:n:s:")) != -1) {
    switch (opt) {
      case 'l': return serve(atoi(optarg));
      case 'w': wait_ms = atoi(optarg); break;
      case 'n': tries = atoi(optarg); break;
      case 's': src_port = atoi(optarg); break;
      default: return usage();
    }
  }
  if (argc - optind < 2) return usage();
  return ask(argv[optind], atoi(argv[optind + 1]), argc - optind > 2 ? argv[optind + 2] : "ping", wait_ms, tries, src_port);
}
