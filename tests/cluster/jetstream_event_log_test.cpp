// The ingest's event log (cluster/jetstream_event_log) against a real nats-server: the contract
// every storage::event_log keeps (tests/storage/event_log_contract.hpp), then its own promises:
// it continues where the stream ends (epoch too), waits for servers it cannot reach and says
// why, refuses a stream whose retention could cut into the current epoch, reports publishing
// failing and working again, and a publisher fenced by another for good.
#include "eventserver/cluster/jetstream_event_log.hpp"

#include <nats/nats.h>

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "cluster/cluster_test_support.hpp"
#include "storage/event_log_contract.hpp"

namespace eventserver::cluster {
namespace {

using namespace std::chrono_literals;
using storage::contract::event_thread;

// One nats-server for the contract's instances (each test a stream of its own, named after its
// temporary directory), started by the first.
test_support::nats_server& shared_server() {
  static test_support::nats_server server;
  if (!server.running() && !server.start()) throw std::runtime_error("nats-server: " + server.error());
  return server;
}

std::unique_ptr<storage::event_log> make_for_contract(const std::string& dir, storage::post_fn post) {
  jetstream_event_log_settings settings;
  settings.stream.servers = shared_server().url();
  // (Appended, not "C" + ...: g++ 12 warns falsely about operator+ on a temporary, -Wrestrict.)
  settings.stream.name = std::string("C").append(std::to_string(std::hash<std::string>{}(dir)));
  settings.stream.subject = std::string("contract.").append(settings.stream.name);
  settings.stream.timeout = 1500ms;
  return std::make_unique<jetstream_event_log>(std::move(settings), std::move(post));
}

}  // namespace
}  // namespace eventserver::cluster

namespace eventserver::storage::contract {

INSTANTIATE_TEST_SUITE_P(JetStream, EventLogContract,
                         ::testing::Values(implementation{"jetstream", eventserver::cluster::make_for_contract}),
                         [](const ::testing::TestParamInfo<implementation>& param) { return param.param.name; });

}  // namespace eventserver::storage::contract

namespace eventserver::cluster {
namespace {

// What the log told its driver, beyond the contract's listener: failing, working again, fenced.
class listener final : public storage::event_log_listener {
 public:
  void recovered(storage::recovered_stream s) override { stream = std::move(s); }
  void recovery_failed(std::string e) override { error = std::move(e); }
  void reported(const storage::event_log_report& report) override {
    durable += report.durable;
    failing += report.failing ? 1 : 0;
    works_again += report.works_again ? 1 : 0;
    fenced = fenced || report.fenced;
  }
  void note(level, std::string_view text) override { notes.emplace_back(text); }
  bool noted(std::string_view text) const {
    for (const auto& note : notes) {
      if (note.find(text) != std::string::npos) return true;
    }
    return false;
  }

  std::optional<storage::recovered_stream> stream;
  std::string error;
  std::size_t durable = 0, failing = 0, works_again = 0;
  bool fenced = false;
  std::vector<std::string> notes;
};

class JetStreamEventLog : public testing::nats_test {
 protected:
  // An ingest's log on the fixture's stream, with a dispatcher and pipeline once it is recovered.
  struct ingest {
    std::unique_ptr<jetstream_event_log> log;
    listener heard;
    counters stats;
    std::unique_ptr<dispatcher> dispatch;
    log_pipeline* pipeline = nullptr;
  };

