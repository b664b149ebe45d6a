// scale_clients: how many concurrent client connections the daemon holds, what each one costs
// in memory, and how fast a broadcast reaches all of them.
//
// One thread, one epoll set, plain POSIX sockets. It opens N client connections to the daemon,
// spread over source addresses 127.0.0.2, 127.0.0.3, ... (each socket is bound before connect,
// so no single source address comes near the end of the ephemeral port range), registers each
// one with its own user id, waits until the daemon reports all of them registered (admin
// /metrics) and then connects as the event source and sends B broadcasts. Every connection must
// receive exactly "1|B\r\n" ... "B|B\r\n", in order, and nothing more.
//
// Verification allocates nothing per line: the broadcasts are the same bytes for everyone, so
// the expected stream is built once and each connection only keeps its offset into it; every
// read is one memcmp against the stream at that offset.
//
// --ws: every connection is a WebSocket client instead (docs/protocol.md, "WebSocket"): it sends
// GET /users/<id> with the upgrade headers, checks the 101 (Sec-WebSocket-Accept for RFC 6455's
// sample key: the bench needs no SHA-1), then reads frames with a minimal decoder written here:
// every text frame must hold whole lines separated by '\n', and their payloads with a '\n' after
// each must be the stream "1|B\n2|B\n..." byte for byte; the daemon's pings are answered.
//
// Exit status: 0 when every connection received every broadcast, 1 on a wrong, missing or
// extra byte, a refused or dropped connection, or a timeout, 2 on a usage or set-up error
// (descriptor limit, daemon not reachable).

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace {

using steady = std::chrono::steady_clock;

constexpr int exit_failed = 1;
constexpr int exit_setup = 2;
// Descriptors besides the client sockets: stdio, epoll, the event source, an admin request,
// /proc reads, with room to spare.
constexpr std::uint64_t spare_descriptors = 16;

struct options {
  std::string host = "127.0.0.1";
  std::uint16_t client_port = 9099;
  std::uint16_t event_port = 9090;
  std::uint16_t admin_port = 9095;  // 0: no /metrics, wait settle_ms instead
  std::uint32_t clients = 50000;
  std::string source_base = "127.0.0.2";
  std::uint32_t per_address = 10000;
  std::uint32_t broadcasts = 1000;
  std::uint32_t connect_window = 256;
  std::uint64_t first_user = 1;
  std::uint64_t first_sequence = 0;  // 0: the daemon's next expected number (admin), else 1
  long daemon_pid = 0;
  std::uint32_t settle_ms = 3000;
  std::uint32_t timeout_ms = 60000;
  std::uint32_t quiet_ms = 300;
  bool ws = false;                // WebSocket clients on ws_port instead of TCP clients on client_port
  std::uint16_t ws_port = 9098;
};

constexpr std::string_view usage =
    "scale_clients: N concurrent client connections against eventserver, B broadcasts to all\n"
    "\n"
    "usage: scale_clients [--name=value | --name value]...\n"
    "  --clients=N            client connections (default 50000)\n"
    "  --broadcasts=B         broadcasts sent once all are registered; each must reach every\n"
    "                         connection, exactly and in order (default 1000)\n"
    "  --host=ADDR            the daemon's IPv4 address (default 127.0.0.1)\n"
    "  --clientPort=PORT      the daemon's client port (default 9099)\n"
    "  --transport=tcp|ws     tcp: the id line on the client port (default); ws: WebSocket\n"
    "                         clients (GET /users/<id>) on the WebSocket port\n"
    "  --wsPort=PORT          the daemon's WebSocket port (default 9098)\n"
    "  --eventPort=PORT       the daemon's event source port (default 9090)\n"
    "  --adminPort=PORT       the daemon's admin port, polled for eventserver_connected_users\n"
    "                         (default 9095; 0: wait --settle instead)\n"
    "  --sourceBase=ADDR      first source address; the next ones count up (default 127.0.0.2)\n"
    "  --perAddress=N         connections per source address (default 10000)\n"
    "  --connectWindow=N      connects in flight at once (default 256)\n"
    "  --firstUser=ID         user ids are ID, ID+1, ... (default 1)\n"
    "  --firstSequence=N      the first broadcast's sequence number (default: the daemon's\n"
    "                         eventserver_sequence_next_expected, or 1 without --adminPort)\n"
    "  --daemonPid=PID        read VmRSS and VmHWM of this process from /proc (memory report)\n"
    "  --settle=MS            without --adminPort: pause after registering (default 3000)\n"
    "  --timeout=MS           limit of each phase without progress (default 60000)\n"
    "  --quiet=MS             listen this long after the last broadcast for extra bytes (default 300)\n"
    "  --help                 this text\n"
    "\n"
    "Prints a report and one line: RESULT clients=.. connect_per_s=.. register_per_s=..\n"
    "  rss_before_kb=.. rss_after_kb=.. bytes_per_connection=.. notifications=.. notif_per_s=..\n"
    "  daemon_register_cpu_s=.. daemon_deliver_cpu_s=.. daemon_peak_rss_kb=.. transport=tcp|ws\n"
    "  frames=.. (text frames verified, --transport=ws)\n";

[[noreturn]] void fail(int status, const char* format, ...) __attribute__((format(printf, 2, 3)));
void fail(int status, const char* format, ...) {
  std::fflush(stdout);
  std::fputs("scale_clients: ", stderr);
  va_list args;
  va_start(args, format);
  std::vfprintf(stderr, format, args);
  va_end(args);
  std::fputc('\n', stderr);
  std::exit(status);
}

template <typename T>
std::optional<T> parse_number(std::string_view text) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

options parse_options(int argc, char** argv) {
  options opts;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(usage.data(), stdout);
      std::exit(0);
    }
    if (!arg.starts_with("--")) fail(exit_setup, "unexpected argument '%s' (see --help)", argv[i]);
    arg.remove_prefix(2);
    std::string_view name = arg;
    std::string_view value;
    if (const auto eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      fail(exit_setup, "--%.*s needs a value", static_cast<int>(name.size()), name.data());
    }
    const auto bad = [&] {
      fail(exit_setup, "bad value '%.*s' for --%.*s", static_cast<int>(value.size()), value.data(),
           static_cast<int>(name.size()), name.data());
    };
    const auto u32 = [&](std::uint32_t& out, std::uint32_t min) {
      const auto v = parse_number<std::uint32_t>(value);
      if (!v || *v < min) bad();
      out = *v;
    };
    const auto port = [&](std::uint16_t& out) {
      const auto v = parse_number<std::uint16_t>(value);
      if (!v) bad();
      out = *v;
    };
    if (name == "clients") {
      u32(opts.clients, 1);
    } else if (name == "broadcasts") {
      u32(opts.broadcasts, 1);
    } else if (name == "host") {
      opts.host = value;
    } else if (name == "clientPort") {
      port(opts.client_port);
    } else if (name == "transport") {
      if (value != "tcp" && value != "ws") bad();
      opts.ws = value == "ws";
    } else if (name == "wsPort") {
      port(opts.ws_port);
    } else if (name == "eventPort") {
      port(opts.event_port);
    } else if (name == "adminPort") {
      port(opts.admin_port);
    } else if (name == "sourceBase") {
      opts.source_base = value;
    } else if (name == "perAddress") {
      u32(opts.per_address, 1);
    } else if (name == "connectWindow") {
      u32(opts.connect_window, 1);
    } else if (name == "firstUser") {
      const auto v = parse_number<std::uint64_t>(value);
      if (!v) bad();
      opts.first_user = *v;
    } else if (name == "firstSequence") {
      const auto v = parse_number<std::uint64_t>(value);
      if (!v || *v == 0) bad();
      opts.first_sequence = *v;
    } else if (name == "daemonPid") {
      const auto v = parse_number<long>(value);
      if (!v || *v <= 0) bad();
      opts.daemon_pid = *v;
    } else if (name == "settle") {
      u32(opts.settle_ms, 0);
    } else if (name == "timeout") {
      u32(opts.timeout_ms, 1);
    } else if (name == "quiet") {
      u32(opts.quiet_ms, 0);
    } else {
      fail(exit_setup, "unknown option --%.*s (see --help)", static_cast<int>(name.size()), name.data());
    }
  }
  // Broadcast lines are at most 16 bytes; keep the expected stream (and each client's share of
  // the daemon's queue bound) within reason.
  if (opts.broadcasts > 10'000'000) fail(exit_setup, "--broadcasts is at most 10000000");
  return opts;
}

