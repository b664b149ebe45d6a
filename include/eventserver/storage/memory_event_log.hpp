#pragma once
// The event log without a disk (no dataDir, historyBytes > 0): an empty stream at every start,
// batches durable a post after they are handed over, the recent ones kept for history
// (memory_history). No snapshots: nothing outlives the process to be recovered from them.

#include <cstddef>
#include <memory>

#include "eventserver/storage/event_log.hpp"
#include "eventserver/storage/memory_history.hpp"

namespace eventserver::storage {

class memory_event_log final : public event_log {
 public:
  memory_event_log(post_fn post, std::size_t history_bytes);

  void start(event_log_listener& listener) override;
  log_backend& backend() override { return history_; }
  history_source* history() noexcept override { return &history_; }

  bool takes_snapshots() const noexcept override { return false; }
  void snapshot_begin(eventserver::log_position) override {}
  void snapshot_write(std::string) override {}
  void snapshot_finish(std::string) override {}
  void snapshot_abandon() override {}

  std::string problem() const override { return {}; }
  event_log_status status() const override;
  bool stop(eventserver::log_position, std::chrono::steady_clock::time_point) override { return true; }

 private:
  post_fn post_;
  event_log_listener* listener_ = nullptr;
  memory_history history_;
};

}  // namespace eventserver::storage