  std::unique_ptr<ingest> make() {
    auto out = std::make_unique<ingest>();
    jetstream_event_log_settings settings;
    settings.stream = settings_;
    settings.retry_after = 100ms;
    out->log = std::make_unique<jetstream_event_log>(std::move(settings), thread_.post());
    return out;
  }
  // Started and recovered.
  void open(ingest& in) {
    in.log->start(in.heard);
    ASSERT_TRUE(thread_.run_until([&] { return in.heard.stream || !in.heard.error.empty(); })) << "no recovery";
    ASSERT_EQ(in.heard.error, "");
    in.dispatch = std::make_unique<dispatcher>(eventserver::stream_settings{}, in.stats);
    in.pipeline = &in.dispatch->open_log(in.log->backend(), log_pipeline::limits{64, 4}, in.heard.stream->position);
    in.dispatch->recover(in.heard.stream->position.epoch, in.heard.stream->position.seq, follower_graph{});
  }
  // Feeds lines and commits (what they release goes to the stream).
  static void offer(ingest& in, std::initializer_list<std::string_view> lines) {
    for (const auto line : lines) in.dispatch->offer_line(line);
    in.dispatch->commit_log();
  }
  // Applies batches as they are reported durable until none waits.
  bool drain(ingest& in) {
    return thread_.run_until([&] {
      for (; in.heard.durable > 0; --in.heard.durable) in.dispatch->apply_durable();
      return in.pipeline->waiting() == 0;
    });
  }
  // Runs as the driver: `open` must fail with an error holding `text`.
  void expect_refused(const std::string& text) {
    auto in = make();
    in->log->start(in->heard);
    ASSERT_TRUE(thread_.run_until([&] { return in->heard.stream || !in->heard.error.empty(); }));
    EXPECT_FALSE(in->heard.stream.has_value());
    EXPECT_NE(in->heard.error.find(text), std::string::npos) << in->heard.error;
  }
  // As an operator with the nats tool would: libnats directly.
  void with_jetstream(const std::function<void(jsCtx*)>& f) {
    natsConnection* nc = nullptr;
    jsCtx* js = nullptr;
    ASSERT_EQ(natsConnection_ConnectTo(&nc, server_.url().c_str()), NATS_OK);
    ASSERT_EQ(natsConnection_JetStream(&js, nc, nullptr), NATS_OK);
    f(js);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
  }