double seconds_since(steady::time_point start) { return std::chrono::duration<double>(steady::now() - start).count(); }

// --- /proc --------------------------------------------------------------------------------

// A "Key:   123 kB" field of /proc/PID/status, in kB.
std::optional<std::uint64_t> proc_status_kb(long pid, std::string_view key) {
  if (pid <= 0) return std::nullopt;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%ld/status", pid);
  std::FILE* file = std::fopen(path, "re");
  if (file == nullptr) return std::nullopt;
  std::optional<std::uint64_t> result;
  char line[256];
  while (std::fgets(line, sizeof line, file) != nullptr) {
    std::string_view text = line;
    if (!text.starts_with(key) || text.size() <= key.size() || text[key.size()] != ':') continue;
    text.remove_prefix(key.size() + 1);
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    const auto digits = text.find_first_not_of("0123456789");
    result = parse_number<std::uint64_t>(text.substr(0, digits));
    break;
  }
  std::fclose(file);
  return result;
}

// utime + stime of /proc/PID/stat, in seconds.
std::optional<double> proc_cpu_seconds(long pid) {
  if (pid <= 0) return std::nullopt;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  std::FILE* file = std::fopen(path, "re");
  if (file == nullptr) return std::nullopt;
  char text[1024];
  const std::size_t size = std::fread(text, 1, sizeof text - 1, file);
  std::fclose(file);
  text[size] = '\0';
  // The command name (field 2) may hold spaces: count fields from its closing parenthesis.
  const char* at = std::strrchr(text, ')');
  if (at == nullptr) return std::nullopt;
  unsigned long long utime = 0;
  unsigned long long stime = 0;
  if (std::sscanf(at + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2) {
    return std::nullopt;
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// --- sockets ------------------------------------------------------------------------------

sockaddr_in ipv4(const std::string& host, std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1)
    fail(exit_setup, "not an IPv4 address: %s", host.c_str());
  return address;
}

const sockaddr* as_sockaddr(const sockaddr_in& address) { return reinterpret_cast<const sockaddr*>(&address); }

std::string address_text(const sockaddr_in& address) {
  char text[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &address.sin_addr, text, sizeof text);
  return text;
}

// Raises the soft descriptor limit to the hard one; returns the limit now in force.
std::uint64_t raise_fd_limit(std::uint64_t& hard) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) fail(exit_setup, "getrlimit: %s", std::strerror(errno));
  if (limit.rlim_cur != limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) fail(exit_setup, "setrlimit: %s", std::strerror(errno));
  }
  const auto as_u64 = [](rlim_t value) {
    return value == RLIM_INFINITY ? ~std::uint64_t{0} : static_cast<std::uint64_t>(value);
  };
  hard = as_u64(limit.rlim_max);
  return as_u64(limit.rlim_cur);
}

