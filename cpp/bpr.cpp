// BPR-MF's epoch: uniform negatives, mean log-loss of the pairwise margin, lazy Adam.
#include "bpr.hpp"

#include <algorithm>
#include <vector>

namespace fp {
namespace {

constexpr int64_t kTriplesAhead = 8;  // triples ahead whose rows are prefetched

// The gradient of one mini-batch of positives (users[k], items[k]), k in [b0, b1), into the
// row scratch; returns its summed loss. Each positive's negative is its drawn `candidate`
// (one uniform item per positive, drawn for the batch first so that the rows it needs can be
// prefetched a few triples ahead), redrawn from `rng` while the user has seen it. `S` fixes
// the dimension at compile time.
template <class S>
FP_HOT double batch_grad(S, const float* P, const float* Q, int d_runtime, const int32_t* users, const int32_t* items,
                         const int32_t* candidates, const SeenItems& seen, int64_t n_items, Rng& rng, int64_t b0,
                         int64_t b1, float scale, float rs, RowGrad& gP, RowGrad& gQ) {
    const int d = S::dim(d_runtime);
    double loss = 0.0;
    for (int64_t k = b0; k < b1; ++k) {
        if (k + kTriplesAhead < b1) {  // the rows of a triple a few ahead
            const int64_t a = k + kTriplesAhead;
            prefetch_row(P + static_cast<size_t>(users[a]) * d, d);
            prefetch_row(Q + static_cast<size_t>(items[a]) * d, d);
            prefetch_row(Q + static_cast<size_t>(candidates[a - b0]) * d, d);
            seen.prefetch(users[a], candidates[a - b0]);
        }
        const int32_t u = users[k], i = items[k];
        const int32_t j = negative_of(candidates[k - b0], rng, seen, u, n_items);
        float* gu = gP.row(u);
        float* gi = gQ.row(i);
        float* gj = gQ.row(j);
        loss += triple_grad(P + static_cast<size_t>(u) * d, Q + static_cast<size_t>(i) * d,
                            Q + static_cast<size_t>(j) * d, d, scale, rs, gu, gi, gj);
    }
    return loss;
}

}  // namespace

double bpr_adam_epoch(float* P, float* Q, int64_t n_users, int64_t n_items, int d, float* mP, float* vP, float* mQ,
                      float* vQ, const Interactions& x, int64_t batch, float reg, const AdamConfig& cfg,
                      int64_t& step, int n_threads, uint64_t seed) {
    const int threads = clamp_threads(n_threads);
    std::vector<int32_t> users, items;
    epoch_positives(x, n_items, seed, users, items);
    const int64_t n = static_cast<int64_t>(users.size());
    Rng rng = Rng::stream(seed, 0xB9B);
    const SeenItems seen(x.seen, n_items);
    RowGrad gP(n_users, d), gQ(n_items, d);
    std::vector<int32_t> candidates(static_cast<size_t>(std::min(batch, std::max<int64_t>(n, 1))));
    double loss = 0.0;
    for (int64_t b0 = 0; b0 < n; b0 += batch) {
        const int64_t b1 = std::min(n, b0 + batch);
        for (int64_t k = b0; k < b1; ++k)
            candidates[static_cast<size_t>(k - b0)] = static_cast<int32_t>(rng.below(static_cast<uint64_t>(n_items)));
        const float scale = 1.0f / static_cast<float>(b1 - b0), rs = reg * scale;
        loss += dispatch_dim<false>(d, [&](auto s) {
            return batch_grad(s, P, Q, d, users.data(), items.data(), candidates.data(), seen, n_items, rng, b0, b1,
                              scale, rs, gP, gQ);
        });
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
