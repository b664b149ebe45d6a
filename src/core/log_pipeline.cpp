#include "eventserver/core/log_pipeline.hpp"

#include <algorithm>
#include <cassert>

namespace eventserver {

log_batch::log_batch(std::size_t header_bytes, std::size_t body_bytes)
    : buffer_(std::make_unique_for_overwrite<char[]>(header_bytes + body_bytes + line_ref::readable_margin)),
      header_bytes_(header_bytes),
      body_capacity_(body_bytes),
      body_limit_(body_bytes),
      // A typical event line is 11 to 19 bytes with its "\r\n" (a broadcast "1234567|B\r\n" is
      // 11): room for a full body of 12-byte lines; a batch of shorter ones (no-ops, small
      // numbers) grows its array. (With 16-byte lines most batches of the default run grew.)
      events_(std::make_unique_for_overwrite<logged_event[]>(body_bytes / 12 + 1)),
      events_capacity_(static_cast<std::uint32_t>(body_bytes / 12 + 1)) {}

void log_batch::grow_events() {
  auto bigger = std::make_unique_for_overwrite<logged_event[]>(2 * std::size_t{events_capacity_});
  std::copy_n(events_.get(), count_, bigger.get());
  events_ = std::move(bigger);
  events_capacity_ *= 2;
}

void log_batch::reset(kind type, stream_epoch epoch, sequence_number first_seq) noexcept {
  type_ = type;
  epoch_ = epoch;
  first_seq_ = first_seq;
  count_ = 0;
  body_size_ = 0;
  body_limit_ = 0;  // only an events batch takes lines (fresh() sets its bound)
}

void log_batch::reserve_body(std::size_t bytes) {
  if (bytes <= body_capacity_) return;
  auto bigger = std::make_unique_for_overwrite<char[]>(header_bytes_ + bytes + line_ref::readable_margin);
  std::memcpy(bigger.get(), buffer_.get(), header_bytes_ + body_size_);
  buffer_ = std::move(bigger);
  body_capacity_ = bytes;
}

log_pipeline::log_pipeline(log_backend& backend, limits bounds, log_position durable)
    : backend_(backend),
      bounds_(bounds),
      durable_(durable),
      epoch_(durable.epoch) {
  bounds_.batch_bytes = std::max<std::size_t>(bounds_.batch_bytes, 256);
  bounds_.max_waiting = std::max<std::size_t>(bounds_.max_waiting, 1);
  open_ = fresh(log_batch::kind::events, durable.seq + 1);
}

std::unique_ptr<log_batch> log_pipeline::fresh(log_batch::kind type, sequence_number first_seq) {
  std::unique_ptr<log_batch> batch;
  if (spare_.empty()) {
    batch = std::make_unique<log_batch>(backend_.header_bytes(), bounds_.batch_bytes);
  } else {
    batch = std::move(spare_.back());
    spare_.pop_back();
  }
  batch->reset(type, epoch_, first_seq);
  batch->arrival_ = arrival_;
  if (type == log_batch::kind::events) batch->body_limit_ = bounds_.batch_bytes;
  return batch;
}

void log_pipeline::retire(std::unique_ptr<log_batch> batch) {
  // A batch grown for one long line goes (the spares stay at the usual size); the others are
  // kept, up to as many as a saturated pipeline holds: the backend reports batches in groups,
  // and a batch freed now is one the next seals would otherwise allocate (and initialise)
  // again. The memory is what the pipeline had in use a moment before.
  if (batch->body_capacity_ > bounds_.batch_bytes || spare_.size() > bounds_.max_waiting) return;
  spare_.push_back(std::move(batch));
}

// The open batch is full (or holds a skip): seal it and append to a fresh one. A line longer
// than a batch's bound gets an empty batch grown for it.
void log_pipeline::append_slow(const event& ev, line_ref notification) {
  if (notification.size() > logged_event::max_size) return;  // cannot happen: lines are at most 1 MiB (maxLineBytes)
  if (open_->count_ == open_->events_capacity_ && open_->body_size_ + notification.size() <= open_->body_limit_) {
    open_->grow_events();  // many short lines: the body has room, the event array had not
    if (open_->try_append(ev, notification)) return;
  }
  if (open_->count() != 0) seal();
  if (!open_->try_append(ev, notification)) {
    open_->reserve_body(notification.size());
    open_->body_limit_ = notification.size();
    const bool taken = open_->try_append(ev, notification);
    assert(taken);
    (void)taken;
  }
  // This line alone filled the batch: send it now rather than let the next line find it full.
  if (open_->body_size() >= bounds_.batch_bytes) seal();
}

void log_pipeline::append_skip(sequence_number first, sequence_number last) {
  if (open_->count() != 0) seal();
  // A skip batch counts at most 2^32 - 1 numbers; a wider gap takes several.
  while (first <= last) {
    const sequence_number span = std::min<sequence_number>(last - first + 1, UINT32_MAX);
    open_->reset(log_batch::kind::skipped, epoch_, first);
    open_->count_ = static_cast<std::uint32_t>(span);
    first += span;
    seal();
  }
}

void log_pipeline::begin_epoch(stream_epoch epoch) {
  if (open_->count() != 0) seal();
  epoch_ = epoch;
  queue_.push_back(fresh(log_batch::kind::epoch_start, 1));
  open_->reset(log_batch::kind::events, epoch_, 1);
  open_->body_limit_ = bounds_.batch_bytes;
}

void log_pipeline::commit() {
  if (open_->count() != 0) seal();
  if (submitted_ != 0) backend_.flush();
}

void log_pipeline::seal() {
  std::unique_ptr<log_batch> batch = std::move(open_);
  open_ = fresh(log_batch::kind::events, batch->first_seq() + batch->count());
  log_batch& submitted = *batch;
  queue_.push_back(std::move(batch));
  ++submitted_;
  backend_.submit(submitted);
}

}  // namespace eventserver