  event_thread thread_;
};

TEST_F(JetStreamEventLog, ContinuesWhereTheStreamEndsInItsEpoch) {
  {
    auto first = make();
    ASSERT_NO_FATAL_FAILURE(open(*first));
    EXPECT_EQ(first->heard.stream->position, (log_position{1, 0}));
    offer(*first, {"1|F|1|2", "2|B", "3|B"});
    ASSERT_TRUE(drain(*first));
    first->dispatch->begin_new_stream();  // the producer started over: epoch 2
    offer(*first, {"1|B", "2|P|3|4"});
    ASSERT_TRUE(drain(*first));
    EXPECT_EQ(first->dispatch->applied(), (log_position{2, 2}));
    const auto status = first->log->status();
    ASSERT_TRUE(status.publishing.has_value());
    EXPECT_EQ(status.publishing->batches_published, 2u);
    EXPECT_EQ(status.publishing->last_stream_seq, 2u);
    EXPECT_TRUE(first->log->stop(first->dispatch->applied(), std::chrono::steady_clock::now() + 10s));
  }
  auto second = make();
  ASSERT_NO_FATAL_FAILURE(open(*second));
  EXPECT_EQ(second->heard.stream->position, (log_position{2, 2}));
  EXPECT_FALSE(second->log->recovers_graph());
  EXPECT_EQ(second->heard.stream->graph.edge_count(), 0u);
  EXPECT_TRUE(second->heard.noted("continues after epoch 2 sequence number 2 (stream sequence 2)"));
  offer(*second, {"3|B"});
  ASSERT_TRUE(drain(*second));
  EXPECT_EQ(second->log->status().publishing->last_stream_seq, 3u);
  jetstream_stream reader = jetstream_stream::open(settings_);
  const auto last = reader.last();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->epoch, 2u);
  EXPECT_EQ(last->first, 3u);
}

// Servers down at start-up: the log keeps trying and says why (/readyz shows it), and recovers
// by itself once they are back.
TEST_F(JetStreamEventLog, WaitsForServersItCannotReachAndSaysWhy) {
  server_.kill(SIGKILL);
  auto in = make();
  in->log->start(in->heard);
  ASSERT_TRUE(thread_.run_until([&] { return in->heard.noted("cannot reach the stream yet"); }));
  EXPECT_NE(in->log->problem().find("cannot reach the JetStream stream"), std::string::npos) << in->log->problem();
  EXPECT_TRUE(in->log->status().recovering);
  ASSERT_TRUE(server_.start()) << server_.error();
  ASSERT_TRUE(thread_.run_until([&] { return in->heard.stream.has_value(); }));
  EXPECT_EQ(in->log->problem(), "");
  EXPECT_FALSE(in->log->status().recovering);
}

TEST_F(JetStreamEventLog, AStreamWhoseRetentionCouldCutIntoTheEpochIsRefused) {
  with_jetstream([&](jsCtx* js) {
    jsStreamConfig config;
    jsStreamConfig_Init(&config);
    const char* subjects[] = {settings_.subject.c_str()};
    config.Name = settings_.name.c_str();
    config.Subjects = subjects;
    config.SubjectsLen = 1;
    config.Storage = js_FileStorage;
    config.Duplicates = 120'000'000'000;
    config.MaxMsgs = 1000;
    jsStreamInfo* info = nullptr;
    jsErrCode code{};
    ASSERT_EQ(js_AddStream(&info, js, &config, nullptr, &code), NATS_OK);
    jsStreamInfo_Destroy(info);
  });
  expect_refused("has limits (max_msgs 1000");
}

TEST_F(JetStreamEventLog, AStreamThatLostTheStartOfTheCurrentEpochIsRefused) {
  {
    auto first = make();
    ASSERT_NO_FATAL_FAILURE(open(*first));
    offer(*first, {"1|B"});
    ASSERT_TRUE(drain(*first));
    offer(*first, {"2|B"});
    ASSERT_TRUE(drain(*first));
  }
  with_jetstream([&](jsCtx* js) {
    jsErrCode code{};
    EXPECT_EQ(js_DeleteMsg(js, settings_.name.c_str(), 1, nullptr, &code), NATS_OK);
  });
  expect_refused("no longer holds the start of epoch 1");
}

TEST_F(JetStreamEventLog, ACredentialsFileThatCannotBeReadIsRefused) {
  settings_.creds_file = "/nonexistent/eventserver-test.creds";
  expect_refused("the NATS credentials file /nonexistent/eventserver-test.creds (cluster.credsFile) cannot be read");
}

// The server goes away while publishing: reported once as failing (the pipeline waits and the
// sources are not read), problem() says why, and once it is back, working again and durable.
TEST_F(JetStreamEventLog, PublishingFailsWhileTheServerIsDownAndWorksAgain) {
  auto in = make();
  ASSERT_NO_FATAL_FAILURE(open(*in));
  offer(*in, {"1|B"});
  ASSERT_TRUE(drain(*in));
  server_.kill(SIGKILL);
  offer(*in, {"2|B", "3|B"});
  ASSERT_TRUE(thread_.run_until([&] { return in->heard.failing != 0; }));
  EXPECT_EQ(in->heard.durable, 0u);
  EXPECT_NE(in->log->problem().find("publishing to JetStream fails"), std::string::npos) << in->log->problem();
  EXPECT_TRUE(in->log->status().publishing->failing);
  ASSERT_TRUE(server_.start()) << server_.error();
  ASSERT_TRUE(drain(*in));
  EXPECT_EQ(in->heard.works_again, 1u);
  EXPECT_EQ(in->log->problem(), "");
  EXPECT_EQ(in->dispatch->applied(), (log_position{1, 3}));
  EXPECT_FALSE(in->log->status().publishing->failing);
  EXPECT_GE(in->log->status().publishing->retries, 1u);
}

// Two ingests on one stream: the one that publishes behind the other's back is fenced, says so
// for good, and nothing of its batch is reported durable.
TEST_F(JetStreamEventLog, APublisherFencedByAnotherSaysSoForGood) {
  auto first = make();
  auto second = make();
  ASSERT_NO_FATAL_FAILURE(open(*first));
  ASSERT_NO_FATAL_FAILURE(open(*second));
  offer(*first, {"1|B", "2|B"});
  ASSERT_TRUE(drain(*first));
  offer(*second, {"1|P|1|2"});
  ASSERT_TRUE(thread_.run_until([&] { return second->heard.fenced; }));
  EXPECT_EQ(second->heard.durable, 0u);
  EXPECT_EQ(second->log->problem().rfind("fenced: ", 0), 0u) << second->log->problem();
  EXPECT_TRUE(second->log->status().publishing->fenced);
  EXPECT_FALSE(second->log->status().publishing->failing);
  EXPECT_TRUE(second->log->stop(second->dispatch->applied(), std::chrono::steady_clock::now() + 10s));
}

// Shutdown while still trying to reach the servers: nothing it posted runs into it afterwards.
TEST_F(JetStreamEventLog, DestroyedWhileConnectingLeavesNothingToRunIntoIt) {
  server_.kill(SIGKILL);
  auto in = make();
  in->log->start(in->heard);
  ASSERT_TRUE(thread_.run_until([&] { return in->heard.noted("cannot reach the stream yet"); }));
  in->log.reset();
  EXPECT_TRUE(thread_.run_until([&] { return thread_.queued() == 0; }));
  EXPECT_FALSE(in->heard.stream.has_value());
}

}  // namespace
}  // namespace eventserver::cluster
