#include "eventserver/storage/history_service.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "eventserver/storage/batch_builder.hpp"
#include "eventserver/storage/file_names.hpp"
#include "eventserver/storage/history_reader.hpp"
#include "eventserver/storage/log_directory.hpp"
#include "eventserver/storage/snapshot_encoder.hpp"
#include "eventserver/storage/snapshot_file.hpp"
#include "storage/storage_test_support.hpp"

namespace eventserver::storage {
namespace {

using namespace std::chrono_literals;
using testing::event_line;
using testing::events_batch;
using testing::event_loop;
using testing::temp_dir;

// A segment list that the test can hold shut: the service's thread waits in it, so that jobs
// queued meanwhile are queued at once.
class segment_gate {
 public:
  explicit segment_gate(const log_directory& log) : log_(log) {}
  history_service::view_fn fn() {
    return [this] {
      std::unique_lock lock(mutex_);
      ++waiting_;
      changed_.notify_all();
      changed_.wait(lock, [this] { return open_; });
      --waiting_;
      return testing::view_of(log_);
    };
  }
  void close() {
    std::lock_guard lock(mutex_);
    open_ = false;
  }
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    changed_.notify_all();
  }
  bool wait_for_caller() {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 20s, [this] { return waiting_ > 0; });
  }

 private:
  const log_directory& log_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = true;
  int waiting_ = 0;
};

// Lines as the reads hand them out: "<seq>:<payload>" or "<seq>:skipped".
std::vector<std::string> run_lines(const history_chunk& chunk) {
  std::vector<std::string> out;
  for (const history_run& run : chunk.runs) {
    if (run.lines.empty()) {
      for (std::uint64_t i = 0; i < run.count; ++i) out.push_back(std::to_string(run.first + i) + ":skipped");
      continue;
    }
    std::string_view rest = run.lines;
    for (std::uint64_t i = 0; i < run.count; ++i) {
      const auto end = rest.find("\r\n");
      EXPECT_NE(end, std::string_view::npos);
      out.push_back(std::to_string(run.first + i) + ":" + std::string(rest.substr(0, end)));
      rest.remove_prefix(end + 2);
    }
    EXPECT_TRUE(rest.empty()) << "a run holds more lines than its count";
  }
  return out;
}

// Epoch 1 of the read fixture: 1..203, 101..103 given up by the gap timeout.
std::vector<std::string> expected_lines(sequence_number from, sequence_number to) {
  std::vector<std::string> lines;
  for (sequence_number s = from; s <= to; ++s) {
    if (s >= 101 && s <= 103) {
      lines.push_back(std::to_string(s) + ":skipped");
    } else {
      const std::string line = event_line(s);
      lines.push_back(std::to_string(s) + ":" + line.substr(0, line.size() - 2));
    }
  }
  return lines;
}

// Calls into the service from the test thread and waits (bounded) for the answer, checking
// that it came through post, on this thread, after the call returned.
class client {
 public:
  client(history_service& service, event_loop& loop) : service_(service), loop_(loop) {}

  history_chunk read(const history_request& request) {
    std::optional<history_chunk> got;
    bool returned = false;
    const auto caller = std::this_thread::get_id();
    service_.read(request, [&](history_chunk chunk) {
      EXPECT_TRUE(returned) << "done ran inside read()";
      EXPECT_EQ(std::this_thread::get_id(), caller);
      got = std::move(chunk);
    });
    returned = true;
    EXPECT_TRUE(loop_.run_until([&] { return got.has_value(); })) << "no answer";
    return got ? std::move(*got) : history_chunk{history_chunk::outcome::error, {}, {}, "no answer"};
  }

  std::optional<std::vector<user_id>> following(user_id user, stream_epoch epoch, sequence_number after) {
    std::optional<std::optional<std::vector<user_id>>> got;
    bool returned = false;
    service_.following_at(user, epoch, after, [&](std::optional<std::vector<user_id>> answer) {
      EXPECT_TRUE(returned) << "done ran inside following_at()";
      got = std::move(answer);
    });
    returned = true;
    EXPECT_TRUE(loop_.run_until([&] { return got.has_value(); })) << "no answer";
    return got ? *got : std::nullopt;
  }

  // Reads [from, until] with one reader id, chunk after chunk, until it has them all or a
  // read returns no runs; every chunk checked for continuity and its bound.
  std::vector<std::string> read_all(std::uint64_t reader, stream_epoch epoch, sequence_number from,
                                    sequence_number until, std::size_t max_bytes, std::size_t* chunks = nullptr,
                                    history_chunk::outcome* last = nullptr) {
    std::vector<std::string> lines;
    sequence_number next = from;
    while (next <= until) {
      history_chunk chunk = read({reader, epoch, next, until, max_bytes});
      if (last != nullptr) *last = chunk.result;
      if (chunk.result != history_chunk::outcome::ok || chunk.runs.empty()) break;
      if (chunks != nullptr) ++*chunks;
      for (const history_run& run : chunk.runs) {
        EXPECT_EQ(run.first, next) << "runs must be consecutive from the number asked for";
        EXPECT_GE(run.count, 1u);
        next = run.first + run.count;
      }
      EXPECT_LE(next - 1, until) << "a number past until";
      const auto got = run_lines(chunk);
      lines.insert(lines.end(), got.begin(), got.end());
    }
    return lines;
  }

