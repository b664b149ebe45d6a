/* The I/O floor of a fan-out run: the same bytes through loopback with no parsing, no
 * ordering, no routing and no log. One program, two roles:
 *
 *   floor serve PORT CLIENTS EVENT_BYTES NOTIFICATION_BYTES [TICK_MS]
 *     accepts CLIENTS client connections, then one source connection, on 127.0.0.1:PORT; reads
 *     the source to its end and owes the clients NOTIFICATION_BYTES in all, spread evenly and in
 *     proportion to what the source sent so far; every TICK_MS (default 50, the daemon's
 *     clientWriteDelayMs) it writes each client what it owes in one write: the fewest writes
 *     that latency allows. A pass over the clients that takes longer than TICK_MS (thousands
 *     of them) holds the next one back as long as it took, as the daemon's flush pass does,
 *     and the source is read dry before each pass. At the end it prints its own CPU seconds:
 *     "floor_cpu_s=... writes=... ticks=... wall_s=...".
 *   floor drive PORT CLIENTS EVENT_BYTES [DURATION_S]
 *     connects the clients, then sends EVENT_BYTES as the source (evenly over DURATION_S when
 *     given, so the floor's passes span as long a run as the daemon's did; at once otherwise),
 *     and reads every client to its end.
 *
 * Both raise their open-file limit to the hard one (10,000 clients need 10,000 descriptors in
 * each role: run them as separate processes).
 *
 * What the daemon does beyond this (parse, order, route, log, queue per client) is its cost;
 * bench/floor/run.sh divides the daemon's CPU by this program's, both for the same bytes.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { chunk = 1 << 16, max_write = 1 << 20 };
static char buffer[max_write];

static void die(const char* what) {
  perror(what);
  exit(1);
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void raise_fd_limit(void) {
  struct rlimit r;
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

static struct sockaddr_in loopback(int port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

static int serve(int port, int clients, uint64_t event_bytes, uint64_t notification_bytes, int tick_ms) {
  raise_fd_limit();
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = loopback(port);
  if (bind(listener, (struct sockaddr*)&a, sizeof a) != 0) die("bind");
  if (listen(listener, 4096) != 0) die("listen");
  int* fd = calloc((size_t)clients, sizeof *fd);
  uint64_t* sent = calloc((size_t)clients, sizeof *sent);
  for (int i = 0; i < clients; ++i) {
    fd[i] = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd[i] < 0) die("accept client");
    setsockopt(fd[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  const int source = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (source < 0) die("accept source");
  const double start = now_s();
  uint64_t received = 0;
  uint64_t writes = 0;
  uint64_t ticks = 0;
  int source_open = 1;
  int pending = 1;
  double hold = tick_ms / 1e3;
  double next_tick = now_s() + hold;
  while (source_open || pending) {
    if (source_open) {
      struct pollfd p = {source, POLLIN, 0};
      const double wait = next_tick - now_s();
      if (poll(&p, 1, wait > 0 ? (int)(wait * 1e3) + 1 : 0) > 0) {
        for (;;) { /* read it dry: a pass may have left a lot waiting */
          const ssize_t n = read(source, buffer, chunk);
          if (n > 0) {
            received += (uint64_t)n;
            continue;
          }
          if (n == 0) source_open = 0;
          if (n < 0 && errno != EAGAIN && errno != EINTR) die("read source");
          break;
        }
      }
    } else {
      const double wait = next_tick - now_s();
      if (wait > 0) usleep((useconds_t)(wait * 1e6));
    }
    if (now_s() < next_tick && source_open) continue;
    const double pass_start = now_s();
    ++ticks;
    /* Owed so far: the notifications in proportion to the events read; all of them at the end. */
    const uint64_t reached = source_open && received < event_bytes ? received : event_bytes;
    pending = 0;
    for (int i = 0; i < clients; ++i) {
      if (fd[i] < 0) continue;
      const uint64_t share = notification_bytes / (uint64_t)clients + ((uint64_t)i < notification_bytes % (uint64_t)clients);
      const uint64_t owed = (uint64_t)((double)share * (double)reached / (double)event_bytes);
      if (owed > sent[i]) {
        const size_t want = owed - sent[i] > max_write ? max_write : (size_t)(owed - sent[i]);
        const ssize_t n = write(fd[i], buffer, want);
        ++writes;
        if (n > 0) sent[i] += (uint64_t)n;
        if (n < 0 && errno != EAGAIN && errno != EINTR) die("write client");
      }
      if (!source_open && sent[i] >= share) {
        close(fd[i]);
        fd[i] = -1;
      } else {
        pending = 1;
      }
    }
    /* A pass longer than the tick holds the next one back as long as it took (the daemon's rule). */
    const double pass_end = now_s();
    hold = pass_end - pass_start > tick_ms / 1e3 ? pass_end - pass_start : tick_ms / 1e3;
    next_tick = pass_end + hold;
  }
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  printf("floor_cpu_s=%.3f user_s=%.3f sys_s=%.3f writes=%llu ticks=%llu wall_s=%.3f\n",
         (double)u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + (double)u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6,
         (double)u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6, (double)u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6,
         (unsigned long long)writes, (unsigned long long)ticks, now_s() - start);
  return 0;
}

