// Host side of the CUDA coreset: device buffers, the fill phase, the screen of each chunk
// of candidates and the rounds of the device-resident offer loop.
#include "seqcore_cuda/cuda_coreset.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "device_buffer.hpp"
#include "kernels.hpp"

namespace seqcore::cuda {
namespace {

constexpr std::size_t kMaxCapacity = 1u << 16;   // K x K float64 matrix stays well in memory
constexpr int kMaxRoundsPerSync = 32;
constexpr int kGraphRounds = 32;      // rounds per replayed CUDA graph
constexpr std::size_t kGraphAfter = 7;  // direct rounds (1 + 2 + 4) before a graph pays off

/// Owning handle of an instantiated CUDA graph (null when capture was not possible).
class GraphExec {
 public:
  GraphExec() = default;
  GraphExec(const GraphExec&) = delete;
  GraphExec& operator=(const GraphExec&) = delete;
  ~GraphExec() {
    if (exec_ != nullptr) cudaGraphExecDestroy(exec_);
  }
  explicit operator bool() const noexcept { return exec_ != nullptr; }
  cudaGraphExec_t get() const noexcept { return exec_; }

  /// Captures `rounds` offer rounds on `stream`; stays null (direct launches) on any failure.
  void capture(const OfferArgs& a, int rounds, int num_sms, cudaStream_t stream) {
    if (cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal) != cudaSuccess) {
      cudaGetLastError();
      return;
    }
    cudaGraph_t graph = nullptr;
    try {
      offer_rounds(a, rounds, num_sms, stream);
    } catch (const std::exception&) {
      cudaStreamEndCapture(stream, &graph);
      if (graph != nullptr) cudaGraphDestroy(graph);
      cudaGetLastError();
      return;
    }
    if (cudaStreamEndCapture(stream, &graph) != cudaSuccess || graph == nullptr) {
      cudaGetLastError();
      return;
    }
    if (cudaGraphInstantiate(&exec_, graph, 0) != cudaSuccess) {
      exec_ = nullptr;
      cudaGetLastError();
    }
    cudaGraphDestroy(graph);
  }

 private:
  cudaGraphExec_t exec_ = nullptr;
};

/// Candidates per chunk: bounded so the centered copy stays near 256 MiB.
std::size_t chunk_rows(std::size_t dim) {
  const std::size_t by_memory = (std::size_t{1} << 26) / std::max<std::size_t>(dim, 1);
  return std::clamp<std::size_t>(by_memory, 1024, 65536);
}

/// Device scratch for nearest-neighbour queries, each at least `step` rows (staging: rows x
/// dim floats; unused when the queries are already on the device).
struct QueryScratch {
  float* staging;
  float* Qc;
  float* qn2;
  unsigned long long* best;
  float* dist;
  std::int64_t* idx;
};

/// Nearest of nb bank rows (centered by mu into Xc, squared norms xn2) for each of count
/// queries, `step` queries at a time; results go to host arrays distance and index.
void nearest_centered(const float* queries, bool on_device, std::size_t count, std::size_t step, int d,
                      const float* mu, const float* Xc, const float* xn2, int nb, const QueryScratch& s,
                      float* distance, std::int64_t* index) {
  const auto dim = static_cast<std::size_t>(d);
  for (std::size_t q0 = 0; q0 < count; q0 += step) {
    const std::size_t m = std::min(step, count - q0);
    const float* Q = queries + q0 * dim;
    if (!on_device) {
      SEQCORE_CUDA_CHECK(cudaMemcpy(s.staging, Q, m * dim * sizeof(float), cudaMemcpyHostToDevice));
      Q = s.staging;
    }
    center_rows(Q, static_cast<long long>(m), d, mu, s.Qc, s.qn2);
    reset_best(s.best, static_cast<long long>(m));
    min_sqdist(s.Qc, s.qn2, static_cast<long long>(m), Xc, xn2, nb, d, s.best);
    unpack_best(s.best, static_cast<long long>(m), s.dist, s.idx);
    SEQCORE_CUDA_CHECK(cudaMemcpy(distance + q0, s.dist, m * sizeof(float), cudaMemcpyDeviceToHost));
    SEQCORE_CUDA_CHECK(cudaMemcpy(index + q0, s.idx, m * sizeof(std::int64_t), cudaMemcpyDeviceToHost));
  }
}

int checked_device(int device) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    cudaGetLastError();
    throw std::invalid_argument("no CUDA device is available");
  }
  if (device < 0 || device >= count)
    throw std::invalid_argument("CUDA device " + std::to_string(device) + " does not exist (" +
                                std::to_string(count) + " visible)");
  return device;
}

}  // namespace

