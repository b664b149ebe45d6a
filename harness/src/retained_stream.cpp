#include "followermaze/retained_stream.hpp"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <string_view>

#include "followermaze/wire.hpp"

namespace followermaze {

std::size_t resend_offset(std::span<const sent_batch> batches, std::uint64_t from) noexcept {
  std::size_t offset = 0;
  for (const auto& batch : batches) {
    if (batch.last_seq >= from) return offset;
    offset = batch.byte_end;
  }
  return offset;
}

moved_line bring_sequence_one_forward(std::span<char> batch, std::uint64_t old_position,
                                      std::size_t carry_bytes) noexcept {
  char* const begin = batch.data();
  char* const end = begin + batch.size();
  bool blocking = false;  // a line before the 1 that the daemon would not count as stale
  for (char* line = begin; line < end;) {
    auto* newline = static_cast<char*>(std::memchr(line, '\n', static_cast<std::size_t>(end - line)));
    char* const line_end = newline != nullptr ? newline + 1 : end;
    const std::string_view text(line, static_cast<std::size_t>(line_end - line));
    if (text.starts_with("1|")) {
      if (line == begin || (!blocking && static_cast<std::size_t>(line - begin) <= carry_bytes)) return {};
      std::rotate(begin, line, line_end);
      return {static_cast<std::size_t>(line - begin), static_cast<std::size_t>(line_end - line)};
    }
    const auto seq = leading_sequence(text.substr(0, text.find_first_of("\r\n")));
    if (!seq || *seq == 0 || *seq > old_position) blocking = true;
    line = line_end;
  }
  return {};  // no number 1 here
}

std::size_t stale_line_cut::apply(char* bytes, std::size_t begin, std::size_t end, std::uint64_t from) {
  cuts_.clear();
  std::size_t out = begin;  // where the next kept line goes
  std::size_t removed = 0;
  for (std::size_t line = begin; line < end;) {
    const auto* newline = static_cast<const char*>(std::memchr(bytes + line, '\n', end - line));
    const std::size_t line_end = newline != nullptr ? static_cast<std::size_t>(newline - bytes) + 1 : end;
    const auto seq = leading_sequence(std::string_view(bytes + line, line_end - line));
    if (seq && *seq < from) {
      removed += line_end - line;
      cuts_.push_back({line_end, removed});
    } else {
      if (out != line) std::memmove(bytes + out, bytes + line, line_end - line);
      out += line_end - line;
    }
    line = line_end;
  }
  return out;
}

std::size_t stale_line_cut::shifted(std::size_t boundary) const noexcept {
  // The last cut that ended at or before the boundary says how much went before it.
  const auto after = std::upper_bound(cuts_.begin(), cuts_.end(), boundary,
                                      [](std::size_t b, const cut& c) { return b < c.old_end; });
  return after == cuts_.begin() ? boundary : boundary - std::prev(after)->removed_through;
}

void retained_stream::drop_stale(held_chunk& held, std::size_t offset, std::uint64_t from) {
  stale_line_cut cut;
  const std::size_t end = cut.apply(held.bytes.data(), offset, held.used, from);
  if (cut.removed_bytes() == 0) return;
  for (auto& batch : held.batches) batch.byte_end = cut.shifted(batch.byte_end);
  bytes_ -= held.used - end;
  held.used = end;
}

void retained_stream::push(std::vector<char>& bytes, std::size_t used, std::span<const sent_batch> batches) {
  if (batches.empty()) return;
  held_chunk c;
  c.bytes.swap(bytes);
  c.used = used;
  c.batches.assign(batches.begin(), batches.end());
  bytes_ += used;
  next_seq_ = c.batches.back().last_seq + 1;
  chunks_.push_back(std::move(c));
  if (!spare_.empty()) {
    bytes.swap(spare_.back());
    spare_.pop_back();
  }
  // The caller sizes the buffer it gets back; a moved-from or spare one keeps its capacity.
  bytes.resize(chunks_.back().bytes.size());
}

void retained_stream::retire(std::uint64_t durable) {
  while (!chunks_.empty() && chunks_.front().batches.back().last_seq <= durable) {
    auto& front = chunks_.front();
    retired_through_ = front.batches.back().last_seq;
    bytes_ -= front.used;
    if (spare_.size() < 4) spare_.push_back(std::move(front.bytes));
    chunks_.pop_front();
  }
}

std::span<char> retained_stream::first_batch() noexcept {
  if (retired_through_ != 0 || chunks_.empty()) return {};
  auto& first = chunks_.front();
  return {first.bytes.data(), first.batches.front().byte_end};
}

}  // namespace followermaze
