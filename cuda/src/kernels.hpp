// Host-callable launchers of the CUDA kernels (all on the legacy default stream, so work
// is ordered with PyTorch/CuPy default-stream producers and consumers).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace seqcore::cuda {

/// Device-resident state of the sequential offer loop; read by the host only between rounds.
struct LoopState {
  int cursor;         // next candidate (chunk-local index) to decide
  int end;            // number of candidates in the chunk
  int count;          // candidates collected for this round (<= kMaxCollect)
  int scan_end;       // every unlisted candidate in [cursor, scan_end) was rejected by the screen
  int need_exact;     // 1: the decide kernel must look at exact distances
  int chosen;         // candidate that replaces a point this round, or -1
  int slot;           // slot it replaces
  int replaced;       // 1 when this round replaced a point
  int n_dirty_rows;   // rows of D whose minimum must be recomputed
  int n_dirty_cands;  // candidates whose screened minimum must be recomputed
  long long n_replaced;
  long long n_rounds;         // statistics: rounds that examined candidates,
  long long n_exact;          //   candidates settled with canonical distances,
  long long n_recomputed;     //   candidates whose screened minimum was recomputed
  double dm;          // canonical squared distance of the global minimum pair
  int gi, gj;         // the pair (gi < gj), or -1 when fewer than two points are stored
  double xnorm_bound; // upper bound of max_k ||X'_k|| (centered stored points)
};

constexpr int kMaxCollect = 64;  // candidates examined exactly in one round

/// Rigorous error model of the float32 screen (see screen_bounds in offer_loop.cu).
struct ScreenBounds {
  double gamma;      // relative bound of a float32 dot product / norm of length d (+3 ops)
  double eta;        // coefficient of the centering error: |delta - delta'| <= eta * N
  double abs_slack;  // absolute slack covering float32 underflow
};
ScreenBounds make_screen_bounds(int d);

// ---- float32 screen (min_sqdist.cu) ---------------------------------------------------
/// Pc = fl(P - mu) row by row and pn2 = ||Pc||^2 (float32); mu may be null (no centering).
void center_rows(const float* P, long long rows, int d, const float* mu, float* Pc, float* pn2);
/// Column means of row-major X (rows x d) in float64, rounded to float32 into mu.
void column_means(const float* X, long long rows, int d, float* mu);
/// Means over the first n columns of XT (d rows of ld floats), float64 rounded to float32.
void transposed_means(const float* XT, int ld, int n, int d, float* mu);
/// Xc[k] = fl(XT column k - mu) row-major (n x d) and xn2[k] = ||Xc[k]||^2.
void center_columns(const float* XT, int ld, int n, int d, const float* mu, float* Xc, float* xn2);
/// best[i] = packed (min_k fl(an[i] + bn[k] - 2 A_i.B_k), argmin) over k < N; best must be
/// preset to ~0 (reset_best). A is M x d, B is N x d, both row-major float32.
void min_sqdist(const float* A, const float* an, long long M, const float* B, const float* bn, int N,
                int d, unsigned long long* best);
void reset_best(unsigned long long* best, long long n);
/// Unpacks best into Euclidean distance (sqrt of the clamped screen value) and index.
void unpack_best(const unsigned long long* best, long long n, float* dist, std::int64_t* idx);
/// Returns true when every element of X is finite.
bool all_finite(const float* X, long long n, int* flag_dev);

// ---- canonical distances and minima (canonical.cu) ------------------------------------
/// XT[j * ld + first + t] = P[t * d + j] for t < m (stores points as columns), and the same
/// as exact float64 values in XD.
void store_columns(const float* P, int m, int d, float* XT, double* XD, int ld, int first);
/// D rows/columns of the new points first..first+m against all points 0..first+m.
void fill_distances(const double* XD, int ld, int d, int first, int m, double* D);
/// Row minima of rows [0, n): rows >= first are recomputed over all columns, older rows
/// merged with the columns [first, n).
void update_row_minima(const double* D, int ld, int n, int first, double* row_val, int* row_idx);
/// nearest[t] = sqrt(min_{j < first + t} D[first + t][j]) (inf when first + t == 0).
void fill_nearest(const double* D, int ld, int first, int m, float* nearest);
/// Reads the global minimum pair into state (dm, gi, gj) from the row minima.
void global_min(const double* row_val, const int* row_idx, int n, LoopState* state);

// ---- sequential offer loop (offer_loop.cu) ---------------------------------------------
struct OfferArgs {
  // candidates of the chunk
  const float* P;                 // original float32 rows (end x d)
  const float* Pc;                // centered rows
  const float* pn2;               // ||Pc||^2
  unsigned long long* cmin;       // packed screened minimum per candidate
  float* nearest;                 // details (may be null)
  std::int64_t* slot_out;         // details (may be null)
  // coreset (full: n == capacity)
  float* XT;                      // d x ld original points as columns
  double* XD;                     // the same as float64 (canonical sums)
  float* Xc;                      // n x d centered points
  float* xn2;                     // ||Xc||^2
  const float* mu;                // centering vector
  double* D;                      // ld x ld canonical squared distances
  double* row_val;
  int* row_idx;
  int n, ld, d;
  int count;                      // candidates in the chunk (sizes the patch grid)
  // loop scratch
  LoopState* state;
  int* list;                      // kMaxCollect + 1 collected candidates
  int* list_accept;               // 1 when the screen alone proves the candidate replaces
  unsigned long long* exact_bits; // exact minimum per collected candidate (double bits)
  int* dirty_rows;                // capacity >= n
  int* dirty_cands;               // capacity >= end
  ScreenBounds bounds;
  int exact_all;                  // 1: settle every candidate exactly (exact nearest details)
};
/// Queues `rounds` decide-and-replace rounds on `stream` (each decides >= 1 candidate or ends
/// the chunk; rounds after the end do nothing), so they can be replayed as a CUDA graph.
void offer_rounds(const OfferArgs& a, int rounds, int num_sms, cudaStream_t stream);

}  // namespace seqcore::cuda
