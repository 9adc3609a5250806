// Portable SIMD helpers (internal): GCC/Clang vector extensions, plus an AVX2+FMA clone of
// hot functions on x86-64 GCC (picked at load time; the default clone runs anywhere).
#pragma once

#include <cstring>

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define SEQCORE_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define SEQCORE_CLONES
#endif

namespace seqcore::detail {

typedef float v8f __attribute__((vector_size(32)));
typedef float v4f __attribute__((vector_size(16)));
typedef double v4d __attribute__((vector_size(32)));

inline v8f load8(const float* p) {
  v8f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline v4f load4(const float* p) {
  v4f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace seqcore::detail
