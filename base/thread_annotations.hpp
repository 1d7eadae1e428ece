// SPDX-License-Identifier: MIT
// Clang thread-safety annotations (-Wthread-safety) and a Mutex that carries them.
// Under GCC the annotations compile to nothing; the clang builds (fuzz, tsan) check them.
#pragma once

#include <mutex>

#if defined(__clang__)
#define MT_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define MT_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) MT_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY MT_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) MT_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) MT_THREAD_ANNOTATION(pt_guarded_by(x))
#define ACQUIRED_BEFORE(...) MT_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define REQUIRES(...) MT_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define ACQUIRE(...) MT_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) MT_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) MT_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define EXCLUDES(...) MT_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define NO_THREAD_SAFETY_ANALYSIS MT_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace base {

class CAPABILITY("mutex") Mutex {
 public:
  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }
  bool try_lock() TRY_ACQUIRE(true) { return mu_.try_lock(); }
  std::mutex& native() { return mu_; }  // for std::condition_variable

 private:
  std::mutex mu_;
};

class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~MutexLock() RELEASE() { mu_.unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mu_;
};

}  // namespace base
