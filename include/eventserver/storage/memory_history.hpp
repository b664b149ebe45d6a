#pragma once
// memory_event_log's backend and history (no dataDir, historyBytes > 0): batches are "durable" as soon as they
// are handed over (a post away: they are applied after the call that submitted them), and the
// most recent historyBytes of them are kept in memory for clients that catch up or resume.
// Everything runs on the event thread; what is "later" goes through the post function.
//
// Bound: the lines kept never exceed historyBytes (whole batches, oldest dropped first).
// Without snapshots, a resume that reaches further back than the recent graph changes kept in
// memory cannot be answered exactly (following_at gives nullopt): the client is told the
// history is incomplete.

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>

#include "eventserver/core/history.hpp"
#include "eventserver/core/log_pipeline.hpp"
#include "eventserver/storage/event_log.hpp"

namespace eventserver::storage {

class memory_history final : public log_backend, public history_source {
 public:
  // `durable`: called (on the event thread, after submit() returned) once per submitted batch.
  memory_history(post_fn post, std::size_t max_bytes, std::function<void()> durable);

  // log_backend
  std::size_t header_bytes() const noexcept override { return 0; }
  void submit(log_batch& batch) override;
  void flush() override {}

  // history_source
  void read(const history_request& request, read_done done) override;
  void release(std::uint64_t) override {}
  std::optional<sequence_number> first_available(stream_epoch epoch) const override;
  void following_at(user_id, stream_epoch, sequence_number, following_done done) override;

  std::size_t bytes() const noexcept { return bytes_; }

 private:
  struct kept {
    stream_epoch epoch;
    sequence_number first;
    std::uint64_t count;
    std::string lines;  // empty for skipped numbers
  };

  post_fn post_;
  std::size_t max_bytes_;
  std::function<void()> durable_;
  std::deque<kept> batches_;  // oldest first
  std::size_t bytes_ = 0;
};

}  // namespace eventserver::storage
