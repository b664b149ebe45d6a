#include "followermaze/protocol_lines.hpp"

#include <gtest/gtest.h>

#include <string>

namespace followermaze {
namespace {

TEST(ProtocolLines, DurableLine) {
  EXPECT_EQ(parse_durable_line("durable|1|0\r\n"), (stream_position{1, 0}));
  EXPECT_EQ(parse_durable_line("durable|3|41785\n"), (stream_position{3, 41785}));
  EXPECT_EQ(parse_durable_line("durable|2|18446744073709551615"), (stream_position{2, 18446744073709551615ULL}));
  for (const char* bad : {"durable|0|5\r\n", "durable|1\r\n", "durable|1|2|3\r\n", "durable||5\r\n", "durable|1|\r\n",
                          "durable|1|-5\r\n", "durable|1| 5\r\n", "Durable|1|5\r\n", "durable|1|18446744073709551616\r\n",
                          "resumed|1|5|complete\r\n", "", "\r\n"}) {
    EXPECT_FALSE(parse_durable_line(bad).has_value()) << bad;
  }
}

TEST(ProtocolLines, StatusLines) {
  EXPECT_EQ(parse_status_line("resumed|3|41785|complete\r\n"),
            (status_line{status_kind::resumed, 3, 41785, true}));
  EXPECT_EQ(parse_status_line("resumed|1|0|incomplete\n"), (status_line{status_kind::resumed, 1, 0, false}));
  EXPECT_EQ(parse_status_line("epoch|4\r\n"), (status_line{status_kind::epoch, 4, 0, false}));
  for (const char* bad : {"resumed|3|41785\r\n", "resumed|3|41785|done\r\n", "resumed|0|5|complete\r\n",
                          "resumed|3|41785|complete|x\r\n", "epoch|0\r\n", "epoch|\r\n", "epoch|2|3\r\n",
                          "41785|B\r\n", "durable|1|2\r\n", "\r\n"}) {
    EXPECT_FALSE(parse_status_line(bad).has_value()) << bad;
  }
}

TEST(ProtocolLines, ResumeHandshake) {
  EXPECT_EQ(resume_handshake(2932, 41785, 3), "2932|41785|3\r\n");
  EXPECT_EQ(resume_handshake(2932, 41785, 0), "2932|41785\r\n");  // the current epoch
  EXPECT_EQ(resume_handshake(7, 0, 1), "7|0|1\r\n");
  EXPECT_EQ(resume_handshake(4294967295U, 18446744073709551615ULL, 18446744073709551615ULL),
            "4294967295|18446744073709551615|18446744073709551615\r\n");
}

TEST(ProtocolLines, TheRunsStreamFromTheFirstDurableLine) {
  // Nothing durable in the daemon's epoch: it has not applied a 1, so the run's 1 is that epoch's.
  EXPECT_EQ(stream_start_from({1, 0}), (stream_start{1, 0}));
  EXPECT_EQ(stream_start_from({5, 0}), (stream_start{5, 0}));
  // An earlier stream holds numbers: the run's 1 starts the next epoch over it.
  EXPECT_EQ(stream_start_from({1, 10'000'000}), (stream_start{2, 10'000'000}));
}

TEST(ProtocolLines, ResendFromTheReportedPosition) {
  const stream_start fresh{1, 0};
  auto plan = plan_resend(fresh, {1, 41785}, 40001);
  EXPECT_EQ(plan.error, "");
  EXPECT_EQ(plan.from, 41786U);
  EXPECT_FALSE(plan.starts_over);

  plan = plan_resend(fresh, {1, 0}, 1);  // restarted before anything was durable
  EXPECT_EQ(plan.error, "");
  EXPECT_EQ(plan.from, 1U);
  EXPECT_FALSE(plan.starts_over);

  // Went back past what the source still holds: cannot resend, and the daemon broke its word.
  plan = plan_resend(fresh, {1, 100}, 40001);
  EXPECT_EQ(plan.error,
            "the daemon's durable position went back: it reports epoch 1 at 100 after having reported this epoch "
            "durable through 40000");
  // Went back, but not past what is held: resend the difference.
  plan = plan_resend(fresh, {1, 39000}, 30001);
  EXPECT_EQ(plan.error, "");
  EXPECT_EQ(plan.from, 39001U);
}

TEST(ProtocolLines, AnOlderEpochAfterARestartStartsTheStreamOver) {
  const stream_start over{4, 10'000'000};  // the run started epoch 4 over epoch 3 at 10M
  auto plan = plan_resend(over, {3, 10'000'000}, 1);
  EXPECT_EQ(plan.error, "");
  EXPECT_TRUE(plan.starts_over);
  EXPECT_EQ(plan.from, 1U);
  EXPECT_EQ(plan.old_position, 10'000'000U);

  // The same, after epoch 4 had been reported durable: the daemon lost it.
  plan = plan_resend(over, {3, 10'000'000}, 501);
  EXPECT_EQ(plan.error,
            "the daemon reports epoch 3 at 10000000 after having reported this run's epoch 4 durable through 500: it "
            "lost what it called durable");
  // Epoch 3 at 0 would not start a new stream at the run's 1 (nothing of epoch 3 applied).
  plan = plan_resend(over, {3, 0}, 1);
  EXPECT_EQ(plan.error,
            "the daemon reports epoch 3 at 0, but this run's stream is epoch 4 and began after epoch 3 at 10000000");
  plan = plan_resend(over, {2, 5}, 1);
  EXPECT_FALSE(plan.error.empty());
  // The run's stream was the daemon's first: no older epoch may come back.
  plan = plan_resend({2, 0}, {1, 7}, 1);
  EXPECT_EQ(plan.error, "the daemon reports epoch 1 at 7, but this run's stream is epoch 2 and began with the daemon's "
                        "first stream");
}

TEST(ProtocolLines, ANewerEpochIsSomeoneElsesStream) {
  const auto plan = plan_resend({2, 0}, {3, 0}, 1);
  EXPECT_EQ(plan.error, "the daemon reports epoch 3 at 0, a newer stream than this run's epoch 2: another producer "
                        "started one");
}

TEST(ProtocolLines, DurableReaderSplitsAndKeepsFirstAndLatest) {
  durable_reader reader;
  EXPECT_FALSE(reader.first().has_value());
  const std::string bytes = "durable|2|0\r\ndurable|3|1";
  reader.feed(bytes.data(), bytes.size());
  EXPECT_EQ(reader.first(), (stream_position{2, 0}));
  EXPECT_EQ(reader.latest(), (stream_position{2, 0}));  // the second line is not complete
  const std::string rest = "7\r\nhello\ndurable|3|200\n";
  reader.feed(rest.data(), rest.size());
  EXPECT_EQ(reader.first(), (stream_position{2, 0}));
  EXPECT_EQ(reader.latest(), (stream_position{3, 200}));
  EXPECT_EQ(reader.lines(), 4U);
  EXPECT_EQ(reader.unknown_lines(), 1U);
  EXPECT_EQ(reader.last_unknown(), "hello\\n");
}

TEST(ProtocolLines, DurableReaderByteByByteAndOverlongLines) {
  durable_reader reader;
  const std::string bytes = std::string(300, 'x') + "\r\ndurable|1|9\r\n";
  for (const char c : bytes) reader.feed(&c, 1);
  EXPECT_EQ(reader.latest(), (stream_position{1, 9}));
  EXPECT_EQ(reader.unknown_lines(), 1U);
  EXPECT_EQ(reader.lines(), 2U);
  const std::string whole = std::string(1000, 'y') + "\ndurable|1|10\n";
  reader.feed(whole.data(), whole.size());
  EXPECT_EQ(reader.latest(), (stream_position{1, 10}));
  EXPECT_EQ(reader.unknown_lines(), 2U);
}

}  // namespace
}  // namespace followermaze
