#include "eventserver/storage/snapshot_encoder.hpp"
#include "eventserver/storage/snapshot_file.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "eventserver/storage/file_names.hpp"
#include "eventserver/storage/snapshot_format.hpp"
#include "storage/storage_test_support.hpp"

namespace eventserver::storage {
namespace {

using testing::temp_dir;
using graph = std::map<user_id, std::set<user_id>>;

graph random_graph(std::uint64_t seed, int users, int max_follows) {
  std::mt19937_64 rng(seed);
  graph g;
  for (int i = 0; i < users; ++i) {
    const user_id user = 1 + rng() % 100000;
    const int follows = static_cast<int>(rng() % static_cast<std::uint64_t>(max_follows + 1));
    for (int f = 0; f < follows; ++f) g[user].insert(1 + rng() % 100000);
  }
  return g;
}

// Encodes `g` a few users per "turn", writing output as it comes, as the daemon would.
std::string write_snapshot(const std::string& dir, const graph& g, stream_epoch epoch, sequence_number seq,
                           std::size_t chunk_bytes = snapshot_encoder::default_chunk_bytes) {
  snapshot_encoder encoder(epoch, seq, chunk_bytes);
  snapshot_file_writer writer;
  EXPECT_FALSE(writer.open(dir, epoch, seq));
  int turn = 0;
  for (const auto& [user, followed] : g) {
    const std::vector<user_id> list(followed.begin(), followed.end());
    encoder.add(user, list);
    if (++turn % 7 == 0) {
      EXPECT_FALSE(writer.write(encoder.take_output()));
    }
  }
  encoder.finish();
  EXPECT_FALSE(writer.finish(encoder.take_output()));
  return writer.final_path();
}

graph load(const std::string& path, snapshot_load& result) {
  graph g;
  result = load_snapshot(path, [&](user_id user, std::span<const user_id> followed) {
    g[user].insert(followed.begin(), followed.end());
  });
  return g;
}

std::uint64_t edges_of(const graph& g) {
  std::uint64_t edges = 0;
  for (const auto& [user, followed] : g) edges += followed.size();
  return edges;
}

TEST(Snapshot, RoundTrip) {
  temp_dir dir;
  graph g = random_graph(1, 3000, 40);
  g.erase(g.begin());
  g[424242];  // a user following nobody is not written
  const std::string path = write_snapshot(dir.path(), g, 3, 987654);
  EXPECT_EQ(path, dir.file(snapshot_file_name(3, 987654)));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));

  snapshot_load result;
  const graph loaded = load(path, result);
  ASSERT_TRUE(result.ok) << result.error;
  g.erase(424242);
  EXPECT_EQ(loaded, g);
  EXPECT_EQ(result.epoch, 3u);
  EXPECT_EQ(result.seq, 987654u);
  EXPECT_EQ(result.users, g.size());
  EXPECT_EQ(result.edges, edges_of(g));
  EXPECT_GT(result.chunks, 1u);
}

TEST(Snapshot, EmptyGraph) {
  temp_dir dir;
  const std::string path = write_snapshot(dir.path(), {}, 1, 0);
  EXPECT_EQ(testing::size_of(path), snapshot_header_size + 32);
  snapshot_load result;
  EXPECT_TRUE(load(path, result).empty());
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.users, 0u);
  EXPECT_EQ(result.chunks, 0u);
}

// One user following far more than a chunk holds: split over adjacent records, counted once.
TEST(Snapshot, LongListsSpanChunks) {
  temp_dir dir;
  graph g;
  for (user_id f = 1; f <= 5000; ++f) g[7].insert(f * 3);
  g[8] = {1, 2, 3};
  const std::string path = write_snapshot(dir.path(), g, 1, 10, 256);
  snapshot_load result;
  int records_of_7 = 0;
  graph loaded;
  result = load_snapshot(path, [&](user_id user, std::span<const user_id> followed) {
    if (user == 7) ++records_of_7;
    EXPECT_LE(followed.size(), (256u - 12u) / 8u);
    loaded[user].insert(followed.begin(), followed.end());
  });
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_EQ(loaded, g);
  EXPECT_EQ(result.users, 2u);
  EXPECT_EQ(result.edges, 5003u);
  EXPECT_GT(records_of_7, 100);
}

TEST(Snapshot, HeaderLayout) {
  snapshot_encoder encoder(0x0102, 0x0304);
  const std::string bytes = encoder.take_output();
  ASSERT_EQ(bytes.size(), snapshot_header_size);
  EXPECT_EQ(bytes.substr(0, 8), "EVSNAPSH");
  EXPECT_EQ(bytes[8], 2);  // version 2: the graph at exactly its number
  EXPECT_EQ(bytes[16], 0x02);
  EXPECT_EQ(bytes[17], 0x01);
  EXPECT_EQ(bytes[24], 0x04);
  EXPECT_EQ(bytes[25], 0x03);
}