// A blocking GET of /metrics (HTTP/1.1, Connection: close); returns one gauge or counter value.
// Only between phases, so its allocations are not on the measured path.
std::optional<std::uint64_t> fetch_metric(const sockaddr_in& admin, std::string_view metric) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  timeval timeout{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  std::string response;
  if (connect(fd, as_sockaddr(admin), sizeof admin) == 0) {
    constexpr std::string_view request = "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
      char chunk[16384];
      for (;;) {
        const ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) break;
        response.append(chunk, static_cast<std::size_t>(n));
      }
    }
  }
  close(fd);
  std::size_t at = 0;
  while (at < response.size()) {
    const auto eol = response.find('\n', at);
    const std::string_view line(response.data() + at, (eol == std::string::npos ? response.size() : eol) - at);
    at = eol == std::string::npos ? response.size() : eol + 1;
    if (line.starts_with(metric) && line.size() > metric.size() && line[metric.size()] == ' ') {
      std::string_view value = line.substr(metric.size() + 1);
      if (!value.empty() && value.back() == '\r') value.remove_suffix(1);
      // Prometheus prints integers as such; accept "123" and "123.0" / "1.23e+06" alike.
      if (const auto v = parse_number<std::uint64_t>(value)) return v;
      char* end = nullptr;
      const std::string copy(value);
      const double d = std::strtod(copy.c_str(), &end);
      if (end != copy.c_str() && d >= 0) return static_cast<std::uint64_t>(d);
      return std::nullopt;
    }
  }
  return std::nullopt;
}

// Shows up to 48 received bytes with \r and \n spelled out, for a mismatch report.
std::string printable(const char* data, std::size_t size) {
  std::string text;
  for (std::size_t i = 0; i < size && i < 48; ++i) {
    const char c = data[i];
    if (c == '\r') {
      text += "\\r";
    } else if (c == '\n') {
      text += "\\n";
    } else if (c >= 0x20 && c < 0x7f) {
      text += c;
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned char>(c));
      text += hex;
    }
  }
  return text;
}

// --- the bench ----------------------------------------------------------------------------

enum class client_state : std::uint8_t { connecting, upgrading, registered };

// RFC 6455's sample key and the accept value it requires (section 1.3): the same key for every
// connection is allowed (it only proves the server speaks WebSocket) and spares the bench SHA-1.
constexpr std::string_view ws_key = "dGhlIHNhbXBsZSBub25jZQ==";
constexpr std::string_view ws_accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
constexpr std::size_t max_upgrade_response = 4096;

// A WebSocket connection's place in the daemon's frames (server frames are never masked).
struct ws_reader {
  std::array<unsigned char, 10> header{};
  std::uint8_t header_have = 0;
  std::uint8_t header_need = 2;
  std::uint8_t opcode = 0;
  bool in_payload = false;
  std::uint64_t payload_left = 0;
  std::string pending;  // the upgrade response while it is incomplete; a control frame's payload
};

// One client connection: the socket and how far into the expected stream it has got.
struct client {
  int fd = -1;
  client_state state = client_state::connecting;
  std::uint64_t received = 0;  // bytes of the expected broadcast stream matched so far
  std::unique_ptr<ws_reader> ws;  // --ws only
};

// epoll data: the client's index, or the event source.
constexpr std::uint64_t source_tag = ~std::uint64_t{0};

class scale_bench {
 public:
  explicit scale_bench(options opts) : opts_(std::move(opts)) {}

  int run() {
    check_descriptor_limit();
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) fail(exit_setup, "epoll_create1: %s", std::strerror(errno));
    server_ = ipv4(opts_.host, opts_.ws ? opts_.ws_port : opts_.client_port);
    admin_ = ipv4(opts_.host, opts_.admin_port);
    first_source_ = ipv4(opts_.source_base, 0);
    address_count_ = (opts_.clients + opts_.per_address - 1) / opts_.per_address;
    // Every source address must be loopback: the same /8 as the first one.
    const std::uint32_t first = ntohl(first_source_.sin_addr.s_addr);
    if ((first >> 24) != 127 || ((first + address_count_ - 1) >> 24) != 127 || first + address_count_ - 1 < first) {
      fail(exit_setup, "%" PRIu32 " source addresses from %s leave 127.0.0.0/8: raise --perAddress", address_count_,
           opts_.source_base.c_str());
    }

    if (opts_.admin_port != 0) {
      users_before_ = fetch_metric(admin_, "eventserver_connected_users");
      if (!users_before_) {
        fail(exit_setup,
             "no eventserver_connected_users from http://%s:%u/metrics: is the daemon running, with that admin port?",
             opts_.host.c_str(), opts_.admin_port);
      }
    }
    if (opts_.first_sequence == 0) {
      // A daemon that has already processed events only takes the numbers after them.
      opts_.first_sequence =
          opts_.admin_port != 0 ? fetch_metric(admin_, "eventserver_sequence_next_expected").value_or(1) : 1;
    }
    build_expected_stream();
    rss_before_kb_ = proc_status_kb(opts_.daemon_pid, "VmRSS");
    const auto cpu_start = proc_cpu_seconds(opts_.daemon_pid);

    connect_all();
    wait_registered();
    rss_after_kb_ = proc_status_kb(opts_.daemon_pid, "VmRSS");
    const auto cpu_registered = proc_cpu_seconds(opts_.daemon_pid);

