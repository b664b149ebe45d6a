#include "eventserver/app/log_tool.hpp"

#include <algorithm>
#include <ctime>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eventserver/core/event.hpp"
#include "eventserver/storage/batch_format.hpp"
#include "eventserver/storage/directory_listing.hpp"
#include "eventserver/storage/file_names.hpp"
#include "eventserver/storage/history_reader.hpp"
#include "eventserver/storage/log_directory.hpp"
#include "eventserver/storage/reporter.hpp"
#include "eventserver/storage/segment_scan.hpp"
#include "eventserver/storage/snapshot_file.hpp"
#include "eventserver/storage/storage_error.hpp"

namespace eventserver {

namespace {

using namespace storage;

constexpr int exit_clean = 0;
constexpr int exit_damaged = 1;
constexpr int exit_usage = 2;

constexpr std::string_view usage =
    "usage: eventserver log list|verify|dump|repair -data-dir DIR [-epoch E] [-from N] [-to M]\n"
    "  list     segments and snapshots: epochs, sequence ranges, sizes\n"
    "  verify   every checksum of every segment and snapshot; exit 0 clean, 1 damaged\n"
    "  dump     the events from -from to -to of -epoch (default: the newest), one per line as stored\n"
    "  repair   cut the log at damage and set the rest of its epoch aside (stop the daemon first)\n";

struct tool_options {
  std::string action;
  std::string data_dir;
  std::optional<stream_epoch> epoch;
  std::optional<sequence_number> from;
  std::optional<sequence_number> to;
};

// "-name value", "--name value", "-name=value".
std::optional<tool_options> parse_arguments(int argc, char** argv, std::ostream& err) {
  if (argc < 2) {
    err << usage;
    return std::nullopt;
  }
  tool_options options;
  options.action = argv[1];
  if (options.action != "list" && options.action != "verify" && options.action != "dump" &&
      options.action != "repair") {
    err << "eventserver log: unknown action '" << options.action << "'\n" << usage;
    return std::nullopt;
  }
  for (int i = 2; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.starts_with("--")) arg.remove_prefix(1);
    std::string_view name = arg;
    std::optional<std::string_view> value;
    if (const auto eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    } else if (i + 1 < argc) {
      value = argv[i + 1];
    }
    const auto number = [&](std::optional<std::uint64_t>& out) {
      const auto parsed = value ? parse_u64(*value) : std::nullopt;
      if (!parsed) {
        err << "eventserver log: " << name << " needs a number\n";
        return false;
      }
      out = parsed;
      return true;
    };
    const bool separate = arg.find('=') == std::string_view::npos;
    if (name == "-data-dir") {
      if (!value) {
        err << "eventserver log: -data-dir needs a directory\n";
        return std::nullopt;
      }
      options.data_dir = std::string(*value);
    } else if (name == "-epoch") {
      if (!number(options.epoch)) return std::nullopt;
    } else if (name == "-from") {
      if (!number(options.from)) return std::nullopt;
    } else if (name == "-to") {
      if (!number(options.to)) return std::nullopt;
    } else {
      err << "eventserver log: unexpected argument '" << argv[i] << "'\n" << usage;
      return std::nullopt;
    }
    if (separate) ++i;
  }
  if (options.data_dir.empty()) {
    err << "eventserver log: -data-dir is required\n" << usage;
    return std::nullopt;
  }
  return options;
}

std::string utc(std::chrono::system_clock::time_point when) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(when);
  std::tm parts{};
  ::gmtime_r(&seconds, &parts);
  char text[32];
  const std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return {text, n};
}

std::string range(sequence_number first, sequence_number last) {
  if (last < first) return "empty (next " + std::to_string(first) + ")";
  return std::to_string(first) + ".." + std::to_string(last);
}