 private:
  history_service& service_;
  event_loop& loop_;
};

// ---------------------------------------------------------------------------------------------
// Reads: epoch 1 is 1..203 in batches of 5 over segments of 600 bytes, 101..103 given up;
// epoch 2 is 1..50.

class HistoryServiceRead : public ::testing::Test {
 protected:
  void SetUp() override {
    log_options options;
    options.dir = dir_.path();
    options.create_if_missing = true;
    options.segment_bytes = 600;
    log_.emplace(log_directory::open(options));
    while (log_->last_seq() < 203) {
      const sequence_number next = log_->last_seq() + 1;
      if (next == 101) {
        ASSERT_FALSE(log_->append(1, testing::skip_batch(101, 3)));
      } else {
        ASSERT_FALSE(log_->append(1, events_batch(next, next + 4 <= 203 ? 5 : static_cast<std::uint32_t>(204 - next))));
      }
    }
    for (int i = 0; i < 10; ++i) {
      ASSERT_FALSE(log_->append(2, events_batch(log_->current_epoch() == 2 ? log_->last_seq() + 1 : 1, 5)));
    }
    ASSERT_GE(log_->segments().size(), 6u);
    service_.emplace(dir_.path(), [this] { return testing::view_of(*log_); }, loop_.post());
  }

  temp_dir dir_;
  std::optional<log_directory> log_;
  event_loop loop_;  // before the service: it outlives it
  std::optional<history_service> service_;
};

TEST_F(HistoryServiceRead, ReturnsExactlyTheLinesInRuns) {
  client c(*service_, loop_);
  std::uint64_t reader = 1;
  for (const sequence_number from : {1u, 2u, 57u, 99u, 101u, 102u, 104u, 150u, 203u}) {
    EXPECT_EQ(c.read_all(reader++, 1, from, 203, 1 << 20), expected_lines(from, 203)) << from;
  }
  // One large read: events runs merged, the skip batch a run of its own with no lines.
  const history_chunk chunk = c.read({100, 1, 1, 203, 1 << 20});
  ASSERT_EQ(chunk.result, history_chunk::outcome::ok);
  ASSERT_EQ(chunk.runs.size(), 3u);
  EXPECT_EQ(chunk.runs[0].first, 1u);
  EXPECT_EQ(chunk.runs[0].count, 100u);
  EXPECT_EQ(chunk.runs[1].first, 101u);
  EXPECT_EQ(chunk.runs[1].count, 3u);
  EXPECT_TRUE(chunk.runs[1].lines.empty());
  EXPECT_EQ(chunk.runs[2].first, 104u);
  EXPECT_EQ(chunk.runs[2].count, 100u);
  // The views point into the chunk's own bytes, which moved twice on the way here.
  EXPECT_EQ(chunk.runs[0].lines.data(), chunk.bytes.data());
  EXPECT_EQ(chunk.runs[2].lines.data() + chunk.runs[2].lines.size(), chunk.bytes.data() + chunk.bytes.size());
}

TEST_F(HistoryServiceRead, ShortChunksPointIntoTheirOwnBytes) {
  client c(*service_, loop_);
  // One line (about 15 bytes): a string would keep it in its small buffer and lose it on a move.
  const history_chunk chunk = c.read({1, 1, 5, 5, 1});
  ASSERT_EQ(chunk.runs.size(), 1u);
  EXPECT_EQ(chunk.runs[0].lines, event_line(5));
  EXPECT_EQ(chunk.runs[0].lines.data(), chunk.bytes.data());
}

TEST_F(HistoryServiceRead, MaxBytesSplitsAtBatchBoundaries) {
  client c(*service_, loop_);
  // Batches of 5 lines are 70..95 bytes: with 100 bytes a chunk ends after the batch that
  // passes it, so it holds two batches (or a skip and more).
  std::size_t chunks = 0;
  sequence_number next = 1;
  std::vector<std::string> lines;
  while (next <= 203) {
    const history_chunk chunk = c.read({1, 1, next, 203, 100});
    ASSERT_EQ(chunk.result, history_chunk::outcome::ok);
    ASSERT_FALSE(chunk.runs.empty());
    ++chunks;
    EXPECT_EQ(chunk.runs.front().first, next);
    const sequence_number end = chunk.runs.back().first + chunk.runs.back().count;
    // A batch boundary: batches start at 1, 6, ..., 96, then 101 (the skip), 104, 109, ...
    const bool boundary = end == 204 || (end <= 101 ? (end - 1) % 5 == 0 : end == 104 || (end - 104) % 5 == 0);
    EXPECT_TRUE(boundary) << "chunk ends before " << end;
    EXPECT_LT(chunk.bytes.size(), 100u + 5 * 20);  // max_bytes plus one batch
    const auto got = run_lines(chunk);
    lines.insert(lines.end(), got.begin(), got.end());
    next = end;
  }
  EXPECT_EQ(lines, expected_lines(1, 203));
  EXPECT_GE(chunks, 15u);
  EXPECT_LE(chunks, 60u);
  // max_bytes 0 still gives one batch: a reader always moves on.
  const history_chunk one = c.read({2, 1, 1, 203, 0});
  ASSERT_EQ(one.runs.size(), 1u);
  EXPECT_EQ(one.runs[0].count, 5u);
}

