// Start-up recovery (storage::recover_log) on damaged directories: which snapshot it may use,
// what it sets aside, and when it must refuse. Each recovered graph is compared with a model
// replayed from the events written.
#include "eventserver/storage/recovery.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "eventserver/core/event.hpp"
#include "eventserver/storage/file_names.hpp"
#include "eventserver/storage/snapshot_encoder.hpp"
#include "eventserver/storage/snapshot_file.hpp"
#include "eventserver/storage/storage_error.hpp"
#include "storage/storage_test_support.hpp"

namespace eventserver::storage {
namespace {

using testing::events_batch;
using testing::temp_dir;
using model = std::map<user_id, std::set<user_id>>;

// The graph after `last` of the events testing::event_line writes (follows only).
model graph_after(sequence_number last) {
  model g;
  for (sequence_number seq = 1; seq <= last; ++seq) {
    const parse_result parsed = parse_event(testing::event_line(seq).substr(0, testing::event_line(seq).size() - 2));
    if (parsed.status == parse_status::ok && parsed.ev.type == event_type::follow) g[parsed.ev.from].insert(parsed.ev.to);
  }
  return g;
}

model graph_of(const follower_graph& graph) {
  model g;
  graph.for_each([&g](user_id user, std::span<const user_id> followed) { g[user].insert(followed.begin(), followed.end()); });
  return g;
}

void write_snapshot(const std::string& dir, stream_epoch epoch, sequence_number seq) {
  snapshot_encoder encoder(epoch, seq);
  for (const auto& [user, followed] : graph_after(seq)) {
    const std::vector<user_id> list(followed.begin(), followed.end());
    encoder.add(user, list);
  }
  encoder.finish();
  snapshot_file_writer writer;
  ASSERT_FALSE(writer.open(dir, epoch, seq));
  ASSERT_FALSE(writer.finish(encoder.take_output()));
}

log_options options_for(const temp_dir& dir) {
  log_options options;
  options.dir = dir.path();
  options.segment_bytes = 4096;
  return options;
}

// 40 batches of 10 events (1..400) in segments of about 4 KiB; the offset each batch starts at
// in its segment, by first number.
std::map<sequence_number, std::pair<std::string, std::uint64_t>> write_log(const temp_dir& dir) {
  std::map<sequence_number, std::pair<std::string, std::uint64_t>> where;
  log_directory log = log_directory::open(options_for(dir));
  for (sequence_number first = 1; first <= 400; first += 10) {
    const auto batch = events_batch(first, 10);
    EXPECT_FALSE(log.append(1, batch));
    where[first] = {log.segments().back().name, log.segments().back().bytes - batch.size()};
  }
  return where;
}

std::string recover_error(const log_options& options) {
  try {
    recover_log(options);
  } catch (const storage_error& e) {
    return e.what();
  }
  return "(recovered)";
}

// The case: a torn tail far below the newest snapshot (a machine crash under logFsync
// interval: the snapshot was synced, the log tail was not). The graph must be the graph at the
// log's end, never the snapshot's future.
TEST(Recovery, UsesOnlyASnapshotTheLogReachesAndSetsTheRestAside) {
  temp_dir dir;
  const auto where = write_log(dir);
  write_snapshot(dir.path(), 1, 100);
  write_snapshot(dir.path(), 1, 200);
  write_snapshot(dir.path(), 1, 390);
  // Cut inside the batch holding 151..160: the log ends at 150.
  const auto& [segment, offset] = where.at(151);
  std::filesystem::resize_file(dir.file(segment), offset + 30);
  // And the later segments go, as a crash before their directory entries were synced leaves it.
  for (const auto& [first, place] : where) {
    if (place.first > segment) std::filesystem::remove(dir.file(place.first));
  }

  const recovered_log recovered = recover_log(options_for(dir));
  EXPECT_EQ(recovered.last_seq, 150u);
  ASSERT_TRUE(recovered.snapshot.has_value());
  EXPECT_EQ(recovered.snapshot->seq, 100u);
  EXPECT_EQ(recovered.replayed, 50u);
  EXPECT_EQ(graph_of(recovered.graph), graph_after(150));
  std::vector<std::string> aside;
  for (const auto& note : recovered.directory.notes()) {
    if (note.action == recovery_action::set_aside_snapshot) aside.push_back(note.file);
  }
  EXPECT_EQ(aside, (std::vector<std::string>{snapshot_file_name(1, 390), snapshot_file_name(1, 200)}));
  EXPECT_TRUE(std::filesystem::exists(dir.file(snapshot_file_name(1, 390) + ".damaged")));
  EXPECT_TRUE(std::filesystem::exists(dir.file(snapshot_file_name(1, 200) + ".damaged")));
}

TEST(Recovery, WithEverySnapshotPastTheEndItReplaysFromTheStart) {
  temp_dir dir;
  const auto where = write_log(dir);
  write_snapshot(dir.path(), 1, 300);
  const auto& [segment, offset] = where.at(41);
  std::filesystem::resize_file(dir.file(segment), offset + 5);
  for (const auto& [first, place] : where) {
    if (place.first > segment) std::filesystem::remove(dir.file(place.first));
  }
  const recovered_log recovered = recover_log(options_for(dir));
  EXPECT_EQ(recovered.last_seq, 40u);
  EXPECT_FALSE(recovered.snapshot.has_value());
  EXPECT_EQ(graph_of(recovered.graph), graph_after(40));
}

TEST(Recovery, DamageBeforeTheNewestSnapshotIsKeptAndRecoveryGoesOn) {
  temp_dir dir;
  const auto where = write_log(dir);
  write_snapshot(dir.path(), 1, 300);
  const auto& [segment, offset] = where.at(101);
  testing::flip_bit(dir.file(segment), offset + 30);
  const recovered_log recovered = recover_log(options_for(dir));
  EXPECT_EQ(recovered.last_seq, 400u);
  ASSERT_TRUE(recovered.snapshot.has_value());
  EXPECT_EQ(recovered.snapshot->seq, 300u);
  EXPECT_EQ(graph_of(recovered.graph), graph_after(400));
  ASSERT_EQ(recovered.directory.damage().size(), 1u);
  EXPECT_EQ(recovered.directory.damage()[0].first_lost, 101u);
  EXPECT_EQ(recovered.directory.damage()[0].last_lost, 110u);
  EXPECT_EQ(recovered.directory.damage()[0].file, segment);
}

// The graph after the newest snapshot cannot be rebuilt across damage: refuse, naming the file
// and the offset, and the way out.
TEST(Recovery, DamageAfterTheNewestSnapshotStopsStartUp) {
  temp_dir dir;
  const auto where = write_log(dir);
  write_snapshot(dir.path(), 1, 100);
  const auto& [segment, offset] = where.at(201);
  testing::flip_bit(dir.file(segment), offset + 30);
  const std::string error = recover_error(options_for(dir));
  EXPECT_NE(error.find("damage in " + dir.file(segment) + " at byte " + std::to_string(offset)), std::string::npos)
      << error;
  EXPECT_NE(error.find("run: eventserver log repair -data-dir " + dir.path().string()), std::string::npos) << error;

  // Repair cuts the log there, and the snapshots past the cut go aside with the segments: the
  // next start-up recovers the graph at the cut.
  write_snapshot(dir.path(), 1, 350);
  auto options = options_for(dir);
  options.repair = true;
  { log_directory::open(options); }
  EXPECT_TRUE(std::filesystem::exists(dir.file(snapshot_file_name(1, 350) + ".damaged")));
  const recovered_log recovered = recover_log(options_for(dir));
  EXPECT_EQ(recovered.last_seq, 200u);
  ASSERT_TRUE(recovered.snapshot.has_value());
  EXPECT_EQ(recovered.snapshot->seq, 100u);
  EXPECT_EQ(graph_of(recovered.graph), graph_after(200));
}

// A damaged length makes a batch look as if it ran past the end of its file, like one being
// written: a replay that stopped there would call the log's end reached with the graph short
// of everything after it.
TEST(Recovery, ADamagedLengthAfterTheNewestSnapshotStopsStartUp) {
  temp_dir dir;
  const auto where = write_log(dir);
  write_snapshot(dir.path(), 1, 100);
  const auto& [segment, offset] = where.at(201);
  testing::flip_bit(dir.file(segment), offset + 2, 6);  // body_length's third byte: far past the end
  const std::string error = recover_error(options_for(dir));
  EXPECT_NE(error.find("damage in " + dir.file(segment) + " at byte " + std::to_string(offset)), std::string::npos)
      << error;
}

}  // namespace
}  // namespace eventserver::storage
