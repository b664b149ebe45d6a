#include "eventserver/storage/batch_builder.hpp"
#include "eventserver/storage/batch_format.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "eventserver/storage/crc32c.hpp"
#include "eventserver/storage/endian.hpp"
#include "storage/storage_test_support.hpp"

namespace eventserver::storage {
namespace {

using testing::event_line;

std::vector<stored_line> lines_of(const batch_view& batch) {
  std::vector<stored_line> lines;
  for (const auto& line : batch_lines(batch)) lines.push_back(line);
  return lines;
}

// Rewrites the CRC of a hand-edited batch so that only the check under test fails.
void reseal(std::string& bytes) {
  store_le<std::uint32_t>(bytes.data() + 4, crc32c_mask(crc32c(bytes.data() + 8, bytes.size() - 8)));
}

std::string sealed(batch_builder& builder) {
  const auto bytes = builder.seal();
  return {bytes.data(), bytes.size()};
}

TEST(Batch, EventsRoundTrip) {
  batch_builder builder(1024);
  builder.reset(41);
  ASSERT_TRUE(builder.append("41|F|60|50\r\n"));
  ASSERT_TRUE(builder.append("42|B\r\n"));
  ASSERT_TRUE(builder.append("43|X|bad body\r\n"));  // stored as received
  EXPECT_EQ(builder.count(), 3u);
  EXPECT_EQ(builder.first_seq(), 41u);
  EXPECT_EQ(builder.next_seq(), 44u);
  EXPECT_EQ(builder.body_size(), 12u + 6u + 15u);
  EXPECT_EQ(builder.size(), 24u + 33u);

  const std::string bytes = sealed(builder);
  ASSERT_EQ(bytes.size(), 57u);
  EXPECT_EQ(load_le<std::uint32_t>(bytes.data()), 33u);
  EXPECT_EQ(bytes[8], 1);   // events
  EXPECT_EQ(bytes[9], 1);   // version
  EXPECT_EQ(load_le<std::uint16_t>(bytes.data() + 10), 0u);
  EXPECT_EQ(load_le<std::uint32_t>(bytes.data() + 12), 3u);
  EXPECT_EQ(load_le<std::uint64_t>(bytes.data() + 16), 41u);
  EXPECT_EQ(crc32c_unmask(load_le<std::uint32_t>(bytes.data() + 4)), crc32c(bytes.data() + 8, 49));
  EXPECT_EQ(bytes.substr(24), "41|F|60|50\r\n42|B\r\n43|X|bad body\r\n");

  const decode_result decoded = decode_batch(bytes.data(), bytes.size());
  ASSERT_EQ(decoded.status, decode_status::ok) << decoded.reason;
  EXPECT_EQ(decoded.batch.kind, batch_kind::events);
  EXPECT_EQ(decoded.batch.count, 3u);
  EXPECT_EQ(decoded.batch.first_seq, 41u);
  EXPECT_EQ(decoded.batch.last_seq(), 43u);
  EXPECT_EQ(decoded.batch.stored_size(), 57u);
  const auto lines = lines_of(decoded.batch);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].seq, 41u);
  EXPECT_EQ(lines[0].bytes, "41|F|60|50\r\n");
  EXPECT_EQ(lines[0].payload(), "41|F|60|50");
  EXPECT_EQ(lines[1].seq, 42u);
  EXPECT_EQ(lines[1].payload(), "42|B");
  EXPECT_EQ(lines[2].seq, 43u);
  EXPECT_EQ(lines[2].payload(), "43|X|bad body");
}

