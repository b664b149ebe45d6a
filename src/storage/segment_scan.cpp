#include "eventserver/storage/segment_scan.hpp"

#include <string_view>

#include "eventserver/storage/batch_format.hpp"
#include "eventserver/storage/file_names.hpp"
#include "eventserver/storage/segment_reader.hpp"

namespace eventserver::storage {

namespace {

// Scans take a larger buffer than history reads: they run once, at start-up, over whole files.
constexpr std::size_t scan_buffer_bytes = std::size_t{256} << 10;

sequence_number first_seq_from_name(const std::string& path) {
  const auto slash = path.find_last_of('/');
  const auto info = parse_file_name(slash == std::string::npos ? std::string_view(path)
                                                                : std::string_view(path).substr(slash + 1));
  return info.kind == file_kind::segment ? info.seq : 0;
}

// The first offset after `from` where a valid batch starts whose first_seq is above
// `last_good`, or 0 if there is none (0 is never after anything).
std::uint64_t find_valid_batch_after(segment_reader& reader, std::uint64_t from, std::uint64_t file_size,
                                     sequence_number last_good) {
  for (std::uint64_t at = from + 1; at + batch_header_size <= file_size; ++at) {
    reader.seek(at);
    batch_view batch;
    const read_status status = reader.next(batch);
    if (status == read_status::error) return 0;
    if (status == read_status::batch && batch.first_seq > last_good) return at;
  }
  return 0;
}

std::string describe_discontinuity(sequence_number expected, sequence_number found) {
  return "sequence discontinuity: expected " + std::to_string(expected) + ", found " + std::to_string(found);
}

// Reads batches from `reader`'s position to the end, extending `scan` (last_seq, valid_length,
// batches, index). Returns false at the first invalid batch, with scan.reason set and the
// reader's last_decode() describing it; true at a clean end of file.
bool read_valid_batches(segment_reader& reader, segment_scan& scan) {
  for (;;) {
    const std::uint64_t at = reader.offset();
    batch_view batch;
    switch (reader.next(batch)) {
      case read_status::batch:
        if (batch.first_seq != scan.last_seq + 1) {
          scan.reason = describe_discontinuity(scan.last_seq + 1, batch.first_seq);
          reader.seek(at);
          return false;
        }
        if (index_entry_due(!scan.index.empty(), scan.index.empty() ? 0 : scan.index.back().offset, at)) {
          scan.index.push_back({batch.first_seq, at});
        }
        scan.last_seq = batch.last_seq();
        scan.valid_length = reader.offset();
        ++scan.batches;
        break;
      case read_status::end:
        if (reader.trailing_bytes() == 0) return true;
        scan.reason = reader.trailing_bytes() < batch_header_size ? "header cut short by the end of the file"
                                                                  : "body runs past the end of the file";
        return false;
      case read_status::corrupt:
        scan.reason = std::string(reader.reason());
        return false;
      case read_status::error:
        scan.outcome = scan_outcome::io_error;
        scan.error = reader.error();
        return false;
    }
  }
}

// After read_valid_batches stopped at an invalid batch (not an I/O error): the torn-tail rule.
// A valid batch above the last good number later in the file makes it damage (outcome
// damaged, resume_offset); none makes it a torn tail. Each is told to `report`.
void classify_invalid(segment_reader& reader, segment_scan& scan, reporter& report) {
  const std::uint64_t bad = scan.valid_length;
  const decode_result cut = reader.last_decode();
  scan.damage_offset = bad;
  const std::uint64_t resume = find_valid_batch_after(reader, bad, scan.file_size, scan.last_seq);
  if (reader.error()) {
    scan.outcome = scan_outcome::io_error;
    scan.error = reader.error();
    return;
  }
  if (resume != 0) {
    scan.outcome = scan_outcome::damaged;
    scan.resume_offset = resume;
    report.corruption(bad, resume - bad, scan.reason);
    return;
  }
  scan.outcome = scan_outcome::torn_tail;
  tail_loss loss;
  loss.offset = bad;
  loss.bytes = scan.file_size - bad;
  loss.first_lost = scan.last_seq + 1;
  // The cut batch's own header tells how far it reached, if it is readable and continues the log.
  if (cut.header_known && cut.batch.first_seq == loss.first_lost) loss.last_lost = cut.batch.last_seq();
  loss.reason = scan.reason;
  report.torn_tail(loss);
}

}  // namespace

segment_scan scan_segment(const std::string& path, reporter& report) {
  return scan_segment(path, first_seq_from_name(path), report);
}

segment_scan scan_segment(const std::string& path, sequence_number first_seq, reporter& report) {
  segment_scan scan;
  segment_reader reader(scan_buffer_bytes);
  if (auto ec = reader.open(path)) {
    scan.outcome = scan_outcome::io_error;
    scan.error = ec;
    return scan;
  }
  if (auto ec = reader.current_size(scan.file_size)) {
    scan.outcome = scan_outcome::io_error;
    scan.error = ec;
    return scan;
  }
  if (first_seq == 0) {
    // An unnamed file: the first batch says where it starts.
    batch_view first;
    if (reader.next(first) == read_status::batch) first_seq = first.first_seq;
    reader.seek(0);
  }
  scan.first_seq = first_seq;
  scan.last_seq = first_seq == 0 ? 0 : first_seq - 1;
  if (read_valid_batches(reader, scan)) return scan;
  if (scan.outcome == scan_outcome::io_error) return scan;
  classify_invalid(reader, scan, report);
  return scan;
}

segment_scan scan_segment_through(const std::string& path, sequence_number first_seq, reporter& report) {
  segment_scan scan = scan_segment(path, first_seq, report);
  if (scan.outcome != scan_outcome::damaged) return scan;
  segment_reader reader(scan_buffer_bytes);
  if (auto ec = reader.open(path)) {
    scan.outcome = scan_outcome::io_error;
    scan.error = ec;
    return scan;
  }
  // Each round: the damage at scan.damage_offset ends at scan.resume_offset, where a valid
  // batch with a number above the last good one starts. Record it, read on from there.
  while (scan.outcome == scan_outcome::damaged) {
    reader.seek(scan.resume_offset);
    batch_view resumed;
    if (reader.next(resumed) != read_status::batch) {  // find_valid_batch_after said it was
      scan.outcome = scan_outcome::io_error;
      scan.error = reader.error() ? reader.error() : std::make_error_code(std::errc::io_error);
      return scan;
    }
    scan.damage.push_back({scan.damage_offset, scan.resume_offset - scan.damage_offset, scan.last_seq + 1,
                           resumed.first_seq - 1, scan.reason});
    reader.seek(scan.resume_offset);
    scan.index.push_back({resumed.first_seq, scan.resume_offset});  // readers seek past the damage from here
    scan.last_seq = resumed.first_seq - 1;
    scan.reason.clear();
    scan.outcome = scan_outcome::clean;
    if (read_valid_batches(reader, scan)) break;
    if (scan.outcome == scan_outcome::io_error) return scan;
    classify_invalid(reader, scan, report);
  }
  return scan;
}

segment_scan check_segment_tail(const std::string& path, sequence_number first_seq, reporter& report) {
  const auto entry = last_index_entry(index_path_for(path));
  if (entry && entry->first_seq >= first_seq) {
    segment_scan scan;
    segment_reader reader;
    std::uint64_t size = 0;
    if (!reader.open(path) && !reader.current_size(size) && entry->offset < size) {
      scan.file_size = size;
      scan.first_seq = first_seq;
      scan.last_seq = entry->first_seq - 1;
      scan.valid_length = entry->offset;
      scan.index.push_back(*entry);  // makes read_valid_batches add no entry for the batch itself
      reader.seek(entry->offset);
      // Clean from the entry (whose batch must start at its number) to the end, and no entry
      // due in that stretch that the index lacks.
      if (read_valid_batches(reader, scan) && scan.index.size() == 1 && scan.valid_length == size) {
        scan.index.clear();  // only the last entry is known; the index file is fine as it is
        return scan;
      }
    }
  }
  segment_scan scan = scan_segment(path, first_seq, report);
  scan.index_rebuilt = true;
  return scan;
}

}  // namespace eventserver::storage