int device_count() noexcept {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver/device" error
    return 0;
  }
  return count;
}

std::string device_name(int device) {
  checked_device(device);
  cudaDeviceProp prop{};
  SEQCORE_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  return prop.name;
}

struct SequentialCoreset::State {
  std::size_t capacity, dim, size = 0;
  int device, num_sms = 1;
  ScreenBounds bounds;
  bool mu_set = false;
  std::size_t centered_rows = 0;  // rows of Xc/xn2 that are current
  // coreset
  DeviceBuffer<float> XT, Xc, xn2, mu;
  DeviceBuffer<double> XD, D, row_val;
  DeviceBuffer<int> row_idx;
  DeviceBuffer<LoopState> state;
  // per-chunk scratch
  DeviceBuffer<float> P, Pc, pn2, nearest;
  DeviceBuffer<std::int64_t> slot;
  DeviceBuffer<unsigned long long> cmin, exact_bits;
  DeviceBuffer<int> list, list_accept, dirty_rows, dirty_cands;
  DeviceBuffer<std::int64_t> index_out;
  DeviceBuffer<float> dist_out;

  cudaStream_t stream = nullptr;  // blocking stream of the offer rounds (graph capture)

  ~State() {
    if (stream != nullptr) cudaStreamDestroy(stream);
  }

  LoopState read_state() const {
    LoopState st{};
    SEQCORE_CUDA_CHECK(cudaMemcpy(&st, state.get(), sizeof(st), cudaMemcpyDeviceToHost));
    return st;
  }

  /// Centers the stored points (fixing mu on first use) for the float32 screen.
  void ensure_centered() {
    const int n = static_cast<int>(size), d = static_cast<int>(dim), ld = static_cast<int>(capacity);
    if (!mu_set) {
      transposed_means(XT.get(), ld, n, d, mu.get());
      mu_set = true;
      centered_rows = 0;
    }
    if (centered_rows == size) return;
    center_columns(XT.get(), ld, n, d, mu.get(), Xc.get(), xn2.get());
    std::vector<float> norms(size);
    SEQCORE_CUDA_CHECK(cudaMemcpy(norms.data(), xn2.get(), size * sizeof(float), cudaMemcpyDeviceToHost));
    double bound = 0.0;
    for (float v : norms) bound = std::max(bound, std::sqrt(static_cast<double>(v)) * (1.0 + bounds.gamma));
    if (!std::isfinite(bound)) bound = std::numeric_limits<double>::infinity();
    SEQCORE_CUDA_CHECK(cudaMemcpy(&state.get()->xnorm_bound, &bound, sizeof(double), cudaMemcpyHostToDevice));
    centered_rows = size;
  }

  /// Appends up to capacity - size candidates without a test; returns how many.
  std::size_t fill(const float* P_dev, std::size_t count, float* nearest_dev) {
    const std::size_t m = std::min(count, capacity - size);
    if (m == 0) return 0;
    const int n0 = static_cast<int>(size), d = static_cast<int>(dim), ld = static_cast<int>(capacity);
    store_columns(P_dev, static_cast<int>(m), d, XT.get(), XD.get(), ld, n0);
    fill_distances(XD.get(), ld, d, n0, static_cast<int>(m), D.get());
    update_row_minima(D.get(), ld, n0 + static_cast<int>(m), n0, row_val.get(), row_idx.get());
    if (nearest_dev != nullptr) fill_nearest(D.get(), ld, n0, static_cast<int>(m), nearest_dev);
    size += m;
    return m;
  }

