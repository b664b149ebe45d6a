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
  // Outstanding work for the io_context until the completion is posted: run() must not return
  // in between (with nothing else to do, it would).
  auto busy = std::make_shared<asio::executor_work_guard<asio::io_context::executor_type>>(state_->io->get_executor());
  thread_ = std::thread([state = state_, job = std::move(job), busy] {
    completion done = job();
    std::lock_guard lock(state->mutex);
    if (state->io != nullptr && done) asio::post(*state->io, [done = std::move(done), busy] { done(); });
    state->running = false;
  });
  return true;
}

}  // namespace eventserver