TEST_F(HistoryServiceRead, NeverPastUntil) {
  client c(*service_, loop_);
  // until inside a batch, then inside the skip batch, then the rest: each read stops exactly
  // there and the next starts right after (the reader keeps the rest of the batch).
  std::vector<std::string> lines;
  sequence_number from = 1;
  for (const sequence_number until : {52u, 53u, 102u, 104u, 107u, 203u}) {
    const auto got = c.read_all(7, 1, from, until, 1 << 20);
    EXPECT_EQ(got, expected_lines(from, until)) << until;
    lines.insert(lines.end(), got.begin(), got.end());
    // Nothing more up to until: ok, no runs.
    const history_chunk none = c.read({7, 1, until + 1, until, 1 << 20});
    EXPECT_EQ(none.result, history_chunk::outcome::ok);
    EXPECT_TRUE(none.runs.empty());
    from = until + 1;
  }
  EXPECT_EQ(lines, expected_lines(1, 203));
}

TEST_F(HistoryServiceRead, PastTheEndIsCaughtUpUntilTheLogGrows) {
  client c(*service_, loop_);
  history_chunk chunk = c.read({3, 2, 51, 1000, 1 << 20});
  EXPECT_EQ(chunk.result, history_chunk::outcome::ok);
  EXPECT_TRUE(chunk.runs.empty());
  // Far past the end too.
  chunk = c.read({4, 2, 500, 1000, 1 << 20});
  EXPECT_EQ(chunk.result, history_chunk::outcome::ok);
  EXPECT_TRUE(chunk.runs.empty());
  // The log goes on, rolling into new segments: the same reader reads on.
  for (int i = 0; i < 20; ++i) ASSERT_FALSE(log_->append(2, events_batch(log_->last_seq() + 1, 5)));
  const auto lines = c.read_all(3, 2, 51, 1000, 1 << 20);
  ASSERT_EQ(lines.size(), 100u);
  EXPECT_EQ(lines.front(), "51:" + event_line(51).substr(0, event_line(51).size() - 2));
  EXPECT_EQ(lines.back().substr(0, 4), "150:");
  // An epoch the log has not begun yet: caught up for now, not gone.
  chunk = c.read({5, 3, 1, 10, 1 << 20});
  EXPECT_EQ(chunk.result, history_chunk::outcome::ok);
  EXPECT_TRUE(chunk.runs.empty());
}

TEST_F(HistoryServiceRead, EpochsAreSeparate) {
  client c(*service_, loop_);
  // One reader id moving between epochs seeks each time.
  std::vector<std::string> epoch2;
  for (sequence_number s = 1; s <= 50; ++s) {
    const std::string line = event_line(s);
    epoch2.push_back(std::to_string(s) + ":" + line.substr(0, line.size() - 2));
  }
  EXPECT_EQ(c.read_all(1, 2, 1, 50, 1 << 20), epoch2);
  EXPECT_EQ(c.read_all(1, 1, 1, 203, 1 << 20), expected_lines(1, 203));
  EXPECT_EQ(c.read_all(1, 2, 1, 50, 64), epoch2);
}

TEST_F(HistoryServiceRead, RetentionDeletedStartIsGone) {
  // (The graph in it does not matter to reads.)
  const auto write_snapshot_at = [this](sequence_number seq) {
    snapshot_encoder encoder(1, seq);
    encoder.finish();
    snapshot_file_writer writer;
    ASSERT_FALSE(writer.open(dir_.path(), 1, seq));
    ASSERT_FALSE(writer.finish(encoder.take_output()));
  };
  client c(*service_, loop_);
  ASSERT_FALSE(log_->remove_oldest(2));
  const sequence_number first = log_->segments()[0].first_seq;
  ASSERT_GT(first, 1u);
  // No snapshot: nothing of epoch 1 can be resumed exactly any more (whom a user followed is
  // not known anywhere), while epoch 2 is whole from its start.
  EXPECT_FALSE(service_->first_available(1).has_value());
  EXPECT_EQ(service_->first_available(2), 1u);
  EXPECT_FALSE(service_->first_available(9).has_value());
  // A snapshot the log still reaches is a base: resumes start after it, not at the first
  // number the log holds.
  write_snapshot_at(first + 7);
  EXPECT_EQ(service_->first_available(1), first + 8);

  history_chunk chunk = c.read({1, 1, 1, 203, 1 << 20});
  EXPECT_EQ(chunk.result, history_chunk::outcome::gone);
  EXPECT_TRUE(chunk.runs.empty());
  EXPECT_NE(chunk.reason.find("sequence number 1 of epoch 1"), std::string::npos) << chunk.reason;
  chunk = c.read({1, 1, first - 1, 203, 1 << 20});
  EXPECT_EQ(chunk.result, history_chunk::outcome::gone);
  // From the first number still there, all of it.
  EXPECT_EQ(c.read_all(1, 1, first, 203, 1 << 20), expected_lines(first, 203));

  // All of epoch 1 gone: a number of it the daemon applied is gone.
  std::size_t epoch_one = 0;
  while (log_->segments()[epoch_one].epoch == 1) ++epoch_one;
  ASSERT_FALSE(log_->remove_oldest(epoch_one));
  chunk = c.read({2, 1, 150, 203, 1 << 20});
  EXPECT_EQ(chunk.result, history_chunk::outcome::gone);
}

