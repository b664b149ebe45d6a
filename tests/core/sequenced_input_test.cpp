// Already-numbered input: an edge is handed the batches another daemon's log stored, and
// offer_sequenced takes them with the numbers they carry. The test of record: a log recorded
// through the ordinary path (offer_line, a log attached, gap timeout, a new stream) and fed
// batch by batch to a fresh dispatcher gives every recipient the same bytes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "eventserver/core/dispatcher.hpp"
#include "support/recording.hpp"

namespace eventserver {
namespace {

using namespace std::chrono_literals;
using outcome = dispatcher::batch_outcome;
using testing::recording_recipient;
using lines = std::vector<std::string>;

// Everything a connection is given, byte for byte, with the new streams it is told of.
class byte_recipient final : public recipient {
 public:
  void deliver(sequence_number seq, line_ref notification) override {
    bytes += std::to_string(seq) + ">";
    bytes.append(notification);
  }
  void begin_stream(stream_epoch epoch) override { bytes += "#epoch " + std::to_string(epoch) + "\n"; }
  std::string bytes;
};

// A stored batch, copied when it is sealed (the pipeline reuses its batches).
struct stored_batch {
  stream_epoch epoch = 1;
  sequenced_batch::kind type = sequenced_batch::kind::events;
  sequence_number first_seq = 0;
  std::uint32_t count = 0;
  std::string body;

  sequenced_batch view() const { return {type, first_seq, count, body}; }
  friend bool operator==(const stored_batch&, const stored_batch&) = default;
};

class capturing_backend final : public log_backend {
 public:
  std::size_t header_bytes() const noexcept override { return 24; }
  void submit(log_batch& batch) override {
    const sequenced_batch stored = batch.stored_form();
    batches.push_back({batch.epoch(), stored.type, stored.first_seq, stored.count, std::string(stored.body)});
  }
  void flush() override {}
  std::vector<stored_batch> batches;
};

constexpr user_id users = 12;

// One dispatcher with every user connected once, recording what each is given.
struct instance {
  explicit instance(stream_settings settings = {}) : dispatch(settings, stats) {
    for (user_id u = 1; u <= users; ++u) dispatch.routes().connect(u, clients[u - 1]);
  }
  // With a log whose batches are captured.
  void attach_log() {
    log = &dispatch.open_log(backend, log_pipeline::limits{}, log_position{1, 0});
  }
  // End of a read: the group commit, and every batch made durable.
  void end_read() {
    dispatch.commit_log();
    if (log) {
      while (log->waiting() != 0) dispatch.apply_durable();
    }
  }
  std::vector<std::string> received() const {
    std::vector<std::string> all;
    for (const auto& c : clients) all.push_back(c.bytes);
    return all;
  }

