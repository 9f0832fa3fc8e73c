// Shared helpers for the fastpoison kernels: RNG, prefetch, threading.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#ifdef FASTPOISON_OPENMP
#include <omp.h>
#endif

// Portable baseline build plus an AVX2 clone picked at load time on x86-64 (GCC ifunc).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(__AVX2__)
#define FP_HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
// Plus an AVX-512 clone, for loops written 16 floats wide (vec16, or `omp simd simdlen(16)`)
// whose cost is the number of vector instructions, which 512-bit cores halve.
#define FP_HOT_WIDE __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define FP_HOT
#define FP_HOT_WIDE
#endif


namespace fp {

// SplitMix64's output function: a bijective, well-mixed hash of 64 bits.
inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

// SplitMix64: a small, fast, well-mixed generator. Rng(s + 1) is Rng(s) advanced by one
// draw, so seeds that may be close (counters, ids) go through `stream`.
struct Rng {
    uint64_t state;
    explicit Rng(uint64_t seed) : state(seed * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL) {}
    // Stream `id` of `seed`: unrelated starting points for any two distinct (seed, id).
    static Rng stream(uint64_t seed, uint64_t id) { return Rng(mix64(seed ^ mix64(id + 0x3C6EF372FE94F82AULL))); }
    uint64_t next() { return mix64(state += 0x9E3779B97F4A7C15ULL); }
    // Uniform integer in [0, n).
    uint64_t below(uint64_t n) { return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64); }
    // Uniform float in [0, 1).
    float uniform() { return static_cast<float>(next() >> 40) * (1.0f / 16777216.0f); }
};

// Seeded Fisher-Yates permutation of 0..n-1, as `Index` (int32_t halves the memory the
// random swaps touch; the permutation is the same for either). The swap partners are drawn
// a few steps ahead, in the same order, so that their entries can be prefetched.
template <class Index = int64_t>
inline std::vector<Index> permutation(int64_t n, uint64_t seed) {
    std::vector<Index> p(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) p[static_cast<size_t>(i)] = static_cast<Index>(i);
    Rng rng(seed);
    constexpr int64_t kAhead = 16;  // swaps whose partner is drawn and prefetched ahead
    int64_t partner[kAhead];
    auto draw = [&](int64_t i) {  // the partner of position i (i > 0), drawn in descending i
        partner[i % kAhead] = static_cast<int64_t>(rng.below(static_cast<uint64_t>(i + 1)));
        __builtin_prefetch(&p[static_cast<size_t>(partner[i % kAhead])], 1, 3);
    };
    for (int64_t i = n - 1; i > 0 && i > n - 1 - kAhead; --i) draw(i);
    for (int64_t i = n - 1; i > 0; --i) {
        const int64_t j = partner[i % kAhead];
        if (i - kAhead > 0) draw(i - kAhead);
        std::swap(p[static_cast<size_t>(i)], p[static_cast<size_t>(j)]);
    }
    return p;
}

// Prefetch every cache line of a parameter row of `d` floats.
inline void prefetch_row(const float* row, int d) {
#pragma GCC unroll 16
    for (int f = 0; f < d; f += 16) __builtin_prefetch(row + f, 1, 3);
}

inline int clamp_threads(int n_threads) {
#ifdef FASTPOISON_OPENMP
    if (n_threads <= 0) return omp_get_max_threads();
    return std::min(n_threads, 4 * omp_get_num_procs());  // more threads than that only thrash (or fail)
#else
    (void)n_threads;
    return 1;
#endif
}

inline int thread_id() {
#ifdef FASTPOISON_OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

// Threads in the current parallel region (1 outside one).
inline int team_size() {
#ifdef FASTPOISON_OPENMP
    return omp_get_num_threads();
#else
    return 1;
#endif
}

}  // namespace fp