    broadcast_and_verify();
    const auto cpu_delivered = proc_cpu_seconds(opts_.daemon_pid);
    if (cpu_start && cpu_registered && cpu_delivered) {
      register_cpu_seconds_ = *cpu_registered - *cpu_start;
      deliver_cpu_seconds_ = *cpu_delivered - *cpu_registered;
    }
    listen_quietly();
    peak_rss_kb_ = proc_status_kb(opts_.daemon_pid, "VmHWM");
    report();
    for (const auto& c : clients_) close(c.fd);
    close(epoll_fd_);
    return 0;
  }

 private:
  void check_descriptor_limit() {
    std::uint64_t hard = 0;
    const std::uint64_t limit = raise_fd_limit(hard);
    const std::uint64_t needed = opts_.clients + spare_descriptors;
    if (limit < needed) {
      const std::uint64_t most = limit > spare_descriptors ? limit - spare_descriptors : 0;
      fail(exit_setup,
           "%" PRIu32 " clients need %" PRIu64 " descriptors but the open-file limit is %" PRIu64
           " (hard limit %" PRIu64
           "): raise the hard limit (as root with CAP_SYS_RESOURCE: ulimit -Hn, "
           "LimitNOFILE=, /etc/security/limits.conf) or run with --clients=%" PRIu64
           " at most (the daemon needs as many descriptors of its own)",
           opts_.clients, needed, limit, hard, most);
    }
  }

  // "1|B\r\n2|B\r\n...": what the source sends and, byte for byte, what every client must get.
  // A WebSocket client gets "1|B\n2|B\n..." (frames' payloads, a '\n' after each).
  void build_expected_stream() {
    expected_.reserve(static_cast<std::size_t>(opts_.broadcasts) * 16);
    source_stream_.reserve(static_cast<std::size_t>(opts_.broadcasts) * 16);
    char line[32];
    const std::uint64_t end_sequence = opts_.first_sequence + opts_.broadcasts;
    for (std::uint64_t seq = opts_.first_sequence; seq < end_sequence; ++seq) {
      const auto end = std::to_chars(line, line + 20, seq).ptr;
      std::memcpy(end, "|B\r\n", 4);
      source_stream_.append(line, static_cast<std::size_t>(end + 4 - line));
      if (opts_.ws) {
        end[2] = '\n';
        expected_.append(line, static_cast<std::size_t>(end + 3 - line));
      }
    }
    if (!opts_.ws) expected_ = source_stream_;
  }

  sockaddr_in source_address(std::uint32_t index) const {
    sockaddr_in address = first_source_;
    const std::uint32_t base = ntohl(first_source_.sin_addr.s_addr);
    address.sin_addr.s_addr = htonl(base + index / opts_.per_address);
    return address;
  }

  void add_to_epoll(int fd, std::uint32_t events, std::uint64_t tag) {
    epoll_event event{};
    event.events = events;
    event.data.u64 = tag;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) fail(exit_setup, "epoll_ctl: %s", std::strerror(errno));
  }

  void modify_epoll(int fd, std::uint32_t events, std::uint64_t tag) {
    epoll_event event{};
    event.events = events;
    event.data.u64 = tag;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &event) != 0) fail(exit_setup, "epoll_ctl: %s", std::strerror(errno));
  }

  std::uint64_t user_of(std::size_t index) const { return opts_.first_user + index; }

  // Starts one non-blocking connect from its source address.
  void start_connect(std::uint32_t index) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      fail(exit_setup, "socket() for connection %" PRIu32 ": %s", index + 1, std::strerror(errno));
    }
    const int one = 1;
    // The port is picked at connect() time from the whole 4-tuple, not reserved at bind().
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    const sockaddr_in local = source_address(index);
    if (bind(fd, as_sockaddr(local), sizeof local) != 0) {
      fail(exit_setup, "bind to source address %s: %s", address_text(local).c_str(), std::strerror(errno));
    }
    if (connect(fd, as_sockaddr(server_), sizeof server_) != 0 && errno != EINPROGRESS) {
      fail(exit_failed, "connect from %s to %s:%u (connection %" PRIu32 "): %s", address_text(local).c_str(),
           opts_.host.c_str(), opts_.client_port, index + 1, std::strerror(errno));
    }
    clients_[index].fd = fd;
    add_to_epoll(fd, EPOLLOUT, index);
  }

  // The connect finished: check it, send the id, and from now on only read.
  void on_connected(std::uint32_t index) {
    client& c = clients_[index];
    int error = 0;
    socklen_t length = sizeof error;
    getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) {
      fail(exit_failed, "connection %" PRIu32 " (user %" PRIu64 ") from %s failed: %s", index + 1, user_of(index),
           address_text(source_address(index)).c_str(), std::strerror(error));
    }
    char id[32];
    const auto end = std::to_chars(id, id + 20, user_of(index)).ptr;
    if (opts_.ws) {
      const std::string request = "GET /users/" + std::string(id, end) + " HTTP/1.1\r\nHost: " + opts_.host +
                                  "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " +
                                  std::string(ws_key) + "\r\nSec-WebSocket-Version: 13\r\n\r\n";
      if (send(c.fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
        fail(exit_failed, "sending the upgrade of user %" PRIu64 ": %s", user_of(index), std::strerror(errno));
      }
      c.ws = std::make_unique<ws_reader>();
      c.state = client_state::upgrading;
      modify_epoll(c.fd, EPOLLIN | EPOLLRDHUP, index);
      return;
    }
    std::memcpy(end, "\r\n", 2);
    const auto size = static_cast<std::size_t>(end + 2 - id);
    // A fresh socket's send buffer always takes a few bytes whole.
    if (send(c.fd, id, size, MSG_NOSIGNAL) != static_cast<ssize_t>(size)) {
      fail(exit_failed, "sending the id of user %" PRIu64 ": %s", user_of(index), std::strerror(errno));
    }
    c.state = client_state::registered;
    modify_epoll(c.fd, EPOLLIN | EPOLLRDHUP, index);
  }

  void connect_all() {
    clients_.resize(opts_.clients);
    std::printf("connecting %" PRIu32 " %s clients to %s:%u from %" PRIu32 " source address(es) %s..%s, %" PRIu32
                " in flight at most\n",
                opts_.clients, opts_.ws ? "WebSocket" : "TCP", opts_.host.c_str(),
                opts_.ws ? opts_.ws_port : opts_.client_port, address_count_,
                address_text(source_address(0)).c_str(), address_text(source_address(opts_.clients - 1)).c_str(),
                opts_.connect_window);
    std::fflush(stdout);
    connect_start_ = steady::now();
    std::uint32_t started = 0;
    std::uint32_t connected = 0;
    auto last_progress = steady::now();
    while (connected < opts_.clients) {
      while (started < opts_.clients && started - connected < opts_.connect_window) start_connect(started++);
      const int n = epoll_wait(epoll_fd_, events_.data(), static_cast<int>(events_.size()), 1000);
      if (n < 0 && errno != EINTR) fail(exit_setup, "epoll_wait: %s", std::strerror(errno));
      for (int i = 0; i < n; ++i) {
        const auto index = static_cast<std::uint32_t>(events_[static_cast<std::size_t>(i)].data.u64);
        if (clients_[index].state == client_state::connecting) {
          on_connected(index);
          ++connected;
          last_progress = steady::now();
        } else {
          read_client(index);  // before any broadcast: only a close can arrive, and it fails the run
        }
      }
      if (seconds_since(last_progress) * 1000 > opts_.timeout_ms) {
        fail(exit_failed, "connecting stalled: %" PRIu32 " of %" PRIu32 " connected, none for %" PRIu32 " ms",
             connected, opts_.clients, opts_.timeout_ms);
      }
    }
    connect_seconds_ = seconds_since(connect_start_);
    std::printf("connected %" PRIu32 " clients and sent their %s in %.3f s\n", opts_.clients,
                opts_.ws ? "upgrade requests" : "ids", connect_seconds_);
    std::fflush(stdout);
  }

  // Registration has no acknowledgement in the protocol: the daemon's own gauge says when every
  // id has been read. Meanwhile the clients are watched for a close (limit, descriptor shortage).
  void wait_registered() {
    if (opts_.admin_port == 0) {
      poll_clients_for(opts_.settle_ms);
      register_seconds_ = seconds_since(connect_start_);
      return;
    }
    const std::uint64_t target = *users_before_ + opts_.clients;
    std::uint64_t users = *users_before_;
    bool answered = true;  // the last /metrics request got an answer
    auto last_progress = steady::now();
    for (;;) {
      const auto now_users = fetch_metric(admin_, "eventserver_connected_users");
      answered = now_users.has_value();
      if (now_users && *now_users != users) {
        users = *now_users;
        last_progress = steady::now();
      }
      if (users >= target) break;
      if (seconds_since(last_progress) * 1000 > opts_.timeout_ms) {
        if (!answered) {
          fail(exit_failed,
               "the admin endpoint stopped answering (last answer: %" PRIu64 " of %" PRIu32
               " users registered), "
               "nothing new for %" PRIu32 " ms: the daemon is out of descriptors? (its log: 'accept failed')",
               users - *users_before_, opts_.clients, opts_.timeout_ms);
        }
        const auto connections = fetch_metric(admin_, "eventserver_client_connections").value_or(0);
        fail(exit_failed,
             "the daemon registered only %" PRIu64 " of %" PRIu32 " users (client connections: %" PRIu64
             "), none more for %" PRIu32 " ms: accept stalled? (descriptor limit, maxClients, listen backlog)",
             users - *users_before_, opts_.clients, connections, opts_.timeout_ms);
      }
      poll_clients_for(20);
    }
    register_seconds_ = seconds_since(connect_start_);
    std::printf("the daemon reports %" PRIu64 " connected users after %.3f s\n", users - *users_before_,
                register_seconds_);
    std::fflush(stdout);
  }

  void poll_clients_for(std::uint32_t ms) {
    const auto until = steady::now() + std::chrono::milliseconds(ms);
    while (steady::now() < until) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - steady::now()).count();
      const int n = epoll_wait(epoll_fd_, events_.data(), static_cast<int>(events_.size()), static_cast<int>(left) + 1);
      if (n < 0 && errno != EINTR) fail(exit_setup, "epoll_wait: %s", std::strerror(errno));
      for (int i = 0; i < n; ++i) dispatch(events_[static_cast<std::size_t>(i)]);
    }
  }

  void dispatch(const epoll_event& event) {
    if (event.data.u64 == source_tag) {
      write_source();
    } else {
      read_client(static_cast<std::uint32_t>(event.data.u64));
    }
  }

  // Reads what one client has and checks it against the expected stream at its offset.
  void read_client(std::uint32_t index) {
    client& c = clients_[index];
    const ssize_t n = recv(c.fd, buffer_.data(), buffer_.size(), 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      fail_client(index, std::strerror(errno));
    }
    if (n == 0) fail_client(index, "closed by the daemon");
    const auto size = static_cast<std::size_t>(n);
    if (opts_.ws) {
      read_ws(index, buffer_.data(), size);
      last_progress_ = steady::now();
      return;
    }
    const std::size_t owed = expected_.size() - c.received;
    if (size > owed || std::memcmp(buffer_.data(), expected_.data() + c.received, size) != 0) {
      report_mismatch(index, size);
    }
    c.received += size;
    if (c.received == expected_.size()) {
      ++complete_;
      last_complete_ = steady::now();
    }
    last_progress_ = steady::now();
  }

  // --- WebSocket ---------------------------------------------------------------------------

  void read_ws(std::uint32_t index, const char* data, std::size_t size) {
    client& c = clients_[index];
    ws_reader& r = *c.ws;
    if (c.state == client_state::upgrading) {
      r.pending.append(data, size);
      const auto end = r.pending.find("\r\n\r\n");
      if (end == std::string::npos) {
        if (r.pending.size() > max_upgrade_response) fail_client(index, "an upgrade response without an end");
        return;
      }
      const std::string_view head(r.pending.data(), end);
      if (!head.starts_with("HTTP/1.1 101 ")) {
        const std::string status(head.substr(0, head.find('\r')));
        fail_client(index, ("upgrade refused: " + status).c_str());
      }
      if (head.find("\r\nSec-WebSocket-Accept: " + std::string(ws_accept)) == std::string_view::npos) {
        fail_client(index, "a 101 without the right Sec-WebSocket-Accept");
      }
      c.state = client_state::registered;
      const std::string rest = r.pending.substr(end + 4);
      std::string().swap(r.pending);
      if (!rest.empty()) read_ws(index, rest.data(), rest.size());
      return;
    }
    while (size != 0) {
      if (!r.in_payload) {
        const std::size_t take = std::min<std::size_t>(size, r.header_need - r.header_have);
        std::memcpy(r.header.data() + r.header_have, data, take);
        r.header_have = static_cast<std::uint8_t>(r.header_have + take);
        data += take;
        size -= take;
        if (r.header_have < r.header_need) return;
        if (!frame_header(index)) continue;  // the extended length follows
      }
      const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(size, r.payload_left));
      payload(index, data, take);
      data += take;
      size -= take;
      r.payload_left -= take;
      if (r.payload_left == 0) end_frame(index);
    }
  }

  // The header is complete (true), or needs its extended length first (false).
  bool frame_header(std::uint32_t index) {
    ws_reader& r = *clients_[index].ws;
    const unsigned char first = r.header[0];
    const unsigned char second = r.header[1];
    if ((second & 0x80) != 0) fail_client(index, "a masked frame from the daemon");
    const unsigned length7 = second & 0x7fu;
    const std::uint8_t need = length7 == 126 ? 4 : length7 == 127 ? 10 : 2;
    if (r.header_need < need) {
      r.header_need = need;
      return false;
    }
    std::uint64_t length = length7;
    if (need > 2) {
      length = 0;
      for (std::uint8_t i = 2; i < need; ++i) length = (length << 8) | r.header[i];
    }
    r.opcode = static_cast<std::uint8_t>(first & 0x0fu);
    if ((first & 0x80u) == 0) fail_client(index, "a fragmented message (the daemon sends whole lines in one frame)");
    if (r.opcode != 0x1 && r.opcode != 0x8 && r.opcode != 0x9 && r.opcode != 0xa) {
      fail_client(index, "a frame that is not text, ping, pong or close");
    }
    if (r.opcode == 0x1 && length == 0) fail_client(index, "an empty text frame");
    if (r.opcode >= 0x8 && length > 125) fail_client(index, "a control frame over 125 bytes");
    r.in_payload = true;
    r.payload_left = length;
    r.header_have = 0;
    r.header_need = 2;
    if (length == 0) end_frame(index);
    return length != 0;
  }

  void payload(std::uint32_t index, const char* data, std::size_t size) {
    client& c = clients_[index];
    if (c.ws->opcode != 0x1) {
      c.ws->pending.append(data, size);
      return;
    }
    const std::size_t owed = expected_.size() - c.received;
    if (size > owed || std::memcmp(data, expected_.data() + c.received, size) != 0) {
      fail(exit_failed, "user %" PRIu64 ": a frame differs from the stream at offset %" PRIu64 ": received \"%s\"",
           user_of(index), c.received, printable(data, size).c_str());
    }
    c.received += size;
  }

  void end_frame(std::uint32_t index) {
    client& c = clients_[index];
    ws_reader& r = *c.ws;
    r.in_payload = false;
    if (r.opcode == 0x8) {
      const std::string& p = r.pending;
      const unsigned code = p.size() >= 2 ? (static_cast<unsigned char>(p[0]) << 8 | static_cast<unsigned char>(p[1])) : 1005;
      fail_client(index, ("a close frame, code " + std::to_string(code) + " " + p.substr(std::min<std::size_t>(2, p.size()))).c_str());
    }
    if (r.opcode == 0x9) {
      // The pong: masked (all clients' frames are), the ping's payload.
      std::string pong;
      pong += static_cast<char>(0x8a);
      pong += static_cast<char>(0x80 | r.pending.size());
      const std::array<unsigned char, 4> mask{0x5a, 0xc3, 0x0f, 0x96};
      for (const unsigned char m : mask) pong += static_cast<char>(m);
      for (std::size_t i = 0; i < r.pending.size(); ++i) pong += static_cast<char>(r.pending[i] ^ mask[i % 4]);
      if (send(c.fd, pong.data(), pong.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(pong.size())) {
        fail_client(index, "could not answer a ping");
      }
      ++pings_;
    }
    r.pending.clear();
    if (r.opcode != 0x1) return;
    // The line the frame ends with is followed by the '\n' the frame leaves out.
    if (c.received >= expected_.size() || expected_[c.received] != '\n') {
      fail(exit_failed, "user %" PRIu64 ": a frame ends inside a line, at offset %" PRIu64 " of its stream",
           user_of(index), c.received);
    }
    ++c.received;
    ++frames_;
    if (c.received == expected_.size()) {
      ++complete_;
      last_complete_ = steady::now();
    }
  }

  [[noreturn]] void fail_client(std::uint32_t index, const char* what) {
    const client& c = clients_[index];
    fail(exit_failed, "connection %" PRIu32 " (user %" PRIu64 ", from %s): %s after %" PRIu64 " of %zu bytes (%s)",
         index + 1, user_of(index), address_text(source_address(index)).c_str(), what, c.received, expected_.size(),
         sending_ ? "during the broadcasts" : "before any broadcast was sent");
  }

  [[noreturn]] void report_mismatch(std::uint32_t index, std::size_t size) {
    const client& c = clients_[index];
    std::size_t at = 0;
    while (at < size && c.received + at < expected_.size() && buffer_[at] == expected_[c.received + at]) ++at;
    const std::size_t position = c.received + at;
    if (position >= expected_.size()) {
      fail(exit_failed, "user %" PRIu64 " received %zu byte(s) after the last broadcast: \"%s\"", user_of(index),
           size - at, printable(buffer_.data() + at, size - at).c_str());
    }
    std::size_t line_start = expected_.rfind('\n', position == 0 ? 0 : position - 1);
    line_start = (line_start == std::string::npos || position == 0) ? 0 : line_start + 1;
    const std::size_t line_end = expected_.find('\n', position) + 1;
    fail(exit_failed, "user %" PRIu64 ": wrong byte at offset %zu of its stream: expected line \"%s\", received \"%s\"",
         user_of(index), position, printable(expected_.data() + line_start, line_end - line_start).c_str(),
         printable(buffer_.data() + at, size - at).c_str());
  }

  void write_source() {
    while (source_sent_ < source_stream_.size()) {
      const ssize_t n =
          send(source_fd_, source_stream_.data() + source_sent_, source_stream_.size() - source_sent_, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN) return;
        if (errno == EINTR) continue;
        fail(exit_failed, "event source: send: %s", std::strerror(errno));
      }
      source_sent_ += static_cast<std::size_t>(n);
    }
    // All sent: stop watching for writability, keep the connection (closing it changes nothing).
    modify_epoll(source_fd_, 0, source_tag);
  }

  void broadcast_and_verify() {
    const sockaddr_in events_address = ipv4(opts_.host, opts_.event_port);
    source_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (source_fd_ < 0) fail(exit_setup, "socket: %s", std::strerror(errno));
    if (connect(source_fd_, as_sockaddr(events_address), sizeof events_address) != 0) {
      fail(exit_setup, "connect to the event port %s:%u: %s", opts_.host.c_str(), opts_.event_port,
           std::strerror(errno));
    }
    const int flags = fcntl(source_fd_, F_GETFL, 0);
    if (flags < 0 || fcntl(source_fd_, F_SETFL, flags | O_NONBLOCK) != 0) {
      fail(exit_setup, "fcntl: %s", std::strerror(errno));
    }
    sending_ = true;
    send_start_ = steady::now();
    last_progress_ = send_start_;
    add_to_epoll(source_fd_, EPOLLOUT, source_tag);
    while (complete_ < opts_.clients) {
      const int n = epoll_wait(epoll_fd_, events_.data(), static_cast<int>(events_.size()), 1000);
      if (n < 0 && errno != EINTR) fail(exit_setup, "epoll_wait: %s", std::strerror(errno));
      for (int i = 0; i < n; ++i) dispatch(events_[static_cast<std::size_t>(i)]);
      if (seconds_since(last_progress_) * 1000 > opts_.timeout_ms) report_stall();
    }
    deliver_seconds_ = std::chrono::duration<double>(last_complete_ - send_start_).count();
  }

  [[noreturn]] void report_stall() {
    std::size_t first = 0;
    std::uint64_t least = ~std::uint64_t{0};
    std::size_t behind = 0;
    for (std::size_t i = 0; i < clients_.size(); ++i) {
      if (clients_[i].received == expected_.size()) continue;
      ++behind;
      if (clients_[i].received < least) {
        least = clients_[i].received;
        first = i;
      }
    }
    fail(exit_failed,
         "nothing received for %" PRIu32 " ms: %" PRIu32 " of %" PRIu32
         " connections have every broadcast, %zu do not; "
         "the furthest behind is user %" PRIu64 " at byte %" PRIu64 " of %zu (the source sent %zu)",
         opts_.timeout_ms, complete_, opts_.clients, behind, user_of(first), least, expected_.size(), source_sent_);
  }

  // Anything arriving now is an extra notification: read_client fails the run on it.
  void listen_quietly() { poll_clients_for(opts_.quiet_ms); }

  void report() const {
    const double notifications = static_cast<double>(opts_.clients) * opts_.broadcasts;
    const double connect_rate = opts_.clients / connect_seconds_;
    const double register_rate = opts_.clients / register_seconds_;
    const double delivery_rate = notifications / deliver_seconds_;
    std::printf("\n%" PRIu32 " connections from %" PRIu32 " source address(es), %" PRIu32 " broadcasts each\n",
                opts_.clients, address_count_, opts_.broadcasts);
    std::printf("connect:      %.3f s to connect and send every %s (%.0f connections/s)\n", connect_seconds_,
                opts_.ws ? "upgrade request" : "id", connect_rate);
    if (opts_.admin_port != 0) {
      std::printf("register:     %.3f s until the daemon reported all users connected (%.0f connections/s)\n",
                  register_seconds_, register_rate);
    } else {
      std::printf("register:     not measured (no --adminPort): waited %" PRIu32 " ms\n", opts_.settle_ms);
    }
    std::optional<double> per_connection;
    if (rss_before_kb_ && rss_after_kb_) {
      per_connection =
          (static_cast<double>(*rss_after_kb_) - static_cast<double>(*rss_before_kb_)) * 1024.0 / opts_.clients;
      std::printf("memory:       daemon RSS %.1f MiB before connecting, %.1f MiB after: %.0f bytes per connection\n",
                  static_cast<double>(*rss_before_kb_) / 1024.0, static_cast<double>(*rss_after_kb_) / 1024.0,
                  *per_connection);
    } else {
      std::printf("memory:       not measured (no --daemonPid)\n");
    }
    std::printf(
        "delivery:     %.0f notifications (%zu bytes to each connection) in %.3f s: %.0f notifications/s, "
        "every byte verified in order\n",
        notifications, expected_.size(), deliver_seconds_, delivery_rate);
    if (register_cpu_seconds_ && deliver_cpu_seconds_) {
      std::printf("daemon CPU:   %.2f s while connecting and registering, %.2f s while delivering\n",
                  *register_cpu_seconds_, *deliver_cpu_seconds_);
    }
    if (peak_rss_kb_) {
      std::printf("peak RSS:     daemon VmHWM %.1f MiB\n", static_cast<double>(*peak_rss_kb_) / 1024.0);
    }
    if (opts_.ws) {
      std::printf("WebSocket:    %" PRIu32 " upgrades checked, %" PRIu64 " text frames verified (%.1f lines each), %" PRIu64
                  " pings answered\n",
                  opts_.clients, frames_, frames_ != 0 ? notifications / static_cast<double>(frames_) : 0.0, pings_);
    }
    std::printf("ALL %" PRIu32 " CONNECTIONS RECEIVED ALL %" PRIu32 " BROADCASTS\n", opts_.clients, opts_.broadcasts);
    const auto kb = [](const std::optional<std::uint64_t>& value) {
      return value ? std::to_string(*value) : std::string("na");
    };
    std::printf("RESULT clients=%" PRIu32 " addresses=%" PRIu32
                " connect_s=%.3f connect_per_s=%.0f register_s=%s "
                "register_per_s=%s rss_before_kb=%s rss_after_kb=%s bytes_per_connection=%s broadcasts=%" PRIu32
                " notifications=%.0f deliver_s=%.3f notif_per_s=%.0f daemon_register_cpu_s=%s daemon_deliver_cpu_s=%s "
                "daemon_peak_rss_kb=%s transport=%s frames=%" PRIu64 "\n",
                opts_.clients, address_count_, connect_seconds_, connect_rate,
                opts_.admin_port != 0 ? format_double("%.3f", register_seconds_).c_str() : "na",
                opts_.admin_port != 0 ? format_double("%.0f", register_rate).c_str() : "na", kb(rss_before_kb_).c_str(),
                kb(rss_after_kb_).c_str(), per_connection ? format_double("%.0f", *per_connection).c_str() : "na",
                opts_.broadcasts, notifications, deliver_seconds_, delivery_rate,
                register_cpu_seconds_ ? format_double("%.2f", *register_cpu_seconds_).c_str() : "na",
                deliver_cpu_seconds_ ? format_double("%.2f", *deliver_cpu_seconds_).c_str() : "na",
                kb(peak_rss_kb_).c_str(), opts_.ws ? "ws" : "tcp", frames_);
  }

  static std::string format_double(const char* format, double value) {
    char text[64];
    std::snprintf(text, sizeof text, format, value);
    return text;
  }

  options opts_;
  int epoll_fd_ = -1;
  int source_fd_ = -1;
  sockaddr_in server_{};
  sockaddr_in admin_{};
  sockaddr_in first_source_{};
  std::uint32_t address_count_ = 0;
  std::vector<client> clients_;
  std::string source_stream_;  // the whole broadcast stream, as the source sends it
  std::string expected_;       // ... as every client must receive it (the same bytes over TCP)
  std::uint64_t frames_ = 0;   // --ws: text frames verified
  std::uint64_t pings_ = 0;    // --ws: pings answered
  std::size_t source_sent_ = 0;
  bool sending_ = false;
  std::uint32_t complete_ = 0;  // connections that have received the whole stream
  std::array<epoll_event, 1024> events_{};
  std::array<char, 65536> buffer_{};  // one read buffer for every connection

  std::optional<std::uint64_t> users_before_;
  std::optional<std::uint64_t> rss_before_kb_;
  std::optional<std::uint64_t> rss_after_kb_;
  std::optional<std::uint64_t> peak_rss_kb_;
  steady::time_point connect_start_;
  steady::time_point send_start_;
  steady::time_point last_complete_;
  steady::time_point last_progress_;
  double connect_seconds_ = 0;
  double register_seconds_ = 0;
  double deliver_seconds_ = 0;
  // The daemon's CPU (utime + stime) in each phase; the register phase includes the /metrics polls.
  std::optional<double> register_cpu_seconds_;
  std::optional<double> deliver_cpu_seconds_;
};

}  // namespace

int main(int argc, char** argv) {
  scale_bench bench(parse_options(argc, argv));
  return bench.run();
}