static int connect_to(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = loopback(port);
  for (int attempt = 0; connect(fd, (struct sockaddr*)&a, sizeof a) != 0; ++attempt) {
    if (attempt == 100) die("connect");
    usleep(20000);
  }
  return fd;
}

static int drive(int port, int clients, uint64_t event_bytes, double duration_s) {
  raise_fd_limit();
  const int epoll = epoll_create1(EPOLL_CLOEXEC);
  for (int i = 0; i < clients; ++i) {
    const int fd = connect_to(port);
    struct epoll_event e = {.events = EPOLLIN, .data.fd = fd};
    epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &e);
  }
  const int source = connect_to(port);
  const pid_t writer = fork();
  if (writer == 0) {
    memset(buffer, 'x', chunk);
    const double begin = now_s();
    for (uint64_t left = event_bytes; left > 0;) {
      size_t want = left < chunk ? (size_t)left : chunk;
      if (duration_s > 0) { /* paced: by time t, t / DURATION_S of the bytes */
        const double due = (double)event_bytes * (now_s() - begin) / duration_s - (double)(event_bytes - left);
        if (due < 1) {
          usleep(1000);
          continue;
        }
        if ((double)want > due) want = (size_t)due;
      }
      const ssize_t n = write(source, buffer, want);
      if (n < 0 && errno != EINTR) die("write source");
      if (n > 0) left -= (uint64_t)n;
    }
    close(source);
    _exit(0);
  }
  close(source);
  int open_clients = clients;
  struct epoll_event events[256];
  while (open_clients > 0) {
    const int n = epoll_wait(epoll, events, 256, 10000);
    if (n == 0) {
      fprintf(stderr, "floor drive: nothing read for 10 s, %d clients open\n", open_clients);
      return 1;
    }
    for (int k = 0; k < n; ++k) {
      const ssize_t got = read(events[k].data.fd, buffer, sizeof buffer);
      if (got <= 0) {
        close(events[k].data.fd);
        --open_clients;
      }
    }
  }
  waitpid(writer, NULL, 0);
  return 0;
}

int main(int argc, char** argv) {
  if (argc >= 6 && strcmp(argv[1], "serve") == 0) {
    return serve(atoi(argv[2]), atoi(argv[3]), strtoull(argv[4], NULL, 10), strtoull(argv[5], NULL, 10),
                 argc > 6 ? atoi(argv[6]) : 50);
  }
  if ((argc == 5 || argc == 6) && strcmp(argv[1], "drive") == 0) {
    return drive(atoi(argv[2]), atoi(argv[3]), strtoull(argv[4], NULL, 10), argc == 6 ? atof(argv[5]) : 0);
  }
  fprintf(stderr,
          "usage: floor serve PORT CLIENTS EVENT_BYTES NOTIFICATION_BYTES [TICK_MS]\n"
          "       floor drive PORT CLIENTS EVENT_BYTES [DURATION_S]\n");
  return 2;
}
