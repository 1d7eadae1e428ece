// SPDX-License-Identifier: MIT
// The client's outgoing queue: control frames (never dropped: ClientInfo, NotePreferred,
// WatchConns, Ping, Pong, ClosePeer), and packets in two bounded FIFOs, one for disco and
// one for everything else, each dropping its oldest packet when full (the newest packets
// are the useful ones; WireGuard and disco retransmit). Thread safe: send() runs on any
// thread, the writer on the io thread.
#pragma once

#include <cstddef>
#include <deque>
#include <vector>

#include "base/bytes.hpp"
#include "base/thread_annotations.hpp"

namespace derpclient {

class SendQueue {
 public:
  SendQueue(std::size_t data_depth, std::size_t disco_depth)
      : data_depth_(data_depth), disco_depth_(disco_depth) {}

  // Returns true when an older packet was evicted to make room.
  bool push_packet(base::Bytes frame, bool disco) EXCLUDES(mu_);
  void push_control(base::Bytes frame) EXCLUDES(mu_);
  // Moves up to `max_frames` frames into `out`: control first, then disco and other
  // packets alternately. Returns how many.
  std::size_t take(std::vector<base::Bytes>& out, std::size_t max_frames) EXCLUDES(mu_);
  bool empty() const EXCLUDES(mu_);
  // Drops everything still queued (a closed client).
  void clear() EXCLUDES(mu_);
  // Drops queued control frames only (they belong to a connection that ended).
  void clear_control() EXCLUDES(mu_);

 private:
  const std::size_t data_depth_;
  const std::size_t disco_depth_;
  mutable base::Mutex mu_;  // leaf lock
  std::deque<base::Bytes> ctrl_ GUARDED_BY(mu_);
  std::deque<base::Bytes> disco_ GUARDED_BY(mu_);
  std::deque<base::Bytes> data_ GUARDED_BY(mu_);
};

}  // namespace derpclient
