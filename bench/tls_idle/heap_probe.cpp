// Preloaded into the daemon by bench/tls_idle/daemon.sh (LD_PRELOAD=libheap_probe.so): the heap
// in use of a process that cannot be asked itself. HEAP_PROBE names a FIFO; each line written
// to it makes a thread of this library append "heap_bytes=N" (mallinfo2's uordblks + hblkhd,
// as bench/tls_idle measures in-process) and a newline to HEAP_PROBE.out. Without HEAP_PROBE
// it does nothing. The thread blocks every signal, so the daemon's own handling is unchanged.
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

namespace {

char out_path[4096];
char fifo_path[4096];

void* probe(void*) {
  for (;;) {
    const int in = open(fifo_path, O_RDONLY);  // blocks until the script opens it to write
    if (in < 0) return nullptr;
    char request[64];
    while (read(in, request, sizeof request) > 0) {
      const struct mallinfo2 heap = mallinfo2();
      char line[64];
      const int length = std::snprintf(line, sizeof line, "heap_bytes=%zu\n", heap.uordblks + heap.hblkhd);
      const int out = open(out_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (out >= 0) {
        if (write(out, line, static_cast<std::size_t>(length)) < 0) {
        }
        close(out);
      }
    }
    close(in);
  }
}

__attribute__((constructor)) void start_probe() {
  const char* path = std::getenv("HEAP_PROBE");
  if (path == nullptr || std::strlen(path) + 5 > sizeof fifo_path) return;
  std::strcpy(fifo_path, path);
  std::snprintf(out_path, sizeof out_path, "%s.out", path);
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  // The thread inherits this mask; the caller's is put back at once.
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  pthread_t thread;
  if (pthread_create(&thread, nullptr, probe, nullptr) == 0) pthread_detach(thread);
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

}  // namespace
