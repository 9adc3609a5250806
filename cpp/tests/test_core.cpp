// ctest for seqcore::core alone: decisions against a brute-force rule (low and screened high
// dimensions), incremental state against recomputation, batch vs single offers, query and
// PointIndex, meld, greedy k-center, model file.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "seqcore/coreset.hpp"
#include "seqcore/distance.hpp"
#include "seqcore/kcenter.hpp"
#include "seqcore/model_file.hpp"
#include "seqcore/point_index.hpp"

namespace {

int failures = 0;

#define CHECK(cond)                                                              \
  do {                                                                           \
    if (!(cond)) {                                                               \
      ++failures;                                                                \
      std::cerr << __FILE__ << ":" << __LINE__ << ": CHECK failed: " #cond "\n"; \
    }                                                                            \
  } while (0)

template <class F>
bool throws_model_error(F&& f) {
  try {
    f();
  } catch (const seqcore::ModelFileError&) {
    return true;
  }
  return false;
}

/// Brute-force docs/design.md §2 rule: O(K^2 d) per decision, obviously correct.
struct NaiveCoreset {
  std::size_t capacity, dim;
  std::vector<std::vector<float>> pts;

  double sq(const std::vector<float>& a, const float* b) const { return seqcore::canonical_sqdist(a.data(), b, dim); }
  seqcore::MinPair min_pair() const {
    seqcore::MinPair best{-1, -1, std::numeric_limits<double>::infinity()};
    for (std::size_t i = 0; i < pts.size(); ++i)
      for (std::size_t j = i + 1; j < pts.size(); ++j) {
        const double v = sq(pts[i], pts[j].data());
        if (v < best.sqdist) best = {static_cast<std::int64_t>(i), static_cast<std::int64_t>(j), v};
      }
    return best;
  }
  std::int64_t offer(const float* p) {
    if (pts.size() < capacity) {
      pts.emplace_back(p, p + dim);
      return static_cast<std::int64_t>(pts.size() - 1);
    }
    double dp = std::numeric_limits<double>::infinity();
    for (const auto& x : pts) dp = std::min(dp, sq(x, p));
    const seqcore::MinPair mp = min_pair();
    if (!(dp > mp.sqdist)) return -1;
    pts[static_cast<std::size_t>(mp.i)].assign(p, p + dim);
    return mp.i;
  }
};

/// Random candidates on a coarse grid so that duplicates and exact distance ties occur.
std::vector<float> grid_points(std::size_t count, std::size_t dim, std::mt19937& rng) {
  std::uniform_int_distribution<int> cell(0, 3);
  std::vector<float> v(count * dim);
  for (float& x : v) x = static_cast<float>(cell(rng)) * 0.25f;
  return v;
}

void test_decisions_match_bruteforce() {
  std::mt19937 rng(1);
  for (std::size_t trial = 0; trial < 40; ++trial) {
    const std::size_t capacity = 1 + trial % 9, dim = 1 + trial % 4;
    const std::vector<float> cand = grid_points(300, dim, rng);
    seqcore::SequentialCoreset core(capacity, dim);
    NaiveCoreset naive{capacity, dim, {}};
    for (std::size_t b = 0; b < 300; ++b) {
      std::int64_t slot;
      core.offer(cand.data() + b * dim, nullptr, &slot);
      CHECK(slot == naive.offer(cand.data() + b * dim));
    }
    const seqcore::MinPair a = core.min_pair(), e = naive.min_pair();
    CHECK(a.i == e.i && a.j == e.j);
    for (std::size_t i = 0; i < core.size(); ++i)
      for (std::size_t k = 0; k < dim; ++k) CHECK(core.point(i)[k] == naive.pts[i][k]);
  }
}

/// Gaussian points near a few stored-like centres: many candidates fall within the closest
/// pair's distance, so the projected-witness rejection of dim >= 48 is exercised.
std::vector<float> steady_points(std::size_t count, std::size_t dim, std::mt19937& rng) {
  std::normal_distribution<float> normal;
  std::vector<float> centres(24 * dim);
  for (float& x : centres) x = normal(rng);
  std::uniform_int_distribution<std::size_t> pick(0, 23);
  std::vector<float> v(count * dim);
  for (std::size_t i = 0; i < count; ++i) {
    const float* c = centres.data() + pick(rng) * dim;
    const float spread = i % 3 == 0 ? 1.0f : 0.3f;
    for (std::size_t k = 0; k < dim; ++k) v[i * dim + k] = c[k] + spread * normal(rng);
  }
  return v;
}

void test_screened_high_dim_matches_bruteforce() {
  // dim >= 48 screens with float32 and rejects via projected witnesses: same decisions as the
  // brute-force rule on canonical distances, with and without per-candidate outputs.
  std::mt19937 rng(5);
  for (const std::size_t dim : {std::size_t{64}, std::size_t{152}}) {
    for (int regime = 0; regime < 2; ++regime) {
      const std::size_t capacity = 24, count = 700;
      const std::vector<float> cand = regime == 0 ? steady_points(count, dim, rng) : grid_points(count, dim, rng);
      NaiveCoreset naive{capacity, dim, {}};
      std::vector<std::int64_t> want(count), slots(count);
      std::vector<double> nearest(count);
      for (std::size_t b = 0; b < count; ++b) want[b] = naive.offer(cand.data() + b * dim);
      seqcore::SequentialCoreset detailed(capacity, dim), plain(capacity, dim);
      detailed.offer_batch(cand.data(), count, nearest.data(), slots.data());
      const std::size_t replaced = plain.offer_batch(cand.data(), count);
      CHECK(slots == want);
      std::size_t want_replaced = 0;
      for (std::size_t b = capacity; b < count; ++b) want_replaced += want[b] >= 0;
      CHECK(replaced == want_replaced);
      CHECK(want_replaced > 5 && want_replaced < count - capacity - 5);  // both outcomes occur
      for (const seqcore::SequentialCoreset* core : {&detailed, &plain}) {
        const seqcore::MinPair a = core->min_pair(), e = naive.min_pair();
        CHECK(a.i == e.i && a.j == e.j && a.sqdist == e.sqdist);
        for (std::size_t i = 0; i < capacity; ++i) {
          for (std::size_t k = 0; k < dim; ++k) CHECK(core->point(i)[k] == naive.pts[i][k]);
          for (std::size_t j = 0; j < capacity; ++j)
            if (i != j) CHECK(core->sqdist(i, j) == seqcore::canonical_sqdist(core->point(i), core->point(j), dim));
        }
      }
    }
  }
}

void test_state_and_batch() {
  std::mt19937 rng(2);
  std::normal_distribution<float> normal;
  const std::size_t capacity = 64, dim = 64, count = 5000;
  std::vector<float> cand(count * dim);
  for (float& x : cand) x = normal(rng);
  seqcore::SequentialCoreset single(capacity, dim), batch(capacity, dim);
  std::vector<std::int64_t> slots_single(count), slots_batch(count);
  std::vector<double> nearest(count);
  for (std::size_t b = 0; b < count; ++b) single.offer(cand.data() + b * dim, nullptr, &slots_single[b]);
  batch.offer_batch(cand.data(), count, nearest.data(), slots_batch.data());
  CHECK(slots_single == slots_batch);
  CHECK(single.points() == batch.points());
  seqcore::SequentialCoreset plain(capacity, dim);  // no outputs: witness-based rejections
  plain.offer_batch(cand.data(), count);
  CHECK(plain.points() == batch.points());
  // The incremental matrix equals recomputed canonical distances, bit for bit.
  for (std::size_t i = 0; i < capacity; ++i)
    for (std::size_t j = 0; j < capacity; ++j) {
      const double expect = i == j ? std::numeric_limits<double>::infinity()
                                   : seqcore::canonical_sqdist(batch.point(i), batch.point(j), dim);
      CHECK(batch.sqdist(i, j) == expect);
    }
  NaiveCoreset naive{capacity, dim, {}};
  for (std::size_t i = 0; i < capacity; ++i) naive.pts.emplace_back(batch.point(i), batch.point(i) + dim);
  const seqcore::MinPair a = batch.min_pair(), e = naive.min_pair();
  CHECK(a.i == e.i && a.j == e.j && a.sqdist == e.sqdist);
  CHECK(std::isinf(nearest[0]));
  CHECK(nearest[1] == seqcore::canonical_sqdist(cand.data(), cand.data() + dim, dim));
}

void test_query() {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  const std::size_t capacity = 50, dim = 7, nq = 301;
  std::vector<float> pts(capacity * dim), q(nq * dim);
  for (float& x : pts) x = normal(rng);
  for (float& x : q) x = normal(rng);
  seqcore::SequentialCoreset core(capacity, dim);
  core.offer_batch(pts.data(), capacity);
  std::vector<float> dist(nq);
  std::vector<std::int64_t> idx(nq);
  core.query(q.data(), nq, dist.data(), idx.data(), 64);
  for (std::size_t i = 0; i < nq; ++i) {
    double best = std::numeric_limits<double>::infinity();
    for (std::size_t k = 0; k < capacity; ++k)
      best = std::min(best, seqcore::canonical_sqdist(q.data() + i * dim, pts.data() + k * dim, dim));
    CHECK(std::fabs(dist[i] - std::sqrt(best)) <= 1e-5 * (1 + std::sqrt(best)));
    const double found = seqcore::canonical_sqdist(q.data() + i * dim, pts.data() + idx[i] * dim, dim);
    CHECK(std::fabs(found - best) <= 1e-5 * (1 + best));
  }
  // The scoring index answers exactly like the coreset holding the same points.
  const seqcore::PointIndex bank(pts.data(), capacity, dim);
  std::vector<float> bank_dist(nq);
  std::vector<std::int64_t> bank_idx(nq);
  bank.query(q.data(), nq, bank_dist.data(), bank_idx.data(), 17);
  CHECK(bank.size() == capacity && bank.dim() == dim);
  CHECK(bank_dist == dist && bank_idx == idx);
  const seqcore::PointIndex empty(nullptr, 0, dim);
  empty.query(q.data(), 2, bank_dist.data(), bank_idx.data());
  CHECK(std::isinf(bank_dist[0]) && bank_idx[1] == -1);
}

void test_meld_and_kcenter() {
  std::mt19937 rng(4);
  const std::size_t dim = 3;
  const std::vector<float> a = grid_points(40, dim, rng), b = grid_points(60, dim, rng);
  const seqcore::SequentialCoreset melded = seqcore::meld({{a.data(), 40}, {b.data(), 60}}, dim, 16);
  NaiveCoreset naive{16, dim, {}};
  for (int pass = 0; pass < 100; ++pass) {
    int replaced = 0;
    for (const auto* src : {&a, &b})
      for (std::size_t i = 0; i < src->size() / dim; ++i) {
        const bool full = naive.pts.size() == naive.capacity;
        if (naive.offer(src->data() + i * dim) >= 0 && full) ++replaced;
      }
    if (replaced == 0) break;
  }
  CHECK(melded.size() == 16);
  for (std::size_t i = 0; i < melded.size(); ++i)
    for (std::size_t k = 0; k < dim; ++k) CHECK(melded.point(i)[k] == naive.pts[i][k]);

  // Points on a line: greedy from 0 picks the far end, then the middle.
  const std::vector<float> line = {0.f, 1.f, 2.f, 3.f, 4.f};
  const std::vector<std::int64_t> picked = seqcore::greedy_kcenter(line.data(), 5, 1, 3, 0);
  CHECK((picked == std::vector<std::int64_t>{0, 4, 2}));
  CHECK(seqcore::greedy_kcenter(line.data(), 5, 1, 10, 2).size() == 5);
}

void test_model_file(const std::string& dir) {
  const std::string path = dir + "/test_core_model.safetensors";
  const std::vector<float> pts = {1.f, 2.f, 3.f, 4.f, 5.f, 6.f};
  seqcore::write_model(path, pts.data(), 2, 3, "{\"k\": \"v \\\"q\\\"\"}");
  const seqcore::Model m = seqcore::read_model(path);
  CHECK(m.count == 2 && m.dim == 3 && m.coreset == pts);
  CHECK(m.metadata_json == "{\"k\": \"v \\\"q\\\"\"}");
  CHECK(m.header_metadata.at("format") == seqcore::kModelFormat);

  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string cut = dir + "/test_core_truncated.safetensors";
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() - 5);
  CHECK(throws_model_error([&] { seqcore::read_model(cut); }));
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, 6);
  CHECK(throws_model_error([&] { seqcore::read_model(cut); }));
  const std::string foreign = dir + "/test_core_foreign.safetensors";
  std::ofstream(foreign, std::ios::binary) << "this is not a model file at all";
  CHECK(throws_model_error([&] { seqcore::read_model(foreign); }));
  CHECK(throws_model_error([&] { seqcore::read_model(dir + "/does_not_exist.safetensors"); }));
}

void test_bad_arguments() {
  bool thrown = false;
  try {
    seqcore::SequentialCoreset(0, 3);
  } catch (const std::invalid_argument&) {
    thrown = true;
  }
  CHECK(thrown);
  const std::vector<float> pts(6, 1.0f);
  const seqcore::PointIndex bank(pts.data(), 2, 3);
  float distance;
  std::int64_t index;
  for (const auto& bad : {std::function<void()>([] { seqcore::PointIndex(nullptr, 1, 0); }),
                          std::function<void()>([&] { bank.query(pts.data(), 1, &distance, &index, 0); })}) {
    thrown = false;
    try {
      bad();
    } catch (const std::invalid_argument&) {
      thrown = true;
    }
    CHECK(thrown);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : ".";
  test_decisions_match_bruteforce();
  test_screened_high_dim_matches_bruteforce();
  test_state_and_batch();
  test_query();
  test_meld_and_kcenter();
  test_model_file(dir);
  test_bad_arguments();
  if (failures) {
    std::cerr << failures << " check(s) failed\n";
    return 1;
  }
  std::cout << "all seqcore core tests passed\n";
  return 0;
}
