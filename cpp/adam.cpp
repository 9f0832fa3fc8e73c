// Lazy Adam step over the touched rows of one parameter matrix.
#include "adam.hpp"

#include <cmath>

namespace fp {
namespace {

FP_HOT void adam_rows(RowGrad& g, float* param, float* m, float* v, float beta1, float beta2, float step, float eps,
                      int64_t lo, int64_t hi) {
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
        float* __restrict gr = g.at_slot(static_cast<size_t>(k));
        float* __restrict pr = param + off;
        float* __restrict mr = m + off;
        float* __restrict vr = v + off;
#pragma omp simd
        for (int f = 0; f < d; ++f) {
            const float gf = gr[f];
            const float mf = beta1 * mr[f] + (1.0f - beta1) * gf;
            const float vf = beta2 * vr[f] + (1.0f - beta2) * gf * gf;
            mr[f] = mf;
            vr[f] = vf;
            pr[f] -= step * mf / (std::sqrt(vf) + eps);
        }
    }
}

}  // namespace

void adam_apply(RowGrad& g, float* param, float* m, float* v, int64_t t, const AdamConfig& c, int n_threads) {
    const float bc1 = 1.0f - static_cast<float>(std::pow(c.beta1, static_cast<double>(t)));
    const float bc2 = 1.0f - static_cast<float>(std::pow(c.beta2, static_cast<double>(t)));
    const float step = c.lr * std::sqrt(bc2) / bc1;
    const float eps = c.eps * std::sqrt(bc2);
    const int64_t n = static_cast<int64_t>(g.rows.size());
    const int threads = n > 256 ? n_threads : 1;
#pragma omp parallel num_threads(threads)
    {
        const int id = thread_id(), count = team_size();
        adam_rows(g, param, m, v, c.beta1, c.beta2, step, eps, n * id / count, n * (id + 1) / count);
    }
    g.clear();
}

}  // namespace fp
