// The storage layer's costs: building and sealing batches (once per event on the daemon's
// thread), crc32c, scanning a segment, and history_service (what a client catching up or
// resuming from history costs: reads in chunks, following_at over the log).
// Run: build/bench/storage_bench

#include <benchmark/benchmark.h>

#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "eventserver/storage/batch_builder.hpp"
#include "eventserver/storage/crc32c.hpp"
#include "eventserver/storage/history_service.hpp"
#include "eventserver/storage/log_directory.hpp"
#include "eventserver/storage/reporter.hpp"
#include "eventserver/storage/segment_reader.hpp"
#include "eventserver/storage/segment_scan.hpp"
#include "eventserver/storage/segment_writer.hpp"

namespace {

using namespace eventserver;
using namespace eventserver::storage;

// Harness-like notifications, 13 to 19 bytes ("1000042|S|532\r\n"), packed one after another
// in one buffer so that each has 32 readable bytes after its start (the daemon's ring does too).
struct line_set {
  std::string bytes;
  std::vector<line_ref> lines;  // padded: `bytes` ends in short_block zero bytes
  std::size_t total = 0;
};

line_set make_lines(std::size_t count, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> user(1, 999);
  std::uniform_int_distribution<int> pick(0, 99);
  std::vector<std::string> text;
  text.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const std::string seq = std::to_string(1000000 + i);
    const int p = pick(rng);
    if (p < 55) {
      text.push_back(seq + "|S|" + std::to_string(user(rng)) + "\r\n");
    } else if (p < 70) {
      text.push_back(seq + "|F|" + std::to_string(user(rng)) + "|" + std::to_string(user(rng)) + "\r\n");
    } else if (p < 85) {
      text.push_back(seq + "|P|" + std::to_string(user(rng)) + "|" + std::to_string(user(rng)) + "\r\n");
    } else if (p < 99) {
      text.push_back(seq + "|U|" + std::to_string(user(rng)) + "|" + std::to_string(user(rng)) + "\r\n");
    } else {
      text.push_back(seq + "|B\r\n");
    }
  }
  line_set set;
  for (const auto& line : text) set.bytes += line;
  set.bytes.append(batch_builder::short_block, '\0');
  std::size_t at = 0;
  for (const auto& line : text) {
    set.lines.emplace_back(set.bytes.data() + at, line.size(), set.bytes.size() - at);
    at += line.size();
  }
  set.total = at;
  return set;
}

// Per event: one append; per full batch: seal (header + CRC) and clear.
void BM_BatchBuildSeal(benchmark::State& state) {
  const line_set set = make_lines(1 << 16, 1);
  batch_builder builder(static_cast<std::size_t>(state.range(0)));
  builder.reset(1000000);
  std::size_t batches = 0;
  for (auto _ : state) {
    for (const auto line : set.lines) {
      if (!builder.append(line)) {
        benchmark::DoNotOptimize(builder.seal().data());
        builder.clear();
        ++batches;
        builder.append(line);
      }
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * set.lines.size()));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * set.total));
  state.counters["batches"] = static_cast<double>(batches);
}
BENCHMARK(BM_BatchBuildSeal)->Arg(4 << 10)->Arg(64 << 10)->Arg(1 << 20);

void crc_buffer(benchmark::State& state, bool hardware) {
  if (hardware && !detail::crc32c_hardware_available()) {
    state.SkipWithError("no SSE4.2");
    return;
  }
  std::vector<char> data(static_cast<std::size_t>(state.range(0)));
  std::mt19937_64 rng(2);
  for (auto& byte : data) byte = static_cast<char>(rng());
  for (auto _ : state) {
    const std::uint32_t crc = hardware ? detail::crc32c_extend_hardware(0, data.data(), data.size())
                                       : detail::crc32c_extend_portable(0, data.data(), data.size());
    benchmark::DoNotOptimize(crc);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * data.size()));
}
void BM_Crc32cHardware(benchmark::State& state) { crc_buffer(state, true); }
void BM_Crc32cPortable(benchmark::State& state) { crc_buffer(state, false); }
BENCHMARK(BM_Crc32cHardware)->Arg(64)->Arg(4 << 10)->Arg(64 << 10)->Arg(1 << 20);
BENCHMARK(BM_Crc32cPortable)->Arg(4 << 10)->Arg(1 << 20);

// A segment of 1M events written once per batch size, in a directory removed at exit.
class segment_fixture {
 public:
  static constexpr std::size_t events = 1'000'000;

  static const std::string& path(std::size_t batch_body_bytes) {
    static segment_fixture small(4 << 10);
    static segment_fixture large(64 << 10);
    return batch_body_bytes <= (4 << 10) ? small.path_ : large.path_;
  }

  ~segment_fixture() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

 private:
  explicit segment_fixture(std::size_t batch_body_bytes) {
    std::string pattern = "/tmp/eventserver-storage-bench-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    dir_ = pattern;
    const line_set set = make_lines(events, 3);
    segment_writer writer;
    if (writer.create(dir_, 1, 1000000)) std::abort();
    batch_builder builder(batch_body_bytes);
    builder.reset(1000000);
    for (const auto line : set.lines) {
      if (!builder.append(line)) {
        if (writer.append(builder.seal())) std::abort();
        builder.clear();
        builder.append(line);
      }
    }
    if (writer.append(builder.seal())) std::abort();
    path_ = writer.path();
  }

  std::string dir_;
  std::string path_;
};

