// A client's stream without sockets (core/client_stream.hpp): the queue and its bound, catch-up
// from history and the switch back to live, the resume decision, the cut-offs. A fake client
// below plays the session's part: it offers what the router would deliver, lets its "socket"
// take so many bytes, and reads history from an in-memory log the way the session does.
#include "eventserver/core/client_stream.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace eventserver {
namespace {

using offer_result = client_stream::offer_result;
using read_step = client_stream::read_step;
using chunk_result = client_stream::chunk_result;
using mode = client_stream::mode;

constexpr user_id me = 1;

std::string as_string(std::span<const char> bytes) { return {bytes.data(), bytes.size()}; }

// Even numbers are broadcasts (they notify everyone, `me` too); odd ones are private messages
// between two others (they notify nobody `me` is).
std::string event_line(sequence_number seq) {
  return seq % 2 == 0 ? std::to_string(seq) + "|B\r\n" : std::to_string(seq) + "|P|5|6\r\n";
}
bool notifies_me(sequence_number seq) { return seq % 2 == 0; }

// What `me` must receive of events first..last, in order, once each.
std::string expected_notifications(sequence_number first, sequence_number last) {
  std::string out;
  for (sequence_number seq = first; seq <= last; ++seq) {
    if (notifies_me(seq)) out += event_line(seq);
  }
  return out;
}

// History over the lines of one epoch: runs of whole lines from `from`, within max_bytes (a
// longer first line whole), never past `until`; gone when `from` is before `first_kept`.
class fake_history {
 public:
  void append(sequence_number seq, std::string line) { lines_[seq] = std::move(line); }
  void forget_before(sequence_number seq) { lines_.erase(lines_.begin(), lines_.lower_bound(seq)); }

  history_chunk read(const history_request& request) const {
    history_chunk chunk;
    if (lines_.empty() || request.from < lines_.begin()->first) {
      chunk.result = history_chunk::outcome::gone;
      return chunk;
    }
    sequence_number seq = request.from;
    std::string bytes;
    for (auto it = lines_.find(seq); it != lines_.end() && seq <= request.until; ++it, ++seq) {
      if (!bytes.empty() && bytes.size() + it->second.size() > request.max_bytes) break;
      bytes += it->second;
    }
    if (seq == request.from) return chunk;  // nothing more up to `until` yet
    chunk.bytes.assign(bytes.begin(), bytes.end());
    chunk.runs.push_back(history_run{request.from, seq - request.from, std::string_view(chunk.bytes.data(), bytes.size())});
    return chunk;
  }

 private:
  std::map<sequence_number, std::string> lines_;
};

// A spill store (clientSpillBytes) for one client: its blocks in order, within a budget of
// bytes written and not read back.
struct fake_spill {
  std::string held;
  std::size_t budget = ~std::size_t{0};
  std::uint64_t refused = 0;
  std::uint64_t written = 0;  // blocks taken

  bool write(const std::vector<char>& block) {
    if (held.size() + block.size() > budget) {
      ++refused;
      return false;
    }
    ++written;
    held.append(block.begin(), block.end());
    return true;
  }
  std::vector<char> read(std::size_t max_bytes) {
    const std::size_t take = whole_lines_within(held, max_bytes);
    std::vector<char> out(held.begin(), held.begin() + static_cast<std::ptrdiff_t>(take));
    held.erase(0, take);
    return out;
  }
};

// The session's part, synchronously: every step a session would take after a post or a
// completion is taken at once.
struct fake_client {
  client_stream stream;
  fake_history history;
  bool has_history = true;
  log_position applied{1, 0};
  std::string received;  // what the client's socket took
  bool caught_up_once = false;
  bool entered_catch_up = false;
  std::optional<fake_spill> spill;  // set (use_spill): over its bound the client spills first

  fake_client(std::size_t max_queue, std::size_t batch) : stream(max_queue, batch, line_format::crlf) {
    stream.register_live();
  }
  void use_spill() {
    spill.emplace();
    stream.allow_spill();
  }