TEST_F(HistoryServiceRead, SegmentsDeletedUnderAReaderAreGone) {
  client c(*service_, loop_);
  // Positioned in the first segment, one batch read.
  history_chunk chunk = c.read({1, 1, 1, 203, 1});
  ASSERT_EQ(chunk.result, history_chunk::outcome::ok);
  ASSERT_EQ(chunk.runs.back().first + chunk.runs.back().count, 6u);
  // Retention deletes every segment of epoch 1 but the last: the open one is still readable
  // (its descriptor), then the rest is gone.
  std::size_t epoch_one = 0;
  while (log_->segments()[epoch_one].epoch == 1) ++epoch_one;
  ASSERT_FALSE(log_->remove_oldest(epoch_one - 1));
  history_chunk::outcome last = history_chunk::outcome::ok;
  const auto lines = c.read_all(1, 1, 6, 203, 1 << 20, nullptr, &last);
  EXPECT_EQ(last, history_chunk::outcome::gone);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines, expected_lines(6, 5 + lines.size()));
}

TEST_F(HistoryServiceRead, DamageIsAnErrorNamingTheFileAndOffset) {
  client c(*service_, loop_);
  const std::string path = dir_.file(log_->segments()[1].name);
  const std::uint64_t size = testing::size_of(path);
  testing::flip_bit(path, size - 3);  // inside the segment's last batch
  history_chunk::outcome last = history_chunk::outcome::ok;
  const auto lines = c.read_all(1, 1, 1, 203, 1 << 20, nullptr, &last);
  EXPECT_EQ(last, history_chunk::outcome::error);
  EXPECT_FALSE(lines.empty());  // what came before the damage
  const sequence_number at = 1 + lines.size();
  const history_chunk chunk = c.read({1, 1, at, 203, 1 << 20});
  ASSERT_EQ(chunk.result, history_chunk::outcome::error);
  EXPECT_NE(chunk.reason.find(log_->segments()[1].name + " at byte "), std::string::npos) << chunk.reason;
}

// Damage that arose after start-up (the view does not know it): the read that meets it reports
// the rest of its segment as a damaged range, once, so that history stops offering resumes
// across it.
TEST_F(HistoryServiceRead, DamageMetAtRunTimeIsReported) {
  std::mutex mutex;
  std::vector<damaged_range> reported;
  service_.reset();
  service_.emplace(dir_.path(), [this] { return testing::view_of(*log_); }, loop_.post(),
                   history_service::default_reader_buffer_bytes, [&](damaged_range range) {
                     std::lock_guard lock(mutex);
                     reported.push_back(std::move(range));
                   });
  client c(*service_, loop_);
  const segment_info segment = log_->segments()[1];
  testing::flip_bit(dir_.file(segment.name), testing::size_of(dir_.file(segment.name)) - 3);
  history_chunk::outcome last = history_chunk::outcome::ok;
  const auto lines = c.read_all(1, 1, 1, 203, 1 << 20, nullptr, &last);
  EXPECT_EQ(last, history_chunk::outcome::error);
  std::lock_guard lock(mutex);
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_EQ(reported[0].epoch, 1u);
  EXPECT_EQ(reported[0].file, segment.name);
  EXPECT_EQ(reported[0].first_lost, 1 + lines.size());
  EXPECT_EQ(reported[0].last_lost, segment.last_seq);
  EXPECT_EQ(reported[0].reason, "checksum mismatch");
}

TEST_F(HistoryServiceRead, ReleaseDropsTheReader) {
  client c(*service_, loop_);
  EXPECT_EQ(c.read_all(1, 1, 1, 20, 1 << 20), expected_lines(1, 20));
  EXPECT_EQ(c.read_all(2, 1, 1, 20, 1 << 20), expected_lines(1, 20));
  EXPECT_EQ(service_->readers_held(), 2u);
  service_->release(1);
  (void)c.read({2, 1, 21, 21, 1 << 20});  // after the release, in queue order
  EXPECT_EQ(service_->readers_held(), 1u);
  // Released readers start afresh.
  EXPECT_EQ(c.read_all(1, 1, 10, 30, 1 << 20), expected_lines(10, 30));
  service_->release(1);
  service_->release(2);
  service_->release(77);  // never seen: nothing
  // A read with nothing to read keeps no reader.
  const history_chunk none = c.read({3, 1, 2, 1, 1});
  EXPECT_EQ(none.result, history_chunk::outcome::ok);
  EXPECT_TRUE(none.runs.empty());
  EXPECT_EQ(service_->readers_held(), 0u);
  (void)c.read({4, 1, 2, 2, 1});
  EXPECT_EQ(service_->readers_held(), 1u);
}

