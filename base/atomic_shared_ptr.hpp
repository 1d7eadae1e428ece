// SPDX-License-Identifier: MIT
// AtomicSharedPtr<T>: a shared_ptr that the control thread replaces while workers load it
// (routing snapshots, a peer's current keypair, the bind's socket set), each load taking its
// own reference.
//
// Why not std::atomic<std::shared_ptr<T>>: libstdc++ 12's (Debian 12) releases its internal
// lock after a load with memory_order_relaxed (bits/shared_ptr_atomic.h, _Sp_atomic::load),
// so a load's read of the stored pointer is not ordered before the next store's write.
// ThreadSanitizer reports it, and on a weakly ordered CPU it is a real race. This one takes a
// one-word spin lock with acquire and gives it back with release, around a pointer copy and a
// reference-count increment; a replaced value is released after the lock is given back.
//
// Thread safety: every method from any thread. No allocation; never blocks for longer than
// another thread's copy of a shared_ptr.
#pragma once

#include <atomic>
#include <memory>
#include <utility>

namespace base {

template <class T>
class AtomicSharedPtr {
 public:
  AtomicSharedPtr() = default;
  explicit AtomicSharedPtr(std::shared_ptr<T> p) noexcept : value_(std::move(p)) {}
  AtomicSharedPtr(const AtomicSharedPtr&) = delete;
  AtomicSharedPtr& operator=(const AtomicSharedPtr&) = delete;

  std::shared_ptr<T> load() const noexcept {
    Locked hold(lock_);
    return value_;
  }
  void store(std::shared_ptr<T> p) noexcept { exchange(std::move(p)); }
  // Stores `p`; returns the value it replaced.
  std::shared_ptr<T> exchange(std::shared_ptr<T> p) noexcept {
    {
      Locked hold(lock_);
      value_.swap(p);
    }
    return p;
  }

 private:
  class Locked {
   public:
    explicit Locked(std::atomic_flag& f) noexcept : f_(f) {
      while (f_.test_and_set(std::memory_order_acquire)) {
        while (f_.test(std::memory_order_relaxed)) relax();
      }
    }
    ~Locked() { f_.clear(std::memory_order_release); }
    Locked(const Locked&) = delete;
    Locked& operator=(const Locked&) = delete;

   private:
    static void relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
    std::atomic_flag& f_;
  };

  mutable std::atomic_flag lock_;  // guards value_
  std::shared_ptr<T> value_;
};

}  // namespace base