  /// Offers one chunk of device candidates to the full coreset; returns replacements.
  std::size_t offer_full(const float* P_dev, std::size_t count, float* nearest_dev, std::int64_t* slot_dev) {
    ensure_centered();
    const int n = static_cast<int>(size), d = static_cast<int>(dim);
    center_rows(P_dev, static_cast<long long>(count), d, mu.get(), Pc.get(), pn2.get());
    reset_best(cmin.get(), static_cast<long long>(count));
    const bool details = nearest_dev != nullptr;
    if (!details) min_sqdist(Pc.get(), pn2.get(), static_cast<long long>(count), Xc.get(), xn2.get(), n, d, cmin.get());
    const int range[2] = {0, static_cast<int>(count)};
    SEQCORE_CUDA_CHECK(cudaMemcpy(state.get(), range, sizeof(range), cudaMemcpyHostToDevice));
    const long long before = read_state().n_replaced;

    OfferArgs a{};
    a.P = P_dev;
    a.Pc = Pc.get();
    a.pn2 = pn2.get();
    a.cmin = cmin.get();
    a.nearest = nearest_dev;
    a.slot_out = slot_dev;
    a.XT = XT.get();
    a.XD = XD.get();
    a.Xc = Xc.get();
    a.xn2 = xn2.get();
    a.mu = mu.get();
    a.D = D.get();
    a.row_val = row_val.get();
    a.row_idx = row_idx.get();
    a.n = n;
    a.ld = static_cast<int>(capacity);
    a.d = d;
    a.count = static_cast<int>(count);
    a.state = state.get();
    a.list = list.get();
    a.list_accept = list_accept.get();
    a.exact_bits = exact_bits.get();
    a.dirty_rows = dirty_rows.get();
    a.dirty_cands = dirty_cands.get();
    a.bounds = bounds;
    a.exact_all = details ? 1 : 0;

    // Every round decides at least one candidate, so count rounds always suffice. Few rounds
    // (steady state) are launched directly; many (early training) replay a captured graph.
    // `stream` is a blocking stream: it is ordered with the legacy stream both ways, so
    // read_state's cudaMemcpy waits for the queued rounds.
    int rounds = 1;
    std::size_t queued = 0;
    GraphExec graph;
    LoopState st{};
    for (;;) {
      if (graph) {
        SEQCORE_CUDA_CHECK(cudaGraphLaunch(graph.get(), stream));
        queued += kGraphRounds;
      } else {
        offer_rounds(a, rounds, num_sms, stream);
        queued += static_cast<std::size_t>(rounds);
      }
      st = read_state();
      if (st.cursor >= st.end) break;
      if (queued > count + kGraphRounds + kMaxRoundsPerSync)
        throw std::runtime_error("CUDA offer loop made no progress");
      if (!graph && queued >= kGraphAfter) graph.capture(a, kGraphRounds, num_sms, stream);
      rounds = std::min(rounds * 2, kMaxRoundsPerSync);
    }
    return static_cast<std::size_t>(st.n_replaced - before);
  }

  /// Offers count device candidates (chunked); details go to host arrays when given.
  std::size_t offer(const float* P_dev, std::size_t count, float* nearest, std::int64_t* slot) {
    std::size_t replaced = 0;
    const std::size_t chunk = chunk_rows(dim);
    const bool details = nearest != nullptr;
    for (std::size_t b0 = 0; b0 < count;) {
      const float* P0 = P_dev + b0 * dim;
      const std::size_t filled = fill(P0, std::min(count - b0, chunk), details ? this->nearest.get() : nullptr);
      if (filled > 0) {
        if (details) {
          SEQCORE_CUDA_CHECK(cudaMemcpy(nearest + b0, this->nearest.get(), filled * sizeof(float),
                                        cudaMemcpyDeviceToHost));
          for (std::size_t t = 0; t < filled; ++t) slot[b0 + t] = static_cast<std::int64_t>(size - filled + t);
        }
        b0 += filled;
        continue;
      }
      const std::size_t m = std::min(count - b0, chunk);
      if (details) SEQCORE_CUDA_CHECK(cudaMemset(this->slot.get(), 0xff, m * sizeof(std::int64_t)));
      replaced += offer_full(P0, m, details ? this->nearest.get() : nullptr, details ? this->slot.get() : nullptr);
      if (details) {
        SEQCORE_CUDA_CHECK(cudaMemcpy(nearest + b0, this->nearest.get(), m * sizeof(float), cudaMemcpyDeviceToHost));
        SEQCORE_CUDA_CHECK(cudaMemcpy(slot + b0, this->slot.get(), m * sizeof(std::int64_t), cudaMemcpyDeviceToHost));
      }
      b0 += m;
    }
    SEQCORE_CUDA_CHECK(cudaDeviceSynchronize());
    return replaced;
  }

  void query(const float* Q_dev_or_host, bool on_device, std::size_t count, std::size_t chunk, float* distance,
             std::int64_t* index) {
    if (chunk == 0) throw std::invalid_argument("chunk_size must be positive");
    if (size == 0) {
      std::fill(distance, distance + count, std::numeric_limits<float>::infinity());
      std::fill(index, index + count, -1);
      return;
    }
    ensure_centered();
    const std::size_t step = std::min({chunk, count, chunk_rows(dim)});  // the scratch holds chunk_rows
    const QueryScratch scratch{P.get(), Pc.get(), pn2.get(), cmin.get(), dist_out.get(), index_out.get()};
    nearest_centered(Q_dev_or_host, on_device, count, step, static_cast<int>(dim), mu.get(), Xc.get(), xn2.get(),
                     static_cast<int>(size), scratch, distance, index);
  }
};