// Version 1 (fuzzy, as older daemons wrote them) still loads, and says so; version 2 is exact;
// any other version is refused.
TEST(Snapshot, VersionsOneAndTwoLoadAndSayWhetherExact) {
  temp_dir dir;
  const std::string path = write_snapshot(dir.path(), random_graph(5, 40, 6), 1, 50);
  EXPECT_TRUE(verify_snapshot(path).ok);
  EXPECT_TRUE(verify_snapshot(path).exact);
  testing::make_fuzzy_snapshot(path);
  const snapshot_load fuzzy = verify_snapshot(path);
  EXPECT_TRUE(fuzzy.ok) << fuzzy.error;
  EXPECT_FALSE(fuzzy.exact);
  std::string bytes = testing::read_file(path);
  store_le<std::uint32_t>(bytes.data() + 8, 3);
  store_le<std::uint32_t>(bytes.data() + 32, crc32c_mask(crc32c(bytes.data(), 32)));
  testing::write_file(path, bytes);
  const snapshot_load unknown = verify_snapshot(path);
  EXPECT_FALSE(unknown.ok);
  EXPECT_NE(unknown.error.find("unsupported snapshot version 3"), std::string::npos) << unknown.error;
}

class CorruptSnapshot : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = write_snapshot(dir_.path(), random_graph(5, 40, 6), 2, 77, 128);
    good_ = testing::read_file(path_);
  }
  // Loads the damaged file: refused, and the visitor never called.
  std::string refused(const std::string& bytes) {
    testing::write_file(path_, bytes);
    int calls = 0;
    const snapshot_load result = load_snapshot(path_, [&](user_id, std::span<const user_id>) { ++calls; });
    EXPECT_FALSE(result.ok);
    EXPECT_EQ(calls, 0);
    EXPECT_FALSE(verify_snapshot(path_).ok);
    return result.error;
  }
  temp_dir dir_;
  std::string path_;
  std::string good_;
};

TEST_F(CorruptSnapshot, EveryFlippedBitIsRefused) {
  for (std::size_t byte = 0; byte < good_.size(); ++byte) {
    std::string bytes = good_;
    bytes[byte] = static_cast<char>(bytes[byte] ^ (1 << (byte % 8)));
    const std::string error = refused(bytes);
    ASSERT_EQ(error.rfind("snapshot " + path_ + " at byte offset ", 0), 0u) << byte << ": " << error;
  }
}

TEST_F(CorruptSnapshot, EveryTruncationIsRefused) {
  for (std::size_t size = 0; size < good_.size(); ++size) {
    const std::string error = refused(good_.substr(0, size));
    ASSERT_FALSE(error.empty()) << size;
  }
}

TEST_F(CorruptSnapshot, NamesTheProblemAndItsOffset) {
  // No trailer: the file stops after the last whole chunk.
  EXPECT_EQ(refused(good_.substr(0, good_.size() - 32)),
            "snapshot " + path_ + " at byte offset " + std::to_string(good_.size() - 32) +
                ": chunk header cut short by the end of the file (no trailer: an interrupted write)");
  EXPECT_EQ(refused(good_ + "x"), "snapshot " + path_ + " at byte offset " + std::to_string(good_.size()) +
                                      ": 1 bytes after the trailer");
  std::string bytes = good_;
  bytes[snapshot_header_size + 10] = static_cast<char>(bytes[snapshot_header_size + 10] ^ 1);  // a record
  EXPECT_EQ(refused(bytes), "snapshot " + path_ + " at byte offset 40: chunk checksum mismatch");
  bytes = good_;
  bytes[0] = 'X';
  EXPECT_EQ(refused(bytes), "snapshot " + path_ + " at byte offset 0: not a snapshot (bad magic)");
}

TEST_F(CorruptSnapshot, NameMustMatchTheHeader) {
  const std::string other = dir_.file(snapshot_file_name(2, 78));
  std::filesystem::rename(path_, other);
  const snapshot_load result = verify_snapshot(other);
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.error, "snapshot " + other + " at byte offset 16: header says epoch 2 seq 77, the name says otherwise");
}

TEST(SnapshotFiles, AnAbandonedWriteLeavesNothing) {
  temp_dir dir;
  {
    snapshot_file_writer writer;
    ASSERT_FALSE(writer.open(dir.path(), 1, 5));
    ASSERT_FALSE(writer.write("partial"));
    EXPECT_TRUE(std::filesystem::exists(dir.file(temporary_file_name(snapshot_file_name(1, 5)))));
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(SnapshotFiles, ListsNewestFirst) {
  temp_dir dir;
  const graph g = random_graph(2, 10, 3);
  write_snapshot(dir.path(), g, 1, 900);
  write_snapshot(dir.path(), g, 2, 5);
  write_snapshot(dir.path(), g, 1, 1000);
  write_snapshot(dir.path(), g, 2, 40);
  const auto listed = list_snapshots(dir.path());
  ASSERT_EQ(listed.size(), 4u);
  EXPECT_EQ(listed[0].name, snapshot_file_name(2, 40));
  EXPECT_EQ(listed[1].name, snapshot_file_name(2, 5));
  EXPECT_EQ(listed[2].name, snapshot_file_name(1, 1000));
  EXPECT_EQ(listed[3].name, snapshot_file_name(1, 900));
  EXPECT_EQ(listed[0].epoch, 2u);
  EXPECT_EQ(listed[0].seq, 40u);
  EXPECT_EQ(listed[0].bytes, testing::size_of(dir.file(listed[0].name)));

}

}  // namespace
}  // namespace eventserver::storage