TEST_F(HistoryServiceRead, DestructorDropsPendingRequests) {
  auto held = std::make_shared<int>(0);
  int ran = 0;
  {
    history_service service(dir_.path(), [this] { return testing::view_of(*log_); }, loop_.post());
    for (std::uint64_t i = 0; i < 200; ++i) {
      service.read({i, 1, 1, 203, 1 << 20}, [held, &ran](history_chunk) { ++ran; });
      service.following_at(i, 1, 100, [held, &ran](std::optional<std::vector<user_id>>) { ++ran; });
    }
  }
  // Whatever the thread finished before the stop was posted and may run; the rest never
  // does, and every done was destroyed by now, here or when run.
  const std::size_t posted = loop_.run_pending();
  EXPECT_EQ(static_cast<std::size_t>(ran), posted);
  EXPECT_LT(ran, 400);
  EXPECT_EQ(held.use_count(), 1);
}

TEST_F(HistoryServiceRead, DestructorWhileTheThreadWaitsForWork) {
  { history_service service(dir_.path(), [this] { return testing::view_of(*log_); }, loop_.post()); }
  EXPECT_EQ(loop_.run_pending(), 0u);
}

// history_reader::put_back, what a read that stops at `until` inside a batch relies on.
TEST_F(HistoryServiceRead, ReaderPutBackReturnsTheRestOfTheBatch) {
  history_reader reader(dir_.path(), 64);
  ASSERT_EQ(reader.seek(log_->segments(), 1, 3), history_start::complete);
  batch_view batch;
  ASSERT_EQ(reader.next(batch), history_status::batch);
  EXPECT_EQ(batch.first_seq, 3u);
  EXPECT_EQ(batch.count, 3u);
  reader.put_back(4);
  EXPECT_EQ(reader.position(), 4u);
  ASSERT_EQ(reader.next(batch), history_status::batch);
  EXPECT_EQ(batch.first_seq, 4u);
  EXPECT_EQ(batch.count, 2u);
  EXPECT_EQ(batch.body, event_line(4) + event_line(5));
  reader.put_back(99);  // not in the last batch: nothing
  reader.put_back(3);   // before what the last next() returned: nothing
  EXPECT_EQ(reader.position(), 6u);
  ASSERT_EQ(reader.next(batch), history_status::batch);
  EXPECT_EQ(batch.first_seq, 6u);
}

// ---------------------------------------------------------------------------------------------
// following_at: random follows and unfollows among a few users, checked against a replay in
// memory. Epoch 1 has no snapshot; epoch 2 has snapshots at 400 and 1000 (exact ones).

using graph = std::map<user_id, std::set<user_id>>;

std::string random_line(sequence_number seq, std::mt19937_64& rng) {
  const auto user = [&rng] { return std::to_string(1 + rng() % 12); };
  const std::string s = std::to_string(seq);
  switch (rng() % 10) {
    case 0: case 1: case 2: return s + "|F|" + user() + "|" + user() + "\r\n";
    case 3: case 4: return s + "|U|" + user() + "|" + user() + "\r\n";
    case 5: case 6: return s + "|S|" + user() + "\r\n";
    case 7: return s + "|P|" + user() + "|" + user() + "\r\n";
    case 8: return s + "|B\r\n";
    default: return "\r\n";  // a bad body: its slot kept as an empty line
  }
}

// Applies a follow or an unfollow; returns it (nullopt for anything else).
std::optional<event> apply_line(graph& g, std::string_view line) {
  const parse_result parsed = parse_event(strip_cr(line.substr(0, line.size() - 1)));
  if (parsed.status != parse_status::ok) return std::nullopt;
  if (parsed.ev.type == event_type::follow) {
    g[parsed.ev.from].insert(parsed.ev.to);
  } else if (parsed.ev.type == event_type::unfollow) {
    g[parsed.ev.from].erase(parsed.ev.to);
  } else {
    return std::nullopt;
  }
  return parsed.ev;
}

std::vector<user_id> list_of(const graph& g, user_id user) {
  const auto it = g.find(user);
  if (it == g.end()) return {};
  return {it->second.begin(), it->second.end()};
}

