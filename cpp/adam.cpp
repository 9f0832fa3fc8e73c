// Adam steps: lazy over the touched rows of one parameter matrix, or dense over all of it.
#include "adam.hpp"

#include <cmath>

#include "simd.hpp"

namespace fp {
namespace {

// Adam's bias corrections folded into the step size and epsilon of step t.
struct BiasCorrected {
    float step, eps;
    BiasCorrected(int64_t t, const AdamConfig& c) {
        const float bc1 = 1.0f - static_cast<float>(std::pow(c.beta1, static_cast<double>(t)));
        const float bc2 = 1.0f - static_cast<float>(std::pow(c.beta2, static_cast<double>(t)));
        step = c.lr * std::sqrt(bc2) / bc1;
        eps = c.eps * std::sqrt(bc2);
    }
};

// One Adam update of n entries; with `Consume`, each gradient entry is zeroed once read.
// Bound by the division and square root: 16 lanes fill the AVX-512 clone's registers.
template <bool Consume, class Grad>
FP_INLINE void adam_update(Grad* __restrict g, float* __restrict p, float* __restrict m, float* __restrict v,
                           int64_t n, float beta1, float beta2, float step, float eps) {
#pragma omp simd simdlen(16)
    for (int64_t f = 0; f < n; ++f) {
        const float gf = g[f];
        if constexpr (Consume) g[f] = 0.0f;
        const float mf = beta1 * m[f] + (1.0f - beta1) * gf;
        const float vf = beta2 * v[f] + (1.0f - beta2) * gf * gf;
        m[f] = mf;
        v[f] = vf;
        p[f] -= step * mf / (std::sqrt(vf) + eps);
    }
}

// Adam on the touched rows [lo, hi) of `g`; with `Consume`, each slot is zeroed as it is read.
template <bool Consume>
FP_HOT_WIDE void adam_rows(RowGrad& g, float* param, float* m, float* v, float beta1, float beta2, float step,
                           float eps, int64_t lo, int64_t hi) {
    const int d = g.dim;
    constexpr int64_t kAhead = 4;  // rows ahead whose parameters and moments are prefetched
    for (int64_t k = lo; k < hi; ++k) {
        if (k + kAhead < hi) {
            const size_t next = static_cast<size_t>(g.rows[static_cast<size_t>(k + kAhead)]) * d;
            prefetch_row(param + next, d);
            prefetch_row(m + next, d);
            prefetch_row(v + next, d);
        }
        const size_t off = static_cast<size_t>(g.rows[static_cast<size_t>(k)]) * d;
        adam_update<Consume>(g.at_slot(static_cast<size_t>(k)), param + off, m + off, v + off, d, beta1, beta2, step,
                             eps);
    }
}

FP_HOT_WIDE void adam_block(const float* g, float* param, float* m, float* v, float beta1, float beta2,
                            float step, float eps, int64_t lo, int64_t hi) {
    adam_update<false>(g + lo, param + lo, m + lo, v + lo, hi - lo, beta1, beta2, step, eps);
}

}  // namespace

void adam_apply(RowGrad& g, float* param, float* m, float* v, int64_t t, const AdamConfig& c, int n_threads) {
    const BiasCorrected b(t, c);
    const int64_t n = static_cast<int64_t>(g.rows.size());
    const int threads = n > 256 ? n_threads : 1;
    // Vector rows zero their slot in the update loop, while it is in cache; scalar rows
    // (biases) are cheaper to zero in one pass afterwards (measured).
    const bool consume = g.dim >= 8;
#pragma omp parallel num_threads(threads)
    {
        const int id = thread_id(), count = team_size();
        const int64_t lo = n * id / count, hi = n * (id + 1) / count;
        if (consume)
            adam_rows<true>(g, param, m, v, c.beta1, c.beta2, b.step, b.eps, lo, hi);
        else
            adam_rows<false>(g, param, m, v, c.beta1, c.beta2, b.step, b.eps, lo, hi);
    }
    if (consume)
        g.forget_zeroed();
    else
        g.clear();
}

void adam_dense(const float* g, float* param, float* m, float* v, int64_t n, int64_t t, const AdamConfig& c,
                int n_threads) {
    const BiasCorrected b(t, c);
    const int threads = n > (int64_t{1} << 16) ? n_threads : 1;
#pragma omp parallel num_threads(threads)
    {
        const int64_t id = thread_id(), count = team_size();
        adam_block(g, param, m, v, c.beta1, c.beta2, b.step, b.eps, n * id / count, n * (id + 1) / count);
    }
}

}  // namespace fp
