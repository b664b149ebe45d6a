#pragma once
// Every client connection of the run, served by one epoll thread.
//
// Verified connections read into one shared 256 KiB buffer and each line is checked in place
// against the bytes of the event line the source wrote (with "\r\n"), byte for byte, through
// a reference into the source's chunk (see expectation_channel). Only a partial line (or, briefly, lines whose expectations are not yet published) is
// carried over per connection. Nothing is allocated per line.
//
// Chaos connections: stuck readers register and are never read until the end, when the
// harness drains them to see whether the daemon cut them off; bad clients send a bad
// handshake (or none) and must receive nothing at all.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "followermaze/expectation_channel.hpp"
#include "followermaze/expectation_model.hpp"
#include "followermaze/latency_histogram.hpp"
#include "followermaze/options.hpp"
#include "followermaze/run_state.hpp"

namespace followermaze {

enum class bad_client_kind : std::uint8_t {
  not_a_number,   // "abc"
  negative,       // "-42"
  trailing_junk,  // "12x": must not register user 12
  overflow,       // 2^64 and more
  empty_line,     // ""
  overlong,       // 4096 digits and no end of line: past the id line limit
  silent,         // sends nothing; the daemon's handshake timeout must close it
};
inline constexpr std::uint8_t bad_client_kind_count = 7;

std::string_view to_string(bad_client_kind kind) noexcept;
// The bytes a bad client of that kind sends after connecting.
std::string bad_client_greeting(bad_client_kind kind);

struct client_report {
  std::uint64_t end_ns = 0;  // when the last expected notification was verified
  std::uint64_t verified = 0;
  latency_histogram latency;  // nanoseconds

  std::uint32_t stuck_readers = 0;
  std::uint32_t stuck_cut_off = 0;         // EOF or reset once drained
  std::uint64_t stuck_bytes_received = 0;  // what they had been sent before the cut
  std::uint32_t bad_clients_by_kind[bad_client_kind_count] = {};
  std::uint32_t bad_clients_closed_by_kind[bad_client_kind_count] = {};
};

class client_pool {
 public:
  client_pool(const options& opts, const expectation_model& model, expectation_channel& channel, run_state& state,
              user_id first_stuck_user);
  ~client_pool();
  client_pool(const client_pool&) = delete;
  client_pool& operator=(const client_pool&) = delete;

  // Set-up, before the source starts: connects every connection and sends its id line.
  // Returns an error message, empty on success.
  std::string connect_all();
  std::size_t connection_count() const noexcept { return connections_.size(); }

  // The thread body: verify until everything expected has arrived and the quiet period
  // passed, or until the first failure; then the chaos checks.
  void run();

  const client_report& report() const noexcept { return report_; }

 private:
  enum class role : std::uint8_t { verified, stuck, bad };

  struct connection {
    int fd = -1;
    user_id user = 0;
    role kind = role::verified;
    bad_client_kind bad = bad_client_kind::silent;
    connection_index index = 0;  // verified: the model's / channel's index
    std::uint64_t connected_ns = 0;
    std::vector<expectation> queue;  // drained from the channel; checked from `head`
    std::size_t head = 0;
    std::vector<char> carry;  // bytes not yet checked: a partial line, or lines awaiting expectations
    std::uint64_t carry_received_ns = 0;
    std::uint64_t verified = 0;
    std::uint64_t last_progress_ns = 0;
    bool stalled = false;  // complete lines in `carry` wait for their expectations
    bool closed = false;
  };

  void on_readable(connection& c, std::uint64_t now);
  void on_bad_readable(connection& c);
  // Checks the complete lines of data[0, size); keeps the rest in c.carry.
  void process(connection& c, const char* data, std::size_t size, std::uint64_t received_ns);
  bool next_expectation(connection& c);
  void drain_expectations();
  void check_timeouts(std::uint64_t now);
  void check_chaos_outcome();
  void drain_stuck_readers();
  std::string describe(const connection& c) const;

  const options& opts_;
  const expectation_model& model_;
  expectation_channel& channel_;
  run_state& state_;
  user_id first_stuck_user_;
  std::vector<connection> connections_;
  std::vector<char> scratch_;
  std::vector<connection*> by_index_;  // verified connections by their model index
  std::vector<connection*> stalled_;   // connections with `stalled` set, each once
  std::vector<connection*> retrying_;
  int epoll_fd_ = -1;
  std::uint64_t verified_total_ = 0;
  client_report report_;
};

}  // namespace followermaze