void write_snapshot(const std::string& dir, const graph& g, stream_epoch epoch, sequence_number seq,
                    std::size_t chunk_bytes = snapshot_encoder::default_chunk_bytes) {
  snapshot_encoder encoder(epoch, seq, chunk_bytes);
  for (const auto& [user, followed] : g) {
    const std::vector<user_id> list(followed.begin(), followed.end());
    encoder.add(user, list);
  }
  encoder.finish();
  snapshot_file_writer writer;
  ASSERT_FALSE(writer.open(dir, epoch, seq));
  ASSERT_FALSE(writer.finish(encoder.take_output()));
}

// Appends `lines`, numbered from `first`, in batches of 1..max_batch lines.
void append_lines(log_directory& log, stream_epoch epoch, const std::vector<std::string>& lines,
                  sequence_number first, std::mt19937_64& rng, std::size_t max_batch = 20) {
  batch_builder builder;
  std::size_t i = 0;
  while (i < lines.size()) {
    builder.reset(first + i);
    const std::size_t n = std::min<std::size_t>(lines.size() - i, 1 + rng() % max_batch);
    for (std::size_t k = 0; k < n; ++k) ASSERT_TRUE(builder.append(lines[i + k]));
    ASSERT_FALSE(log.append(epoch, builder.seal()));
    i += n;
  }
}

class HistoryServiceFollowing : public ::testing::Test {
 protected:
  static constexpr sequence_number events = 1500;

  void SetUp() override {
    log_options options;
    options.dir = dir_.path();
    options.create_if_missing = true;
    options.segment_bytes = 2000;
    log_.emplace(log_directory::open(options));
    std::mt19937_64 rng(42);
    for (stream_epoch epoch : {1u, 2u}) {
      std::vector<std::string> lines;
      graph g;
      history_[epoch].push_back(g);  // after 0
      for (sequence_number s = 1; s <= events; ++s) {
        // 300..309 given up by the gap timeout: a skip batch, nothing changes.
        lines.push_back(s >= 300 && s < 310 ? std::string() : random_line(s, rng));
        if (!lines.back().empty()) {
          if (const auto ev = apply_line(g, lines.back())) changes_[epoch].push_back({s, ev->from, ev->to});
        }
        history_[epoch].push_back(g);
      }
      // Events 1..299, the skip, the rest.
      append_lines(*log_, epoch, {lines.begin(), lines.begin() + 299}, 1, rng);
      ASSERT_FALSE(log_->append(epoch, testing::skip_batch(300, 10)));
      append_lines(*log_, epoch, {lines.begin() + 309, lines.end()}, 310, rng);
      if (epoch == 2) {
        write_snapshot(dir_.path(), history_[2][400], 2, 400);
        write_snapshot(dir_.path(), history_[2][1000], 2, 1000);
      }
    }
    ASSERT_GE(log_->segments().size(), 10u);
  }

  void start() {
    service_.emplace(dir_.path(), gate_.fn(), loop_.post());
  }

  std::vector<user_id> expected(stream_epoch epoch, user_id user, sequence_number after) {
    return list_of(history_[epoch][after], user);
  }

  // Whether a snapshot at `base`, whose records may show any number up to `settled`, leaves
  // `user`'s follows after `after` uncertain: an id it changed in (after, settled] and not in
  // (base, after].
  bool uncertain(stream_epoch epoch, user_id user, sequence_number base, sequence_number after,
                 sequence_number settled) {
    for (const change& later : changes_[epoch]) {
      if (later.from != user || later.seq <= after || later.seq > settled) continue;
      const bool replayed = std::any_of(changes_[epoch].begin(), changes_[epoch].end(), [&](const change& c) {
        return c.from == user && c.to == later.to && c.seq > base && c.seq <= after;
      });
      if (!replayed) return true;
    }
    return false;
  }

  struct change {
    sequence_number seq;
    user_id from;
    user_id to;
  };

  temp_dir dir_;
  std::optional<log_directory> log_;
  std::map<stream_epoch, std::vector<graph>> history_;  // the graph after each number
  std::map<stream_epoch, std::vector<change>> changes_;  // every follow and unfollow
  segment_gate gate_{*log_};
  event_loop loop_;
  std::optional<history_service> service_;
};

TEST_F(HistoryServiceFollowing, ReplaysFromTheEpochsStart) {
  start();
  client c(*service_, loop_);
  for (const sequence_number after : {0u, 1u, 2u, 150u, 299u, 300u, 305u, 309u, 310u, 777u, 1499u, 1500u}) {
    for (user_id user = 1; user <= 12; ++user) {
      const auto got = c.following(user, 1, after);
      ASSERT_TRUE(got.has_value()) << user << " after " << after;
      EXPECT_EQ(*got, expected(1, user, after)) << user << " after " << after;
    }
  }
  // A user the log never mentions follows nobody.
  EXPECT_EQ(c.following(999, 1, 700), std::vector<user_id>{});
}

TEST_F(HistoryServiceFollowing, FromASnapshot) {
  start();
  client c(*service_, loop_);
  for (const sequence_number after : {5u, 399u, 400u, 401u, 700u, 999u, 1000u, 1001u, 1300u, 1500u}) {
    for (user_id user = 1; user <= 12; ++user) {
      const auto got = c.following(user, 2, after);
      ASSERT_TRUE(got.has_value()) << user << " after " << after;
      EXPECT_EQ(*got, expected(2, user, after)) << user << " after " << after;
    }
  }
}

