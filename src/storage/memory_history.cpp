#include "eventserver/storage/memory_history.hpp"

#include <algorithm>

namespace eventserver::storage {

memory_history::memory_history(post_fn post, std::size_t max_bytes, std::function<void()> durable)
    : post_(std::move(post)), max_bytes_(max_bytes), durable_(std::move(durable)) {}

void memory_history::submit(log_batch& batch) {
  if (batch.type() != log_batch::kind::epoch_start) {
    kept entry{batch.epoch(), batch.first_seq(), batch.count(), std::string(batch.body(), batch.body_size())};
    bytes_ += entry.lines.size();
    batches_.push_back(std::move(entry));
    while (bytes_ > max_bytes_ && batches_.size() > 1) {
      bytes_ -= batches_.front().lines.size();
      batches_.pop_front();
    }
  }
  post_([this] { durable_(); });
}

std::optional<sequence_number> memory_history::first_available(stream_epoch epoch) const {
  for (const kept& entry : batches_) {
    if (entry.epoch == epoch) return entry.first;
  }
  return std::nullopt;
}

void memory_history::read(const history_request& request, read_done done) {
  history_chunk chunk;
  // The batch holding `from`: the kept batches of an epoch are consecutive.
  const auto at = std::find_if(batches_.begin(), batches_.end(), [&](const kept& entry) {
    return entry.epoch == request.epoch && request.from < entry.first + entry.count;
  });
  if (at == batches_.end() || at->first > request.from) {
    // Nothing that far yet (ok, no runs), or it was dropped (gone).
    const auto first = first_available(request.epoch);
    if (first && *first > request.from) {
      chunk.result = history_chunk::outcome::gone;
      chunk.reason = "the in-memory history (historyBytes) no longer holds it";
    }
  } else {
    // Offsets first, views after: the bytes string must not move once the views exist.
    struct piece {
      sequence_number first;
      std::uint64_t count;
      std::size_t offset;
      std::size_t size;
    };
    std::vector<piece> pieces;
    sequence_number next = request.from;
    for (auto it = at; it != batches_.end() && it->epoch == request.epoch && next <= request.until; ++it) {
      if (chunk.bytes.size() >= request.max_bytes) break;
      std::string_view lines = it->lines;
      sequence_number first = it->first;
      std::uint64_t count = it->count;
      if (!lines.empty()) {
        while (first < next) {  // skip the lines before `next`
          lines.remove_prefix(lines.find('\n') + 1);
          ++first;
          --count;
        }
        if (first + count - 1 > request.until) {  // and those past `until`
          count = request.until - first + 1;
          std::size_t end = 0;
          for (std::uint64_t i = 0; i < count; ++i) end = lines.find('\n', end) + 1;
          lines = lines.substr(0, end);
        }
      } else {
        count -= next - first;
        first = next;
        if (first + count - 1 > request.until) count = request.until - first + 1;
      }
      pieces.push_back({first, count, chunk.bytes.size(), lines.size()});
      chunk.bytes.insert(chunk.bytes.end(), lines.begin(), lines.end());
      next = first + count;
    }
    for (const piece& p : pieces) {
      chunk.runs.push_back({p.first, p.count, std::string_view(chunk.bytes.data() + p.offset, p.size)});
    }
  }
  post_([done = std::move(done), chunk = std::move(chunk)]() mutable { done(std::move(chunk)); });
}

void memory_history::following_at(user_id, stream_epoch, sequence_number, following_done done) {
  post_([done = std::move(done)] { done(std::nullopt); });
}

}  // namespace eventserver::storage
