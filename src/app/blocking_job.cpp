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
  {
    std::lock_guard lock(state_->mutex);
    if (state_->io == nullptr) return false;  // abandoned: the daemon is stopping
    state_->running = true;
    // Outstanding work for the io_context until the completion is posted: run() must not
    // return in between (with nothing else to do, it would).
    state_->busy.emplace(state_->io->get_executor());
  }
  thread_ = std::thread([state = state_, job = std::move(job)] {
    completion done = job();
    std::lock_guard lock(state->mutex);
    if (state->io != nullptr && done) asio::post(*state->io, std::move(done));
    state->busy.reset();  // after the post, which is work of its own until it runs
    state->running = false;
  });
  return true;
}

void blocking_job::abandon() {
  std::lock_guard lock(state_->mutex);
  state_->io = nullptr;
  state_->busy.reset();  // a job stuck on a hung filesystem no longer keeps run() going
}

}  // namespace eventserver
