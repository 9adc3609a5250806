// Minimal fork-safe thread pool for the core's data-parallel loops (internal).
#pragma once

#include <cstddef>
#include <functional>

namespace seqcore::detail {

/// Threads used by parallel_for: SEQCORE_NUM_THREADS if set, else the hardware threads (max 8).
std::size_t thread_count();

/// Calls fn(begin, end) on contiguous parts of [0, n), one part per thread (the caller runs
/// the first). Runs serially when n < 2 * min_per_thread, with one thread, or while another
/// parallel_for is in flight. Idle workers sleep (no spinning), which keeps loaded machines
/// responsive.
void parallel_for(std::size_t n, std::size_t min_per_thread, const std::function<void(std::size_t, std::size_t)>& fn);

}  // namespace seqcore::detail
