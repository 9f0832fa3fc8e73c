// NSVD (Paterek 2007) epochs, user by user: the implicit user vector is built once per
// user and its gradient is scattered once per user onto the user's rated items.
#include <algorithm>
#include <cmath>

#include "factor_models.hpp"

namespace fp {
namespace {

// p = |N(u)|^-1/2 * sum_{j in N(u)} y_j
inline void implicit_user(const NSVDParams& p, const CsrView& r, int64_t u, float norm, float* out) {
    const int d = p.d;
    std::fill(out, out + d, 0.0f);
    for (int64_t k = r.indptr[u]; k < r.indptr[u + 1]; ++k) {
        const float* y = p.Y + static_cast<size_t>(r.indices[k]) * d;
#pragma omp simd
        for (int f = 0; f < d; ++f) out[f] += y[f];
    }
#pragma omp simd
    for (int f = 0; f < d; ++f) out[f] *= norm;
}

template <bool Bias>
FP_HOT double sgd_users(const NSVDParams& p, const CsrView& r, const int64_t* users, int64_t n, float lr,
                        float reg, float* pu, float* g) {
    const int d = p.d;
    double loss = 0.0;
    for (int64_t k = 0; k < n; ++k) {
        const int64_t u = users[k];
        const int64_t a = r.indptr[u], b = r.indptr[u + 1];
        if (a == b) continue;
        const float norm = 1.0f / std::sqrt(static_cast<float>(b - a));
        implicit_user(p, r, u, norm, pu);
        std::fill(g, g + d, 0.0f);
        for (int64_t x = a; x < b; ++x) {
            const int32_t i = r.indices[x];
            float* __restrict qi = p.Q + static_cast<size_t>(i) * d;
            float pred = dot(pu, qi, d);
            if (Bias) pred += p.mu + p.bu[u] + p.bi[i];
            const float e = r.values[x] - pred;
            loss += static_cast<double>(e) * e;
            if (Bias) {
                p.bu[u] += lr * (e - reg * p.bu[u]);
                p.bi[i] += lr * (e - reg * p.bi[i]);
            }
#pragma omp simd
            for (int f = 0; f < d; ++f) {
                g[f] += e * qi[f];
                qi[f] += lr * (e * pu[f] - reg * qi[f]);
            }
        }
        for (int64_t x = a; x < b; ++x) {
            float* __restrict y = p.Y + static_cast<size_t>(r.indices[x]) * d;
#pragma omp simd
            for (int f = 0; f < d; ++f) y[f] += lr * (norm * g[f] - reg * y[f]);
        }
    }
    return loss;
}

// Mini-batch gradient over whole users; loss (1/B) sum_b [e_b^2 + (reg/d)(|p_u|^2 + |q_i|^2)].
template <bool Bias>
FP_HOT double adam_users_grad(const NSVDParams& p, const CsrView& r, const int64_t* users, int64_t n, float reg,
                              float inv_batch, float* pu, float* gp, RowGrad& gY, RowGrad& gQ, RowGrad& gbu,
                              RowGrad& gbi) {
    const int d = p.d;
    const float rs = 2.0f * reg * inv_batch / static_cast<float>(p.d);  // reg * mean over entries (TCD code)
    double loss = 0.0;
    for (int64_t k = 0; k < n; ++k) {
        const int64_t u = users[k];
        const int64_t a = r.indptr[u], b = r.indptr[u + 1];
        if (a == b) continue;
        const float norm = 1.0f / std::sqrt(static_cast<float>(b - a));
        implicit_user(p, r, u, norm, pu);
        std::fill(gp, gp + d, 0.0f);
        for (int64_t x = a; x < b; ++x) {
            const int32_t i = r.indices[x];
            const float* qi = p.Q + static_cast<size_t>(i) * d;
            float pred = dot(pu, qi, d);
            if (Bias) pred += p.mu + p.bu[u] + p.bi[i];
            const float e = pred - r.values[x];
            loss += static_cast<double>(e) * e;
            const float c = 2.0f * e * inv_batch;
            float* __restrict gi = gQ.row(i);
#pragma omp simd
            for (int f = 0; f < d; ++f) {
                gi[f] += c * pu[f] + rs * qi[f];
                gp[f] += c * qi[f] + rs * pu[f];
            }
            if (Bias) {
                gbu.row(static_cast<int32_t>(u))[0] += c;
                gbi.row(i)[0] += c;
            }
        }
        for (int64_t x = a; x < b; ++x) {
            float* __restrict gy = gY.row(r.indices[x]);
#pragma omp simd
            for (int f = 0; f < d; ++f) gy[f] += norm * gp[f];
        }
    }
    return loss;
}

template <bool Bias>
double adam_epoch(const NSVDParams& p, const Moments& mo, const CsrView& r, int64_t batch, float reg,
                  const AdamConfig& cfg, int64_t& step, int n_threads, uint64_t seed) {
    const std::vector<int64_t> order = permutation(r.n_users, seed);
    RowGrad gY(p.n_items, p.d), gQ(p.n_items, p.d), gbu(Bias ? p.n_users : 0, 1), gbi(Bias ? p.n_items : 0, 1);
    std::vector<float> pu(static_cast<size_t>(p.d)), gp(static_cast<size_t>(p.d));
    double loss = 0.0;
    int64_t k0 = 0;
    while (k0 < r.n_users) {
        int64_t k1 = k0, count = 0;
        while (k1 < r.n_users && count < batch) {
            const int64_t u = order[static_cast<size_t>(k1++)];
            count += r.indptr[u + 1] - r.indptr[u];
        }
        if (count > 0) {
            loss += adam_users_grad<Bias>(p, r, order.data() + k0, k1 - k0, reg, 1.0f / static_cast<float>(count),
                                          pu.data(), gp.data(), gY, gQ, gbu, gbi);
            ++step;
            adam_apply(gY, p.Y, mo.mA, mo.vA, step, cfg, n_threads);
            adam_apply(gQ, p.Q, mo.mB, mo.vB, step, cfg, n_threads);
            if (Bias) {
                adam_apply(gbu, p.bu, mo.mbu, mo.vbu, step, cfg, 1);
                adam_apply(gbi, p.bi, mo.mbi, mo.vbi, step, cfg, 1);
            }
        }
        k0 = k1;
    }
    return loss;
}

}  // namespace

double nsvd_sgd_epoch(const NSVDParams& p, const CsrView& r, float lr, float reg, int n_threads, uint64_t seed) {
    const std::vector<int64_t> order = permutation(r.n_users, seed);
    const int threads = static_cast<int>(std::min<int64_t>(clamp_threads(n_threads), std::max<int64_t>(1, r.n_users)));
    double loss = 0.0;
#pragma omp parallel num_threads(threads) reduction(+ : loss)
    {
        const int t = thread_id();
        const int64_t lo = r.n_users * t / threads, hi = r.n_users * (t + 1) / threads;
        std::vector<float> pu(static_cast<size_t>(p.d)), g(static_cast<size_t>(p.d));
        loss += p.bias ? sgd_users<true>(p, r, order.data() + lo, hi - lo, lr, reg, pu.data(), g.data())
                       : sgd_users<false>(p, r, order.data() + lo, hi - lo, lr, reg, pu.data(), g.data());
    }
    return loss;
}

double nsvd_adam_epoch(const NSVDParams& p, const Moments& mo, const CsrView& r, int64_t batch, float reg,
                       const AdamConfig& cfg, int64_t& step, int n_threads, uint64_t seed) {
    const int threads = clamp_threads(n_threads);
    return p.bias ? adam_epoch<true>(p, mo, r, batch, reg, cfg, step, threads, seed)
                  : adam_epoch<false>(p, mo, r, batch, reg, cfg, step, threads, seed);
}

}  // namespace fp