TEST(Batch, SkipBatchRoundTrip) {
  batch_builder builder;
  builder.reset(100);
  ASSERT_TRUE(builder.append_skip(5));
  ASSERT_TRUE(builder.append_skip(2));  // adjacent skips merge
  EXPECT_FALSE(builder.append("107|B\r\n"));
  EXPECT_EQ(builder.kind(), batch_kind::skipped);
  const std::string bytes = sealed(builder);
  ASSERT_EQ(bytes.size(), 24u);
  const decode_result decoded = decode_batch(bytes.data(), bytes.size());
  ASSERT_EQ(decoded.status, decode_status::ok) << decoded.reason;
  EXPECT_EQ(decoded.batch.kind, batch_kind::skipped);
  EXPECT_EQ(decoded.batch.first_seq, 100u);
  EXPECT_EQ(decoded.batch.count, 7u);
  EXPECT_EQ(decoded.batch.last_seq(), 106u);
  EXPECT_TRUE(lines_of(decoded.batch).empty());

  builder.clear();
  EXPECT_EQ(builder.first_seq(), 107u);
  EXPECT_EQ(builder.kind(), batch_kind::events);
  EXPECT_TRUE(builder.append("107|B\r\n"));
  EXPECT_FALSE(builder.append_skip(1));  // a skip never joins an events batch
  EXPECT_TRUE(builder.append_skip(0));
  EXPECT_FALSE(builder.append_skip(std::uint64_t{1} << 32));
}

TEST(Batch, StopsAtTheBodyBoundAndGrowsOnlyForOneLongLine) {
  batch_builder builder(100);
  builder.reset(1);
  std::uint32_t appended = 0;
  while (builder.append(event_line(1 + appended))) ++appended;
  std::size_t expected_body = 0;
  for (std::uint32_t i = 0; i < appended; ++i) expected_body += event_line(1 + i).size();
  EXPECT_EQ(builder.count(), appended);
  EXPECT_EQ(builder.body_size(), expected_body);
  EXPECT_LE(builder.body_size(), 100u);
  EXPECT_GT(builder.body_size() + event_line(1 + appended).size(), 100u);

  // A line longer than the bound: refused by a batch holding lines, taken by an empty one.
  const std::string long_line = "7|P|1|" + std::string(100000, '9') + "\r\n";
  EXPECT_FALSE(builder.append(long_line));
  builder.clear();
  ASSERT_TRUE(builder.append(long_line));
  EXPECT_FALSE(builder.append("x\r\n"));
  const std::string bytes = sealed(builder);
  const decode_result decoded = decode_batch(bytes.data(), bytes.size());
  ASSERT_EQ(decoded.status, decode_status::ok) << decoded.reason;
  EXPECT_EQ(decoded.batch.body, long_line);
  EXPECT_EQ(decoded.batch.first_seq, 1u + appended);
}

TEST(Batch, LongLinesRoundTrip) {
  batch_builder builder(std::size_t{1} << 20);
  builder.reset(1);
  std::vector<std::string> lines;
  for (std::size_t size : {1u, 31u, 32u, 33u, 1000u, 65536u, 200000u}) {
    lines.push_back(std::string(size, 'a' + static_cast<char>(lines.size())) + "\r\n");
    ASSERT_TRUE(builder.append(lines.back()));
  }
  const std::string bytes = sealed(builder);
  const decode_result decoded = decode_batch(bytes.data(), bytes.size());
  ASSERT_EQ(decoded.status, decode_status::ok) << decoded.reason;
  const auto stored = lines_of(decoded.batch);
  ASSERT_EQ(stored.size(), lines.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(stored[i].seq, 1 + i);
    EXPECT_EQ(stored[i].bytes, lines[i]);
  }
}

// The fixed-size copy takes 32 bytes from the source but keeps only the line's.
TEST(Batch, ShortLineFastPathKeepsOnlyTheLine) {
  const std::string buffer = "9|B\r\nGARBAGE-GARBAGE-GARBAGE-GARBAGE-GARBAGE";
  batch_builder builder(64);
  builder.reset(9);
  ASSERT_TRUE(builder.append(line_ref(buffer.data(), 5, buffer.size())));
  ASSERT_TRUE(builder.append("10|B\r\n"));
  const std::string bytes = sealed(builder);
  EXPECT_EQ(bytes.substr(24), "9|B\r\n10|B\r\n");
  EXPECT_EQ(decode_batch(bytes.data(), bytes.size()).status, decode_status::ok);
}

