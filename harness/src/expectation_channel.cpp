#include "followermaze/expectation_channel.hpp"

namespace followermaze {

expectation_chunk* expectation_channel::acquire_chunk() {
  std::lock_guard lock(mutex_);
  if (free_.empty()) {
    // Bounded by the chunks in flight: written, and not yet checked to the last reference.
    chunks_.push_back(std::make_unique<expectation_chunk>());
    return chunks_.back().get();
  }
  expectation_chunk* chunk = free_.back();
  free_.pop_back();
  chunk->lines.clear();
  chunk->staged.clear();
  chunk->unchecked = 0;
  chunk->fully_drained = false;
  return chunk;
}

void expectation_channel::publish(expectation_chunk* chunk, std::size_t begin, std::size_t end, std::uint64_t sent_ns,
                                  bool last) {
  if (begin == end && !last) return;
  {
    std::lock_guard lock(mutex_);
    published_.push_back({chunk, begin, end, sent_ns, last});
  }
  total_published_.fetch_add(end - begin, std::memory_order_release);
}

void expectation_channel::release_if_done(expectation_chunk& chunk) {
  if (!chunk.fully_drained || chunk.unchecked != 0) return;
  chunk.fully_drained = false;  // released once
  std::lock_guard lock(mutex_);
  free_.push_back(&chunk);
}

std::size_t expectation_channel::chunks_allocated() const {
  std::lock_guard lock(mutex_);
  return chunks_.size();
}

}  // namespace followermaze
