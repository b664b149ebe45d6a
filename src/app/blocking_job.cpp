#include "eventserver/app/blocking_job.hpp"

namespace eventserver {

blocking_job::blocking_job(asio::io_context& io) : state_(std::make_shared<shared_state>()) { state_->io = &io; }

blocking_job::~blocking_job() {
  {
    std::lock_guard lock(state_->mutex);
    state_->io = nullptr;
  }
  if (!thread_.joinable()) return;
  if (state_->running) {
    thread_.detach();
  } else {
    thread_.join();
  }
}

bool blocking_job::start(work job) {
  if (state_->running) return false;
  if (thread_.joinable()) thread_.join();  // finished: running is false
  state_->running = true;
  thread_ = std::thread([state = state_, job = std::move(job)] {
    completion done = job();
    std::lock_guard lock(state->mutex);
    if (state->io != nullptr && done) asio::post(*state->io, std::move(done));
    state->running = false;
  });
  return true;
}

}  // namespace eventserver