  // The daemon applies event `seq`: it is in history, and the router offers it to `me` while
  // it is being applied (so not yet counted as applied).
  void apply(sequence_number seq) {
    const std::string line = event_line(seq);
    history.append(seq, line);
    if (notifies_me(seq)) deliver(seq, line);
    applied.seq = seq;
    catch_up();  // the posted read_history
  }

  void deliver(sequence_number seq, const std::string& line) {
    auto verdict = stream.offer(seq, line, true);
    if (verdict == offer_result::write_first) {
      // The session writes first; here the socket takes nothing (a slow reader).
      verdict = stream.offer(seq, line, false);
    }
    if (verdict == offer_result::spilled) {
      entered_catch_up = true;
    } else if (verdict == offer_result::over_bound && stream.fall_behind(has_history, me, applied.epoch, seq, {})) {
      entered_catch_up = true;
    } else if (verdict == offer_result::block_ready) {
      std::vector<char> block = stream.take_spill_block();
      if (!spill->write(block)) stream.spill_refused(std::move(block), me, applied.epoch, seq + 1, {});
    }
  }

  // The socket takes up to `bytes` of what is queued.
  void socket_takes(std::size_t bytes) {
    const auto unsent = stream.unsent();
    const std::size_t taken = std::min(bytes, unsent.size());
    received.append(unsent.data(), taken);
    if (taken != 0) stream.written(taken);
    catch_up();  // a write brings a waiting catch-up back
  }

  // read_history and on_history until the stream waits for room, goes live, or stops.
  void catch_up() {
    for (int reads = 0;; ++reads) {
      if (reads == 100000) {
        ADD_FAILURE() << "the catch-up reads without end";
        return;
      }
      history_request request;
      const read_step step = stream.next_read(applied, 7, request);
      if (step == read_step::go_live) caught_up_once = true;
      if (step == read_step::queued) continue;  // the session writes, then asks again
      if (step == read_step::read_spill) {
        EXPECT_TRUE(stream.take_spill(spill->read(request.max_bytes)));
        continue;
      }
      if (step != read_step::read) return;
      EXPECT_LE(request.until, applied.seq) << "a read past what was applied";
      std::uint64_t taken = 0;
      const chunk_result result = stream.take_history(history.read(request), applied, taken);
      if (result == chunk_result::out_of_history) {
        stream.cut_off(cut_off_reason::out_of_history);
        return;
      }
      if (result != chunk_result::taken) return;
    }
  }

