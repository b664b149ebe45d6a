#include "eventserver/storage/recovery.hpp"

#include "eventserver/storage/file_names.hpp"
#include "eventserver/storage/history_reader.hpp"
#include "eventserver/storage/snapshot_file.hpp"
#include "eventserver/storage/storage_error.hpp"

namespace eventserver::storage {

namespace {

// What start-up says of damage the replay met: the file, the offset, and the way out.
std::string damage(const history_reader& reader, const log_directory& directory, stream_epoch epoch) {
  return "damage in " + reader.segment_path() + " at byte " + std::to_string(reader.offset()) + " (" +
         std::string(reader.reason()) + ", near sequence number " + std::to_string(reader.position()) + " of epoch " +
         std::to_string(epoch) + "); to cut the log there and set the rest of the epoch aside, stop the daemon and " +
         "run: eventserver log repair -data-dir " + directory.dir();
}

// Replays the log of `epoch` from `from` into the graph: follows and unfollows only.
std::uint64_t replay(const log_directory& directory, stream_epoch epoch, sequence_number from, sequence_number to,
                     follower_graph& graph) {
  history_reader reader(directory.dir());
  const auto start = reader.seek(directory.segments(), epoch, from);
  if (start == history_start::no_history) return 0;
  if (start == history_start::error) {
    if (!reader.error()) throw storage_error(damage(reader, directory, epoch));
    throw storage_error("cannot read the log of epoch " + std::to_string(epoch) + " from " + std::to_string(from) +
                        ": " + std::string(reader.reason()) + " (" + reader.error().message() + ")");
  }
  if (start == history_start::incomplete) {
    throw storage_error("cannot rebuild the follower graph: the log of epoch " + std::to_string(epoch) +
                        " no longer holds sequence number " + std::to_string(from) +
                        " and no snapshot covers what is gone");
  }
  std::uint64_t events = 0;
  batch_view batch;
  for (;;) {
    const auto status = reader.next(batch);
    if (status == history_status::caught_up) {
      // Short of the log's end: a batch the reader took for one still being written (a damaged
      // length reaching past the end of its file) with valid batches after it. The graph would
      // miss what follows.
      if (reader.position() <= to) throw storage_error(damage(reader, directory, epoch));
      return events;
    }
    if (status == history_status::corrupt) throw storage_error(damage(reader, directory, epoch));
    if (status != history_status::batch) {
      throw storage_error("cannot replay the log of epoch " + std::to_string(epoch) + " at sequence number " +
                          std::to_string(reader.position()) + ": " + std::string(reader.reason()) +
                          (reader.error() ? " (" + reader.error().message() + ")" : ""));
    }
    for (const stored_line& line : batch_lines(batch)) {
      ++events;
      const parse_result parsed = parse_event(line.payload());
      if (parsed.status != parse_status::ok) continue;
      if (parsed.ev.type == event_type::follow) {
        graph.follow(parsed.ev.from, parsed.ev.to);
      } else if (parsed.ev.type == event_type::unfollow) {
        graph.unfollow(parsed.ev.from, parsed.ev.to);
      }
    }
  }
}

}  // namespace

recovered_log recover_log(const log_options& options) {
  const auto started = std::chrono::steady_clock::now();
  recovered_log out{log_directory::open(options), 1, 0, {}, std::nullopt, {}, 0, 0};
  const log_directory& directory = out.directory;
  out.epoch = directory.current_epoch() == 0 ? 1 : directory.current_epoch();
  const auto range = directory.epoch(out.epoch);
  out.last_seq = range ? range->last_seq : 0;

  sequence_number replay_from = range ? range->first_seq : 1;
  for (const snapshot_file& candidate : directory.snapshots_at_open()) {
    if (candidate.epoch != out.epoch) continue;  // an older stream's graph does not apply
    follower_graph graph;
    const auto loaded = load_snapshot(join_path(directory.dir(), candidate.name),
                                      [&graph](user_id user, std::span<const user_id> followed) {
                                        graph.add_following(user, followed);
                                      });
    if (!loaded.ok) {
      out.refused_snapshots.push_back(loaded.error);
      continue;
    }
    out.graph = std::move(graph);
    out.snapshot = candidate;
    replay_from = candidate.seq + 1;
    break;
  }
  if (!out.snapshot && range && range->first_seq > 1) {
    throw storage_error("cannot rebuild the follower graph: the log of epoch " + std::to_string(out.epoch) +
                        " starts at sequence number " + std::to_string(range->first_seq) +
                        " and no valid snapshot covers what came before");
  }
  // Snapshots past the log's end were set aside by open(): the one used is at or below it.
  if (range && replay_from <= range->last_seq) {
    out.replayed = replay(directory, out.epoch, replay_from, range->last_seq, out.graph);
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return out;
}

}  // namespace eventserver::storage
