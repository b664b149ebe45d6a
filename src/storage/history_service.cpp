#include "eventserver/storage/history_service.hpp"

#include <pthread.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <limits>
#include <span>
#include <string_view>
#include <unordered_set>
#include <utility>

#include "eventserver/storage/batch_format.hpp"
#include "eventserver/storage/file_names.hpp"
#include "eventserver/storage/history_reader.hpp"
#include "eventserver/storage/snapshot_file.hpp"

namespace eventserver::storage {

namespace {

constexpr sequence_number no_number = std::numeric_limits<sequence_number>::max();
// A following_at pass reads once through the log: a larger buffer than a kept reader's.
constexpr std::size_t pass_buffer_bytes = std::size_t{64} << 10;

history_chunk gone_chunk(std::string reason) {
  history_chunk chunk;
  chunk.result = history_chunk::outcome::gone;
  chunk.reason = std::move(reason);
  return chunk;
}

history_chunk error_chunk(std::string reason) {
  history_chunk chunk;
  chunk.result = history_chunk::outcome::error;
  chunk.reason = std::move(reason);
  return chunk;
}

std::string where(stream_epoch epoch, sequence_number seq) {
  return "sequence number " + std::to_string(seq) + " of epoch " + std::to_string(epoch);
}

// Why the reader stopped, naming the file and the offset where there is one.
std::string describe_failure(const history_reader& reader) {
  std::string out;
  if (!reader.segment_path().empty()) {
    out = reader.segment_path() + " at byte " + std::to_string(reader.offset()) + ": ";
  }
  out += reader.reason().empty() ? std::string("read failed") : std::string(reader.reason());
  if (reader.error()) out += " (" + reader.error().message() + ")";
  out += ", near " + where(reader.epoch(), reader.position());
  return out;
}

// The first `count` numbers of an events or skip batch.
batch_view first_numbers(const batch_view& batch, std::uint64_t count) noexcept {
  batch_view head = batch;
  head.count = static_cast<std::uint32_t>(count);
  if (batch.kind == batch_kind::events) {
    std::size_t end = 0;
    for (std::uint64_t i = 0; i < count; ++i) end = batch.body.find('\n', end) + 1;
    head.body = batch.body.substr(0, end);
  }
  return head;
}

// A follow or an unfollow, else nullopt; the cheap look at the type letter first, since most
// lines are neither.
std::optional<event> follow_change(std::string_view payload) noexcept {
  const void* bar = std::memchr(payload.data(), '|', payload.size());
  if (bar == nullptr) return std::nullopt;
  const std::size_t at = static_cast<std::size_t>(static_cast<const char*>(bar) - payload.data()) + 1;
  if (at >= payload.size() || (payload[at] != 'F' && payload[at] != 'U')) return std::nullopt;
  const parse_result parsed = parse_event(payload);
  if (parsed.status != parse_status::ok) return std::nullopt;
  if (parsed.ev.type != event_type::follow && parsed.ev.type != event_type::unfollow) return std::nullopt;
  return parsed.ev;
}

}  // namespace

struct history_service::reader_state {
  reader_state(const std::string& dir, std::size_t buffer_bytes) : reader(dir, buffer_bytes) {}
  history_reader reader;
  // The reader stands where its last read ended (else the next read seeks).
  bool positioned = false;
};

struct history_service::following_query {
  user_id user = 0;
  sequence_number after = 0;
  std::size_t job = 0;  // its request's index in the group
  std::optional<std::vector<user_id>> answer;
  bool final = false;      // answered (a set or nullopt)
  bool captured = false;   // this round's scan passed `after`
  bool ambiguous = false;  // this round's base cannot tell: try an older one
};

history_service::history_service(std::string dir, view_fn view, post_fn post, std::size_t reader_buffer_bytes,
                                 damage_fn on_damage)
    : dir_(std::move(dir)),
      view_(std::move(view)),
      post_(std::move(post)),
      reader_buffer_bytes_(std::max(reader_buffer_bytes, batch_header_size)),
      on_damage_(std::move(on_damage)) {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "eventserver-hist");  // in top -H and perf: catch-up's share
    run();
  });
}

history_service::~history_service() {
  {
    std::lock_guard lock(mutex_);
    stop_.store(true, std::memory_order_relaxed);
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  // The requests never answered: their done (and whatever it holds) ends here, on this thread.
  jobs_.clear();
  abandoned_.clear();
}

void history_service::enqueue(job work) {
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back(std::move(work));
  }
  wake_.notify_one();
}

void history_service::read(const history_request& request, read_done done) {
  enqueue(read_job{request, std::move(done)});
}

void history_service::release(std::uint64_t reader) { enqueue(release_job{reader}); }