TEST_F(HistoryServiceFollowing, ASnapshotIsTheBaseOnceTheStartIsGone) {
  // The first segments of both epochs... retention deletes oldest first: all of epoch 1 and
  // the first segment of epoch 2. The snapshots at 400 and 1000 remain the bases.
  std::size_t epoch_one = 0;
  while (log_->segments()[epoch_one].epoch == 1) ++epoch_one;
  ASSERT_FALSE(log_->remove_oldest(epoch_one + 1));
  ASSERT_GT(log_->segments()[0].first_seq, 1u);
  ASSERT_LE(log_->segments()[0].first_seq, 401u);
  start();
  client c(*service_, loop_);
  // The snapshots are exact: from 400 on, every answer comes from the one at 400 or at 1000.
  for (const sequence_number after : {400u, 401u, 650u, 999u, 1000u, 1200u, 1500u}) {
    for (user_id user = 1; user <= 12; ++user) {
      const auto got = c.following(user, 2, after);
      ASSERT_TRUE(got.has_value()) << user << " after " << after;
      EXPECT_EQ(*got, expected(2, user, after)) << user << " after " << after;
    }
  }
  // Made fuzzy (version 1, as older daemons wrote them), the one at 400 leaves a doubt for a
  // number in its window (up to 1000); with the start gone there is no older base, so a doubt
  // is nullopt, never a guess.
  testing::make_fuzzy_snapshot(dir_.file(snapshot_file_name(2, 400)));
  std::size_t unknown = 0;
  for (const sequence_number after : {400u, 401u, 650u, 999u}) {
    for (user_id user = 1; user <= 12; ++user) {
      const auto got = c.following(user, 2, after);
      if (uncertain(2, user, 400, after, 1000)) {
        EXPECT_FALSE(got.has_value()) << user << " after " << after;
        ++unknown;
        continue;
      }
      ASSERT_TRUE(got.has_value()) << user << " after " << after;
      EXPECT_EQ(*got, expected(2, user, after)) << user << " after " << after;
    }
  }
  EXPECT_GT(unknown, 0u);
  // Before the oldest snapshot, with the start gone: history cannot tell.
  EXPECT_FALSE(c.following(1, 2, 399).has_value());
  // Epoch 1: no snapshot and its start is gone.
  EXPECT_FALSE(c.following(1, 1, 1400).has_value());
}

TEST_F(HistoryServiceFollowing, DeletedStartWithoutASnapshotIsUnknown) {
  ASSERT_FALSE(log_->remove_oldest(1));
  start();
  client c(*service_, loop_);
  EXPECT_FALSE(c.following(3, 1, 1000).has_value());
  EXPECT_FALSE(c.following(3, 1, 0).has_value());
  // Epoch 2 is whole.
  EXPECT_EQ(c.following(3, 2, 1000), expected(2, 3, 1000));
  // Past the log's end, and an epoch without a log.
  EXPECT_FALSE(c.following(3, 2, events + 1).has_value());
  EXPECT_FALSE(c.following(3, 5, 10).has_value());
}

TEST_F(HistoryServiceFollowing, RequestsQueuedTogetherShareOnePass) {
  start();
  struct asked {
    user_id user;
    stream_epoch epoch;
    sequence_number after;
    std::optional<std::optional<std::vector<user_id>>> got;
  };
  // Holds the thread inside a read, queues the requests, lets it go; returns the passes made.
  const auto ask_at_once = [this](std::vector<asked>& requests) {
    gate_.close();
    bool read_done = false;
    service_->read({1, 1, 1, 10, 1 << 20}, [&](history_chunk) { read_done = true; });
    EXPECT_TRUE(gate_.wait_for_caller());
    for (auto& request : requests) {
      service_->following_at(request.user, request.epoch, request.after,
                             [&request](std::optional<std::vector<user_id>> answer) { request.got = std::move(answer); });
    }
    const std::uint64_t passes_before = service_->following_passes();
    gate_.open();
    EXPECT_TRUE(loop_.run_until([&] {
      return read_done && std::all_of(requests.begin(), requests.end(), [](const asked& a) { return a.got.has_value(); });
    }));
    for (const auto& request : requests) {
      if (!request.got) continue;
      EXPECT_TRUE(request.got->has_value()) << request.user << " after " << request.after;
      if (!request.got->has_value()) continue;
      EXPECT_EQ(**request.got, expected(request.epoch, request.user, request.after))
          << request.user << " of epoch " << request.epoch << " after " << request.after;
    }
    return service_->following_passes() - passes_before;
  };

  // A hundred resumes in epoch 1 (no snapshot: from its start, exact): one pass.
  std::mt19937_64 rng(7);
  std::vector<asked> requests;
  for (int i = 0; i < 100; ++i) requests.push_back({1 + rng() % 12, 1, rng() % (events + 1), std::nullopt});
  EXPECT_EQ(ask_at_once(requests), 1u);

  // Both epochs at once: a pass each; epoch 2's from the snapshot at 1000, the newest, and a
  // second one from the snapshot at 400 for the requests its window leaves uncertain.
  requests.clear();
  for (int i = 0; i < 50; ++i) requests.push_back({1 + rng() % 12, 1, rng() % (events + 1), std::nullopt});
  for (int i = 0; i < 50; ++i) requests.push_back({1 + rng() % 12, 2, 1000 + rng() % 500, std::nullopt});
  const std::uint64_t passes = ask_at_once(requests);
  EXPECT_GE(passes, 2u);
  EXPECT_LE(passes, 3u);
}

