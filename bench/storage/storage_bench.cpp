// The storage layer's costs: building and sealing batches (once per event on the daemon's
// thread), crc32c, and scanning a segment (what a client catching up from history costs).
// Run: build/bench/storage_bench

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "eventserver/storage/batch_builder.hpp"
#include "eventserver/storage/crc32c.hpp"
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
  std::vector<std::string_view> lines;
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
    set.lines.emplace_back(set.bytes.data() + at, line.size());
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
      if (!builder.append(line, batch_builder::short_block)) {
        benchmark::DoNotOptimize(builder.seal().data());
        builder.clear();
        ++batches;
        builder.append(line, batch_builder::short_block);
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
      if (!builder.append(line, batch_builder::short_block)) {
        if (writer.append(builder.seal())) std::abort();
        builder.clear();
        builder.append(line, batch_builder::short_block);
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

}  // namespace

BENCHMARK_MAIN();
