#include "eventserver/storage/batch_format.hpp"

#include <cstring>

#if defined(__SSE2__) && defined(__x86_64__)
#include <emmintrin.h>
#endif

#include "eventserver/storage/crc32c.hpp"
#include "eventserver/storage/endian.hpp"

namespace eventserver::storage {

std::span<const char> seal_batch(char* data, batch_kind kind, sequence_number first_seq, std::uint32_t count,
                                 std::size_t body_length) noexcept {
  store_le<std::uint32_t>(data, static_cast<std::uint32_t>(body_length));
  data[8] = static_cast<char>(kind);
  data[9] = static_cast<char>(batch_format_version);
  store_le<std::uint16_t>(data + 10, 0);
  store_le<std::uint32_t>(data + 12, count);
  store_le<std::uint64_t>(data + 16, first_seq);
  const std::size_t total = batch_header_size + body_length;
  store_le<std::uint32_t>(data + 4, crc32c_mask(crc32c(data + 8, total - 8)));
  return {data, total};
}

const char* check_batch_header(const char* data, batch_view& header, std::uint32_t& body_length) noexcept {
  body_length = load_le<std::uint32_t>(data);
  const auto kind = static_cast<std::uint8_t>(data[8]);
  const auto version = static_cast<std::uint8_t>(data[9]);
  const auto reserved = load_le<std::uint16_t>(data + 10);
  header.count = load_le<std::uint32_t>(data + 12);
  header.first_seq = load_le<std::uint64_t>(data + 16);
  header.kind = static_cast<batch_kind>(kind);
  header.body = {};

  if (kind == 0 && body_length == 0 && header.count == 0 && header.first_seq == 0 && version == 0 &&
      load_le<std::uint32_t>(data + 4) == 0) {
    return "zero-filled header";  // preallocated or never-written space
  }
  if (kind != static_cast<std::uint8_t>(batch_kind::events) && kind != static_cast<std::uint8_t>(batch_kind::skipped)) {
    return "unknown batch kind";
  }
  if (version != batch_format_version) return "unsupported batch version";
  if (reserved != 0) return "non-zero reserved field";
  if (body_length > max_batch_body_bytes) return "body longer than the maximum";
  if (header.count == 0) return "batch of no sequence numbers";
  if (header.first_seq == 0) return "sequence number 0";
  if (header.first_seq > UINT64_MAX - (header.count - 1)) return "sequence numbers overflow";
  if (header.kind == batch_kind::skipped) {
    if (body_length != 0) return "skip batch with a body";
  } else if (body_length < 2 * static_cast<std::uint64_t>(header.count)) {
    return "body too short for its line count";  // every line holds at least "\r\n"
  }
  return nullptr;
}

namespace {

// The '\n' bytes of a (non-empty) body, and whether one of them has no '\r' right before it.
// A history read checks every batch it hands out: with SSE2, 16 bytes at a time and no branch
// on them (a call to find each line's end cost more than the line); elsewhere line by line.
#if defined(__SSE2__) && defined(__x86_64__)
std::uint64_t sum_bytes(__m128i counts) noexcept {
  const __m128i sums = _mm_sad_epu8(counts, _mm_setzero_si128());  // two 64-bit sums of eight bytes
  return static_cast<std::uint64_t>(_mm_cvtsi128_si64(sums)) +
         static_cast<std::uint64_t>(_mm_cvtsi128_si64(_mm_unpackhi_epi64(sums, sums)));
}

void count_lines(std::string_view body, std::uint64_t& lines, bool& bare) noexcept {
  const char* const p = body.data();
  const std::size_t size = body.size();
  const __m128i newline = _mm_set1_epi8('\n');
  const __m128i cr = _mm_set1_epi8('\r');
  __m128i counts = _mm_setzero_si128();  // newlines per byte lane, summed before a lane can pass 255
  unsigned blocks = 0;
  unsigned bare_bits = 0;
  unsigned cr_before = 0;  // 1 when the byte before this block is a '\r'
  std::size_t i = 0;
  for (; i + 16 <= size; i += 16) {
    const __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i is_newline = _mm_cmpeq_epi8(block, newline);
    const auto newline_bits = static_cast<unsigned>(_mm_movemask_epi8(is_newline));
    const auto cr_bits = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(block, cr)));
    bare_bits |= newline_bits & ~((cr_bits << 1) | cr_before);
    cr_before = cr_bits >> 15;
    counts = _mm_sub_epi8(counts, is_newline);  // a match is -1
    if (++blocks == 255) {
      lines += sum_bytes(counts);
      counts = _mm_setzero_si128();
      blocks = 0;
    }
  }
  lines += sum_bytes(counts);
  bare = bare_bits != 0;
  for (; i < size; ++i) {
    if (p[i] != '\n') continue;
    ++lines;
    if (i == 0 || p[i - 1] != '\r') bare = true;
  }
}
#else
void count_lines(std::string_view body, std::uint64_t& lines, bool& bare) noexcept {
  const char* p = body.data();
  const char* const end = p + body.size();
  while (p < end) {
    const auto* newline = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
    if (newline == nullptr) return;  // the last line is not ended: the caller sees it
    if (newline == p || newline[-1] != '\r') {
      bare = true;
      return;
    }
    ++lines;
    p = newline + 1;
  }
}
#endif

}  // namespace