  capturing_backend backend;  // before the dispatcher: its log refers to it
  counters stats;
  dispatcher dispatch;
  byte_recipient clients[users];
  log_pipeline* log = nullptr;
};

// A fixed pseudo-random stream of every event type, a little shuffled.
std::vector<std::string> make_events(sequence_number first, sequence_number count, std::uint64_t seed) {
  std::uint64_t x = seed;
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  std::vector<std::string> out;
  for (sequence_number seq = first; seq < first + count; ++seq) {
    const std::string n = std::to_string(seq);
    const auto a = std::to_string(next() % users + 1);
    const auto b = std::to_string(next() % users + 1);
    switch (next() % 6) {
      case 0: out.push_back(n + "|F|" + a + "|" + b); break;
      case 1: out.push_back(n + "|U|" + a + "|" + b); break;
      case 2: out.push_back(n + "|B"); break;
      case 3: out.push_back(n + "|P|" + a + "|" + b); break;
      case 4: out.push_back(n + "|S|" + a); break;
      default: out.push_back(n + "|F|" + a + "|" + b); break;
    }
  }
  for (std::size_t i = 0; i + 4 <= out.size(); i += 4) std::swap(out[i], out[i + 3]);  // arrive out of order
  return out;
}

TEST(SequencedInput, ARecordedLogReplayedGivesTheSameNotificationsByteForByte) {
  stream_settings settings;
  settings.gap_timeout = 100ms;
  instance original(settings);
  original.attach_log();
  const auto feed = [&original](const std::vector<std::string>& input) {
    for (const auto& line : input) {
      ASSERT_EQ(original.dispatch.offer_line(line), dispatcher::line_outcome::consumed) << line;
    }
    original.end_read();
  };

  feed(make_events(1, 400, 7));
  // Bad bodies (no-ops stored as "\r\n"), a line too long for a sequencer slot, and a gap the
  // timeout gives up.
  feed({"401|X|1", "402|F|3", "000000000000000000000000000000000000000403|P|1|2", "404|B"});
  feed({"407|S|2", "408|B"});
  const auto t0 = std::chrono::steady_clock::now();
  original.dispatch.end_batch(t0);
  ASSERT_TRUE(original.dispatch.skip_expired_gap(t0 + 100ms));
  original.end_read();
  feed(make_events(409, 300, 11));
  // A new stream, then more of it.
  ASSERT_TRUE(original.dispatch.idle());
  original.dispatch.begin_new_stream();
  feed(make_events(1, 300, 13));

  const auto& recorded = original.backend.batches;
  ASSERT_GT(recorded.size(), 5u);
  ASSERT_TRUE(std::any_of(recorded.begin(), recorded.end(),
                          [](const stored_batch& b) { return b.type == sequenced_batch::kind::skipped; }));
  ASSERT_NE(recorded[1].body.find("\r\n\r\n"), std::string::npos);  // the no-ops are in the log
  ASSERT_EQ(original.stats.sequence_numbers_skipped, 2u);

  // Without a log, applied as taken.
  instance edge;
  for (const auto& b : recorded) ASSERT_EQ(edge.dispatch.offer_sequenced(b.epoch, b.view()), outcome::applied);
  EXPECT_EQ(edge.received(), original.received());
  EXPECT_EQ(edge.dispatch.epoch(), 2u);
  EXPECT_EQ(edge.dispatch.applied(), original.dispatch.applied());

  // With a log of its own: the same notifications, and the same batches stored again.
  instance logged;
  logged.attach_log();
  for (const auto& b : recorded) {
    ASSERT_EQ(logged.dispatch.offer_sequenced(b.epoch, b.view()), outcome::applied);
    logged.end_read();
  }
  EXPECT_EQ(logged.received(), original.received());
  EXPECT_EQ(logged.backend.batches, recorded);
  EXPECT_EQ(logged.dispatch.applied(), original.dispatch.applied());
  for (const auto& client : original.clients) EXPECT_FALSE(client.bytes.empty());
}

class SequencedInputTest : public ::testing::Test {
 protected:
  SequencedInputTest() : dispatch({}, stats) { dispatch.routes().connect(1, alice); }
  outcome offer(sequence_number first, std::uint32_t count, std::string_view body, stream_epoch epoch = 1) {
    return dispatch.offer_sequenced(epoch, {sequenced_batch::kind::events, first, count, body});
  }
  outcome skip(sequence_number first, std::uint32_t count, stream_epoch epoch = 1) {
    return dispatch.offer_sequenced(epoch, {sequenced_batch::kind::skipped, first, count, {}});
  }

