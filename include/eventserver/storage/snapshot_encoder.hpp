#pragma once
// Encodes a follower-graph snapshot in memory, a few users at a time, so the daemon can spread
// the work over several turns of its loop while events keep being applied (a "fuzzy"
// snapshot: valid because follow and unfollow are idempotent set operations and the log after
// `seq` is replayed over it). Nothing here needs the whole graph at once, and nothing does I/O:
// take_output() hands the sealed bytes to whoever writes the file (snapshot_file_writer).
//
//   snapshot_encoder encoder(epoch, seq);
//   for (each user, over many turns) encoder.add(user, graph.following(user));
//     ... writer.write(encoder.take_output()) whenever output_size() is worth a write
//   encoder.finish();
//   writer.finish(encoder.take_output());

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "eventserver/core/event.hpp"

namespace eventserver::storage {

class snapshot_encoder {
 public:
  static constexpr std::size_t default_chunk_bytes = std::size_t{64} << 10;

  // chunk_bytes: records are sealed into a chunk once it holds about this much (clamped to
  // [64 bytes, max_snapshot_chunk_bytes]); the output starts with the file header.
  snapshot_encoder(stream_epoch epoch, sequence_number seq, std::size_t chunk_bytes = default_chunk_bytes);

  // One user's followed ids (an empty list adds nothing). A list longer than a chunk is split
  // over adjacent records. Chunks that fill up are sealed into the output.
  void add(user_id user, std::span<const user_id> followed);

  // Seals the open chunk, if any, and appends the trailer. add() must not follow.
  void finish();

  // Sealed bytes not yet taken: whole chunks (and the header first, the trailer last).
  std::size_t output_size() const noexcept { return output_.size(); }
  std::string take_output();

  std::uint64_t users() const noexcept { return users_; }
  std::uint64_t edges() const noexcept { return edges_; }
  std::uint64_t chunks() const noexcept { return chunks_; }
  bool finished() const noexcept { return finished_; }

 private:
  void seal_chunk();

  std::size_t chunk_bytes_;
  std::string chunk_;   // the open chunk: its 8-byte header (filled when sealed), then records
  std::string output_;
  user_id last_user_ = 0;
  bool has_last_user_ = false;
  std::uint64_t users_ = 0;
  std::uint64_t edges_ = 0;
  std::uint64_t chunks_ = 0;
  bool finished_ = false;
};

}  // namespace eventserver::storage