// Catch-up: every batch read, checked (CRC, line count) and every line visited.
void BM_ScanSegment(benchmark::State& state) {
  const std::string& path = segment_fixture::path(static_cast<std::size_t>(state.range(0)));
  std::uint64_t bytes = 0;
  for (auto _ : state) {
    segment_reader reader;
    if (reader.open(path)) state.SkipWithError("open failed");
    batch_view batch;
    std::size_t lines = 0;
    std::size_t line_bytes = 0;
    while (reader.next(batch) == read_status::batch) {
      for (const auto& line : batch_lines(batch)) {
        ++lines;
        line_bytes += line.bytes.size();
      }
    }
    if (lines != segment_fixture::events) state.SkipWithError("short read");
    bytes = reader.offset();
    benchmark::DoNotOptimize(line_bytes);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * segment_fixture::events));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}
BENCHMARK(BM_ScanSegment)->Arg(4 << 10)->Arg(64 << 10)->Unit(benchmark::kMillisecond);

// Start-up recovery's scan of the last segment (torn-tail rule, index rebuilt).
void BM_RecoveryScan(benchmark::State& state) {
  const std::string& path = segment_fixture::path(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    null_reporter quiet;
    const segment_scan scan = scan_segment(path, quiet);
    if (scan.outcome != scan_outcome::clean) state.SkipWithError("not clean");
    benchmark::DoNotOptimize(scan.last_seq);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * segment_fixture::events));
}
BENCHMARK(BM_RecoveryScan)->Arg(4 << 10)->Arg(64 << 10)->Unit(benchmark::kMillisecond);

// A data directory holding 1M events of epoch 1 (1 .. 1M) in the daemon's 64 KiB batches over
// 8 MiB segments, with a log_directory open on it for its segment list.
class log_fixture {
 public:
  static constexpr sequence_number events = 1'000'000;

  static log_fixture& get() {
    static log_fixture fixture;
    return fixture;
  }
  ~log_fixture() {
    log_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  const std::string& dir() const { return dir_; }
  std::vector<segment_info> segments() const { return log_->segments(); }

 private:
  log_fixture() {
    std::string pattern = "/tmp/eventserver-history-bench-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    dir_ = pattern;
    log_options options;
    options.dir = dir_;
    options.segment_bytes = std::uint64_t{8} << 20;
    log_.emplace(log_directory::open(options));
    const line_set set = make_lines(events, 4);
    batch_builder builder(64 << 10);
    builder.reset(1);
    for (const auto line : set.lines) {
      if (!builder.append(line)) {
        if (log_->append(1, builder.seal())) std::abort();
        builder.reset(builder.next_seq());
        builder.append(line);
      }
    }
    if (log_->append(1, builder.seal())) std::abort();
    if (log_->last_seq() != events) std::abort();
  }

  std::string dir_;
  std::optional<log_directory> log_;
};

// The event thread: what history_service posts, run here.
class post_queue {
 public:
  history_service::post_fn post() {
    return [this](std::function<void()> work) {
      {
        std::lock_guard lock(mutex_);
        queue_.push_back(std::move(work));
      }
      ready_.notify_one();
    };
  }
  void run_one() {
    std::function<void()> work;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [this] { return !queue_.empty(); });
      work = std::move(queue_.front());
      queue_.pop_front();
    }
    work();
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> queue_;
};

// Catch-up: the whole log read through history_service in chunks of max_bytes (the argument),
// one read at a time, each answered through post before the next is asked (as a client
// session does). The reader keeps its place between reads: one seek per iteration.
void BM_HistoryServiceRead(benchmark::State& state) {
  log_fixture& log = log_fixture::get();
  post_queue loop;
  history_service service(log.dir(), [&log] { return log.segments(); }, loop.post());
  const auto max_bytes = static_cast<std::size_t>(state.range(0));
  std::uint64_t reads = 0;
  std::uint64_t bytes = 0;
  for (auto _ : state) {
    sequence_number next = 1;
    while (next <= log_fixture::events) {
      bool ok = false;
      service.read({1, 1, next, log_fixture::events, max_bytes}, [&](history_chunk chunk) {
        ok = chunk.result == history_chunk::outcome::ok && !chunk.runs.empty();
        if (ok) next = chunk.runs.back().first + chunk.runs.back().count;
        bytes += chunk.bytes.size();
      });
      loop.run_one();
      ++reads;
      if (!ok) {
        state.SkipWithError("read failed");
        return;
      }
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * log_fixture::events));
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  state.counters["reads"] = static_cast<double>(reads) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_HistoryServiceRead)->Arg(64 << 10)->Arg(8 << 10)->Unit(benchmark::kMillisecond)->UseRealTime();

// A resume further back than memory reaches: following_at over the whole log (no snapshot, so
// a replay from the epoch's start), for `range(0)` users asking at once (one shared pass).
void BM_HistoryServiceFollowingAt(benchmark::State& state) {
  log_fixture& log = log_fixture::get();
  post_queue loop;
  history_service service(log.dir(), [&log] { return log.segments(); }, loop.post());
  const auto users = static_cast<int>(state.range(0));
  std::size_t followed = 0;
  for (auto _ : state) {
    for (int i = 0; i < users; ++i) {
      service.following_at(static_cast<user_id>(1 + i * 7), 1, log_fixture::events,
                           [&](std::optional<std::vector<user_id>> answer) {
                             if (!answer) state.SkipWithError("no answer");
                             if (answer) followed += answer->size();
                           });
    }
    for (int i = 0; i < users; ++i) loop.run_one();
  }
  benchmark::DoNotOptimize(followed);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * log_fixture::events));
  state.counters["passes"] = static_cast<double>(service.following_passes()) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_HistoryServiceFollowingAt)->Arg(1)->Arg(100)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
