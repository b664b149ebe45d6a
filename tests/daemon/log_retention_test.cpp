// Retention over sockets (issue 19, item 1): the built daemon with the smallest segments and a
// few MiB of retention, fed a seeded random stream (follows, unfollows, broadcasts, private
// messages, status updates) until retention has deleted many segments; then resumes from
// before the kept history (`incomplete`, and everything from R on), at R - 1 exactly and inside
// it (`complete`, exact), across a SIGTERM restart and a kill -9. R is computed from the files
// on disk by the design's rule (the first number after the oldest snapshot the log still
// reaches, or 1 while the log still holds number 1); every line a client gets is compared with
// the model (support/stream_model.hpp). LOG_RETENTION_SEED fixes the stream.
#include <cstdlib>
#include <filesystem>
#include <random>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/log_daemon.hpp"
#include "support/log_files.hpp"
#include "support/stream_model.hpp"
#include "support/temp_directory.hpp"

namespace eventserver {
namespace {

namespace fs = std::filesystem;
namespace files = test_support::log_files;
using namespace test_support;

constexpr std::uint64_t segment_bytes = 1 << 20;
constexpr std::uint64_t retention_bytes = 3 << 20;
constexpr std::uint64_t users = 40;

// The kept history of epoch 1 by the files on disk.
struct kept_history {
  std::uint64_t first = 0;      // the oldest number the log holds
  std::uint64_t last = 0;       // the newest
  std::uint64_t resumable = 0;  // R
};

// R from a listing, checking what holds at every moment: the segments are contiguous, and
// retention never deleted past the newest snapshot's next number. With `settled` (nothing
// written since the last snapshot and retention ran), also: snapshots the log no longer reaches
// are pruned.
kept_history kept(const files::listing& listing, bool settled) {
  kept_history out;
  const auto segments = listing.segments_of(1);
  if (segments.empty()) {
    ADD_FAILURE() << "no segments";
    return out;
  }
  out.first = segments.front()->first_seq;
  out.last = segments.back()->last_seq();
  for (std::size_t i = 1; i < segments.size(); ++i) {
    EXPECT_EQ(segments[i]->first_seq, segments[i - 1]->last_seq() + 1) << segments[i]->path << " does not continue";
  }
  const auto snapshots = listing.snapshot_seqs(1);
  if (!snapshots.empty()) {
    EXPECT_LE(out.first, snapshots.back() + 1) << "retention deleted past the newest snapshot " << snapshots.back();
  }
  if (out.first == 1) {
    out.resumable = 1;
  } else {
    for (const auto s : snapshots) {
      if (s + 1 >= out.first) {
        out.resumable = s + 1;
        break;
      }
    }
    EXPECT_NE(out.resumable, 0u) << "the log starts at " << out.first << " and no snapshot reaches it";
    // Snapshots are kept while the log reaches them: one comes every ~4,000 events (a batch's
    // worth later at most), so R lies that close to the kept log's start, not a segment on.
    EXPECT_LE(out.resumable - out.first, 10'000u) << "a snapshot the log still reaches was pruned";
  }
  if (settled) {
    for (const auto s : snapshots) {
      EXPECT_GE(s + 1, out.first) << "snapshot " << s << " lies before the kept log (" << out.first
                                  << "): pruned once its next number was deleted";
    }
  }
  return out;
}

class LogRetention : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = work_ / "data";
    fs::create_directories(data_);
    const char* fixed = std::getenv("LOG_RETENTION_SEED");
    seed_ = fixed != nullptr && *fixed != '\0' ? std::strtoull(fixed, nullptr, 10) : std::random_device{}();
    random_.seed(seed_);
    model_ = std::make_unique<stream_model>(seed_, 600'000, users, 30);
  }
  void TearDown() override {
    if (HasFailure()) {
      std::cerr << "LOG_RETENTION_SEED=" << seed_ << " repeats this run; files kept in " << work_.path() << "\n";
      work_.keep();
    }
  }

  std::string config(const std::string& more = "") const {
    return "\"dataDir\": \"" + data_.string() + "\", \"logSegmentBytes\": " + std::to_string(segment_bytes) +
           ", \"logRetentionBytes\": " + std::to_string(retention_bytes) +
           ", \"snapshotEveryEvents\": 4000, \"logFsync\": \"interval\"" + (more.empty() ? "" : ", " + more);
  }
  std::unique_ptr<log_daemon> start(const std::string& more = "") {
    auto d = std::make_unique<log_daemon>(work_.path(), config(more), ++runs_);
    if (!d->started()) ADD_FAILURE() << d->output();
    return d;
  }
  std::uint64_t pick(std::uint64_t low, std::uint64_t high) {
    return std::uniform_int_distribution<std::uint64_t>(low, high)(random_);
  }

  // The producer sends head + 1 .. to and waits until the daemon holds them.
  void feed(producer& source, std::uint64_t to) {
    source.conn.send_lines(model_->payloads(head_ + 1, to));
    ASSERT_EQ(await_durable_line(source.conn, to), "durable|1|" + std::to_string(to));
    head_ = to;
  }

  // Resumes of a few users before R, at R - 1, at R, inside and at the head, each checked with
  // the model line by line, then a few live events each must get too. While the daemon may
  // still be finishing a snapshot (and retention after it), R is read before and after the
  // resumes and either answer is taken, the lines being checked against the one given.
  void check_resumes(log_daemon& daemon, producer& source, bool settled) {
    const kept_history before = kept(files::list(data_), settled);
    const std::uint64_t r = before.resumable;
    ASSERT_NE(r, 0u);
    ASSERT_EQ(before.last, head_);
    std::vector<resumed_client> clients;
    for (int i = 0; i < 3; ++i) {
      const std::uint64_t user = pick(1, users);
      std::set<std::uint64_t> positions{0, r - 1, r, pick(r, head_), head_};
      if (r > 2) positions.insert(pick(1, r - 2));
      for (const auto last : positions) clients.push_back(resume(daemon.client_port(), user, last));
    }
    const kept_history after = settled ? before : kept(files::list(data_), false);
    std::vector<std::uint64_t> from;  // 0: a wrong answer, reported already
    for (auto& c : clients) {
      const auto first = expected_resume(c.last, r, head_);
      const auto second = expected_resume(c.last, after.resumable, head_);
      from.push_back(c.status == first.status ? first.from : c.status == second.status ? second.from : 0);
      EXPECT_NE(from.back(), 0u) << "user " << c.user << " resuming after " << c.last << " got '" << c.status
                                 << "', want '" << first.status << "'; kept history " << before.first << ".."
                                 << before.last << ", R " << r;
    }
    for (std::size_t i = 0; i < clients.size(); ++i) {
      auto& c = clients[i];
      if (from[i] == 0) continue;
      EXPECT_TRUE(receives(c.conn, model_->notifications(c.user, from[i], head_)))
          << "user " << c.user << " resuming after " << c.last << " (" << c.status << ")";
    }
    // Then the live stream, exactly once.
    const std::uint64_t live_from = head_ + 1;
    feed(source, head_ + 300);
    for (std::size_t i = 0; i < clients.size(); ++i) {
      auto& c = clients[i];
      if (from[i] == 0) continue;
      EXPECT_TRUE(receives(c.conn, model_->notifications(c.user, live_from, head_)))
          << "user " << c.user << ", live after its resume";
    }
    ++resume_rounds_;
  }

  test_support::temp_directory work_{"eventserver-retention"};
  fs::path data_;
  std::uint64_t seed_ = 0;
  std::mt19937_64 random_;
  std::unique_ptr<stream_model> model_;
  std::uint64_t head_ = 0;
  int runs_ = 0;
  int resume_rounds_ = 0;
};

TEST_F(LogRetention, ResumesBeforeAtAndInsideTheKeptHistoryAcrossRestarts) {
  {
    auto daemon = start();
    ASSERT_TRUE(daemon->started());
    auto source = connect_producer(daemon->event_port());
    ASSERT_EQ(source.told, "durable|1|0");
    feed(source, 250'000);  // ~9 MiB of log: retention deletes most of it
    ASSERT_NO_FATAL_FAILURE(check_resumes(*daemon, source, false));
    const kept_history now = kept(files::list(data_), false);
    EXPECT_GT(now.first, 1u) << "retention deleted nothing: the test proves nothing";
    EXPECT_GE(daemon->metric("eventserver_log_segments_deleted_total"), 4);
    EXPECT_EQ(daemon->stop(), std::optional<int>(0)) << daemon->output();
  }
  {  // SIGTERM, restart: the same rules, from the files only.
    auto daemon = start();
    ASSERT_TRUE(daemon->started());
    auto source = connect_producer(daemon->event_port());
    ASSERT_EQ(source.told, "durable|1|" + std::to_string(head_));
    ASSERT_NO_FATAL_FAILURE(check_resumes(*daemon, source, true));
    const std::uint64_t first_before = kept(files::list(data_), false).first;
    feed(source, head_ + 150'000);
    EXPECT_GT(kept(files::list(data_), false).first, first_before) << "retention went on after the restart";
    daemon->kill();
  }
  {  // kill -9, restart: the log still holds all it said was durable.
    auto daemon = start();
    ASSERT_TRUE(daemon->started());
    auto source = connect_producer(daemon->event_port());
    ASSERT_EQ(source.told, "durable|1|" + std::to_string(head_));
    // Not settled: the kill may have come between retention's deletions and its pruning.
    ASSERT_NO_FATAL_FAILURE(check_resumes(*daemon, source, false));
    feed(source, head_ + 100'000);
    ASSERT_NO_FATAL_FAILURE(check_resumes(*daemon, source, false));
    EXPECT_EQ(daemon->stop(), std::optional<int>(0)) << daemon->output();
  }
  EXPECT_EQ(resume_rounds_, 4);
}

// A client catching up whose next segment retention deletes under it is cut off
// (out_of_history) after what it was sent, a prefix of what it is owed; it resumes after its
// last line and is told `incomplete`, then gets everything from R on.
TEST_F(LogRetention, ACatchUpWhoseSegmentIsDeletedIsCutOffAndMayResume) {
  // A small queue and no write timeout: a client that stops reading falls back to history at
  // once and holds its place there (the log's history: no spill file).
  auto daemon = start("\"maxClientQueueBytes\": 4096, \"clientWriteTimeoutMs\": 0, \"clientSpillBytes\": 0");
  ASSERT_TRUE(daemon->started());
  // The kernel takes up to 4 MiB for a socket nobody reads (tcp_wmem) before the daemon sees
  // it fall behind: few users and long lines, so that this one is owed a lot, soon.
  model_ = std::make_unique<stream_model>(seed_, 400'000, 4, 200);
  const std::uint64_t user = pick(1, 4);
  auto stuck = connection::open(daemon->client_port(), 4096);
  stuck.send(std::to_string(user) + "\r\n");
  ASSERT_TRUE(wait_for([&] { return daemon->metric("eventserver_clients_registered_total") == 1; }));
  const std::uint64_t owed_from = 1;
  auto source = connect_producer(daemon->event_port());

  std::set<std::uint64_t> boundaries;  // every segment start seen
  const auto note_boundaries = [&](const files::listing& l) {
    for (const auto* s : l.segments_of(1)) boundaries.insert(s->first_seq);
  };
  note_boundaries(files::list(data_));
  std::uint64_t next = 0;
  bool gone = false;
  for (int chunk = 0; chunk < 7 && !gone; ++chunk) {
    feed(source, head_ + 50'000);
    // Where its cursor stands (the next number it will read), from /connz, once it reads
    // from history: it moves no more once the socket and the queue are full.
    const auto connz = nlohmann::json::parse(http_request(daemon->admin_port(), "GET /connz HTTP/1.1").body);
    for (const auto& c : connz["connections"]) {
      if (c["user"] == user && c["mode"] == "catch-up") {
        next = connz["processed_head"].get<std::uint64_t>() - c["behind"].get<std::uint64_t>() + 1;
      }
    }
    if (next == 0) continue;  // the kernel's buffers took all so far
    const auto listing = files::list(data_);
    note_boundaries(listing);
    const std::uint64_t first = kept(listing, false).first;
    // The segment after the one holding `next` is deleted too (an open file stays readable).
    gone = std::any_of(boundaries.begin(), boundaries.end(), [&](std::uint64_t b) { return b > next && b < first; });
  }
  ASSERT_TRUE(gone) << "could not get retention past the stuck client's cursor at " << next
                    << " (0: it never fell back to history)";

  // It reads what it was sent, then is cut off.
  lines got;
  for (;;) {
    auto more = stuck.read_lines(1000, 2 * wait_bound);
    got.insert(got.end(), more.begin(), more.end());
    if (more.size() < 1000) break;
  }
  EXPECT_NE(stuck.status(), read_status::timeout) << "not cut off; got " << got.size() << " lines";
  auto owed = model_->notifications(user, owed_from, head_);
  ASSERT_LE(got.size(), owed.size());
  EXPECT_TRUE(same_lines(got, lines(owed.begin(), owed.begin() + static_cast<std::ptrdiff_t>(got.size()))));
  EXPECT_TRUE(wait_for([&] {
    return daemon->metric("eventserver_client_disconnects_total{reason=\"out_of_history\"}") == 1;
  }));

  const std::uint64_t last = got.empty() ? owed_from - 1 : std::stoull(got.back());
  const kept_history now = kept(files::list(data_), false);
  ASSERT_LT(last + 1, now.first) << "its next number should be gone";
  auto again = resume(daemon->client_port(), user, last);
  const kept_history later = kept(files::list(data_), false);
  std::uint64_t from = now.resumable;
  if (again.status == expected_resume(last, later.resumable, head_).status) from = later.resumable;
  EXPECT_EQ(again.status, expected_resume(last, from, head_).status);
  EXPECT_TRUE(receives(again.conn, model_->notifications(user, from, head_)));
  EXPECT_EQ(daemon->stop(), std::optional<int>(0)) << daemon->output();
}

}  // namespace
}  // namespace eventserver