decode_result decode_batch(const char* data, std::size_t available) noexcept {
  decode_result result;
  if (available < batch_header_size) {
    result.needed = batch_header_size;
    return result;  // incomplete, header unknown
  }
  std::uint32_t body_length = 0;
  if (const char* reason = check_batch_header(data, result.batch, body_length)) {
    result.status = decode_status::corrupt;
    result.reason = reason;
    return result;
  }
  result.header_known = true;
  const std::size_t total = batch_header_size + body_length;
  if (available < total) {
    result.needed = total;
    return result;  // incomplete
  }
  const std::uint32_t stored_crc = crc32c_unmask(load_le<std::uint32_t>(data + 4));
  if (crc32c(data + 8, total - 8) != stored_crc) {
    result.status = decode_status::corrupt;
    result.reason = "checksum mismatch";
    return result;
  }
  const std::string_view body(data + batch_header_size, body_length);
  if (result.batch.kind == batch_kind::events) {
    // Exactly `count` lines, each ending in "\r\n", nothing after the last.
    std::uint64_t lines = 0;
    bool bare = false;  // a '\n' with no '\r' before it
    count_lines(body, lines, bare);
    if (bare) {
      result.status = decode_status::corrupt;
      result.reason = "line not ended by \\r\\n";
      return result;
    }
    if (body.back() != '\n') {
      result.status = decode_status::corrupt;
      result.reason = "last line not ended";
      return result;
    }
    if (lines != result.batch.count) {
      result.status = decode_status::corrupt;
      result.reason = "line count differs from the header";
      return result;
    }
  }
  result.batch.body = body;
  result.status = decode_status::ok;
  return result;
}

void batch_lines::iterator::load(sequence_number seq) noexcept {
  if (rest_.empty()) {
    line_ = {};
    return;
  }
  const std::size_t newline = rest_.find('\n');
  const std::size_t size = newline == std::string_view::npos ? rest_.size() : newline + 1;
  line_.seq = seq;
  line_.bytes = rest_.substr(0, size);
  rest_.remove_prefix(size);
}

batch_view batch_from(const batch_view& batch, sequence_number from_seq) noexcept {
  if (from_seq <= batch.first_seq) return batch;
  batch_view rest = batch;
  if (from_seq > batch.last_seq()) {
    rest.first_seq = batch.next_seq();
    rest.count = 0;
    rest.body = batch.body.substr(batch.body.size());
    return rest;
  }
  const auto dropped = static_cast<std::uint32_t>(from_seq - batch.first_seq);
  rest.first_seq = from_seq;
  rest.count = batch.count - dropped;
  if (batch.kind == batch_kind::events) {
    std::size_t at = 0;
    for (std::uint32_t i = 0; i < dropped; ++i) at = batch.body.find('\n', at) + 1;
    rest.body = batch.body.substr(at);
  }
  return rest;
}

}  // namespace eventserver::storage