SequentialCoreset::SequentialCoreset(std::size_t capacity, std::size_t dim, int device) {
  if (capacity == 0) throw std::invalid_argument("capacity must be positive");
  if (dim == 0) throw std::invalid_argument("dim must be positive");
  if (capacity > kMaxCapacity) throw std::invalid_argument("capacity too large for the CUDA backend (max 65536)");
  if (dim > (std::size_t{1} << 24)) throw std::invalid_argument("dim too large for the CUDA backend");
  checked_device(device);
  DeviceGuard guard(device);
  s_ = std::make_unique<State>();
  State& s = *s_;
  s.capacity = capacity;
  s.dim = dim;
  s.device = device;
  s.bounds = make_screen_bounds(static_cast<int>(dim));
  SEQCORE_CUDA_CHECK(cudaDeviceGetAttribute(&s.num_sms, cudaDevAttrMultiProcessorCount, device));
  SEQCORE_CUDA_CHECK(cudaStreamCreate(&s.stream));
  const std::size_t chunk = chunk_rows(dim);
  s.XT.reserve(capacity * dim);
  s.XD.reserve(capacity * dim);
  s.Xc.reserve(capacity * dim);
  s.xn2.reserve(capacity);
  s.mu.reserve(dim);
  s.D.reserve(capacity * capacity);
  s.row_val.reserve(capacity);
  s.row_idx.reserve(capacity);
  s.state.reserve(1);
  s.P.reserve(chunk * dim);
  s.Pc.reserve(chunk * dim);
  s.pn2.reserve(chunk);
  s.nearest.reserve(chunk);
  s.slot.reserve(chunk);
  s.cmin.reserve(chunk);
  s.exact_bits.reserve(kMaxCollect + 1);
  s.list.reserve(kMaxCollect + 1);
  s.list_accept.reserve(kMaxCollect + 1);
  s.dirty_rows.reserve(capacity + 1);
  s.dirty_cands.reserve(chunk);
  s.index_out.reserve(chunk);
  s.dist_out.reserve(chunk);
  LoopState init{};
  init.dm = std::numeric_limits<double>::infinity();
  init.gi = init.gj = -1;
  SEQCORE_CUDA_CHECK(cudaMemcpy(s.state.get(), &init, sizeof(init), cudaMemcpyHostToDevice));
}

SequentialCoreset::~SequentialCoreset() {
  if (s_) {
    int previous = 0;
    cudaGetDevice(&previous);
    cudaSetDevice(s_->device);
    s_.reset();
    cudaSetDevice(previous);
  }
}

std::size_t SequentialCoreset::capacity() const noexcept { return s_->capacity; }
std::size_t SequentialCoreset::dim() const noexcept { return s_->dim; }
std::size_t SequentialCoreset::size() const noexcept { return s_->size; }
int SequentialCoreset::device() const noexcept { return s_->device; }

std::vector<float> SequentialCoreset::points() const {
  DeviceGuard guard(s_->device);
  const std::size_t n = s_->size, d = s_->dim, ld = s_->capacity;
  std::vector<float> xt(d * ld);
  SEQCORE_CUDA_CHECK(cudaMemcpy(xt.data(), s_->XT.get(), xt.size() * sizeof(float), cudaMemcpyDeviceToHost));
  std::vector<float> out(n * d);
  for (std::size_t j = 0; j < d; ++j)
    for (std::size_t k = 0; k < n; ++k) out[k * d + j] = xt[j * ld + k];
  return out;
}

MinPair SequentialCoreset::min_pair() const {
  DeviceGuard guard(s_->device);
  global_min(s_->row_val.get(), s_->row_idx.get(), static_cast<int>(s_->size), s_->state.get());
  const LoopState st = s_->read_state();
  return MinPair{st.gi, st.gj, st.dm};
}

OfferStats SequentialCoreset::stats() const {
  DeviceGuard guard(s_->device);
  const LoopState st = s_->read_state();
  return OfferStats{st.n_replaced, st.n_rounds, st.n_exact, st.n_recomputed + st.n_dirty_cands};
}

