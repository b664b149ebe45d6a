#include "eventserver/storage/snapshot_encoder.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "eventserver/storage/crc32c.hpp"
#include "eventserver/storage/endian.hpp"
#include "eventserver/storage/snapshot_format.hpp"

namespace eventserver::storage {

namespace {

constexpr std::size_t min_chunk_bytes = 64;

// Appends `ids` little-endian.
void append_ids(std::string& out, std::span<const user_id> ids) {
  const std::size_t at = out.size();
  out.resize(at + ids.size() * sizeof(user_id));
  char* p = out.data() + at;
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(p, ids.data(), ids.size() * sizeof(user_id));
  } else {
    for (const user_id id : ids) {
      store_le<std::uint64_t>(p, id);
      p += sizeof(user_id);
    }
  }
}

}  // namespace

snapshot_encoder::snapshot_encoder(stream_epoch epoch, sequence_number seq, std::size_t chunk_bytes)
    : chunk_bytes_(std::clamp(chunk_bytes, min_chunk_bytes, max_snapshot_chunk_bytes)) {
  char header[snapshot_header_size] = {};
  std::memcpy(header, snapshot_magic.data(), snapshot_magic.size());
  store_le<std::uint32_t>(header + 8, snapshot_format_version);
  store_le<std::uint64_t>(header + 16, epoch);
  store_le<std::uint64_t>(header + 24, seq);
  store_le<std::uint32_t>(header + 32, crc32c_mask(crc32c(header, 32)));
  output_.assign(header, sizeof header);
  chunk_.reserve(chunk_bytes_ + snapshot_chunk_header_size);
  chunk_.resize(snapshot_chunk_header_size);
}

void snapshot_encoder::add(user_id user, std::span<const user_id> followed) {
  assert(!finished_);
  // Ids per record so that one record fits an empty chunk.
  const std::size_t most = (chunk_bytes_ - snapshot_record_header_size) / sizeof(user_id);
  while (!followed.empty()) {
    std::size_t room = snapshot_chunk_header_size + chunk_bytes_ - chunk_.size();
    if (room < snapshot_record_header_size + sizeof(user_id)) {
      seal_chunk();
      room = chunk_bytes_;
    }
    const std::size_t take =
        std::min({followed.size(), most, (room - snapshot_record_header_size) / sizeof(user_id)});
    char record[snapshot_record_header_size];
    store_le<std::uint64_t>(record, user);
    store_le<std::uint32_t>(record + 8, static_cast<std::uint32_t>(take));
    chunk_.append(record, sizeof record);
    append_ids(chunk_, followed.first(take));
    if (!has_last_user_ || last_user_ != user) ++users_;
    has_last_user_ = true;
    last_user_ = user;
    edges_ += take;
    followed = followed.subspan(take);
  }
  if (chunk_.size() >= snapshot_chunk_header_size + chunk_bytes_) seal_chunk();
}

void snapshot_encoder::seal_chunk() {
  const std::size_t length = chunk_.size() - snapshot_chunk_header_size;
  if (length == 0) return;
  store_le<std::uint32_t>(chunk_.data(), static_cast<std::uint32_t>(length));
  store_le<std::uint32_t>(chunk_.data() + 4,
                          crc32c_mask(crc32c(chunk_.data() + snapshot_chunk_header_size, length)));
  output_.append(chunk_);
  chunk_.resize(snapshot_chunk_header_size);
  ++chunks_;
}

void snapshot_encoder::finish() {
  if (finished_) return;
  seal_chunk();
  char trailer[snapshot_chunk_header_size + snapshot_trailer_body_size];
  store_le<std::uint32_t>(trailer, 0);
  store_le<std::uint64_t>(trailer + 8, users_);
  store_le<std::uint64_t>(trailer + 16, edges_);
  store_le<std::uint64_t>(trailer + 24, chunks_);
  store_le<std::uint32_t>(trailer + 4, crc32c_mask(crc32c(trailer + 8, snapshot_trailer_body_size)));
  output_.append(trailer, sizeof trailer);
  finished_ = true;
}

std::string snapshot_encoder::take_output() {
  std::string taken = std::move(output_);
  output_.clear();
  return taken;
}

}  // namespace eventserver::storage
