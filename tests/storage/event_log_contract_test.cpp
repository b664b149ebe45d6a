// Every storage::event_log on this layer (on disk, in memory) against the contract the daemon
// relies on (event_log_contract.hpp), and the file log's own tests.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "eventserver/storage/file_event_log.hpp"
#include "eventserver/storage/memory_event_log.hpp"
#include "eventserver/storage/storage_error.hpp"
#include "storage/event_log_contract.hpp"
#include "storage/storage_test_support.hpp"

namespace eventserver::storage {
namespace {

using namespace std::chrono_literals;
using contract::event_thread;
using contract::EventLogContract;
using contract::implementation;
using contract::recording_listener;
using testing::temp_dir;

INSTANTIATE_TEST_SUITE_P(
    Implementations, EventLogContract,
    ::testing::Values(implementation{"file",
                                     [](const std::string& dir, post_fn post) -> std::unique_ptr<event_log> {
                                       file_event_log_settings settings;
                                       settings.dir = dir;
                                       return std::make_unique<file_event_log>(settings, std::move(post));
                                     }},
                      implementation{"memory",
                                     [](const std::string&, post_fn post) -> std::unique_ptr<event_log> {
                                       return std::make_unique<memory_event_log>(std::move(post), 1 << 20);
                                     }}),
    [](const ::testing::TestParamInfo<implementation>& param) { return param.param.name; });

// The file log's own.
class FileEventLog : public ::testing::Test {
 protected:
  std::unique_ptr<file_event_log> make(std::string path) {
    file_event_log_settings settings;
    settings.dir = std::move(path);
    return std::make_unique<file_event_log>(settings, thread.post());
  }

  temp_dir dir;
  event_thread thread;
  recording_listener listener;
};

// A data directory it cannot use is refused at start, before any thread.
TEST_F(FileEventLog, ADataDirectoryThatCannotBeUsedIsRefusedAtStart) {
  auto log = make(dir.file("missing/parent"));
  EXPECT_THROW(log->start(listener), storage_error);
}

TEST_F(FileEventLog, AMissingDirectoryWhoseParentExistsIsMade) {
  auto log = make(dir.file("data"));
  log->start(listener);
  EXPECT_EQ(listener.notes.at(0), "created the data directory " + dir.file("data"));
  EXPECT_TRUE(thread.run_until([&] { return listener.stream.has_value(); }));
  EXPECT_TRUE(log->status().kept);
}

// Shutdown during recovery: the log goes while its recovery may still run; whatever it posted
// before finds it gone and does nothing (AddressSanitizer would see otherwise).
TEST_F(FileEventLog, DestroyedWhileRecoveringLeavesNothingToRunIntoIt) {
  auto log = make(dir.path());
  log->start(listener);
  log.reset();
  EXPECT_TRUE(thread.run_until([&] { return thread.queued() == 0; }));
  EXPECT_FALSE(listener.stream.has_value());
}

}  // namespace
}  // namespace eventserver::storage