std::optional<sequence_number> history_service::first_available(stream_epoch epoch) const {
  return resumable_from(view_(), epoch);
}

void history_service::following_at(user_id user, stream_epoch epoch, sequence_number after, following_done done) {
  enqueue(following_job{user, epoch, after, std::move(done)});
}

void history_service::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping() || !jobs_.empty(); });
    if (stopping()) return;
    job work = std::move(jobs_.front());
    jobs_.pop_front();
    // following_at requests of one epoch queued now share one pass: after a restart every
    // client resumes at once. They may overtake other jobs; each answer stands on its own.
    std::vector<following_job> group;
    if (auto* first = std::get_if<following_job>(&work)) {
      group.push_back(std::move(*first));
      for (auto it = jobs_.begin(); it != jobs_.end();) {
        auto* other = std::get_if<following_job>(&*it);
        if (other != nullptr && other->epoch == group.front().epoch) {
          group.push_back(std::move(*other));
          it = jobs_.erase(it);
        } else {
          ++it;
        }
      }
    }
    lock.unlock();

    std::vector<std::function<void()>> results;
    if (auto* reading = std::get_if<read_job>(&work)) {
      results.push_back(run_read(*reading));
    } else if (auto* releasing = std::get_if<release_job>(&work)) {
      readers_.erase(releasing->reader);
      readers_held_.store(readers_.size(), std::memory_order_relaxed);
    } else {
      results = run_following(group);
    }

    lock.lock();
    // Posting under the lock: once the destructor has set stop_, nothing more is posted, and
    // what this job produced is destroyed by the destructor, on its thread.
    if (stopping()) {
      for (auto& result : results) abandoned_.push_back(std::move(result));
      return;
    }
    for (auto& result : results) post_(std::move(result));
  }
}

std::function<void()> history_service::run_read(read_job& work) {
  history_chunk chunk;  // from past until: ok, nothing yet, and no reader kept for it
  if (work.request.from <= work.request.until) {
    try {
      auto& state = readers_[work.request.reader];
      if (!state) {
        state = std::make_unique<reader_state>(dir_, reader_buffer_bytes_);
        readers_held_.store(readers_.size(), std::memory_order_relaxed);
      }
      chunk = read_chunk(work.request, *state);
    } catch (const std::exception& e) {
      chunk = error_chunk(std::string("history read failed: ") + e.what());
    }
  }
  return [done = std::move(work.done), chunk = std::move(chunk)]() mutable { done(std::move(chunk)); };
}

history_chunk history_service::read_chunk(const history_request& request, reader_state& state) {
  history_reader& reader = state.reader;
  if (!state.positioned || reader.epoch() != request.epoch || reader.position() != request.from) {
    state.positioned = false;
    const std::vector<segment_info> segments = view_().segments;
    switch (reader.seek(segments, request.epoch, request.from)) {
      case history_start::complete:
        break;
      case history_start::incomplete:
        return gone_chunk(where(request.epoch, request.from) + " is no longer in the log");
      case history_start::no_history: {
        // The segment list is refreshed a little after the log reports a write: an epoch newer
        // than every segment is one just begun (caught up for now), an older one is gone.
        const bool newer = std::all_of(segments.begin(), segments.end(),
                                       [&](const segment_info& segment) { return segment.epoch < request.epoch; });
        if (newer) return {};
        return gone_chunk("nothing of epoch " + std::to_string(request.epoch) + " is left in the log");
      }
      case history_start::error:
        if (reader.error() == std::errc::no_such_file_or_directory) {
          return gone_chunk(where(request.epoch, request.from) + " is no longer in the log (segment deleted)");
        }
        if (!reader.error()) report_damage(reader, segments);
        return error_chunk("cannot read the log at " + where(request.epoch, request.from) + ": " +
                           describe_failure(reader));
    }
    state.positioned = true;
  }

  // Runs as offsets into chunk.bytes while it grows; views once it is complete.
  struct pending_run {
    sequence_number first;
    std::uint64_t count;
    std::size_t offset;
    std::size_t size;
    bool skipped;
  };
  std::vector<pending_run> pending;
  history_chunk chunk;
  std::vector<char>& bytes = chunk.bytes;
  bytes.reserve(request.max_bytes);  // grown (once) only by a last batch that passes it
  batch_view batch;
  // At least one batch (a single larger one comes whole); then whole batches while under
  // max_bytes: at most max_bytes plus one batch.
  while (reader.position() <= request.until && (pending.empty() || bytes.size() < request.max_bytes)) {
    if (stopping()) break;
    const history_status status = reader.next(batch);
    if (status == history_status::caught_up) break;
    if (status != history_status::batch) {
      state.positioned = false;  // the next read seeks and meets the problem again, or its cause is gone
      if (!pending.empty()) break;  // hand out what was read; the next read reports it
      if (status == history_status::lost) {
        return gone_chunk(where(request.epoch, reader.position()) + " is no longer in the log: " +
                          std::string(reader.reason()));
      }
      if (status == history_status::corrupt) report_damage(reader, view_().segments);
      return error_chunk("cannot read the log: " + describe_failure(reader));
    }
    if (batch.last_seq() > request.until) {
      // Never a number past `until`: the rest stays with the reader for the next read.
      const std::uint64_t keep = request.until - batch.first_seq + 1;
      reader.put_back(request.until + 1);
      batch = first_numbers(batch, keep);
    }
    const bool skipped = batch.kind == batch_kind::skipped;
    if (!pending.empty() && pending.back().skipped == skipped) {
      pending.back().count += batch.count;
      pending.back().size += batch.body.size();
    } else {
      pending.push_back({batch.first_seq, batch.count, bytes.size(), batch.body.size(), skipped});
    }
    bytes.insert(bytes.end(), batch.body.begin(), batch.body.end());
  }

  // Views only now that the bytes stop growing; a vector keeps its buffer when the chunk
  // moves (into the posted function, then into done).
  chunk.runs.reserve(pending.size());
  for (const pending_run& run : pending) {
    history_run out;
    out.first = run.first;
    out.count = run.count;
    if (run.size != 0) out.lines = std::string_view(bytes.data() + run.offset, run.size);
    chunk.runs.push_back(out);
  }
  return chunk;
}

