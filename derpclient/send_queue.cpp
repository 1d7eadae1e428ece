// SPDX-License-Identifier: MIT
#include "derpclient/send_queue.hpp"

namespace derpclient {

bool SendQueue::push_packet(base::Bytes frame, bool disco) {
  base::MutexLock lock(mu_);
  auto& q = disco ? disco_ : data_;
  const std::size_t depth = disco ? disco_depth_ : data_depth_;
  bool evicted = false;
  while (!q.empty() && q.size() >= depth) {
    q.pop_front();
    evicted = true;
  }
  q.push_back(std::move(frame));
  return evicted;
}

void SendQueue::push_control(base::Bytes frame) {
  base::MutexLock lock(mu_);
  ctrl_.push_back(std::move(frame));
}

std::size_t SendQueue::take(std::vector<base::Bytes>& out, std::size_t max_frames) {
  base::MutexLock lock(mu_);
  std::size_t n = 0;
  while (n < max_frames && !ctrl_.empty()) {
    out.push_back(std::move(ctrl_.front()));
    ctrl_.pop_front();
    ++n;
  }
  while (n < max_frames && (!disco_.empty() || !data_.empty())) {
    if (!disco_.empty()) {
      out.push_back(std::move(disco_.front()));
      disco_.pop_front();
      ++n;
    }
    if (n < max_frames && !data_.empty()) {
      out.push_back(std::move(data_.front()));
      data_.pop_front();
      ++n;
    }
  }
  return n;
}

bool SendQueue::empty() const {
  base::MutexLock lock(mu_);
  return ctrl_.empty() && disco_.empty() && data_.empty();
}

void SendQueue::clear() {
  base::MutexLock lock(mu_);
  ctrl_.clear();
  disco_.clear();
  data_.clear();
}

void SendQueue::clear_control() {
  base::MutexLock lock(mu_);
  ctrl_.clear();
}

}  // namespace derpclient
