// SPDX-License-Identifier: MIT
// The five per-peer timers of the kernel's timers.c (fact sheet 8.2) as a state machine
// driven by `now`: nothing here reads a clock or sleeps.
//
//   timer                 armed by                              cancelled by
//   retransmit_handshake  handshake_initiated (5 s + jitter)    handshake_complete
//   send_keepalive        data_received (10 s, if not pending)  authenticated_sent
//   new_handshake         data_sent (15 s + jitter, if not      authenticated_received
//                         pending)
//   zero_key_material     session_derived (540 s), give-up      -
//   persistent_keepalive  traversal (interval s)                -
//
// Events come from worker threads (data sent/received) and the control thread (handshakes).
// Each deadline is an atomic nanosecond count (0 = not armed), so events are lock-free;
// poll() runs on the control thread only and reports what fired. Races between an event
// and poll() can at worst send one extra keepalive or initiation, which the protocol
// tolerates (the kernel has the same windows between its timers and its packet paths).
#pragma once

#include <atomic>
#include <cstdint>

#include "base/clock.hpp"

namespace wg {

struct TimerActions {
  bool send_initiation = false;   // new_handshake fired: initiate (not a retry)
  bool retry_initiation = false;  // retransmit fired and attempts remain: initiate as a retry
  bool give_up = false;           // retransmit fired after the last attempt: drop staged packets
  bool send_keepalive = false;    // send_keepalive or persistent_keepalive fired
  // After sending that keepalive (which cancels send_keepalive), call rearm_keepalive():
  // data arrived while the timer was pending, so another keepalive is owed in 10 s.
  bool rearm_keepalive = false;
  bool zero_key_material = false;  // destroy keypairs and the handshake

  bool any() const noexcept {
    return send_initiation || retry_initiation || give_up || send_keepalive || zero_key_material;
  }
};

class Timers {
 public:
  // Data-path events; any thread.
  void data_sent(base::TimePoint now, base::Duration jitter) noexcept;
  void authenticated_sent() noexcept;
  void authenticated_received() noexcept;
  void data_received(base::TimePoint now) noexcept;
  void traversal(base::TimePoint now) noexcept;
  void handshake_complete() noexcept;

  // Control-thread events.
  void handshake_initiated(base::TimePoint now, base::Duration jitter) noexcept;
  void session_derived(base::TimePoint now) noexcept;
  void rearm_keepalive(base::TimePoint now) noexcept;
  void set_persistent_keepalive(std::uint16_t seconds) noexcept;
  std::uint16_t persistent_keepalive() const noexcept {
    return persistent_interval_s_.load(std::memory_order_relaxed);
  }
  // Cancels every timer (peer removed or interface down).
  void stop() noexcept;

  // Control thread: fires every timer whose deadline is at or before `now`.
  TimerActions poll(base::TimePoint now) noexcept;

  // Retransmissions since the last initiation that was not a retry.
  int attempts() const noexcept { return attempts_.load(std::memory_order_relaxed); }
  void reset_attempts() noexcept { attempts_.store(0, std::memory_order_relaxed); }

  // For tests and status: whether a timer is armed, and its deadline.
  enum class Kind { retransmit, send_keepalive, new_handshake, zero_key_material, persistent };
  bool armed(Kind k) const noexcept { return deadline_of(k).load(std::memory_order_relaxed) != 0; }
  base::TimePoint deadline(Kind k) const noexcept {
    return base::TimePoint(base::Duration(deadline_of(k).load(std::memory_order_relaxed)));
  }

 private:
  using Deadline = std::atomic<std::int64_t>;
  static std::int64_t ns(base::TimePoint t) noexcept { return t.time_since_epoch().count(); }
  // Arms `d` at `when` only if it is not armed; returns whether it armed it.
  static bool arm_if_idle(Deadline& d, base::TimePoint when) noexcept;
  static bool expired(const Deadline& d, base::TimePoint now) noexcept;
  const Deadline& deadline_of(Kind k) const noexcept;

  Deadline retransmit_{0};
  Deadline send_keepalive_{0};
  Deadline new_handshake_{0};
  Deadline zero_key_material_{0};
  Deadline persistent_{0};
  std::atomic<bool> need_another_keepalive_{false};
  std::atomic<int> attempts_{0};
  std::atomic<std::uint16_t> persistent_interval_s_{0};
};

}  // namespace wg