TEST(Batch, ReusedBuilderSealsEachBatchAfresh) {
  batch_builder builder(256);
  builder.reset(1);
  std::vector<std::string> batches;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(builder.append(event_line(builder.next_seq())));
    batches.push_back(sealed(builder));
    builder.clear();
  }
  sequence_number expected = 1;
  for (const auto& bytes : batches) {
    const decode_result decoded = decode_batch(bytes.data(), bytes.size());
    ASSERT_EQ(decoded.status, decode_status::ok);
    EXPECT_EQ(decoded.batch.first_seq, expected);
    for (const auto& line : batch_lines(decoded.batch)) EXPECT_EQ(line.bytes, event_line(line.seq));
    expected = decoded.batch.next_seq();
  }
  EXPECT_EQ(expected, 13u);
}

TEST(Batch, EveryPrefixIsIncomplete) {
  const auto bytes = testing::events_batch(1, 5);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    const decode_result decoded = decode_batch(bytes.data(), n);
    ASSERT_EQ(decoded.status, decode_status::incomplete) << n;
    EXPECT_EQ(decoded.needed, n < 24 ? 24u : bytes.size()) << n;
    EXPECT_EQ(decoded.header_known, n >= 24) << n;
    if (n >= 24) {
      EXPECT_EQ(decoded.batch.first_seq, 1u);
      EXPECT_EQ(decoded.batch.count, 5u);
    }
  }
}

// No single flipped bit, anywhere, passes.
TEST(Batch, EveryFlippedBitIsCaught) {
  const auto original = testing::events_batch(1000, 6);
  for (std::size_t byte = 0; byte < original.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      auto bytes = original;
      bytes[byte] = static_cast<char>(bytes[byte] ^ (1 << bit));
      EXPECT_NE(decode_batch(bytes.data(), bytes.size()).status, decode_status::ok) << byte << ":" << bit;
    }
  }
}

TEST(Batch, NamesWhatIsWrong) {
  const auto good = testing::events_batch(5, 2);
  const std::string original(good.begin(), good.end());
  const auto reason = [](std::string bytes) {
    const decode_result decoded = decode_batch(bytes.data(), bytes.size());
    EXPECT_EQ(decoded.status, decode_status::corrupt);
    return std::string(decoded.reason);
  };

  EXPECT_EQ(reason(std::string(24, '\0')), "zero-filled header");
  std::string bytes = original;
  bytes[8] = 3;
  EXPECT_EQ(reason(bytes), "unknown batch kind");
  bytes = original;
  bytes[9] = 2;
  EXPECT_EQ(reason(bytes), "unsupported batch version");
  bytes = original;
  bytes[11] = 1;
  EXPECT_EQ(reason(bytes), "non-zero reserved field");
  bytes = original;
  store_le<std::uint32_t>(bytes.data(), (16u << 20) + 1);
  EXPECT_EQ(reason(bytes), "body longer than the maximum");
  bytes = original;
  store_le<std::uint32_t>(bytes.data() + 12, 0);
  EXPECT_EQ(reason(bytes), "batch of no sequence numbers");
  bytes = original;
  store_le<std::uint64_t>(bytes.data() + 16, 0);
  EXPECT_EQ(reason(bytes), "sequence number 0");
  bytes = original;
  store_le<std::uint64_t>(bytes.data() + 16, UINT64_MAX);
  EXPECT_EQ(reason(bytes), "sequence numbers overflow");
  bytes = original;
  bytes[8] = 2;
  EXPECT_EQ(reason(bytes), "skip batch with a body");
  bytes = original;
  bytes[30] = static_cast<char>(bytes[30] ^ 1);
  EXPECT_EQ(reason(bytes), "checksum mismatch");

  // Checks behind the CRC: a batch sealed by a buggy writer.
  bytes = original;
  store_le<std::uint32_t>(bytes.data() + 12, 1);
  reseal(bytes);
  EXPECT_EQ(reason(bytes), "line count differs from the header");
  bytes = original;
  bytes[bytes.size() - 2] = 'x';  // "...x\n"
  reseal(bytes);
  EXPECT_EQ(reason(bytes), "line not ended by \\r\\n");
  bytes = original;
  bytes.back() = 'x';
  reseal(bytes);
  EXPECT_EQ(reason(bytes), "last line not ended");
}

