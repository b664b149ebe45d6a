#include "followermaze/protocol_lines.hpp"

#include <cstring>

namespace followermaze {

namespace {

std::string_view without_line_end(std::string_view line) noexcept {
  if (line.ends_with('\n')) line.remove_suffix(1);
  if (line.ends_with('\r')) line.remove_suffix(1);
  return line;
}

// Splits off the next '|'-separated field; false when there is none left.
bool next_field(std::string_view& rest, std::string_view& field, bool& more) noexcept {
  if (!more) return false;
  const auto bar = rest.find('|');
  if (bar == std::string_view::npos) {
    field = rest;
    rest = {};
    more = false;
  } else {
    field = rest.substr(0, bar);
    rest.remove_prefix(bar + 1);
  }
  return true;
}

}  // namespace

std::optional<stream_position> parse_durable_line(std::string_view line) noexcept {
  line = without_line_end(line);
  constexpr std::string_view prefix = "durable|";
  if (!line.starts_with(prefix)) return std::nullopt;
  line.remove_prefix(prefix.size());
  std::string_view field;
  bool more = true;
  if (!next_field(line, field, more)) return std::nullopt;
  const auto epoch = parse_u64(field);
  if (!next_field(line, field, more) || more) return std::nullopt;
  const auto seq = parse_u64(field);
  if (!epoch || !seq || *epoch == 0) return std::nullopt;
  return stream_position{*epoch, *seq};
}

std::optional<status_line> parse_status_line(std::string_view line) noexcept {
  line = without_line_end(line);
  std::string_view field;
  bool more = true;
  if (!next_field(line, field, more)) return std::nullopt;
  status_line status;
  if (field == "epoch") {
    status.kind = status_kind::epoch;
    if (!next_field(line, field, more) || more) return std::nullopt;
    const auto epoch = parse_u64(field);
    if (!epoch || *epoch == 0) return std::nullopt;
    status.epoch = *epoch;
    return status;
  }
  if (field != "resumed") return std::nullopt;
  status.kind = status_kind::resumed;
  if (!next_field(line, field, more)) return std::nullopt;
  const auto epoch = parse_u64(field);
  if (!next_field(line, field, more)) return std::nullopt;
  const auto after = parse_u64(field);
  if (!next_field(line, field, more) || more) return std::nullopt;
  if (!epoch || !after || *epoch == 0) return std::nullopt;
  if (field == "complete") {
    status.complete = true;
  } else if (field != "incomplete") {
    return std::nullopt;
  }
  status.epoch = *epoch;
  status.after = *after;
  return status;
}

std::string resume_handshake(user_id user, std::uint64_t last, std::uint64_t epoch) {
  // Formatted into a buffer: g++ 12 warns falsely (-Wrestrict) on `"|" + std::to_string(..)`.
  char buffer[3 * 20 + 4];
  char* out = write_u64(buffer, user);
  *out++ = '|';
  out = write_u64(out, last);
  if (epoch != 0) {
    *out++ = '|';
    out = write_u64(out, epoch);
  }
  *out++ = '\r';
  *out++ = '\n';
  return {buffer, static_cast<std::size_t>(out - buffer)};
}

stream_start stream_start_from(stream_position first) noexcept {
  if (first.seq == 0) return {first.epoch, 0};
  return {first.epoch + 1, first.seq};
}

resend_plan plan_resend(const stream_start& stream, stream_position reported, std::uint64_t held_from) {
  resend_plan plan;
  const auto where = [&] {
    return "epoch " + std::to_string(reported.epoch) + " at " + std::to_string(reported.seq);
  };
  if (reported.epoch == stream.epoch) {
    plan.from = reported.seq + 1;
    if (plan.from < held_from) {
      plan.error = "the daemon's durable position went back: it reports " + where() +
                   " after having reported this epoch durable through " + std::to_string(held_from - 1);
    }
    return plan;
  }
  if (reported.epoch > stream.epoch) {
    plan.error = "the daemon reports " + where() + ", a newer stream than this run's epoch " +
                 std::to_string(stream.epoch) + ": another producer started one";
    return plan;
  }
  // An older epoch: the daemon restarted without this run's stream in its log, which is
  // possible only if none of it was durable yet (the kill came before the first batch was
  // logged). The run's stream must start over the same way as the first time.
  if (stream.old_position == 0 || reported.epoch + 1 != stream.epoch || reported.seq == 0) {
    plan.error = "the daemon reports " + where() + ", but this run's stream is epoch " + std::to_string(stream.epoch) +
                 (stream.old_position == 0 ? " and began with the daemon's first stream"
                                           : " and began after epoch " + std::to_string(stream.epoch - 1) + " at " +
                                                 std::to_string(stream.old_position));
    return plan;
  }
  if (held_from > 1) {
    plan.error = "the daemon reports " + where() + " after having reported this run's epoch " +
                 std::to_string(stream.epoch) + " durable through " + std::to_string(held_from - 1) +
                 ": it lost what it called durable";
    return plan;
  }
  plan.from = 1;
  plan.starts_over = true;
  plan.old_position = reported.seq;
  return plan;
}

void durable_reader::feed(const char* data, std::size_t size) {
  const char* p = data;
  const char* const end = data + size;
  while (p < end) {
    const auto* newline = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
    const char* const stop = newline != nullptr ? newline + 1 : end;
    const auto piece = std::string_view(p, static_cast<std::size_t>(stop - p));
    p = stop;
    if (skipping_) {
      if (newline != nullptr) skipping_ = false;
      continue;
    }
    if (partial_.size() + piece.size() > max_line_bytes) {
      ++lines_;
      ++unknown_;
      last_unknown_ = "(a line over " + std::to_string(max_line_bytes) + " bytes)";
      partial_.clear();
      skipping_ = newline == nullptr;
      continue;
    }
    if (newline == nullptr) {
      partial_.append(piece);
      break;
    }
    if (partial_.empty()) {
      take(piece);
    } else {
      partial_.append(piece);
      take(partial_);
      partial_.clear();
    }
  }
}

void durable_reader::take(std::string_view line) {
  ++lines_;
  if (const auto position = parse_durable_line(line)) {
    if (!first_) first_ = position;
    latest_ = position;
    return;
  }
  ++unknown_;
  last_unknown_ = printable(line);
}

}  // namespace followermaze
