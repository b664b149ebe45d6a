// libFuzzer target: line_reader framing of an arbitrary byte stream fed in random-sized reads,
// each framed line then parsed; well-formed event lines are framed and parsed in one pass
// (next_event_line), as the event-source session does. The input's last bytes choose the
// limits and the read sizes (FuzzedDataProvider takes integers from the end); the rest is
// the stream.
//
// Checked against a reference framing (split on '\n', strip one '\r', drop lines over the
// limit): the same lines in the same order, the same overlong count, and at every step the
// reader's own bounds: no line over max_line_bytes or holding '\n', a read window of at least
// one chunk, a buffer that never grows, at most one partial line buffered between reads.

#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eventserver/core/line_reader.hpp"
#include "reference.hpp"

namespace {

struct expected_framing {
  std::vector<std::string_view> lines;
  std::uint64_t overlong = 0;
  std::size_t left_buffered = 0;  // the trailing fragment, when it is still held at the end
};

expected_framing reference_framing(std::string_view stream, std::size_t max_line) {
  expected_framing out;
  for (;;) {
    const auto newline = stream.find('\n');
    if (newline == std::string_view::npos) break;
    const auto line = eventserver::strip_cr(stream.substr(0, newline));
    if (line.size() > max_line) {
      ++out.overlong;
    } else {
      out.lines.push_back(line);
    }
    stream.remove_prefix(newline + 1);
  }
  // An unterminated fragment is held while it could still become a valid line (it may carry
  // its '\r'); past that it is counted as overlong and dropped.
  if (stream.size() > max_line + 1) {
    ++out.overlong;
  } else {
    out.left_buffered = stream.size();
  }
  return out;
}

std::uint64_t next_random(std::uint64_t& state) {  // splitmix64
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider provider(data, size);
  // Small limits so that overlong lines, lines across reads and buffer moves all happen often.
  const auto max_line = provider.ConsumeIntegralInRange<std::size_t>(0, 80);
  const auto chunk = provider.ConsumeIntegralInRange<std::size_t>(1, 96);
  std::uint64_t rng = provider.ConsumeIntegral<std::uint64_t>();
  const std::string stream_bytes = provider.ConsumeRemainingBytesAsString();
  const std::string_view stream = stream_bytes;

  const auto want = reference_framing(stream, max_line);
  eventserver::line_reader reader(max_line, chunk);
  const std::size_t capacity = reader.capacity();
  std::size_t line_count = 0;
  std::string_view rest = stream;

  while (!rest.empty()) {
    const std::span<char> room = reader.prepare();
    FUZZ_CHECK(room.size() >= chunk);
    FUZZ_CHECK(reader.capacity() == capacity);
    // Mostly short reads, sometimes the whole window: both are what a socket does.
    const std::uint64_t r = next_random(rng);
    std::size_t n = (r & 3) == 0 ? room.size() : 1 + static_cast<std::size_t>((r >> 2) % std::min<std::size_t>(room.size(), 8));
    n = std::min(n, rest.size());
    std::memcpy(room.data(), rest.data(), n);
    reader.commit(n);
    rest.remove_prefix(n);

    // As the event-source session frames (next_event_line): a well-formed line in one pass,
    // anything else through next_line. Either way the same lines, each with parse_event's result.
    const auto next = [&reader]() -> std::optional<std::string_view> {
      eventserver::parse_result parsed;
      eventserver::line_ref line;
      if (!eventserver::next_event_line(reader, parsed, line)) return std::nullopt;
      FUZZ_CHECK(fuzz::same(parsed, eventserver::parse_event(line)));
      return line.view();
    };
    while (const auto line = next()) {
      FUZZ_CHECK(line->size() <= max_line);
      FUZZ_CHECK(line->find('\n') == std::string_view::npos);
      FUZZ_CHECK(line_count < want.lines.size());
      FUZZ_CHECK(*line == want.lines[line_count]);
      // The window-full path: the line is put back and must come back byte for byte.
      if ((next_random(rng) & 7) == 0) {
        const std::string copy(*line);
        reader.unread_last_line();
        const auto again = next();
        FUZZ_CHECK(again.has_value() && *again == copy);
      }
      fuzz::check_parse_event(*line);
      ++line_count;
    }
    // Between reads only a partial line is held, and it is never longer than a line may be.
    FUZZ_CHECK(reader.buffered_bytes() <= max_line + 1);
  }
  FUZZ_CHECK(line_count == want.lines.size());
  FUZZ_CHECK(reader.overlong_lines() == want.overlong);
  FUZZ_CHECK(reader.buffered_bytes() == want.left_buffered);
  return 0;
}
