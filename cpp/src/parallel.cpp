// Thread pool behind parallel_for: workers wait on a condition variable for a job
// generation; the caller takes part 0 and waits until every worker has finished its part.
#include "parallel.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include <unistd.h>

namespace seqcore::detail {
namespace {

class Pool {
 public:
  explicit Pool(std::size_t threads) : pid_(getpid()) {
    for (std::size_t w = 1; w < threads; ++w) std::thread([this, w] { work(w); }).detach();
    threads_ = threads;
  }

  pid_t pid() const { return pid_; }
  std::size_t threads() const { return threads_; }
  std::mutex& busy() { return busy_; }

  /// Runs fn on parts of [0, n); the caller must hold busy().
  void run(std::size_t n, std::size_t parts, const std::function<void(std::size_t, std::size_t)>& fn) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      fn_ = &fn;
      n_ = n;
      parts_ = parts;
      pending_ = parts - 1;
      ++generation_;
    }
    wake_.notify_all();
    fn(0, n / parts);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0; });
  }

 private:
  void work(std::size_t w) {
    std::size_t seen = 0;
    for (;;) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return generation_ != seen; });
      seen = generation_;
      if (w >= parts_) continue;
      const std::size_t begin = n_ * w / parts_, end = n_ * (w + 1) / parts_;
      const auto* fn = fn_;
      lock.unlock();
      (*fn)(begin, end);
      lock.lock();
      if (--pending_ == 0) done_.notify_one();
    }
  }

  pid_t pid_;
  std::size_t threads_ = 1;
  std::mutex busy_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(std::size_t, std::size_t)>* fn_ = nullptr;
  std::size_t n_ = 0, parts_ = 1, pending_ = 0, generation_ = 0;
};

std::mutex pool_mutex;
Pool* pool = nullptr;  // never destroyed: detached workers may outlive static destructors

/// The pool of this process (a forked child gets a fresh one: threads do not survive fork).
Pool& current_pool() {
  std::lock_guard<std::mutex> lock(pool_mutex);
  if (!pool || pool->pid() != getpid()) pool = new Pool(thread_count());
  return *pool;
}

}  // namespace

std::size_t thread_count() {
  if (const char* env = std::getenv("SEQCORE_NUM_THREADS")) {
    const long v = std::strtol(env, nullptr, 10);
    if (v >= 1) return static_cast<std::size_t>(v);
  }
  return std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, 8);
}

void parallel_for(std::size_t n, std::size_t min_per_thread, const std::function<void(std::size_t, std::size_t)>& fn) {
  const std::size_t wanted = min_per_thread ? n / min_per_thread : n;
  if (wanted < 2 || thread_count() < 2) {
    fn(0, n);
    return;
  }
  Pool& p = current_pool();
  std::unique_lock<std::mutex> busy(p.busy(), std::try_to_lock);
  const std::size_t parts = std::min(wanted, p.threads());
  if (!busy.owns_lock() || parts < 2) {
    fn(0, n);
    return;
  }
  p.run(n, parts, fn);
}

}  // namespace seqcore::detail
