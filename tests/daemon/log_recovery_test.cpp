// Recovery after damage, over sockets, with a model of the notifications (issue 19, items 2 to
// 4, and the data directory): the built daemon, killed (SIGKILL) or stopped, its files cut or
// flipped as a machine crash or a bad disk would leave them, restarted; the producer resends
// from the durable position it is told and every client's lines are compared with the model.
#include <sys/stat.h>

#include <filesystem>
#include <regex>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/log_daemon.hpp"
#include "support/log_files.hpp"
#include "support/stream_model.hpp"

namespace eventserver {
namespace {

namespace fs = std::filesystem;
namespace files = test_support::log_files;
using namespace test_support;
using ::testing::HasSubstr;

class LogRecovery : public process_fixture {
 protected:
  void SetUp() override {
    process_fixture::SetUp();
    data_ = dir_ / "data";
    fs::create_directories(data_);
  }
  std::string config(const std::string& more) const {
    return "\"dataDir\": \"" + data_.string() + "\", \"logFsync\": \"interval\", " + more;
  }
  std::unique_ptr<log_daemon> start(const std::string& more) {
    auto d = std::make_unique<log_daemon>(dir_.path(), config(more), ++runs_);
    if (!d->started()) ADD_FAILURE() << d->output();
    return d;
  }
  // Feeds the whole model, waits until the daemon holds it, then until a snapshot at or past
  // `snapshot_at` is on disk.
  void feed_all(log_daemon& daemon, const stream_model& model, std::uint64_t snapshot_at) {
    auto source = connect_producer(daemon.event_port());
    ASSERT_EQ(source.told, "durable|1|0");
    source.conn.send_lines(model.payloads(1, model.size()));
    ASSERT_EQ(await_durable_line(source.conn, model.size()), "durable|1|" + std::to_string(model.size()));
    ASSERT_TRUE(wait_for([&] {
      const auto seqs = files::list(data_).snapshot_seqs(1);
      return !seqs.empty() && seqs.back() >= snapshot_at;
    })) << daemon.output();
  }
  fs::path data_;
};

// Item 2: what a machine crash leaves under `interval` or `never`: the snapshots were synced,
// the log's tail was not. The newest segment is cut inside a batch well below the newest
// snapshot: the daemon recovers at the cut from a snapshot at or below it (or a full replay),
// tells the producer so, sets the snapshots past it aside, and routes the resend with the graph
// as it was at each number, not the graph of the future.
TEST_F(LogRecovery, ATornTailBelowTheNewestSnapshotSetsTheLaterSnapshotsAside) {
  const stream_model model(2, 40'000);
  {
    auto daemon = start("\"snapshotEveryEvents\": 5000");
    ASSERT_TRUE(daemon->started());
    ASSERT_NO_FATAL_FAILURE(feed_all(*daemon, model, 30'000));
    daemon->kill();
  }
  const files::listing before = files::list(data_);
  ASSERT_EQ(before.segments.size(), 1u);
  const files::segment& segment = before.segments.front();
  // The batch holding number 12000: well below the newest snapshots.
  const auto holding = std::find_if(segment.batches.begin(), segment.batches.end(),
                                    [](const files::batch& b) { return b.last_seq() >= 12'000; });
  ASSERT_NE(holding, segment.batches.end());
  files::cut(segment.path, holding->offset + holding->bytes / 2);
  const std::uint64_t end = holding->first_seq - 1;
  std::vector<files::snapshot> past;
  for (const auto& s : before.snapshots) {
    if (s.seq > end) past.push_back(s);
  }
  ASSERT_GE(past.size(), 2u) << "the test needs snapshots past the cut";

  auto daemon = start("\"snapshotEveryEvents\": 5000");
  ASSERT_TRUE(daemon->started());
  for (const auto& s : past) {
    EXPECT_FALSE(fs::exists(s.path)) << s.path;
    EXPECT_TRUE(fs::exists(s.path.string() + ".damaged")) << s.path << " set aside, not deleted";
    EXPECT_TRUE(daemon->says(s.path.filename().string())) << "a warning names it:\n" << daemon->output();
  }
  EXPECT_EQ(daemon->metric("eventserver_log_snapshots_set_aside_total"), static_cast<double>(past.size()));
  EXPECT_TRUE(daemon->says("recovered epoch 1 at sequence number " + std::to_string(end))) << daemon->output();
  check_resend(*daemon, model, end, 1, 7, {3, 11}, {0, 5000, end, model.size()});
}

// Item 3: a flipped byte in a middle batch, below the newest snapshot: in an older segment, or
// in the newest one (followed by valid batches, so no torn tail). The daemon starts, reports the
// damaged range (file, offset, numbers; metrics), and a resume that would cross it is
// `incomplete` and continues from R, the first number after the oldest snapshot past the
// damage; one from R - 1 or later is `complete`. Again after a restart. The byte flipped is in
// the body, or in the header's length (the batch then seems to run past the end of the file, as
// a torn one would, but valid batches follow).
enum class flipped { older_body, newest_body, newest_length };

std::string name_of(flipped f) {
  return f == flipped::older_body ? "older_body" : f == flipped::newest_body ? "newest_body" : "newest_length";
}
void PrintTo(flipped f, std::ostream* out) { *out << name_of(f); }

class DamageBelowTheNewestSnapshot : public LogRecovery, public ::testing::WithParamInterface<flipped> {};

TEST_P(DamageBelowTheNewestSnapshot, MakesCrossingResumesIncomplete) {
  const bool in_newest = GetParam() != flipped::older_body;
  const stream_model model(3, 120'000);
  const std::string settings = "\"logSegmentBytes\": 1048576, \"snapshotEveryEvents\": 10000";
  {
    auto daemon = start(settings);
    ASSERT_TRUE(daemon->started());
    ASSERT_NO_FATAL_FAILURE(feed_all(*daemon, model, 100'000));
    daemon->kill();
  }
  const files::listing before = files::list(data_);
  ASSERT_GE(before.segments.size(), 3u);
  ASSERT_FALSE(before.snapshots.empty());
  const files::segment& second = in_newest ? before.segments.back() : before.segments[1];
  ASSERT_GE(second.batches.size(), 3u);
  // Older: its middle batch. Newest: the batch halfway to the newest snapshot.
  const std::uint64_t target =
      in_newest ? second.first_seq + (before.snapshots.back().seq - second.first_seq) / 2 : 0;
  const files::batch& bad = in_newest ? *std::find_if(second.batches.begin(), second.batches.end(),
                                                      [&](const files::batch& b) { return b.last_seq() >= target; })
                                      : second.batches[second.batches.size() / 2];
  ASSERT_LT(bad.last_seq(), before.snapshots.back().seq) << "the test needs the damage below the newest snapshot";
  files::flip_byte(second.path, bad.offset + (GetParam() == flipped::newest_length ? 2 : bad.bytes / 2));
  std::uint64_t resumable = 0;
  for (const auto s : before.snapshot_seqs(1)) {
    if (s >= bad.last_seq()) {
      resumable = s + 1;
      break;
    }
  }
  ASSERT_NE(resumable, 0u) << "the test needs a snapshot past the damage";
  const std::uint64_t count = model.size();

  for (int restart = 0; restart < 2; ++restart) {
    auto daemon = start(settings);
    ASSERT_TRUE(daemon->started());
    EXPECT_TRUE(daemon->says(second.path.filename().string())) << daemon->output();
    EXPECT_TRUE(daemon->says(std::to_string(bad.offset))) << daemon->output();
    EXPECT_EQ(daemon->metric("eventserver_log_damaged_ranges"), 1);
    EXPECT_EQ(daemon->metric("eventserver_log_damaged_numbers"), static_cast<double>(bad.count));
    const std::uint64_t user = 4 + restart;
    std::vector<resumed_client> clients;
    for (const std::uint64_t last : {std::uint64_t{0}, bad.first_seq - 1, bad.first_seq, resumable - 2, resumable - 1,
                                     resumable + 1000, count}) {
      clients.push_back(resume(daemon->client_port(), user, last));
      const auto answer = expected_resume(last, resumable, count);
      EXPECT_EQ(clients.back().status, answer.status) << "resuming after " << last;
      if (clients.back().status.starts_with("(nothing")) break;  // no answer: the others would wait as long
      if (clients.back().status != answer.status) continue;
      EXPECT_TRUE(receives(clients.back().conn, model.notifications(user, answer.from, count)))
          << "resuming after " << last;
    }
    EXPECT_EQ(daemon->stop(), std::optional<int>(0)) << daemon->output();
  }
}

INSTANTIATE_TEST_SUITE_P(Segment, DamageBelowTheNewestSnapshot,
                         ::testing::Values(flipped::older_body, flipped::newest_body, flipped::newest_length),
                         [](const auto& instance) { return name_of(instance.param); });

// Damage the graph cannot be rebuilt across: after the newest snapshot (in the newest segment,
// followed by valid batches), or anywhere with no snapshot at all (in an older segment). Exit
// 2, naming the file, the offset and the way out; nothing is replayed across the hole. The byte
// flipped as above.
class DamageAfterTheNewestSnapshot : public LogRecovery, public ::testing::WithParamInterface<flipped> {};

TEST_P(DamageAfterTheNewestSnapshot, IsExit2) {
  const bool in_newest = GetParam() != flipped::older_body;
  const stream_model model(5, 120'000);
  const std::string settings =
      std::string("\"logSegmentBytes\": 1048576, \"snapshotEveryEvents\": ") + (in_newest ? "20000" : "0");
  {
    auto daemon = start(settings);
    ASSERT_TRUE(daemon->started());
    if (in_newest) {
      ASSERT_NO_FATAL_FAILURE(feed_all(*daemon, model, 80'000));
    } else {
      auto source = connect_producer(daemon->event_port());
      source.conn.send_lines(model.payloads(1, model.size()));
      ASSERT_EQ(await_durable_line(source.conn, model.size()), "durable|1|" + std::to_string(model.size()));
    }
    daemon->kill();
  }
  const files::listing before = files::list(data_);
  ASSERT_GE(before.segments.size(), 3u);
  const std::uint64_t newest_snapshot = before.snapshots.empty() ? 0 : before.snapshots.back().seq;
  const files::segment& damaged = in_newest ? before.segments.back() : before.segments[1];
  const auto bad = std::find_if(damaged.batches.begin(), damaged.batches.end(),
                                [&](const files::batch& b) { return b.first_seq > newest_snapshot; });
  ASSERT_TRUE(bad != damaged.batches.end() && bad + 1 != damaged.batches.end())
      << "the test needs a batch past the newest snapshot " << newest_snapshot << " with another after it";
  files::flip_byte(damaged.path, bad->offset + (GetParam() == flipped::newest_length ? 2 : 30));
  const auto [code, output] = run_with_config(with_ephemeral_ports(config(settings)));
  EXPECT_EQ(code, 2) << output;
  EXPECT_THAT(output, HasSubstr(damaged.path.filename().string()));
  EXPECT_THAT(output, HasSubstr(std::to_string(bad->offset)));
  EXPECT_THAT(output, HasSubstr("eventserver log repair -data-dir " + data_.string()));
}

INSTANTIATE_TEST_SUITE_P(Segment, DamageAfterTheNewestSnapshot,
                         ::testing::Values(flipped::older_body, flipped::newest_body, flipped::newest_length),
                         [](const auto& instance) { return name_of(instance.param); });

// Item 4: `eventserver log repair` on a log damaged in the middle cuts the epoch there, sets
// the later segments aside and every snapshot past the cut too (and says so); the restarted
// daemon recovers at the cut from a snapshot at or below it and routes the resend exactly.
TEST_F(LogRecovery, RepairSetsAsideTheSnapshotsPastItsCut) {
  const stream_model model(4, 120'000);
  const std::string settings = "\"logSegmentBytes\": 1048576, \"snapshotEveryEvents\": 10000";
  {
    auto daemon = start(settings);
    ASSERT_TRUE(daemon->started());
    ASSERT_NO_FATAL_FAILURE(feed_all(*daemon, model, 100'000));
    EXPECT_EQ(daemon->stop(), std::optional<int>(0));  // and a last snapshot at the end
  }
  const files::listing before = files::list(data_);
  ASSERT_GE(before.segments.size(), 3u);
  const files::segment& second = before.segments[1];
  ASSERT_GE(second.batches.size(), 3u);
  const files::batch& bad = second.batches[second.batches.size() / 2];
  files::flip_byte(second.path, bad.offset + 10);  // in the header
  const std::uint64_t cut = bad.first_seq - 1;

  const auto [code, said] = run_to_exit({"log", "repair", "-data-dir", data_.string()});
  EXPECT_EQ(code, 0) << said;
  const files::listing after = files::list(data_);
  std::size_t past = 0;
  for (const auto& s : before.snapshots) {
    if (s.seq > cut) {
      ++past;
      EXPECT_TRUE(after.is_set_aside(s.path)) << s.path << " lies past the cut at " << cut;
      EXPECT_THAT(said, HasSubstr(s.path.filename().string())) << "repair reports it";
    } else {
      EXPECT_TRUE(fs::exists(s.path)) << s.path << " lies at or before the cut at " << cut;
    }
  }
  EXPECT_GE(past, 2u);
  for (std::size_t i = 2; i < before.segments.size(); ++i) {
    EXPECT_TRUE(after.is_set_aside(before.segments[i].path)) << before.segments[i].path;
  }
  EXPECT_EQ(fs::file_size(second.path), bad.offset);

  auto daemon = start(settings);
  ASSERT_TRUE(daemon->started());
  check_resend(*daemon, model, cut, 1, 9, {2, 17}, {0, cut / 2, cut, model.size()});
}

// The shipped config's relative "data": a directory that does not exist whose parent does is
// created, mode 0750, and the daemon starts on it.
TEST_F(LogRecovery, AMissingDataDirIsCreatedWhenItsParentExists) {
  const mode_t old_mask = ::umask(022);
  auto daemon = spawn_with_config(with_ephemeral_ports("\"dataDir\": \"fresh-data\""));
  ::umask(old_mask);
  ASSERT_TRUE(wait_for_ports(*daemon)) << daemon->output();
  // The log starts once the listeners are bound ("listening" comes first): wait for it.
  ASSERT_TRUE(daemon->wait_for_output(std::regex("event log: recovered epoch"))) << daemon->output();
  const fs::path made = dir_ / "fresh-data";
  ASSERT_TRUE(fs::is_directory(made));
  struct stat info {};
  ASSERT_EQ(::stat(made.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0750u);
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait_exit(), std::optional<int>(0)) << daemon->output();
}

TEST_F(LogRecovery, ADataDirWhoseParentIsMissingIsExit2) {
  const fs::path wanted = dir_ / "no-such-parent" / "data";
  const auto [code, output] = run_with_config(with_ephemeral_ports("\"dataDir\": \"" + wanted.string() + "\""));
  EXPECT_EQ(code, 2) << output;
  EXPECT_THAT(output, HasSubstr("\"dataDir\" " + wanted.string())) << output;
  EXPECT_FALSE(fs::exists(wanted.parent_path()));
}

}  // namespace
}  // namespace eventserver
