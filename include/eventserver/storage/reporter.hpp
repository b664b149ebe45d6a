#pragma once
// What a reader drops, reported instead of decided (LevelDB's log::Reader::Reporter): the
// reader says what it found and reads on or stops; recovery, repair and the log tool each
// choose their own policy.

#include <cstdint>
#include <string_view>

#include "eventserver/core/event.hpp"

namespace eventserver::storage {

// A segment's end cut off in mid-write: no valid batch follows `offset`.
struct tail_loss {
  std::uint64_t offset = 0;           // where the valid batches end: the segment is cut here
  std::uint64_t bytes = 0;            // bytes from there to the end of the file
  sequence_number first_lost = 0;     // the number after the last valid batch
  sequence_number last_lost = 0;      // the last number the cut batch held, when its header was readable; else 0
  std::string_view reason;
};

class reporter {
 public:
  virtual ~reporter() = default;
  // `bytes` at `offset` are invalid for `reason` and valid batches follow them: damage in the
  // middle, not a writer that died.
  virtual void corruption(std::uint64_t offset, std::uint64_t bytes, std::string_view reason) = 0;
  // The segment ends in bytes that hold no valid batch: the writer died mid-write.
  virtual void torn_tail(const tail_loss& loss) = 0;
};

// For callers that read the scan's result instead.
class null_reporter final : public reporter {
 public:
  void corruption(std::uint64_t, std::uint64_t, std::string_view) override {}
  void torn_tail(const tail_loss&) override {}
};

}  // namespace eventserver::storage