// The body checks of decode_batch (exactly `count` lines, each ending in "\r\n"), word at a
// time, against the line-by-line reading they replace: bodies of every length, with the
// "\r\n" and the damage at every offset within a word and across words, long enough for the
// per-lane newline counts to be folded more than once.
const char* line_check_reference(std::string_view body, std::uint32_t count) {
  std::uint64_t lines = 0;
  while (!body.empty()) {
    const auto newline = body.find('\n');
    if (newline == std::string_view::npos) return "last line not ended";
    if (newline == 0 || body[newline - 1] != '\r') return "line not ended by \\r\\n";
    ++lines;
    body.remove_prefix(newline + 1);
  }
  return lines == count ? nullptr : "line count differs from the header";
}

TEST(Batch, BodyChecksAgreeWithReadingLineByLine) {
  std::mt19937_64 rng(20261207);
  const char alphabet[] = {'1', '|', 'S', '\r', '\n', '\r', '\n', 'x'};
  std::vector<char> buffer;
  for (int round = 0; round < 4000; ++round) {
    if (round == 0) {
      // 600 lines of 8 bytes: every word ends in a newline, so one byte lane counts them all.
      std::string body;
      for (int i = 0; i < 600; ++i) body += "123456\r\n";
      buffer.assign(batch_header_size + body.size(), '\0');
      std::copy(body.begin(), body.end(), buffer.begin() + batch_header_size);
      seal_batch(buffer.data(), batch_kind::events, 1, 600, body.size());
      EXPECT_EQ(decode_batch(buffer.data(), buffer.size()).status, decode_status::ok);
    }
    // Well-formed lines of random lengths (their ends fall at every offset), then damage.
    std::string body;
    const std::size_t target = 2 + rng() % (round % 10 == 0 ? 5000 : 64);
    while (body.size() < target) body += std::string(rng() % 13, '7') + "\r\n";
    const int damage = static_cast<int>(rng() % 4);
    for (int d = 0; d < damage; ++d) body[rng() % body.size()] = alphabet[rng() % sizeof alphabet];
    if (rng() % 8 == 0) body.resize(2 + rng() % (body.size() - 1));
    std::uint32_t count = static_cast<std::uint32_t>(std::count(body.begin(), body.end(), '\n'));
    if (rng() % 8 == 0) count += rng() % 2 == 0 ? 1 : -1;
    if (count == 0 || body.size() < 2 * static_cast<std::size_t>(count)) continue;  // the header refuses these first

    buffer.assign(batch_header_size + body.size(), '\0');
    std::copy(body.begin(), body.end(), buffer.begin() + batch_header_size);
    seal_batch(buffer.data(), batch_kind::events, 1, count, body.size());
    const decode_result decoded = decode_batch(buffer.data(), buffer.size());
    const char* expected = line_check_reference(body, count);
    if (expected == nullptr) {
      EXPECT_EQ(decoded.status, decode_status::ok) << ::testing::PrintToString(body) << " count " << count;
    } else {
      EXPECT_EQ(decoded.status, decode_status::corrupt) << ::testing::PrintToString(body) << " count " << count;
      EXPECT_EQ(std::string(decoded.reason), expected) << ::testing::PrintToString(body) << " count " << count;
    }
  }
}

TEST(Batch, TrimsToAPosition) {
  const auto bytes = testing::events_batch(10, 5);
  const batch_view batch = decode_batch(bytes.data(), bytes.size()).batch;
  EXPECT_EQ(batch_from(batch, 3).first_seq, 10u);
  EXPECT_EQ(batch_from(batch, 10).count, 5u);
  const batch_view rest = batch_from(batch, 12);
  EXPECT_EQ(rest.first_seq, 12u);
  EXPECT_EQ(rest.count, 3u);
  EXPECT_EQ(rest.body, event_line(12) + event_line(13) + event_line(14));
  EXPECT_EQ(batch_from(batch, 15).count, 0u);

  const auto skip = testing::skip_batch(20, 4);
  const batch_view skipped = batch_from(decode_batch(skip.data(), skip.size()).batch, 22);
  EXPECT_EQ(skipped.kind, batch_kind::skipped);
  EXPECT_EQ(skipped.first_seq, 22u);
  EXPECT_EQ(skipped.count, 2u);
}

}  // namespace
}  // namespace eventserver::storage