void history_service::report_damage(const history_reader& reader, const std::vector<segment_info>& segments) {
  if (!on_damage_) return;
  const std::string& path = reader.segment_path();
  const auto slash = path.find_last_of('/');
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  damaged_range range;
  range.epoch = reader.epoch();
  range.first_lost = reader.position();
  range.file = name;
  range.offset = reader.offset();
  range.reason = std::string(reader.reason());
  // Without reading on, what follows the damage in its segment is unknown: all of it counts.
  for (const auto& segment : segments) {
    if (segment.name == name) {
      range.last_lost = std::max(segment.last_seq, range.first_lost);
      range.bytes = segment.bytes > range.offset ? segment.bytes - range.offset : 0;
    }
  }
  on_damage_(std::move(range));
}

std::vector<std::function<void()>> history_service::run_following(std::vector<following_job>& group) {
  // By `after`: indices sorted, the queries built in that order (never swapped about).
  std::vector<std::size_t> order(group.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&group](std::size_t a, std::size_t b) { return group[a].after < group[b].after; });
  std::vector<following_query> queries(group.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    queries[i].user = group[order[i]].user;
    queries[i].after = group[order[i]].after;
    queries[i].job = order[i];
  }
  try {
    answer_following(group.front().epoch, queries);
  } catch (const std::exception&) {
    for (auto& query : queries) query.answer.reset();  // history cannot tell
  }
  std::vector<std::function<void()>> results;
  results.reserve(queries.size());
  for (auto& query : queries) {
    results.push_back([done = std::move(group[query.job].done), answer = std::move(query.answer)]() mutable {
      done(std::move(answer));
    });
  }
  return results;
}

