#pragma once
// The ingest's event log (storage::event_log): the JetStream stream itself. start() connects on
// a thread of its own (retrying while the servers cannot be reached), checks the stream's
// settings and reads its last message to learn where the stream stands (epoch and sequence
// number); then batches go to jetstream_log, which publishes them in order and reports each
// durable only once JetStream acknowledged it. So a source told `durable|<epoch>|<seq>` is told
// only what the stream holds.
//
// What it declines (event_log.hpp): history (the ingest serves no clients), snapshots and the
// follower graph (an edge rebuilds the graph from the stream; the ingest only numbers and
// orders). A publisher fenced by another (jetstream_log.hpp) is reported as such: the daemon
// stops, and a restart recovers from the stream.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "eventserver/cluster/jetstream_log.hpp"
#include "eventserver/cluster/jetstream_stream.hpp"
#include "eventserver/storage/event_log.hpp"

namespace eventserver::cluster {

struct jetstream_event_log_settings {
  stream_settings stream;
  // A publish that found the stream unavailable is tried again after this; so is connecting at
  // start-up.
  std::chrono::milliseconds retry_after{500};
};

class jetstream_event_log final : public storage::event_log {
 public:
  jetstream_event_log(jetstream_event_log_settings settings, storage::post_fn post);
  // A start-up still connecting is left behind (it posts nothing more); the publisher is stopped.
  ~jetstream_event_log() override;
  jetstream_event_log(const jetstream_event_log&) = delete;
  jetstream_event_log& operator=(const jetstream_event_log&) = delete;

  void start(storage::event_log_listener& listener) override;
  log_backend& backend() override { return *log_; }
  history_source* history() noexcept override { return nullptr; }

  bool takes_snapshots() const noexcept override { return false; }
  bool recovers_graph() const noexcept override { return false; }
  void snapshot_begin(eventserver::log_position) override {}
  void snapshot_write(std::string) override {}
  void snapshot_finish(std::string) override {}
  void snapshot_abandon() override {}

  std::string problem() const override;
  storage::event_log_status status() const override;
  bool stop(eventserver::log_position closed_at, std::chrono::steady_clock::time_point deadline) override;

 private:
  struct start_job;
  struct found_stream;
  void on_found(found_stream& found);
  void on_report(const jetstream_log_report& report);
  storage::post_fn guarded_post() const;

  const jetstream_event_log_settings settings_;
  const storage::post_fn post_;
  storage::event_log_listener* listener_ = nullptr;
  std::shared_ptr<char> alive_ = std::make_shared<char>();  // what posted functions check first
  std::shared_ptr<start_job> start_;
  std::thread start_thread_;
  bool recovering_ = false;
  bool stopped_ = false;
  double recovery_seconds_ = 0;
  std::string failing_;  // why publishing fails (or was fenced); empty while it works
  bool fenced_ = false;
  std::unique_ptr<jetstream_log> log_;
};

}  // namespace eventserver::cluster