int list(const tool_options& options, std::ostream& out, std::ostream& err) {
  const directory_listing listing = list_directory(options.data_dir);
  out << "segments (" << listing.segments.size() << "):\n";
  int status = exit_clean;
  for (const auto& segment : listing.segments) {
    null_reporter quiet;
    const segment_scan scan = check_segment_tail(join_path(options.data_dir, segment.name), segment.first_seq, quiet);
    out << "  " << segment.name << "  epoch " << segment.epoch << "  seq ";
    if (scan.outcome == scan_outcome::io_error) {
      out << "unreadable (" << scan.error.message() << ")";
      status = exit_damaged;
    } else {
      out << range(segment.first_seq, scan.last_seq);
    }
    out << "  " << segment.bytes << " bytes  " << utc(segment.mtime);
    if (scan.outcome == scan_outcome::torn_tail || scan.outcome == scan_outcome::damaged) {
      out << "  (invalid from byte offset " << scan.damage_offset << ": run verify)";
    }
    out << "\n";
  }
  out << "snapshots (" << listing.snapshots.size() << "):\n";
  for (const auto& snapshot : listing.snapshots) {
    out << "  " << snapshot.name << "  epoch " << snapshot.epoch << "  seq " << snapshot.seq << "  "
        << snapshot.bytes << " bytes  " << utc(snapshot.mtime) << "\n";
  }
  if (!listing.temporaries.empty() || !listing.damaged.empty()) {
    out << "other: " << listing.temporaries.size() << " temporary, " << listing.damaged.size()
        << " set aside by repair\n";
  }
  (void)err;
  return status;
}

// Prints what a full scan drops, naming the file.
// Prints what a full scan drops, naming the file. Only the newest segment may end in a torn
// write; in any other the same finding is damage (segments are synced before the next begins).
class printing_reporter final : public reporter {
 public:
  printing_reporter(std::ostream& out, std::string path, bool newest)
      : out_(out), path_(std::move(path)), newest_(newest) {}
  void corruption(std::uint64_t offset, std::uint64_t bytes, std::string_view reason) override {
    out_ << "DAMAGED " << path_ << " at byte offset " << offset << ": " << reason << " (" << bytes
         << " bytes before the next valid batch)\n";
  }
  void torn_tail(const tail_loss& loss) override {
    if (newest_) {
      out_ << "TORN TAIL " << path_ << " at byte offset " << loss.offset << ": " << loss.reason << " (" << loss.bytes
           << " bytes from sequence number " << loss.first_lost
           << "; start-up cuts it, unless the daemon is writing it now)\n";
    } else {
      out_ << "DAMAGED " << path_ << " at byte offset " << loss.offset << ": " << loss.reason << " (the last "
           << loss.bytes << " bytes of a finished segment)\n";
    }
  }

 private:
  std::ostream& out_;
  std::string path_;
  bool newest_;
};

int verify(const tool_options& options, std::ostream& out, std::ostream&) {
  const directory_listing listing = list_directory(options.data_dir);
  int status = exit_clean;
  stream_epoch epoch = 0;
  sequence_number last = 0;
  std::string previous;
  bool previous_end_damaged = false;  // its numbers up to the next segment are lost, as said
  for (const auto& segment : listing.segments) {
    const std::string path = join_path(options.data_dir, segment.name);
    const bool newest = &segment == &listing.segments.back();
    if (segment.epoch == epoch && segment.first_seq != last + 1 &&
        !(previous_end_damaged && segment.first_seq > last + 1)) {
      out << "MISSING before " << path << ": expected " << segment_file_name(segment.epoch, last + 1) << " after "
          << previous << "\n";
      status = exit_damaged;
    }
    printing_reporter report(out, path, newest);
    // Read past damage, as start-up does: every stretch of it is reported, and what follows.
    const segment_scan scan = scan_segment_through(path, segment.first_seq, report);
    previous_end_damaged = !newest && scan.outcome == scan_outcome::torn_tail;
    switch (scan.outcome) {
      case scan_outcome::clean:
        if (!scan.damage.empty()) status = exit_damaged;
        out << (scan.damage.empty() ? "ok " : "read past damage: ") << path << ": seq "
            << range(segment.first_seq, scan.last_seq) << ", " << scan.batches << " batches\n";
        break;
      case scan_outcome::io_error:
        out << "UNREADABLE " << path << ": " << scan.error.message() << "\n";
        status = exit_damaged;
        break;
      case scan_outcome::torn_tail:
      case scan_outcome::damaged:
        status = exit_damaged;  // the reporter has said where
        break;
    }
    epoch = segment.epoch;
    last = scan.last_seq;
    previous = segment.name;
  }
  for (const auto& snapshot : listing.snapshots) {
    const snapshot_load result = verify_snapshot(join_path(options.data_dir, snapshot.name));
    if (result.ok) {
      out << "ok " << join_path(options.data_dir, snapshot.name) << ": " << result.users << " users, "
          << result.edges << " edges\n";
    } else {
      out << "DAMAGED " << result.error << "\n";
      status = exit_damaged;
    }
  }
  out << (status == exit_clean ? "clean\n" : "damaged\n");
  return status;
}

