// BPR-MF's epoch: uniform negatives, mean log-loss of the pairwise margin, lazy Adam.
#include "bpr.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "common.hpp"
#include "simd.hpp"

namespace fp {
namespace {

// log(1 + e^-x) without overflow, and d/dx of it: -sigmoid(-x).
inline double softplus_neg(float x) { return x > 0.0f ? std::log1p(std::exp(-x)) : -x + std::log1p(std::exp(x)); }
inline float dsoftplus_neg(float x) { return -1.0f / (1.0f + std::exp(x)); }

// A uniform item u has not seen, or -1 when u has seen them all.
int32_t draw_negative(Rng& rng, const CsrView& seen, int32_t u, int64_t n_items) {
    const int32_t* lo = seen.indices + seen.indptr[u];
    const int32_t* hi = seen.indices + seen.indptr[u + 1];
    if (hi - lo >= n_items) return -1;
    for (;;) {
        const int32_t j = static_cast<int32_t>(rng.below(static_cast<uint64_t>(n_items)));
        if (!std::binary_search(lo, hi, j)) return j;
    }
}

// One triple's loss, its gradient added (scaled by `scale`, with L2 `rs` on each row) to the rows.
FP_HOT double triple_grad(const float* pu, const float* qi, const float* qj, int d, float scale, float rs, float* gu,
                          float* gi, float* gj) {
    const float x = dot(pu, qi, d) - dot(pu, qj, d);
    const float c = dsoftplus_neg(x) * scale;
    add_scaled_pair(gu, qi, qj, d, c, -c);
    scale_add(gu, pu, d, 1.0f, rs);
    add_scaled_pair(gi, pu, qi, d, c, rs);
    add_scaled_pair(gj, pu, qj, d, -c, rs);
    return softplus_neg(x);
}

}  // namespace

double bpr_adam_epoch(float* P, float* Q, int64_t n_users, int64_t n_items, int d, float* mP, float* vP, float* mQ,
                      float* vQ, const Interactions& x, int64_t batch, float reg, const AdamConfig& cfg,
                      int64_t& step, int n_threads, uint64_t seed) {
    const int threads = clamp_threads(n_threads);
    const std::vector<int64_t> order = permutation(x.n, seed);
    Rng rng = Rng::stream(seed, 0xB9B);
    RowGrad gP(n_users, d), gQ(n_items, d);
    std::vector<int32_t> negatives(static_cast<size_t>(std::min<int64_t>(batch, std::max<int64_t>(x.n, 1))));
    double loss = 0.0;
    for (int64_t b0 = 0; b0 < x.n; b0 += batch) {
        const int64_t b1 = std::min(x.n, b0 + batch);
        int64_t count = 0;
        for (int64_t k = b0; k < b1; ++k) {  // draw first: the batch's mean needs its sample count
            const int64_t e = order[static_cast<size_t>(k)];
            negatives[static_cast<size_t>(k - b0)] = draw_negative(rng, x.seen, x.users[e], n_items);
            count += negatives[static_cast<size_t>(k - b0)] >= 0;
        }
        if (count == 0) continue;
        const float scale = 1.0f / static_cast<float>(count), rs = reg * scale;
        for (int64_t k = b0; k < b1; ++k) {
            const int32_t j = negatives[static_cast<size_t>(k - b0)];
            if (j < 0) continue;
            const int64_t e = order[static_cast<size_t>(k)];
            const int32_t u = x.users[e], i = x.items[e];
            const size_t du = static_cast<size_t>(u) * d, di = static_cast<size_t>(i) * d, dj = static_cast<size_t>(j) * d;
            float* gu = gP.row(u);
            float* gi = gQ.row(i);
            float* gj = gQ.row(j);
            loss += triple_grad(P + du, Q + di, Q + dj, d, scale, rs, gu, gi, gj);
        }
        ++step;
        adam_apply(gP, P, mP, vP, step, cfg, threads);
        adam_apply(gQ, Q, mQ, vQ, step, cfg, threads);
    }
    return loss;
}

double bpr_loss_grad(const float* P, const float* Q, int64_t n_users, int64_t n_items, int d, const int32_t* users,
                     const int32_t* pos, const int32_t* neg, int64_t n, float reg, float* dP, float* dQ) {
    std::fill_n(dP, static_cast<size_t>(n_users) * d, 0.0f);
    std::fill_n(dQ, static_cast<size_t>(n_items) * d, 0.0f);
    if (n == 0) return 0.0;
    const float scale = 1.0f / static_cast<float>(n), rs = reg * scale;
    double loss = 0.0;
    for (int64_t k = 0; k < n; ++k) {
        const size_t du = static_cast<size_t>(users[k]) * d, di = static_cast<size_t>(pos[k]) * d,
                     dj = static_cast<size_t>(neg[k]) * d;
        loss += triple_grad(P + du, Q + di, Q + dj, d, scale, rs, dP + du, dQ + di, dQ + dj);
        loss += 0.5 * reg * (dot(P + du, P + du, d) + dot(Q + di, Q + di, d) + dot(Q + dj, Q + dj, d));
    }
    return loss / static_cast<double>(n);
}

}  // namespace fp
