// Scores of listed (user, item) pairs: u_row . v_row, in parallel over pairs.
#include "factor_models.hpp"
#include "simd.hpp"

namespace fp {
namespace {

template <int Dim>
FP_HOT void dot_pairs_fixed(const float* U, const float* V, int runtime_d, const int32_t* users,
                            const int32_t* items, int64_t n, float* out, int n_threads) {
    const int d = Dim > 0 ? Dim : runtime_d;
    (void)n_threads;
#pragma omp parallel for schedule(static) num_threads(n_threads)
    for (int64_t k = 0; k < n; ++k)
        out[k] = dot(U + static_cast<size_t>(users[k]) * d, V + static_cast<size_t>(items[k]) * d, d);
}

}  // namespace

void dot_pairs(const float* U, const float* V, int d, const int32_t* users, const int32_t* items, int64_t n,
               float* out, int n_threads) {
    const int threads = clamp_threads(n_threads);
    switch (d) {
        case 32: return dot_pairs_fixed<32>(U, V, d, users, items, n, out, threads);
        case 64: return dot_pairs_fixed<64>(U, V, d, users, items, n, out, threads);
        case 128: return dot_pairs_fixed<128>(U, V, d, users, items, n, out, threads);
        default: return dot_pairs_fixed<0>(U, V, d, users, items, n, out, threads);
    }
}

}  // namespace fp