  void drain() {
    for (int i = 0; i < 10000 && (stream.queued_bytes() != 0 || stream.catching_up()); ++i) socket_takes(1 << 20);
  }
};

// --- The queue and its bound ----------------------------------------------------------------

TEST(ClientStream, LiveNotificationsAreQueuedUntilTheTransportTakesThem) {
  client_stream stream(1024, 256, line_format::crlf);
  EXPECT_EQ(stream.offer(1, "1|B\r\n", true), offer_result::dropped) << "not registered yet";
  stream.register_live();
  EXPECT_EQ(stream.offer(2, "2|B\r\n", true), offer_result::queued);
  EXPECT_EQ(stream.offer(3, "3|F|9|1\r\n", true), offer_result::queued);
  EXPECT_EQ(as_string(stream.unsent()), "2|B\r\n3|F|9|1\r\n");
  EXPECT_EQ(stream.notifications(), 2u);

  EXPECT_FALSE(stream.written(7)) << "part of it taken";
  EXPECT_EQ(as_string(stream.unsent()), "F|9|1\r\n");
  EXPECT_EQ(stream.last_sent(), 0u) << "the newest notification is not fully written";
  EXPECT_TRUE(stream.written(7));
  EXPECT_EQ(stream.queued_bytes(), 0u);
  EXPECT_EQ(stream.last_sent(), 3u);
}

TEST(ClientStream, AFullWriteBatchAsksForAWriteFirst) {
  client_stream stream(100, 10, line_format::crlf);
  stream.register_live();
  EXPECT_EQ(stream.offer(2, "2|B\r\n", true), offer_result::queued);
  EXPECT_EQ(stream.offer(4, "4|B\r\n", true), offer_result::queued) << "exactly the batch";
  EXPECT_EQ(stream.offer(6, "6|B\r\n", true), offer_result::write_first);
  EXPECT_EQ(stream.queued_bytes(), 10u) << "nothing appended before the write";
  EXPECT_EQ(stream.offer(6, "6|B\r\n", false), offer_result::queued) << "a write is in flight: queue it";
}

TEST(ClientStream, TheQueueBoundCutsOffASlowClientWithoutHistory) {
  fake_client client(20, 20);
  client.has_history = false;
  for (sequence_number seq = 1; seq <= 8; ++seq) client.apply(seq);  // 2|B 4|B 6|B 8|B: 20 bytes
  EXPECT_TRUE(client.stream.live()) << "a queue of exactly maxClientQueueBytes is within the bound";
  EXPECT_EQ(client.stream.queued_bytes(), 20u);
  client.apply(9);
  client.apply(10);  // one byte too many: the reader is slow
  EXPECT_EQ(client.stream.state(), mode::cut_off);
  EXPECT_EQ(client.stream.cut_reason(), cut_off_reason::slow);
  EXPECT_TRUE(resets_connection(cut_off_reason::slow));
  EXPECT_EQ(client.stream.queued_bytes(), 0u) << "its buffer is freed at once";
  EXPECT_EQ(client.stream.offer(12, "12|B\r\n", true), offer_result::dropped);
  EXPECT_FALSE(client.stream.registered());
}

TEST(ClientStream, OverTheBoundWithHistoryItReadsOnFromTheNotificationThatDidNotFit) {
  fake_client client(20, 20);
  for (sequence_number seq = 1; seq <= 10; ++seq) client.apply(seq);
  EXPECT_TRUE(client.stream.catching_up());
  EXPECT_EQ(client.stream.cursor_position(), (log_position{1, 10})) << "its queue is full: no read yet";
  EXPECT_EQ(as_string(client.stream.unsent()), "2|B\r\n4|B\r\n6|B\r\n8|B\r\n");
}

TEST(ClientStream, OnlyPolicyCutOffsResetTheConnection) {
  EXPECT_TRUE(resets_connection(cut_off_reason::stuck));
  EXPECT_TRUE(resets_connection(cut_off_reason::out_of_history));
  EXPECT_FALSE(resets_connection(cut_off_reason::token_expired)) << "a WebSocket client is told 4000";
  EXPECT_FALSE(resets_connection(cut_off_reason::token_refused));
}

// --- Spill: a slow client's own notifications kept for it --------------------------------

TEST(ClientStream, ASlowReaderSpillsItsOwnNotificationsAndGoesLiveWithoutLossOrDuplicate) {
  fake_client client(64, 32);
  client.use_spill();
  sequence_number seq = 1;
  for (; seq <= 60000; ++seq) {  // enough for a block of spill_block_bytes to be handed over
    client.apply(seq);
    if (seq % 3 == 0) client.socket_takes(7);
  }
  EXPECT_TRUE(client.entered_catch_up);
  EXPECT_TRUE(client.stream.spilling());
  EXPECT_GE(client.spill->written, 1u) << "blocks were handed to the store";
  client.drain();
  EXPECT_TRUE(client.caught_up_once);
  EXPECT_TRUE(client.stream.live());
  EXPECT_FALSE(client.stream.spilling());
  for (; seq <= 60100; ++seq) {
    client.apply(seq);
    client.socket_takes(1 << 20);
  }
  EXPECT_EQ(client.received, expected_notifications(1, 60100));
  EXPECT_EQ(client.stream.history_notifications(), 0u) << "nothing filtered from history";
  EXPECT_GT(client.stream.spilled_notifications(), 0u);
  EXPECT_EQ(client.stream.last_sent(), 60100u);
}

TEST(ClientStream, ASpillTheStoreRefusesEndsAndTheLogTakesOverAfterIt) {
  fake_client client(64, 32);
  client.use_spill();
  client.spill->budget = client_stream::spill_block_bytes + 100;  // one block, not two
  sequence_number seq = 1;
  for (; seq <= 60000; ++seq) {
    client.apply(seq);
    if (seq % 3 == 0) client.socket_takes(7);
  }
  EXPECT_GE(client.spill->refused, 1u);
  client.drain();
  EXPECT_TRUE(client.stream.live());
  EXPECT_EQ(client.received, expected_notifications(1, 60000));
  EXPECT_GT(client.stream.spilled_notifications(), 0u);
  EXPECT_GT(client.stream.history_notifications(), 0u) << "the log's part, after the spill";
}

TEST(ClientStream, WhileSpillingTheLastSentNumberIsWhatWasWritten) {
  fake_client client(20, 20);
  client.use_spill();
  for (sequence_number seq = 1; seq <= 12; ++seq) client.apply(seq);  // 10 and 12 do not fit
  EXPECT_TRUE(client.stream.spilling());
  EXPECT_EQ(client.stream.behind(12, 1), 12u);
  client.socket_takes(20);  // 2..8 written; 10 and 12 come back from the spill
  EXPECT_EQ(client.stream.last_sent(), 8u);
  client.socket_takes(100);
  EXPECT_EQ(client.stream.last_sent(), 12u);
  EXPECT_TRUE(client.stream.live());
  EXPECT_EQ(client.received, expected_notifications(1, 12));
}

TEST(ClientStream, ASpillingClientThatResumedIsToldOfANewEpochInItsPlace) {
  client_stream stream(30, 30, line_format::lf);
  stream.register_resuming();
  stream.begin_resume(me, resume_point{1, 0, true}, {});
  history_request request;
  EXPECT_EQ(stream.next_read(log_position{1, 0}, 7, request), read_step::go_live);
  EXPECT_EQ(as_string(stream.unsent()), "resumed|1|0|complete\n");
  stream.written(stream.queued_bytes());
  const auto line = [](sequence_number seq) { return std::to_string(seq) + "|B\r\n"; };
  stream.allow_spill();
  sequence_number seq = 1;
  while (stream.offer(seq, line(seq), false) == offer_result::queued) ++seq;
  EXPECT_TRUE(stream.spilling()) << "the one that did not fit is the first kept";
  EXPECT_EQ(stream.offer(seq + 1, line(seq + 1), false), offer_result::kept);
  EXPECT_TRUE(stream.announce_epoch(2));
  EXPECT_EQ(stream.offer(1, line(1), false), offer_result::kept);
  stream.written(stream.queued_bytes());
  EXPECT_EQ(stream.next_read(log_position{2, 1}, 7, request), read_step::queued);
  EXPECT_EQ(as_string(stream.unsent()),
            std::to_string(seq) + "|B\n" + std::to_string(seq + 1) + "|B\nepoch|2\n1|B\n")
      << "in the order they came, as WebSocket frames them";
  EXPECT_EQ(stream.next_read(log_position{2, 1}, 7, request), read_step::go_live);
  EXPECT_EQ(stream.spilled_notifications(), 3u);
}

// --- Catch-up and the switch back to live ---------------------------------------------------

TEST(ClientStream, ASlowReaderCatchesUpFromHistoryAndGoesLiveWithoutLossOrDuplicate) {
  fake_client client(64, 32);
  sequence_number seq = 1;
  for (; seq <= 400; ++seq) {
    client.apply(seq);
    if (seq % 3 == 0) client.socket_takes(7);  // slower than the stream: it falls behind
  }
  EXPECT_TRUE(client.entered_catch_up);
  EXPECT_GT(client.stream.history_notifications(), 0u);
  client.drain();
  EXPECT_TRUE(client.caught_up_once);
  EXPECT_TRUE(client.stream.live());
  for (; seq <= 500; ++seq) {  // live again: each notification straight from the router
    client.apply(seq);
    client.socket_takes(1 << 20);
  }
  EXPECT_EQ(client.received, expected_notifications(1, 500));
  EXPECT_EQ(client.stream.last_sent(), 500u);
}

TEST(ClientStream, LiveNotificationsAreLeftToHistoryDuringCatchUp) {
  client_stream stream(1024, 1024, line_format::crlf);
  stream.register_live();
  stream.start_catch_up(me, 1, 5, {});
  EXPECT_EQ(stream.offer(6, "6|B\r\n", true), offer_result::in_history);
  EXPECT_EQ(stream.queued_bytes(), 0u);
}

TEST(ClientStream, HistoryIsReadNoFurtherThanWhatWasApplied) {
  client_stream stream(1 << 20, 1024, line_format::crlf);
  stream.register_live();
  stream.start_catch_up(me, 2, 5, {});
  history_request request;
  ASSERT_EQ(stream.next_read(log_position{2, 90}, 3, request), read_step::read);
  EXPECT_EQ(request.reader, 3u);
  EXPECT_EQ(request.epoch, 2u);
  EXPECT_EQ(request.from, 5u);
  EXPECT_EQ(request.until, 90u);
  EXPECT_EQ(request.max_bytes, client_stream::max_history_read);
  EXPECT_EQ(stream.next_read(log_position{2, 90}, 3, request), read_step::none) << "one read at a time";
}

TEST(ClientStream, AnOlderEpochIsReadToItsEnd) {
  client_stream stream(1 << 20, 1024, line_format::crlf);
  stream.register_live();
  stream.start_catch_up(me, 1, 5, {});
  history_request request;
  ASSERT_EQ(stream.next_read(log_position{2, 90}, 3, request), read_step::read);
  EXPECT_EQ(request.until, ~sequence_number{0});
}

TEST(ClientStream, AHistoryReadWaitsForRoomInTheQueue) {
  client_stream stream(100, 100, line_format::crlf);
  stream.register_live();
  const std::string line(60, 'x');
  ASSERT_EQ(stream.offer(1, line, true), offer_result::queued);
  stream.start_catch_up(me, 1, 2, {});
  history_request request;
  EXPECT_EQ(stream.next_read(log_position{1, 9}, 3, request), read_step::wait) << "40 bytes free, under half the queue";
  stream.written(10);
  ASSERT_EQ(stream.next_read(log_position{1, 9}, 3, request), read_step::read);
  EXPECT_EQ(request.max_bytes, 50u) << "no more than the room left";
}

TEST(ClientStream, AHistoryThatLagsWhatWasAppliedIsAskedAgain) {
  client_stream stream(1 << 20, 1024, line_format::crlf);
  stream.register_live();
  stream.start_catch_up(me, 1, 5, {});
  history_request request;
  ASSERT_EQ(stream.next_read(log_position{1, 9}, 3, request), read_step::read);
  std::uint64_t taken = 0;
  EXPECT_EQ(stream.take_history(history_chunk{}, log_position{1, 9}, taken), chunk_result::retry_later);
  EXPECT_EQ(stream.next_read(log_position{1, 9}, 3, request), read_step::read) << "the read is over: ask again";
  EXPECT_EQ(request.from, 5u);
}

TEST(ClientStream, HistoryThatNoLongerHoldsTheNextNumberCutsTheClientOff) {
  fake_client client(64, 32);
  for (sequence_number seq = 1; seq <= 100; ++seq) client.apply(seq);
  ASSERT_TRUE(client.stream.catching_up());
  const log_position at = *client.stream.cursor_position();
  client.history.forget_before(at.seq + 1);  // retention removed what it needs next
  client.drain();
  EXPECT_EQ(client.stream.state(), mode::cut_off);
  EXPECT_EQ(client.stream.cut_reason(), cut_off_reason::out_of_history);
  EXPECT_EQ(client.stream.queued_bytes(), 0u);
}

TEST(ClientStream, TheEndOfAnOlderEpochLeadsToTheNextFromItsStart) {
  client_stream stream(1 << 20, 1024, line_format::crlf);
  stream.register_resuming();
  stream.begin_resume(me, resume_point{1, 4, true}, {});
  stream.written(stream.queued_bytes());
  history_request request;
  ASSERT_EQ(stream.next_read(log_position{2, 3}, 3, request), read_step::read);
  std::uint64_t taken = 0;
  ASSERT_EQ(stream.take_history(history_chunk{}, log_position{2, 3}, taken), chunk_result::taken);
  EXPECT_EQ(as_string(stream.unsent()), "epoch|2\r\n");
  EXPECT_EQ(stream.cursor_position(), (log_position{2, 1}));
}

// --- Resume ---------------------------------------------------------------------------------

TEST(DecideResume, WithinTheKeptHistoryEverythingAfterLastFollows) {
  EXPECT_EQ(decide_resume(50, std::nullopt, log_position{3, 100}, 20), (resume_point{3, 50, true}));
  EXPECT_EQ(decide_resume(50, 3, log_position{3, 100}, 20), (resume_point{3, 50, true})) << "its own epoch named";
  EXPECT_EQ(decide_resume(100, std::nullopt, log_position{3, 100}, 20), (resume_point{3, 100, true})) << "up to date";
}

TEST(DecideResume, AtTheFirstKeptNumberItIsStillComplete) {
  EXPECT_EQ(decide_resume(19, std::nullopt, log_position{3, 100}, 20), (resume_point{3, 19, true}));
}

TEST(DecideResume, BeforeTheKeptHistoryFromItsOldestNotification) {
  EXPECT_EQ(decide_resume(18, std::nullopt, log_position{3, 100}, 20), (resume_point{3, 19, false}));
  EXPECT_EQ(decide_resume(0, std::nullopt, log_position{3, 100}, 20), (resume_point{3, 19, false}));
}

TEST(DecideResume, APositionTheDaemonNeverReachedGoesLive) {
  EXPECT_EQ(decide_resume(150, std::nullopt, log_position{3, 100}, 20), (resume_point{3, 100, false}));
}

TEST(DecideResume, AnotherEpochsPositionReadsThisStreamFromItsOldest) {
  EXPECT_EQ(decide_resume(50, 2, log_position{3, 100}, 20), (resume_point{3, 19, false}));
  EXPECT_EQ(decide_resume(100, 2, log_position{3, 100}, 20), (resume_point{3, 19, false})) << "the same number, another stream";
  EXPECT_EQ(decide_resume(50, 2, log_position{3, 100}, 0), (resume_point{3, 100, false})) << "none kept: live";
}

TEST(DecideResume, WithoutHistoryOnlyAnUpToDateClientIsComplete) {
  EXPECT_EQ(decide_resume(100, std::nullopt, log_position{3, 100}, 0), (resume_point{3, 100, true}));
  EXPECT_EQ(decide_resume(99, std::nullopt, log_position{3, 100}, 0), (resume_point{3, 100, false}));
}

// An edge behind the stream waits for a position it has not applied yet (cluster.resumeWaitMs)
// instead of answering incomplete: a client moving from a faster edge keeps exactly once.
TEST(ResumeAhead, APositionPastWhatIsAppliedIsAheadOneReachedIsNot) {
  EXPECT_TRUE(resume_ahead(101, std::nullopt, log_position{3, 100}));
  EXPECT_TRUE(resume_ahead(101, 3, log_position{3, 100}));
  EXPECT_FALSE(resume_ahead(100, std::nullopt, log_position{3, 100})) << "reached: resumed at once, complete";
  EXPECT_FALSE(resume_ahead(20, 3, log_position{3, 100}));
}

TEST(ResumeAhead, ALaterEpochIsAheadAnEarlierOneIsNot) {
  EXPECT_TRUE(resume_ahead(5, 4, log_position{3, 100})) << "the stream began epoch 4; this daemon has yet to";
  EXPECT_TRUE(resume_ahead(0, 4, log_position{3, 100}));
  EXPECT_FALSE(resume_ahead(500, 2, log_position{3, 100})) << "an older stream is never reached again";
}

TEST(ClientStream, AResumeIsToldWhereItContinuesThenCatchesUpFromThere) {
  fake_client client(1 << 16, 1024);
  for (sequence_number seq = 1; seq <= 30; ++seq) client.apply(seq);
  client.stream = client_stream(1 << 16, 1024, line_format::crlf);  // a new connection: <me>|12
  client.stream.register_resuming();
  EXPECT_TRUE(client.stream.awaiting_resume());
  EXPECT_EQ(client.stream.offer(32, "32|B\r\n", true), offer_result::in_history) << "live waits meanwhile";
  const resume_point at = decide_resume(12, std::nullopt, client.applied, 1);
  client.stream.begin_resume(me, at, {});
  EXPECT_FALSE(client.stream.awaiting_resume());
  client.catch_up();
  client.drain();
  EXPECT_TRUE(client.stream.live());
  EXPECT_EQ(client.received, "resumed|1|12|complete\r\n" + expected_notifications(13, 30));
}

TEST(ClientStream, OnlyAClientThatResumedIsToldOfANewEpoch) {
  client_stream plain(1024, 1024, line_format::crlf);
  plain.register_live();
  EXPECT_FALSE(plain.announce_epoch(2));
  EXPECT_EQ(plain.queued_bytes(), 0u);

  client_stream resumed(1024, 1024, line_format::crlf);
  resumed.register_resuming();
  resumed.begin_resume(me, resume_point{1, 0, true}, {});
  EXPECT_FALSE(resumed.announce_epoch(2)) << "in catch-up it meets the epoch in history";
  history_request request;
  ASSERT_EQ(resumed.next_read(log_position{1, 0}, 3, request), read_step::go_live);
  resumed.written(resumed.queued_bytes());
  EXPECT_TRUE(resumed.announce_epoch(2));
  EXPECT_EQ(as_string(resumed.unsent()), "epoch|2\r\n");
}

// --- The end, the transports' line format, the admin figures --------------------------------

TEST(ClientStream, AtShutdownACatchUpStopsAndWhatIsQueuedIsSent) {
  client_stream stream(1024, 1024, line_format::crlf);
  stream.register_live();
  ASSERT_EQ(stream.offer(2, "2|B\r\n", true), offer_result::queued);
  stream.start_catch_up(me, 1, 3, {});
  stream.finish();
  EXPECT_TRUE(stream.live());
  EXPECT_FALSE(stream.has_cursor());
  history_request request;
  EXPECT_EQ(stream.next_read(log_position{1, 9}, 3, request), read_step::none);
  EXPECT_EQ(stream.offer(4, "4|B\r\n", true), offer_result::dropped);
  EXPECT_EQ(as_string(stream.unsent()), "2|B\r\n");
}

TEST(ClientStream, WebSocketLinesEndInOneNewline) {
  client_stream stream(1024, 1024, line_format::lf);
  stream.register_live();
  ASSERT_EQ(stream.offer(2, "2|B\r\n", true), offer_result::queued);
  ASSERT_EQ(stream.offer(3, "3|F|9|1\n", true), offer_result::queued);
  EXPECT_EQ(as_string(stream.unsent()), "2|B\n3|F|9|1\n");
}

TEST(ClientStream, AWriteTakesWholeLines) {
  EXPECT_EQ(whole_lines_within("ab\ncd\nef\n", 100), 9u);
  EXPECT_EQ(whole_lines_within("ab\ncd\nef\n", 7), 6u);
  EXPECT_EQ(whole_lines_within("ab\ncd\nef\n", 5), 3u) << "the line end at byte 6 is past 5";
  EXPECT_EQ(whole_lines_within("abcdef\ngh\n", 3), 7u) << "a longer first line goes whole";
}

TEST(ClientStream, BehindCountsWhatIsQueuedOrYetToBeRead) {
  client_stream stream(1024, 1024, line_format::crlf);
  stream.register_live();
  EXPECT_EQ(stream.behind(10, 1), 0u) << "nothing queued";
  ASSERT_EQ(stream.offer(8, "8|B\r\n", true), offer_result::queued);
  stream.written(5);
  ASSERT_EQ(stream.offer(10, "10|B\r\n", true), offer_result::queued);
  EXPECT_EQ(stream.behind(10, 1), 2u) << "last fully written: 8";
  stream.start_catch_up(me, 1, 11, {});
  EXPECT_EQ(stream.behind(15, 1), 5u) << "11..15 yet to read";
}

}  // namespace
}  // namespace eventserver