  counters stats;
  dispatcher dispatch;
  recording_recipient alice;
};

// A no-op is stored as "\r\n" alone: it keeps its number (it is no line without one).
TEST_F(SequencedInputTest, ANoOpStoredAsABareLineKeepsItsNumber) {
  EXPECT_EQ(offer(1, 3, "1|B\r\n\r\n3|B\r\n"), outcome::applied);
  EXPECT_EQ(alice.lines, (lines{"1|B", "3|B"}));
  EXPECT_EQ(dispatch.sequence().next_expected(), 4u);
  EXPECT_EQ(stats.events_processed, 3u);
  EXPECT_EQ(stats.rejected_no_sequence, 0u);
  EXPECT_EQ(offer(4, 1, "\r\n"), outcome::applied);  // a batch of one no-op
  EXPECT_EQ(offer(5, 1, "5|B\r\n"), outcome::applied);
  EXPECT_EQ(alice.lines, (lines{"1|B", "3|B", "5|B"}));
}

TEST_F(SequencedInputTest, ASkipBatchGivesItsNumbersUp) {
  EXPECT_EQ(offer(1, 1, "1|B\r\n"), outcome::applied);
  EXPECT_EQ(skip(2, 3), outcome::applied);
  EXPECT_EQ(dispatch.sequence().next_expected(), 5u);
  EXPECT_EQ(stats.sequence_numbers_skipped, 3u);
  EXPECT_EQ(offer(5, 1, "5|B\r\n"), outcome::applied);
  EXPECT_EQ(alice.lines, (lines{"1|B", "5|B"}));
  EXPECT_EQ(dispatch.applied(), (log_position{1, 5}));
}

TEST_F(SequencedInputTest, ABatchAfterAGapIsNotTakenAndOneAlreadyProcessedIsStale) {
  EXPECT_EQ(offer(2, 1, "2|B\r\n"), outcome::gap);
  EXPECT_EQ(dispatch.sequence().next_expected(), 1u);
  EXPECT_EQ(offer(1, 2, "1|B\r\n2|B\r\n"), outcome::applied);
  EXPECT_EQ(offer(1, 2, "1|B\r\n2|B\r\n"), outcome::stale);  // delivered again
  EXPECT_EQ(offer(2, 2, "2|B\r\n3|B\r\n"), outcome::applied);  // overlaps: only 3 is new
  EXPECT_EQ(alice.lines, (lines{"1|B", "2|B", "3|B"}));
}

TEST_F(SequencedInputTest, AMalformedBatchIsRefusedWhole) {
  EXPECT_EQ(offer(1, 3, "1|B\r\n2|B\r\n"), outcome::malformed);    // fewer lines than its count
  EXPECT_EQ(offer(1, 2, "1|B\r\n2|B"), outcome::malformed);        // no terminator
  EXPECT_EQ(offer(1, 2, "1|B\n2|B\r\n"), outcome::malformed);      // "\n" alone
  EXPECT_EQ(dispatch.offer_sequenced(1, {sequenced_batch::kind::skipped, 1, 1, "1|B\r\n"}), outcome::malformed);
  EXPECT_EQ(offer(0, 1, "0|B\r\n"), outcome::malformed);
  EXPECT_EQ(offer(UINT64_MAX, 2, "1|B\r\n2|B\r\n"), outcome::malformed);  // past 64 bits
  EXPECT_TRUE(alice.lines.empty());
  EXPECT_EQ(dispatch.sequence().next_expected(), 1u);
}

// A stored line that is not the event its position says is applied as a no-op: the
// numbering stays the batch's.
TEST_F(SequencedInputTest, ALineThatIsNotItsPositionsEventIsANoOp) {
  EXPECT_EQ(offer(1, 3, "1|B\r\n7|B\r\n3|B\r\n"), outcome::applied);
  EXPECT_EQ(alice.lines, (lines{"1|B", "3|B"}));
  EXPECT_EQ(stats.rejected_bad_body, 1u);
}

TEST_F(SequencedInputTest, ANewerEpochBeginsANewStreamInIt) {
  EXPECT_EQ(offer(1, 1, "1|F|1|9\r\n"), outcome::applied);
  EXPECT_EQ(offer(1, 1, "1|S|9\r\n", 5), outcome::applied);  // epoch 5: 1 no longer follows 9
  EXPECT_EQ(alice.epochs, (std::vector<stream_epoch>{5}));
  EXPECT_EQ(dispatch.epoch(), 5u);
  EXPECT_EQ(offer(2, 1, "2|B\r\n", 4), outcome::stale);  // an older epoch
  EXPECT_EQ(alice.lines, (lines{}));
  EXPECT_EQ(dispatch.applied(), (log_position{5, 1}));
}

// More events than the reorder window holds, in one batch.
TEST(SequencedInputWindow, ABatchLongerThanTheWindowIsTakenWhole) {
  stream_settings settings;
  settings.max_pending_events = 4;
  counters stats;
  dispatcher dispatch(settings, stats);
  recording_recipient bob;
  dispatch.routes().connect(2, bob);
  std::string body;
  for (int i = 1; i <= 10; ++i) body += std::to_string(i) + "|B\r\n";
  EXPECT_EQ(dispatch.offer_sequenced(1, {sequenced_batch::kind::events, 1, 10, body}), outcome::applied);
  EXPECT_EQ(bob.lines.size(), 10u);
  EXPECT_EQ(dispatch.sequence().next_expected(), 11u);
}

}  // namespace
}  // namespace eventserver
