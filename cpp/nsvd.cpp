// NSVD (Paterek 2007) epochs, user by user: the implicit user vector is built once per
// user and its gradient is scattered once per user onto the user's rated items.
//
// Objective (ratings scaled to [0, 1]): sum_{(u,i)} (r_ui - r_hat_ui)^2 + per-rating L2 (`reg`)
// + item_reg * sum_i |q_i|^2, the last a per-item prior counted once per item (lambda / n_i on
// each of its n_i ratings). Per-rating L2 alone shrinks every q_i by the same factor, so an item
// rated once is fitted to that one rating; as the implicit user vectors share a large common
// component, such an item then scores high for every user. The per-item prior shrinks q_i by
// about n_i |p|^2 / (n_i |p|^2 + lambda) instead: items earn their scores with evidence.
#include <algorithm>
#include <cmath>
#include <vector>

#include "factor_models.hpp"
#include "sgd_steps.hpp"
#include "simd.hpp"

namespace fp {
namespace {

// SGD over the listed users, one user-wise step each (the thread's share of an epoch).
template <class S>
FP_HOT double sgd_users(S, const FactorParams& p, const CsrView& r, const int64_t* users, int64_t n, float lr,
                        float reg, const float* prior, float* pu, float* g) {
    const int d = S::dim(p.d);
    const DirectRows rows{p, d};
    const L2Shrink shrink{lr, reg, prior};
    double loss = 0.0;
    for (int64_t k = 0; k < n; ++k) nsvd_sgd_step(S{}, rows, shrink, r, users[k], pu, g, d, loss);
    return loss;
}

// Mini-batch gradient over whole users;
// loss (1/B) sum_b [e_b^2 + (reg/d)(|p_u|^2 + |q_i|^2) + (item_reg/n_i)|q_i|^2].
template <class S>
FP_HOT double adam_users_grad(S, const FactorParams& p, const CsrView& r, const int64_t* users, int64_t n,
                              float reg, float inv_batch, const float* prior, float* pu, float* gp, FactorGrads& g) {
    const int d = S::dim(p.d);
    const DirectRows rows{p, d};
    const float rs = 2.0f * reg * inv_batch / static_cast<float>(d);  // reg * mean over entries (TCD code)
    double loss = 0.0;
    for (int64_t k = 0; k < n; ++k) {
        const int64_t u = users[k];
        const float norm = implicit_user(r, u, d, pu, [&](int32_t j) { return rows.a(j); });
        if (norm == 0.0f) continue;
        const int64_t a = r.indptr[u], b = r.indptr[u + 1];
        std::fill(gp, gp + d, 0.0f);
        for (int64_t x = a; x < b; ++x) {
            const int32_t i = r.indices[x];
            const float* qi = rows.q(i);
            const float e = predict(S{}, rows, pu, qi, u, i, d) - r.values[x];
            loss += static_cast<double>(e) * e;
            const float c = 2.0f * e * inv_batch;
            add_scaled_pair(g.Q.row(i), pu, qi, d, c, rs + 2.0f * inv_batch * prior[i]);
            add_scaled_pair(gp, qi, pu, d, c, rs);
            add_bias_grad(S{}, g, u, i, c);
        }
        for (int64_t x = a; x < b; ++x) scale_add(g.A.row(r.indices[x]), gp, d, 1.0f, norm);
    }
    return loss;
}

}  // namespace

double nsvd_sgd_epoch(const FactorParams& p, const CsrView& r, float lr, float reg, int n_threads, uint64_t seed) {
    const std::vector<int64_t> order = permutation(r.n_users, seed);
    const int threads = static_cast<int>(std::min<int64_t>(clamp_threads(n_threads), std::max<int64_t>(1, r.n_users)));
    const std::vector<float> prior = item_prior(r, p.n_items, p.item_reg);
    double loss = 0.0;
#pragma omp parallel num_threads(threads) reduction(+ : loss)
    {
        const int t = thread_id();
        const int64_t lo = r.n_users * t / threads, hi = r.n_users * (t + 1) / threads;
        std::vector<float> pu(static_cast<size_t>(p.d)), g(static_cast<size_t>(p.d));
        loss += dispatch_shape(p, [&](auto s) {
            return sgd_users(s, p, r, order.data() + lo, hi - lo, lr, reg, prior.data(), pu.data(), g.data());
        });
    }
    return loss;
}

double nsvd_adam_epoch(const FactorParams& p, const Moments& mo, const CsrView& r, int64_t batch, float reg,
                       const AdamConfig& cfg, int64_t& step, int n_threads, uint64_t seed) {
    const int threads = clamp_threads(n_threads);
    const std::vector<int64_t> order = permutation(r.n_users, seed);
    FactorGrads grads(p);
    std::vector<float> pu(static_cast<size_t>(p.d)), gp(static_cast<size_t>(p.d));
    const std::vector<float> prior = item_prior(r, p.n_items, p.item_reg);
    double loss = 0.0;
    int64_t k0 = 0;
    while (k0 < r.n_users) {
        int64_t k1 = k0, count = 0;
        while (k1 < r.n_users && count < batch) {
            const int64_t u = order[static_cast<size_t>(k1++)];
            count += r.indptr[u + 1] - r.indptr[u];
        }
        if (count > 0) {
            const float inv_batch = 1.0f / static_cast<float>(count);
            loss += dispatch_shape(p, [&](auto s) {
                return adam_users_grad(s, p, r, order.data() + k0, k1 - k0, reg, inv_batch, prior.data(), pu.data(),
                                       gp.data(), grads);
            });
            grads.apply(p, mo, ++step, cfg, threads);
        }
        k0 = k1;
    }
    return loss;
}

}  // namespace fp
