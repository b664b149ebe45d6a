// Micro-benchmarks of the hot path: parse -> sequence -> route -> append to client buffers.
// Run: build/bench/eventserver_bench   (or `make bench`, which also runs the end-to-end grid)

#include <benchmark/benchmark.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "eventserver/core/dispatcher.hpp"
#include "eventserver/core/event.hpp"
#include "eventserver/core/follower_graph.hpp"
#include "eventserver/core/line_reader.hpp"
#include "eventserver/core/router.hpp"
#include "eventserver/core/send_buffer.hpp"
#include "eventserver/core/sequencer.hpp"
#include "eventserver/core/user_filter.hpp"

namespace {

using namespace eventserver;

// The harness's default mix: 55% status, 15% follow, 15% unfollow, 15% private, rare broadcast.
std::vector<std::string> make_lines(std::size_t count, user_id users, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<user_id> user(1, users);
  std::uniform_int_distribution<int> pick(0, 9999);
  std::vector<std::string> lines;
  lines.reserve(count);
  for (std::size_t i = 1; i <= count; ++i) {
    const int p = pick(rng);
    const std::string seq = std::to_string(i);
    if (p == 0) {
      lines.push_back(seq + "|B");
    } else if (p < 1500) {
      lines.push_back(seq + "|F|" + std::to_string(user(rng)) + "|" + std::to_string(user(rng)));
    } else if (p < 3000) {
      lines.push_back(seq + "|U|" + std::to_string(user(rng)) + "|" + std::to_string(user(rng)));
    } else if (p < 4500) {
      lines.push_back(seq + "|P|" + std::to_string(user(rng)) + "|" + std::to_string(user(rng)));
    } else {
      lines.push_back(seq + "|S|" + std::to_string(user(rng)));
    }
  }
  return lines;
}

void shuffle_within(std::vector<std::string>& lines, std::size_t window, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (std::size_t i = 0; i < lines.size(); i += window) {
    std::shuffle(lines.begin() + static_cast<std::ptrdiff_t>(i),
                 lines.begin() + static_cast<std::ptrdiff_t>(std::min(lines.size(), i + window)), rng);
  }
}

// The session's one-pass path: the lines as a source's buffer holds them, each with its "\r\n".
void BM_ParseEventLine(benchmark::State& state) {
  auto lines = make_lines(1 << 16, 1000, 1);
  for (auto& line : lines) line += "\r\n" + std::string(parse_event_line_padding, '\0');
  std::size_t i = 0;
  for (auto _ : state) {
    parse_result parsed;
    benchmark::DoNotOptimize(parse_event_line(lines[i++ & (lines.size() - 1)].c_str(), parsed));
    benchmark::DoNotOptimize(parsed);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseEventLine);

void BM_ParseEvent(benchmark::State& state) {
  const auto lines = make_lines(1 << 16, 1000, 1);
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(parse_event(lines[i++ & (lines.size() - 1)]));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseEvent);

// A client in catch-up: one user's notifications picked out of a run of history, 64K events
// as the log stores them. "careful" is what the loop did before user_filter::scan: frame each
// line, parse it, ask notifies().
void BM_CatchUpFilter(benchmark::State& state) {
  std::string run;
  for (const auto& line : make_lines(1 << 16, 1000, 3)) run += line + "\r\n";
  std::vector<user_id> following(10);
  std::iota(following.begin(), following.end(), 500);
  const bool scan = state.range(0) == 1;
  for (auto _ : state) {
    user_filter filter(7, following);
    std::uint64_t taken = 0;
    if (scan) {
      filter.scan(run, 1, [&](sequence_number, std::string_view) { ++taken; });
    } else {
      std::string_view rest = run;
      for (sequence_number seq = 1; !rest.empty(); ++seq) {
        const auto nl = rest.find('\n');
        const parse_result parsed = parse_event(rest.substr(0, nl - 1));
        rest.remove_prefix(nl + 1);
        if (parsed.status == parse_status::ok && filter.notifies(parsed.ev)) ++taken;
      }
    }
    benchmark::DoNotOptimize(taken);
  }
  state.SetItemsProcessed(state.iterations() * (1 << 16));
  state.SetLabel(scan ? "scan" : "careful");
}
BENCHMARK(BM_CatchUpFilter)->Arg(0)->Arg(1);

// Offers a stream shuffled within `window` and releases it, as the dispatcher does.
void BM_Sequencer(benchmark::State& state) {
  const auto window = static_cast<std::size_t>(state.range(0));
  constexpr std::size_t count = 1 << 20;
  std::vector<sequence_number> order(count);
  std::iota(order.begin(), order.end(), 1);
  std::mt19937_64 rng(7);
  if (window > 1) {
    for (std::size_t i = 0; i < count; i += window) {
      std::shuffle(order.begin() + static_cast<std::ptrdiff_t>(i),
                   order.begin() + static_cast<std::ptrdiff_t>(std::min(count, i + window)), rng);
    }
  }
  const std::string payload = "1234567|S|123";
  for (auto _ : state) {
    sequencer s(std::max<std::size_t>(window * 2, 1024));
    std::size_t released = 0;
    for (const auto seq : order) {
      s.offer(event{seq, event_type::status_update, 1, 0}, payload);
      if (s.ready()) released += s.drain([](const event&, std::string_view) {});
    }
    benchmark::DoNotOptimize(released);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * count));
}
BENCHMARK(BM_Sequencer)->Arg(1)->Arg(100)->Arg(10000)->Unit(benchmark::kMillisecond);

void BM_FollowUnfollow(benchmark::State& state) {
  const auto users = static_cast<user_id>(state.range(0));
  std::mt19937_64 rng(3);
  std::uniform_int_distribution<user_id> user(1, users);
  std::vector<std::pair<user_id, user_id>> edges(1 << 16);
  for (auto& e : edges) e = {user(rng), user(rng)};
  follower_graph g;
  for (const auto& [from, to] : edges) g.follow(from, to);
  std::size_t i = 0;
  for (auto _ : state) {
    const auto& [from, to] = edges[i++ & (edges.size() - 1)];
    benchmark::DoNotOptimize(g.unfollow(from, to));
    benchmark::DoNotOptimize(g.follow(from, to));
  }
  state.SetItemsProcessed(state.iterations() * 2);
}
BENCHMARK(BM_FollowUnfollow)->Arg(1000)->Arg(100000);

// Stands in for client_session::deliver: append the line to a per-connection buffer that
// is "flushed" (cleared) every so often, as the real write completions do.
class buffer_recipient final : public recipient {
 public:
  buffer_recipient() { buffer_.reserve(128 * 1024); }
  void deliver(sequence_number, line_ref notification) override {
    buffer_.append_short(notification);
    ++delivered;
    if (buffer_.size() > 64 * 1024) buffer_.clear();
  }
  void begin_stream(stream_epoch) override {}
  send_buffer buffer_;
  std::uint64_t delivered = 0;
};

// The whole path as the event-source session runs it: 256 KiB chunks of wire bytes framed by
// line_reader, parsed, sequenced (shuffled within 100), routed and appended to client buffers.
// state.range(0) connected users out of 10x as many.
void BM_FanOut(benchmark::State& state) {
  const auto connected = static_cast<user_id>(state.range(0));
  const user_id users = connected * 10;
  auto lines = make_lines(1 << 18, users, 11);
  shuffle_within(lines, 100, 12);
  std::string wire;
  for (const auto& line : lines) wire += line + "\r\n";
  std::vector<buffer_recipient> clients(connected);
  std::uint64_t notifications = 0;
  std::size_t events = 0;
  for (auto _ : state) {
    state.PauseTiming();
    counters stats;
    dispatcher d(stream_settings{}, stats);
    line_reader reader(1024, 256 * 1024);
    for (user_id u = 0; u < connected; ++u) d.routes().connect(u * 10 + 1, clients[u]);
    state.ResumeTiming();
    std::string_view rest = wire;
    while (!rest.empty()) {
      const auto room = reader.prepare();
      const std::size_t n = std::min(room.size(), rest.size());
      std::copy_n(rest.data(), n, room.data());  // stands in for the socket read
      reader.commit(n);
      rest.remove_prefix(n);
      parse_result parsed;
      line_ref line;
      while (next_event_line(reader, parsed, line)) d.offer_parsed(parsed, line);
    }
    events += lines.size();
  }
  for (auto& c : clients) notifications += c.delivered;
  state.SetItemsProcessed(static_cast<std::int64_t>(events));
  state.counters["notifications_per_event"] = static_cast<double>(notifications) / static_cast<double>(events);
}
BENCHMARK(BM_FanOut)->Arg(100)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
