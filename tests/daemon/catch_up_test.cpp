// Every client a cursor on the log: a slow reader catches up from history and loses nothing, a
// stuck one is disconnected, a dropped one resumes after its last notification exactly once.
// In-process daemons over real sockets, with the in-memory history and with a disk log.
#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/daemon.hpp"
#include "support/temp_directory.hpp"
#include "support/http.hpp"

namespace eventserver {
namespace {

namespace fs = std::filesystem;
using namespace test_support;
using ::testing::HasSubstr;

lines privates_to(user_id to, sequence_number first, sequence_number last, std::size_t pad = 0) {
  lines out;
  for (sequence_number seq = first; seq <= last; ++seq) {
    out.push_back(std::to_string(seq) + "|P|" + std::string(pad, '0') + "7|" + std::to_string(to));
  }
  return out;
}

// Kernel buffers on loopback take megabytes for a client that does not read (the send buffer
// grows in 64 KiB segments): a client falls behind the daemon only past that. Lines this long,
// a few thousand of them, are well past it.
const std::string padding(400, '0');

// Reads `count` lines slowly: a little at a time with pauses, as a client on a slow link.
lines read_slowly(connection& conn, std::size_t count) {
  lines got;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (got.size() < count && std::chrono::steady_clock::now() < deadline) {
    for (auto& line : conn.read_lines(std::min<std::size_t>(50, count - got.size()), 200ms)) got.push_back(line);
    std::this_thread::sleep_for(2ms);
  }
  return got;
}

struct history_kind {
  const char* name;
  bool on_disk;
  bool spill = false;  // clientSpillBytes: a slow client keeps its own notifications in a file
};

class CatchUp : public ::testing::TestWithParam<history_kind> {
 protected:
  config settings() {
    config c = test_config();
    c.max_client_queue_bytes = 4096;
    c.client_write_batch_bytes = 1024;
    if (GetParam().on_disk) c.data_dir = dir_.path();
    if (GetParam().spill) c.client_spill_bytes = 64 << 20;
    return c;
  }
  temp_directory dir_{"eventserver-catch-up"};
};

// The case: a client that keeps reading, slower than the stream, used to be cut off
// at its queue bound and lost everything after. Now it reads on from history.
TEST_P(CatchUp, ASlowReaderGetsEverythingInOrderAndNobodyElseWaits) {
  test_daemon d(settings());
  auto fast = d.connect_user(1);
  auto slow = d.connect_user(2, /*receive_buffer=*/4096);
  auto source = d.connect_source();
  lines stream;
  lines to_fast;
  lines to_slow;
  for (sequence_number seq = 1; seq <= 15000; ++seq) {
    if (seq % 100 == 0) {
      stream.push_back(std::to_string(seq) + "|P|9|1");
      to_fast.push_back(stream.back());
    } else {
      stream.push_back(std::to_string(seq) + "|P|" + padding + "9|2");
      to_slow.push_back(stream.back());
    }
  }
  std::jthread feed([&source, &stream] { source.send_lines(stream); });
  EXPECT_EQ(fast.read_lines(to_fast.size()), to_fast);  // not held back by the slow one
  ASSERT_TRUE(d.wait_until([](server& s) { return s.stats().catch_up_entered >= 1; }));
  EXPECT_EQ(read_slowly(slow, to_slow.size()), to_slow);
  EXPECT_EQ(slow.expect_no_more(100ms), "");
  ASSERT_TRUE(d.wait_until([](server& s) { return s.stats().catch_up_rejoined >= 1; }));
  feed.join();
  source.send_lines({"15001|B"});  // live again: the next broadcast arrives once, in order
  EXPECT_EQ(slow.read_lines(1), (lines{"15001|B"}));
  EXPECT_EQ(fast.read_lines(1), (lines{"15001|B"}));
  const auto s = d.stats();
  EXPECT_EQ(s.clients_disconnected_slow, 0u);
  EXPECT_EQ(s.notifications_dropped_closing, 0u);
  if (GetParam().spill) {
    EXPECT_GE(s.spill_entered, 1u);
    EXPECT_GT(s.spill_notifications, 0u);
    EXPECT_EQ(s.history_notifications, 0u);  // nothing filtered from the log again
  } else {
    EXPECT_GT(s.history_notifications, 0u);
  }
}

// While catching up, status updates are decided by whom the user followed at each point:
// follows and unfollows read from history change it as the live router would.
TEST_P(CatchUp, HistoryFollowsTheGraphAsItWasAtEachEvent) {
  test_daemon d(settings());
  auto slow = d.connect_user(2, /*receive_buffer=*/4096);
  auto source = d.connect_source();
  lines stream;
  lines to_slow;
  sequence_number seq = 0;
  const auto add = [&](std::string body, bool for_slow) {
    stream.push_back(std::to_string(++seq) + body);
    if (for_slow) to_slow.push_back(stream.back());
  };
  for (int round = 0; round < 200; ++round) {
    for (int i = 0; i < 60; ++i) add("|P|" + padding + "9|2", true);  // past the kernel's buffers
    add("|S|5", false);           // 2 does not follow 5 yet
    add("|F|2|5", false);         // now it does (5 is notified, not 2)
    add("|S|5", true);
    add("|U|2|5", false);
    add("|S|5", false);
  }
  std::jthread feed([&source, &stream] { source.send_lines(stream); });
  ASSERT_TRUE(d.wait_until([](server& s) { return s.stats().catch_up_entered >= 1; }));
  EXPECT_EQ(read_slowly(slow, to_slow.size()), to_slow);
  EXPECT_EQ(slow.expect_no_more(100ms), "");
}

// A client whose socket takes nothing at all is disconnected after clientWriteTimeoutMs,
// named in a warning; the others go on.
TEST_P(CatchUp, AStuckClientIsDisconnectedAfterTheWriteTimeout) {
  auto c = settings();
  c.client_write_timeout = 300ms;
  test_daemon d(c);
  auto fine = d.connect_user(1);
  auto stuck = d.connect_user(2, /*receive_buffer=*/4096);  // never reads
  auto source = d.connect_source();
  std::jthread feed([&source] {
    try {
      source.send_lines(privates_to(2, 1, 20000, 400));  // 8 MB for user 2: its socket fills
      source.send_lines({"20001|B"});
    } catch (const std::exception&) {
    }
  });
  ASSERT_TRUE(d.wait_until([](server& s) { return s.stats().clients_disconnected_stuck == 1; }));
  EXPECT_TRUE(d.logs().contains("(user 2) disconnected: stuck")) << d.logs().dump();
  EXPECT_EQ(fine.read_lines(1), (lines{"20001|B"}));
}

// <user>|<last>: everything after <last>, in order, then the live stream, exactly once; a
// status line first says the history is complete.
TEST_P(CatchUp, ADroppedClientResumesAfterItsLastNotification) {
  test_daemon d(settings());
  auto source = d.connect_source();
  lines first_part;
  {
    auto alice = d.connect_user(2);
    source.send_lines({"1|F|2|5", "2|S|5", "3|B", "4|P|1|2"});
    first_part = alice.read_lines(3);
    EXPECT_EQ(first_part, (lines{"2|S|5", "3|B", "4|P|1|2"}));
  }
  ASSERT_TRUE(d.wait_for_registered_connections(0));
  // Missed meanwhile: an unfollow in between changes who gets the status updates.
  source.send_lines({"5|S|5", "6|U|2|5", "7|S|5", "8|B"});
  ASSERT_TRUE(d.wait_for_processed(8));
  auto again = d.connect_client();
  again.send("2|4\r\n");
  EXPECT_EQ(again.read_lines(3), (lines{"resumed|1|4|complete", "5|S|5", "8|B"}));
  source.send_lines({"9|B"});
  EXPECT_EQ(again.read_lines(1), (lines{"9|B"}));
  EXPECT_EQ(again.expect_no_more(100ms), "");
  EXPECT_EQ(d.stats().resumes_complete, 1u);
}

TEST_P(CatchUp, AResumeFromAnotherEpochOrBeyondTheStreamIsIncomplete) {
  test_daemon d(settings());
  auto source = d.connect_source();
  source.send_lines({"1|B", "2|B"});
  ASSERT_TRUE(d.wait_for_processed(2));
  auto other_epoch = d.connect_client();
  other_epoch.send("3|1|7\r\n");  // epoch 7 never was: this stream from its start
  EXPECT_EQ(other_epoch.read_lines(3), (lines{"resumed|1|0|incomplete", "1|B", "2|B"}));
  auto ahead = d.connect_client();
  ahead.send("4|99\r\n");  // a position the daemon never reached: live from here
  EXPECT_EQ(ahead.read_lines(1), (lines{"resumed|1|2|incomplete"}));
  source.send_lines({"3|B"});
  EXPECT_EQ(ahead.read_lines(1), (lines{"3|B"}));
  EXPECT_EQ(d.stats().resumes_incomplete, 2u);
}

TEST_P(CatchUp, AResumedClientIsToldOfANewStream) {
  test_daemon d(settings());
  auto client = d.connect_client();
  client.send("1|0\r\n");
  EXPECT_EQ(client.read_lines(1), (lines{"resumed|1|0|complete"}));
  {
    auto source = d.connect_source();
    source.send_lines({"1|B", "2|B"});
    EXPECT_EQ(client.read_lines(2), (lines{"1|B", "2|B"}));
  }
  ASSERT_TRUE(d.wait_for_event_sources(0));
  auto again = d.connect_source();
  again.send_lines({"2|B", "1|B"});  // starting over: epoch 2
  EXPECT_EQ(client.read_lines(3), (lines{"epoch|2", "1|B", "2|B"}));
}

TEST_P(CatchUp, ConnzShowsTheModeAndMetricsCountCatchUps) {
  auto c = settings();
  c.admin_enabled = true;
  test_daemon d(c);
  auto slow = d.connect_user(2, /*receive_buffer=*/4096);
  auto source = d.connect_source();
  std::jthread feed([&source] { source.send_lines(privates_to(2, 1, 15000, 400)); });
  ASSERT_TRUE(d.wait_until([](server& s) { return s.stats().catch_up_entered >= 1; }));
  const auto port = d.on_io([](server& s) { return s.admin_endpoint().port(); });
  const auto connz = http_request(port, "GET /connz HTTP/1.1").body;
  EXPECT_THAT(connz, HasSubstr(GetParam().spill ? "\"mode\": \"spill\"" : "\"mode\": \"catch-up\""));
  const auto metrics = http_request(port, "GET /metrics HTTP/1.1").body;
  EXPECT_EQ(metric(metrics, "eventserver_clients_catching_up"), 1);
  EXPECT_GE(metric(metrics, "eventserver_catch_up_total{reason=\"entered\"}"), 1);
  EXPECT_EQ(read_slowly(slow, 15000).size(), 15000u);
}

INSTANTIATE_TEST_SUITE_P(History, CatchUp,
                         ::testing::Values(history_kind{"memory", false}, history_kind{"disk", true},
                                           history_kind{"spill", true, true}),
                         [](const auto& instance) { return std::string(instance.param.name); });

// A spill over its budget: the block it refused stays with the client, which then reads the log
// from the number after it. Nothing lost, nothing twice, in order.
TEST(CatchUpSpill, OverItsBudgetTheClientReadsTheLogAfterTheSpill) {
  temp_directory dir{"eventserver-catch-up"};
  config c = test_config();
  c.max_client_queue_bytes = 4096;
  c.client_write_batch_bytes = 1024;
  c.data_dir = dir.path();
  c.client_spill_bytes = 200 << 10;  // three blocks
  test_daemon d(c);
  auto slow = d.connect_user(2, /*receive_buffer=*/4096);
  auto source = d.connect_source();
  lines stream;
  lines to_slow;
  for (sequence_number seq = 1; seq <= 12000; ++seq) {
    // Its follows change on the way: the log's part must know whom it followed where it starts.
    if (seq % 1000 == 500) {
      stream.push_back(std::to_string(seq) + (seq % 2000 == 500 ? "|F|2|5" : "|U|2|5"));
    } else if (seq % 10 == 0) {
      stream.push_back(std::to_string(seq) + "|S|5");
      if (seq % 2000 > 500 && seq % 2000 < 1500) to_slow.push_back(stream.back());
    } else {
      stream.push_back(std::to_string(seq) + "|P|" + padding + "9|2");
      to_slow.push_back(stream.back());
    }
  }
  std::jthread feed([&source, &stream] { source.send_lines(stream); });
  ASSERT_TRUE(d.wait_until([](server& s) { return s.stats().spill_refused >= 1; }));
  EXPECT_EQ(read_slowly(slow, to_slow.size()), to_slow);
  EXPECT_EQ(slow.expect_no_more(100ms), "");
  feed.join();
  source.send_lines({"12001|B"});
  EXPECT_EQ(slow.read_lines(1), (lines{"12001|B"}));
  const auto s = d.stats();
  EXPECT_GT(s.spill_notifications, 0u);
  EXPECT_GT(s.history_notifications, 0u);
  EXPECT_EQ(s.clients_disconnected_slow + s.clients_disconnected_spill, 0u);
}

// A spill file that cannot be made (here: the data directory is gone from under the daemon, so
// no unnamed file can be made in it) cuts its client off with a warning; nobody else is held up.
TEST(CatchUpSpill, ASpillThatFailsCutsItsClientOffAndNobodyElse) {
  temp_directory dir{"eventserver-catch-up"};
  config c = test_config();
  c.max_client_queue_bytes = 4096;
  c.client_write_batch_bytes = 1024;
  c.data_dir = (dir.path() / "data").string();
  fs::create_directories(c.data_dir);
  c.client_spill_bytes = 64 << 20;
  test_daemon d(c);
  auto fast = d.connect_user(1);
  auto slow = d.connect_user(2, /*receive_buffer=*/4096);
  auto source = d.connect_source();
  source.send_lines({"1|B"});  // the log's first segment is open now: it writes on into it
  EXPECT_EQ(fast.read_lines(1), (lines{"1|B"}));
  EXPECT_EQ(slow.read_lines(1), (lines{"1|B"}));
  fs::remove_all(c.data_dir);
  lines stream;
  lines to_fast;
  for (sequence_number seq = 2; seq <= 20000; ++seq) {
    stream.push_back(std::to_string(seq) + (seq % 100 == 0 ? "|P|9|1" : "|P|" + padding + "9|2"));
    if (seq % 100 == 0) to_fast.push_back(stream.back());
  }
  std::jthread feed([&source, &stream] {
    try {
      source.send_lines(stream);
    } catch (const std::exception&) {
    }
  });
  EXPECT_EQ(fast.read_lines(to_fast.size()), to_fast);
  // The failure shows when the spill is read back: the slow client reads on until cut off.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (d.stats().clients_disconnected_spill == 0 && std::chrono::steady_clock::now() < deadline) {
    try {
      slow.read_lines(50, 50ms);
    } catch (const std::exception&) {
      break;  // reset
    }
  }
  ASSERT_TRUE(d.wait_until([](server& s) { return s.stats().clients_disconnected_spill == 1; }));
  EXPECT_TRUE(d.logs().contains("(user 2) disconnected: its spill could not be read back (cannot make a spill file"))
      << d.logs().dump();
  EXPECT_GE(d.stats().spill_entered, 1u);
}

// From a disk log, after a restart: the recent graph changes are gone with the old process,
// so the client's follows at its position are rebuilt from the log (and its snapshots).
TEST(CatchUpAfterRestart, AResumeAcrossARestartIsExact) {
  temp_directory dir{"eventserver-catch-up"};
  config c = test_config();
  c.data_dir = dir.path();
  {
    test_daemon d(c);
    auto alice = d.connect_user(2);
    auto source = d.connect_source();
    source.send_lines({"1|F|2|5", "2|S|5", "3|U|2|5", "4|S|5", "5|F|2|6", "6|S|6"});
    EXPECT_EQ(alice.read_lines(2), (lines{"2|S|5", "6|S|6"}));
  }
  test_daemon d(c);
  auto again = d.connect_client();
  again.send("2|2\r\n");  // it had 2|S|5; after that 2 unfollowed 5 and followed 6
  EXPECT_EQ(again.read_lines(2), (lines{"resumed|1|2|complete", "6|S|6"}));
  EXPECT_EQ(again.expect_no_more(100ms), "");
}

}  // namespace
}  // namespace eventserver