// A user's list split over several snapshot records, and a snapshot that is the base (it says
// more than the log: the test can tell it was read).
TEST(HistoryServiceSnapshot, ListSplitOverRecords) {
  temp_dir dir;
  log_options options;
  options.dir = dir.path();
  options.create_if_missing = true;
  auto log = log_directory::open(options);
  std::vector<std::string> lines;
  for (sequence_number s = 1; s <= 10; ++s) lines.push_back(std::to_string(s) + "|S|7\r\n");
  lines[6] = "7|U|7|3\r\n";
  lines[7] = "8|F|7|1000\r\n";
  lines[8] = "9|F|8|1\r\n";
  std::mt19937_64 rng(1);
  append_lines(log, 1, lines, 1, rng);
  graph g;
  for (user_id f = 1; f <= 500; ++f) g[7].insert(f);
  g[8] = {2, 3};
  g[6] = {9};
  write_snapshot(dir.path(), g, 1, 5, 64);  // 64-byte chunks: about 6 ids a record

  event_loop loop;
  history_service service(dir.path(), [&log] { return testing::view_of(log); }, loop.post());
  client c(service, loop);
  std::vector<user_id> want;
  for (user_id f = 1; f <= 500; ++f) {
    if (f != 3) want.push_back(f);
  }
  want.push_back(1000);
  EXPECT_EQ(c.following(7, 1, 10), want);
  EXPECT_EQ(c.following(8, 1, 10), (std::vector<user_id>{1, 2, 3}));
  EXPECT_EQ(c.following(6, 1, 10), (std::vector<user_id>{9}));
  // At the snapshot's own number, for a user the log does not change after it.
  EXPECT_EQ(c.following(6, 1, 5), (std::vector<user_id>{9}));
  // Before the snapshot: from the epoch's start (the log holds 1), where 7 follows nobody.
  EXPECT_EQ(c.following(7, 1, 4), std::vector<user_id>{});
}

// Version-1 snapshots were fuzzy: encoded over several turns while events were applied, a
// record may already show a change made after the snapshot's number. An answer for a number
// in that window must not take it from such a record.
TEST(HistoryServiceSnapshot, FuzzySnapshotWindow) {
  temp_dir dir;
  log_options options;
  options.dir = dir.path();
  options.create_if_missing = true;
  options.segment_bytes = 64;  // two one-line batches a segment
  auto log = log_directory::open(options);
  std::vector<std::string> lines;
  for (sequence_number s = 1; s <= 30; ++s) lines.push_back(std::to_string(s) + "|B\r\n");
  lines[0] = "1|F|5|6\r\n";
  lines[9] = "10|F|5|7\r\n";
  lines[19] = "20|U|5|6\r\n";
  std::mt19937_64 rng(3);
  append_lines(log, 1, lines, 1, rng, 1);
  ASSERT_GE(log.segments().size(), 2u);
  ASSERT_LE(log.segments()[1].first_seq, 6u);
  // Snapshot "at 5", but 5's record encoded once 25 was applied: {7}. Version 1, as the
  // daemon wrote them before its snapshots were exact.
  write_snapshot(dir.path(), graph{{5, {7}}}, 1, 5);
  testing::make_fuzzy_snapshot(dir.file(snapshot_file_name(1, 5)));

  event_loop loop;
  history_service service(dir.path(), [&log] { return testing::view_of(log); }, loop.post());
  client c(service, loop);
  // After 15: 5 followed 6 and 7. The record cannot tell about 6 (changed at 20, not between 5
  // and 15): the answer comes from the epoch's start instead.
  EXPECT_EQ(c.following(5, 1, 15), (std::vector<user_id>{6, 7}));
  EXPECT_EQ(service.following_passes(), 2u);
  // After 25 every change of the window is replayed: the snapshot is enough.
  EXPECT_EQ(c.following(5, 1, 25), (std::vector<user_id>{7}));
  EXPECT_EQ(service.following_passes(), 3u);
  // Without the epoch's start there is no older base: unknown, never a wrong answer.
  ASSERT_FALSE(log.remove_oldest(1));
  EXPECT_FALSE(c.following(5, 1, 15).has_value());
  EXPECT_EQ(c.following(5, 1, 25), (std::vector<user_id>{7}));
}

}  // namespace
}  // namespace eventserver::storage