int dump(const tool_options& options, std::ostream& out, std::ostream& err) {
  const directory_listing listing = list_directory(options.data_dir);
  if (listing.segments.empty()) {
    err << "eventserver log: no segments in " << options.data_dir << "\n";
    return exit_damaged;
  }
  std::vector<segment_info> segments;
  for (const auto& file : listing.segments) {
    segment_info info;
    static_cast<segment_file&>(info) = file;
    segments.push_back(std::move(info));
  }
  const stream_epoch epoch = options.epoch.value_or(segments.back().epoch);
  const sequence_number from = options.from.value_or(1);
  const sequence_number to = options.to.value_or(UINT64_MAX);
  history_reader reader(options.data_dir);
  switch (reader.seek(segments, epoch, from)) {
    case history_start::complete:
      break;
    case history_start::incomplete:
      err << "eventserver log: epoch " << epoch << " starts at sequence number " << reader.position()
          << " (older history was removed)\n";
      break;
    case history_start::no_history:
      err << "eventserver log: no history of epoch " << epoch << " in " << options.data_dir << "\n";
      return exit_damaged;
    case history_start::error:
      err << "eventserver log: cannot read epoch " << epoch << ": " << reader.reason()
          << (reader.error() ? reader.error().message() : std::string()) << "\n";
      return exit_damaged;
  }
  batch_view batch;
  while (reader.position() <= to) {
    const sequence_number at = reader.position();
    const history_status status = reader.next(batch);
    if (status == history_status::caught_up) break;
    if (status != history_status::batch) {
      err << "eventserver log: reading epoch " << epoch << " at sequence number " << at << ": "
          << (status == history_status::error ? reader.error().message() : std::string(reader.reason())) << "\n";
      return exit_damaged;
    }
    if (batch.kind == batch_kind::skipped) {
      err << "skipped " << range(batch.first_seq, std::min(batch.last_seq(), to)) << " (gap timeout)\n";
      continue;
    }
    for (const auto& line : batch_lines(batch)) {
      if (line.seq > to) break;
      out << line.payload() << "\n";
    }
  }
  return exit_clean;
}

int repair(const tool_options& options, std::ostream& out, std::ostream&) {
  log_options log;
  log.dir = options.data_dir;
  log.repair = true;
  const log_directory opened = log_directory::open(log);
  for (const auto& note : opened.notes()) out << note.describe() << "\n";
  out << (opened.notes().empty() ? "nothing to repair" : "repaired") << "; epoch " << opened.current_epoch()
      << " ends at sequence number " << opened.last_seq() << "\n";
  return exit_clean;
}

}  // namespace

int run_log_tool(int argc, char** argv, std::ostream& out, std::ostream& err) {
  // What `eventserver -help` tells the operator to type.
  if (argc == 2 && (std::string_view(argv[1]) == "-help" || std::string_view(argv[1]) == "--help" ||
                    std::string_view(argv[1]) == "-h")) {
    out << usage;
    return exit_clean;
  }
  const auto options = parse_arguments(argc, argv, err);
  if (!options) return exit_usage;
  try {
    if (options->action == "list") return list(*options, out, err);
    if (options->action == "verify") return verify(*options, out, err);
    if (options->action == "dump") return dump(*options, out, err);
    return repair(*options, out, err);
  } catch (const storage_error& e) {
    err << "eventserver log: " << e.what() << "\n";
    return exit_damaged;
  }
}

int run_log_tool(int argc, char** argv) { return run_log_tool(argc, argv, std::cout, std::cerr); }

}  // namespace eventserver
