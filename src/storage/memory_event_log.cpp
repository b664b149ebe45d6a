#include "eventserver/storage/memory_event_log.hpp"

namespace eventserver::storage {

memory_event_log::memory_event_log(post_fn post, std::size_t history_bytes)
    : post_(post), history_(std::move(post), history_bytes, [this] {
        event_log_report report;
        report.durable = 1;
        listener_->reported(report);
      }) {}

void memory_event_log::start(event_log_listener& listener) {
  listener_ = &listener;
  post_([this] { listener_->recovered(recovered_stream{}); });
}

event_log_status memory_event_log::status() const {
  event_log_status out;
  out.memory_bytes = history_.bytes();
  return out;
}

}  // namespace eventserver::storage
