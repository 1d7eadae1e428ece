// SPDX-License-Identifier: MIT
#include "wg/timers.hpp"

#include "wg/constants.hpp"

namespace wg {

bool Timers::arm_if_idle(Deadline& d, base::TimePoint when) noexcept {
  std::int64_t idle = 0;
  return d.compare_exchange_strong(idle, ns(when), std::memory_order_relaxed);
}

bool Timers::expired(const Deadline& d, base::TimePoint now) noexcept {
  const std::int64_t at = d.load(std::memory_order_relaxed);
  return at != 0 && at <= ns(now);
}

const Timers::Deadline& Timers::deadline_of(Kind k) const noexcept {
  switch (k) {
    case Kind::retransmit:
      return retransmit_;
    case Kind::send_keepalive:
      return send_keepalive_;
    case Kind::new_handshake:
      return new_handshake_;
    case Kind::zero_key_material:
      return zero_key_material_;
    case Kind::persistent:
      break;
  }
  return persistent_;
}

void Timers::data_sent(base::TimePoint now, base::Duration jitter) noexcept {
  arm_if_idle(new_handshake_, now + kKeepaliveTimeout + kRekeyTimeout + jitter);
}

void Timers::authenticated_sent() noexcept {
  send_keepalive_.store(0, std::memory_order_relaxed);
}

void Timers::authenticated_received() noexcept {
  new_handshake_.store(0, std::memory_order_relaxed);
}

void Timers::data_received(base::TimePoint now) noexcept {
  if (!arm_if_idle(send_keepalive_, now + kKeepaliveTimeout)) {
    need_another_keepalive_.store(true, std::memory_order_relaxed);
  }
}

void Timers::traversal(base::TimePoint now) noexcept {
  const std::uint16_t interval = persistent_interval_s_.load(std::memory_order_relaxed);
  if (interval > 0)
    persistent_.store(ns(now + std::chrono::seconds(interval)), std::memory_order_relaxed);
}

void Timers::handshake_complete() noexcept {
  retransmit_.store(0, std::memory_order_relaxed);
  attempts_.store(0, std::memory_order_relaxed);
}

void Timers::handshake_initiated(base::TimePoint now, base::Duration jitter) noexcept {
  retransmit_.store(ns(now + kRekeyTimeout + jitter), std::memory_order_relaxed);
}

void Timers::session_derived(base::TimePoint now) noexcept {
  zero_key_material_.store(ns(now + kZeroKeyMaterialAfter), std::memory_order_relaxed);
}

void Timers::rearm_keepalive(base::TimePoint now) noexcept {
  send_keepalive_.store(ns(now + kKeepaliveTimeout), std::memory_order_relaxed);
}

void Timers::set_persistent_keepalive(std::uint16_t seconds) noexcept {
  persistent_interval_s_.store(seconds, std::memory_order_relaxed);
  if (seconds == 0) persistent_.store(0, std::memory_order_relaxed);
}

void Timers::stop() noexcept {
  for (Deadline* d :
       {&retransmit_, &send_keepalive_, &new_handshake_, &zero_key_material_, &persistent_}) {
    d->store(0, std::memory_order_relaxed);
  }
  need_another_keepalive_.store(false, std::memory_order_relaxed);
}

TimerActions Timers::poll(base::TimePoint now) noexcept {
  TimerActions a;
  if (expired(retransmit_, now)) {
    retransmit_.store(0, std::memory_order_relaxed);
    if (attempts_.load(std::memory_order_relaxed) > kMaxTimerHandshakes) {
      a.give_up = true;
      send_keepalive_.store(0, std::memory_order_relaxed);
      arm_if_idle(zero_key_material_, now + kZeroKeyMaterialAfter);
    } else {
      attempts_.fetch_add(1, std::memory_order_relaxed);
      a.retry_initiation = true;
    }
  }
  if (expired(new_handshake_, now)) {
    new_handshake_.store(0, std::memory_order_relaxed);
    a.send_initiation = true;
  }
  if (expired(send_keepalive_, now)) {
    send_keepalive_.store(0, std::memory_order_relaxed);
    a.send_keepalive = true;
    a.rearm_keepalive = need_another_keepalive_.exchange(false, std::memory_order_relaxed);
  }
  if (expired(persistent_, now)) {
    persistent_.store(0, std::memory_order_relaxed);
    if (persistent_interval_s_.load(std::memory_order_relaxed) > 0) a.send_keepalive = true;
  }
  if (expired(zero_key_material_, now)) {
    zero_key_material_.store(0, std::memory_order_relaxed);
    a.zero_key_material = true;
  }
  return a;
}

}  // namespace wg