// Rounds over `queries` (sorted by after): each picks one base (a snapshot or the epoch's
// start), loads the users asked about from it, and replays the log once for all of them.
// Queries the base cannot answer exactly (a fuzzy snapshot's window, see the header) go to
// the next round, whose bases are all older than this one's, so rounds end.
void history_service::answer_following(stream_epoch epoch, std::vector<following_query>& queries) {
  struct base {
    sequence_number seq = 0;  // replay from seq + 1
    std::string path;         // empty: the epoch's start, nothing loaded
    // Every record shows the graph at some number in [seq, settled]: the next snapshot's
    // number (it began only once this one was written), the log's end (no_number) for the
    // newest, seq itself for the start.
    sequence_number settled = 0;
    bool refused = false;
  };
  std::vector<base> bases;  // by seq, oldest first
  {
    const log_view view = view_();
    std::vector<snapshot_mark> snapshots = view.snapshots;
    std::erase_if(snapshots, [epoch](const snapshot_mark& s) { return s.epoch != epoch; });
    std::sort(snapshots.begin(), snapshots.end(),
              [](const snapshot_mark& a, const snapshot_mark& b) { return a.seq < b.seq; });
    if (first_available_seq(view.segments, epoch) == sequence_number{1}) bases.push_back({0, {}, 0, false});
    for (std::size_t i = 0; i < snapshots.size(); ++i) {
      bases.push_back({snapshots[i].seq, join_path(dir_, snapshot_file_name(epoch, snapshots[i].seq)),
                       i + 1 < snapshots.size() ? snapshots[i + 1].seq : no_number, false});
    }
  }

  struct user_follows {
    std::unordered_set<user_id> following;
    // The number of the first follow or unfollow of each id since the base: a change after a
    // query's `after` to an id unchanged before it is what a fuzzy record may already show.
    std::unordered_map<user_id, sequence_number> first_change;
    std::vector<following_query*> watched;  // captured, their window still open
  };

  sequence_number ceiling = no_number;  // this round's base is older than the last one's
  for (;;) {
    std::vector<following_query*> round;
    for (auto& query : queries) {
      if (!query.final) round.push_back(&query);
    }
    if (round.empty() || stopping()) return;

    // The newest usable base at or before the smallest `after` (so before every one); a
    // query older than every base cannot be answered.
    base* chosen = nullptr;
    std::unordered_map<user_id, user_follows> users;
    while (chosen == nullptr && !round.empty()) {
      for (auto it = bases.rbegin(); it != bases.rend(); ++it) {
        if (!it->refused && it->seq < ceiling && it->seq <= round.front()->after) {
          chosen = &*it;
          break;
        }
      }
      if (chosen == nullptr) {
        round.front()->final = true;  // answer stays nullopt
        round.erase(round.begin());
        continue;
      }
      users.clear();
      for (const following_query* query : round) users[query->user];
      if (!chosen->path.empty()) {
        const snapshot_load loaded =
            load_snapshot(chosen->path, [&users](user_id user, std::span<const user_id> followed) {
              const auto it = users.find(user);
              if (it != users.end()) it->second.following.insert(followed.begin(), followed.end());
            });
        if (!loaded.ok) {
          chosen->refused = true;
          chosen = nullptr;
        } else if (loaded.exact) {
          chosen->settled = chosen->seq;  // the graph at exactly seq: no window to watch
        }
      }
    }
    if (chosen == nullptr) return;
    following_passes_.fetch_add(1, std::memory_order_relaxed);
    const sequence_number settled = chosen->settled;
    ceiling = chosen->seq;

    // Replay to the largest `after`, or on to the end of the window a query must watch.
    sequence_number scan_to = chosen->seq;
    for (const following_query* query : round) {
      scan_to = std::max(scan_to, query->after < settled ? settled : query->after);
    }
    std::size_t next_capture = 0;
    const auto capture_through = [&](sequence_number through) {
      while (next_capture < round.size() && round[next_capture]->after <= through) {
        following_query& query = *round[next_capture++];
        user_follows& follows = users[query.user];
        std::vector<user_id> list(follows.following.begin(), follows.following.end());
        std::sort(list.begin(), list.end());
        query.answer = std::move(list);
        query.captured = true;
        if (query.after < settled) follows.watched.push_back(&query);
      }
    };
    const auto change = [&](sequence_number seq, const event& ev) {
      const auto it = users.find(ev.from);
      if (it == users.end()) return;
      user_follows& follows = it->second;
      const sequence_number first = follows.first_change.try_emplace(ev.to, seq).first->second;
      if (seq <= settled) {
        for (following_query* query : follows.watched) {
          if (first > query->after) query->ambiguous = true;
        }
      }
      if (ev.type == event_type::follow) {
        follows.following.insert(ev.to);
      } else {
        follows.following.erase(ev.to);
      }
    };

    capture_through(chosen->seq);
    sequence_number done_through = chosen->seq;
    bool damaged = false;
    if (scan_to > chosen->seq) {
      history_reader reader(dir_, pass_buffer_bytes);
      const auto start = reader.seek(view_().segments, epoch, chosen->seq + 1);
      if (start != history_start::complete) {
        damaged = true;  // the log no longer reaches back to the base (or cannot be read)
      } else {
        batch_view batch;
        while (reader.position() <= scan_to) {
          if (stopping()) return;
          const history_status status = reader.next(batch);
          if (status == history_status::caught_up) break;
          if (status != history_status::batch) {
            damaged = true;
            break;
          }
          for (const stored_line& line : batch_lines(batch)) {
            if (line.seq > scan_to) break;
            capture_through(line.seq - 1);
            if (const auto ev = follow_change(line.payload())) change(line.seq, *ev);
          }
          done_through = std::min(reader.position() - 1, scan_to);
        }
      }
    }
    if (damaged) {
      // What the log cannot tell: every query of the round that needed it.
      for (following_query* query : round) {
        if (!query->captured || query->after < settled) query->answer.reset();
        query->final = true;
      }
      return;
    }
    capture_through(done_through);
    for (following_query* query : round) {
      if (!query->captured) {
        query->final = true;  // the log does not reach `after`
        query->answer.reset();
      } else if (query->ambiguous) {
        query->answer.reset();  // the next round, from an older base
        query->captured = false;
        query->ambiguous = false;
      } else {
        query->final = true;
      }
    }
  }
}

}  // namespace eventserver::storage
