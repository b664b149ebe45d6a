#pragma once
// One user-client connection. After the id line it only receives: notifications are
// appended to `queue_`, and one write sends everything queued since the previous one. The
// server's flush pass decides when (after a batch of events; under sustained load only
// every clientWriteDelayMs), and a client whose queue reaches clientWriteBatchBytes writes
// on its own, so a burst costs each client one syscall per batch of bytes, not one per
// notification. Writes are non-blocking and synchronous: whatever the kernel takes leaves
// the queue at once, and when the socket is full the session waits for it to become writable.
//
// Bound: the bytes the kernel has not taken (queue_ past sent_) never exceed
// maxClientQueueBytes. A notification that would go over first triggers a write on the
// spot; only if the client's socket still cannot take enough is it cut off (slow-client
// policy). So a client that keeps reading survives any burst, and nobody waits for one
// that does not.

#include <array>
#include <cstddef>
#include <memory>
#include <string>

#include "eventserver/core/router.hpp"
#include "eventserver/core/send_buffer.hpp"
#include "eventserver/net/asio.hpp"
#include "eventserver/net/connection_info.hpp"
#include "eventserver/net/session_hub.hpp"

namespace eventserver {

class client_session final : public recipient, public std::enable_shared_from_this<client_session> {
 public:
  client_session(tcp::socket socket, client_hub& hub);
  ~client_session();

  void start();
  void deliver(sequence_number seq, std::string_view notification, std::size_t readable) override;
  void begin_stream(stream_epoch) override {}
  // The server's flush pass: write what is queued (the session is off the pass's list).
  void flush_awaited();
  bool awaiting_flush() const noexcept { return awaiting_flush_; }
  // Shutdown: send what is queued, then close (the server's deadline may close first).
  void finish();
  void close();

  user_id user() const noexcept { return user_; }
  std::uint64_t serial() const noexcept { return serial_; }  // order of acceptance
  bool registered() const noexcept { return state_ == state::active; }
  std::size_t queued_bytes() const noexcept { return queue_.size() - sent_; }
  // For /connz; `processed_head` is the last sequence number the daemon applied.
  connection_info info(sequence_number processed_head) const;
  // Processed events not yet sent to it (0 when its queue is empty).
  std::uint64_t behind(sequence_number processed_head) const noexcept {
    return queued_bytes() == 0 || processed_head < last_sent_seq_ ? 0 : processed_head - last_sent_seq_;
  }

 private:
  enum class state : std::uint8_t { handshake, active, cut_off, closed };

  void on_handshake(const error_code& ec, std::size_t bytes);
  void on_handshake_timeout(const error_code& ec);
  void reject(std::uint64_t& counter, std::string_view why);
  void do_read();
  void on_read(const error_code& ec);
  void grow_queue(std::size_t needed);
  void flush();
  void write_now();
  void on_writable(const error_code& ec);
  void cut_off_slow(std::size_t needed);

  // What deliver() touches comes first, right after the vtable pointer: with a hundred
  // sessions taking turns in a fan-out, each one's fields are usually out of the L1 cache,
  // so they should span as few cache lines as possible.
  send_buffer queue_;     // appended to by deliver(); bytes before sent_ are already written
  std::size_t sent_ = 0;
  std::size_t max_queue_bytes_;
  std::size_t write_batch_bytes_;  // at most max_queue_bytes_
  client_hub& hub_;
  counters& stats_;
  sequence_number last_queued_seq_ = 0;  // newest notification in queue_
  std::uint64_t notifications_ = 0;
  state state_ = state::handshake;
  bool waiting_writable_ = false;
  bool awaiting_flush_ = false;  // on the server's list for its next flush pass
  bool finishing_ = false;

  tcp::socket socket_;
  asio::steady_timer handshake_timer_;
  std::string handshake_buffer_;
  std::array<char, 512> discard_{};  // clients should not send after their id; we only watch for close
  std::string peer_;
  std::uint64_t serial_;
  std::int64_t connected_since_ms_;
  sequence_number last_sent_seq_ = 0;    // newest notification fully written
  user_id user_ = 0;
};

}  // namespace eventserver