std::vector<double> SequentialCoreset::sqdist_matrix() const {
  DeviceGuard guard(s_->device);
  const std::size_t n = s_->size, ld = s_->capacity;
  std::vector<double> rows(n * ld);
  if (n > 0)
    SEQCORE_CUDA_CHECK(cudaMemcpy(rows.data(), s_->D.get(), rows.size() * sizeof(double), cudaMemcpyDeviceToHost));
  std::vector<double> out(n * n);
  for (std::size_t i = 0; i < n; ++i) std::copy_n(rows.data() + i * ld, n, out.data() + i * n);
  return out;
}

std::size_t SequentialCoreset::offer_batch_device(const float* candidates, std::size_t count, float* nearest,
                                                 std::int64_t* slot) {
  if ((nearest == nullptr) != (slot == nullptr)) throw std::invalid_argument("nearest and slot go together");
  DeviceGuard guard(s_->device);
  return s_->offer(candidates, count, nearest, slot);
}

std::size_t SequentialCoreset::offer_batch(const float* candidates, std::size_t count, float* nearest,
                                          std::int64_t* slot) {
  if ((nearest == nullptr) != (slot == nullptr)) throw std::invalid_argument("nearest and slot go together");
  DeviceGuard guard(s_->device);
  const std::size_t chunk = chunk_rows(s_->dim);
  DeviceBuffer<float> staging(std::min(count, chunk) * s_->dim);
  std::size_t replaced = 0;
  for (std::size_t b0 = 0; b0 < count; b0 += chunk) {
    const std::size_t m = std::min(chunk, count - b0);
    SEQCORE_CUDA_CHECK(cudaMemcpy(staging.get(), candidates + b0 * s_->dim, m * s_->dim * sizeof(float),
                                  cudaMemcpyHostToDevice));
    replaced += s_->offer(staging.get(), m, nearest ? nearest + b0 : nullptr, slot ? slot + b0 : nullptr);
  }
  return replaced;
}

void SequentialCoreset::query(const float* queries, std::size_t count, float* distance, std::int64_t* index,
                              std::size_t chunk_size) const {
  DeviceGuard guard(s_->device);
  s_->query(queries, false, count, chunk_size, distance, index);
}

void SequentialCoreset::query_device(const float* queries, std::size_t count, float* distance, std::int64_t* index,
                                     std::size_t chunk_size) const {
  DeviceGuard guard(s_->device);
  s_->query(queries, true, count, chunk_size, distance, index);
}

bool device_all_finite(const float* data, std::size_t count, int device) {
  checked_device(device);
  DeviceGuard guard(device);
  DeviceBuffer<int> flag(1);
  return all_finite(data, static_cast<long long>(count), flag.get());
}

void nearest_neighbors(const float* queries, std::size_t n_queries, const float* bank, std::size_t n_bank,
                       std::size_t dim, std::size_t chunk, bool on_device, int device, float* distance,
                       std::int64_t* index) {
  if (chunk == 0) throw std::invalid_argument("chunk_size must be positive");
  if (dim == 0) throw std::invalid_argument("dim must be positive");
  if (n_bank == 0) {
    std::fill(distance, distance + n_queries, std::numeric_limits<float>::infinity());
    std::fill(index, index + n_queries, -1);
    return;
  }
  if (n_bank > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    throw std::invalid_argument("bank too large for the CUDA backend");
  checked_device(device);
  DeviceGuard guard(device);
  const int d = static_cast<int>(dim), nb = static_cast<int>(n_bank);
  DeviceBuffer<float> bank_copy;
  const float* X = bank;
  if (!on_device) {
    bank_copy.reserve(n_bank * dim);
    SEQCORE_CUDA_CHECK(cudaMemcpy(bank_copy.get(), bank, n_bank * dim * sizeof(float), cudaMemcpyHostToDevice));
    X = bank_copy.get();
  }
  DeviceBuffer<float> mu(dim), Xc(n_bank * dim), xn2(n_bank);
  column_means(X, static_cast<long long>(n_bank), d, mu.get());
  center_rows(X, static_cast<long long>(n_bank), d, mu.get(), Xc.get(), xn2.get());
  const std::size_t step = std::min(chunk, std::max<std::size_t>(n_queries, 1));
  DeviceBuffer<float> Q(on_device ? 0 : step * dim), Qc(step * dim), qn2(step), dist(step);
  DeviceBuffer<unsigned long long> best(step);
  DeviceBuffer<std::int64_t> idx(step);
  const QueryScratch scratch{Q.get(), Qc.get(), qn2.get(), best.get(), dist.get(), idx.get()};
  nearest_centered(queries, on_device, n_queries, step, d, mu.get(), Xc.get(), xn2.get(), nb, scratch, distance, index);
}

}  // namespace seqcore::cuda
