#pragma once
// The event log as a NATS JetStream stream (docs/design.md, "Past one machine"): one message per
// sealed batch, in the on-disk batch format (checksum included), with headers naming its epoch
// and first and last sequence numbers. This is the synchronous client of that stream, over
// libnats: what an ingest's publishing thread and an edge's reading thread call. Every call
// blocks on the network, so none may run on the daemon's event thread.
//
// The traps it exists to close (../shared/FACTS.md, 2b):
// - Nats-Msg-Id deduplicates by id, not by content: an id names its content exactly
//   (`<epoch>:<first>:<last>`), and every publish also states the stream sequence it expects
//   to follow (ExpectLastSeq), so a batch re-cut after a restart can never be stored twice or
//   out of order: it is refused (wrong_last_seq) and the publisher rereads the stream's end.
// - Start positions are clipped or skipped silently by the server: readers fetch by stream
//   sequence (js_GetMsg) and check every message's own headers (at() verifies the batch).

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "eventserver/core/event.hpp"

namespace eventserver::cluster {

// A stream that cannot be used (unreachable servers, settings that break a promise): the
// message says which and why.
class cluster_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The stream or the server breaks a promise the log relies on (replicas, storage, duplicates
// window, retention, message size): a configuration error, not an outage that passes.
class cluster_settings_error : public cluster_error {
 public:
  using cluster_error::cluster_error;
};

struct stream_settings {
  // Comma-separated URLs. A URL may carry credentials, nats://user:password@host:port or
  // nats://token@host:port: log lines and errors show it through shown_servers().
  std::string servers = "nats://127.0.0.1:4222";
  std::string creds_file;                          // a NATS credentials file (JWT and seed); "": none
  std::string name = "EVENTS";
  std::string subject = "eventserver.events";
  int replicas = 1;
  // How long a Msg-Id is remembered: at least as long as a publisher may retry one batch.
  std::chrono::seconds duplicates_window{120};
  std::chrono::milliseconds timeout{5000};  // one request (publish, get)
  // The longest batch the publisher seals (body and header): with the headers it must fit the
  // server's max_payload, or a batch could never be stored.
  std::size_t max_batch_bytes = std::size_t{256} << 10;
};

// `servers` as log lines and errors may show them: a password or token in a URL becomes "***"
// (nats://user:***@host:4222, nats://***@host:4222).
std::string shown_servers(std::string_view servers);

// A batch as stored: its numbers and the sealed bytes (header and body, batch_format.hpp).
struct stored_batch {
  std::uint64_t stream_seq = 0;
  stream_epoch epoch = 0;
  sequence_number first = 0;
  sequence_number last = 0;
  std::vector<char> sealed;
  std::int64_t stored_ns = 0;  // when the stream stored it (ns since the Unix epoch; 0: unknown)
};

struct publish_result {
  enum class outcome : std::uint8_t {
    stored,          // acknowledged: the stream holds it at stream_seq
    duplicate,       // the id was stored before, at stream_seq: nothing new
    wrong_last_seq,  // the stream does not end where the publisher thought (10071): reread it
    unavailable,     // no answer in time, no responders (leader election): try again
    refused,         // anything else the server said (detail)
  };
  outcome result = outcome::refused;
  std::uint64_t stream_seq = 0;
  std::string detail;
};

struct stream_state {
  std::uint64_t first_seq = 0;  // the oldest message kept (retention)
  std::uint64_t last_seq = 0;   // 0: empty
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
  std::string leader;  // the server leading the stream (clustered JetStream); empty otherwise
};

class jetstream_stream {
 public:
  // Connects and makes sure the stream exists with settings that keep the log's promises
  // (file storage, the replicas asked for, a duplicates window at least as long as asked,
  // batches that fit max_payload, no limits by which retention would delete messages); an
  // existing stream is checked, never changed. Throws cluster_settings_error naming a broken
  // promise, cluster_error when the servers cannot be reached or asked.
  static jetstream_stream open(const stream_settings& settings);

  jetstream_stream(jetstream_stream&&) noexcept;
  jetstream_stream& operator=(jetstream_stream&&) noexcept;
  ~jetstream_stream();

  // Publishes one sealed batch, expecting the stream to end at `expect_last` (0: empty).
  publish_result publish(stream_epoch epoch, sequence_number first, sequence_number last,
                         std::span<const char> sealed, std::uint64_t expect_last);

  stream_state state();
  // The message at `stream_seq`, checked (headers, batch checksum, numbers agreeing); nullopt
  // when there is none. Throws cluster_error for a message that is not a valid batch.
  std::optional<stored_batch> at(std::uint64_t stream_seq);
  std::optional<stored_batch> last();
  // The stream sequence of the batch holding `seq` of `epoch`, by binary search over the
  // messages kept (batches are in (epoch, seq) order); nullopt when none holds it.
  std::optional<std::uint64_t> find(stream_epoch epoch, sequence_number seq);

  const stream_settings& settings() const noexcept;
  std::int64_t max_payload() const noexcept;

  // The Nats-Msg-Id of a batch: names its content, so that an id is never reused for other bytes.
  static std::string message_id(stream_epoch epoch, sequence_number first, sequence_number last);

 private:
  friend class stream_follower;  // subscribes on the same connection
  struct impl;
  explicit jetstream_stream(std::unique_ptr<impl> state);
  std::unique_ptr<impl> impl_;
};

}  // namespace eventserver::cluster
