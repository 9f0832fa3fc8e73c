// BPR-MF's epoch: uniform negatives, mean log-loss of the pairwise margin, lazy Adam.
#include "bpr.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "common.hpp"
#include "simd.hpp"

namespace fp {
namespace {

constexpr int64_t kTriplesAhead = 8;  // triples ahead whose rows are prefetched

// log(1 + e^-x) without overflow, and d/dx of it: -sigmoid(-x).
inline double softplus_neg(float x) { return x > 0.0f ? std::log1p(std::exp(-x)) : -x + std::log1p(std::exp(x)); }
inline float dsoftplus_neg(float x) { return -1.0f / (1.0f + std::exp(x)); }

// Whether the ascending a[0..n) holds x: a binary search without branches on the data (the
// comparison selects the half), so random probes cost no mispredictions.
FP_INLINE bool holds(const int32_t* a, int64_t n, int32_t x) {
    if (n == 0) return false;
    const int32_t* base = a;
    while (n > 1) {
        const int64_t half = n / 2;
        base = base[half] <= x ? base + half : base;
        n -= half;
    }
    return *base == x;
}

// Which items each user has seen: a bit per (user, item) when that takes at most
// kMaxBitmapBytes (one probe, which a prefetch can bring in ahead), else the sorted CSR rows
// searched without branches.
class SeenItems {
public:
    static constexpr int64_t kMaxBitmapBytes = int64_t{256} << 20;

    SeenItems(const CsrView& seen, int64_t n_items)
        : seen_(seen), words_per_user_((n_items + 63) / 64) {
        if (seen.n_users * words_per_user_ * 8 > kMaxBitmapBytes) return;
        bits_.assign(static_cast<size_t>(seen.n_users * words_per_user_), 0);
        for (int64_t u = 0; u < seen.n_users; ++u)
            for (int64_t k = seen.indptr[u]; k < seen.indptr[u + 1]; ++k) {
                const int32_t i = seen.indices[k];
                bits_[static_cast<size_t>(u * words_per_user_ + i / 64)] |= uint64_t{1} << (i % 64);
            }
    }

    FP_INLINE bool has(int32_t u, int32_t i) const {
        if (!bits_.empty()) return (word(u, i) >> (i % 64)) & 1;
        return holds(seen_.indices + seen_.indptr[u], seen_.indptr[u + 1] - seen_.indptr[u], i);
    }

    // Bring in what `has(u, i)` will read (the bit's word, or the row's first lines).
    FP_INLINE void prefetch(int32_t u, int32_t i) const {
        if (!bits_.empty()) {
            __builtin_prefetch(&word(u, i), 0, 3);
            return;
        }
        const int32_t* row = seen_.indices + seen_.indptr[u];
        const int64_t length = std::min<int64_t>(seen_.indptr[u + 1] - seen_.indptr[u], 4 * 16);
        for (int64_t f = 0; f < length; f += 16) __builtin_prefetch(row + f, 0, 3);
    }

private:
    const uint64_t& word(int32_t u, int32_t i) const {
        return bits_[static_cast<size_t>(u * words_per_user_ + i / 64)];
    }

    CsrView seen_;
    int64_t words_per_user_;
    std::vector<uint64_t> bits_;
};

// `candidate` if u has not seen it, else a uniform item u has not seen (u must have one:
// rejection sampling, drawing from `rng`).
FP_INLINE int32_t negative_of(int32_t candidate, Rng& rng, const SeenItems& seen, int32_t u, int64_t n_items) {
    int32_t j = candidate;
    while (seen.has(u, j)) j = static_cast<int32_t>(rng.below(static_cast<uint64_t>(n_items)));
    return j;
}

// g <- g + a*x + b*y + c*z
FP_INLINE void add_scaled_triple(float* g, const float* x, const float* y, const float* z, int d, float a, float b,
                                 float c) {
    const vec8 va = splat8(a), vb = splat8(b), vc = splat8(c);
    int f = 0;
#pragma GCC unroll 16
    for (; f + 8 <= d; f += 8)
        store8(g + f, load8(g + f) + va * load8(x + f) + vb * load8(y + f) + vc * load8(z + f));
    for (; f < d; ++f) g[f] += a * x[f] + b * y[f] + c * z[f];
}

// One triple's loss, its gradient added (scaled by `scale`, with L2 `rs` on each row) to the rows.
FP_INLINE double triple_grad(const float* pu, const float* qi, const float* qj, int d, float scale, float rs,
                             float* gu, float* gi, float* gj) {
    const float x = dot(pu, qi, d) - dot(pu, qj, d);
    const float c = dsoftplus_neg(x) * scale;
    add_scaled_triple(gu, qi, qj, pu, d, c, -c, rs);
    add_scaled_pair(gi, pu, qi, d, c, rs);
    add_scaled_pair(gj, pu, qj, d, -c, rs);
    return softplus_neg(x);
}

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
    // The epoch's positives in a seeded order, laid out contiguously; users who have seen
    // every item have no negative and give no sample.
    std::vector<int32_t> users, items;
    {
        const std::vector<int64_t> order = permutation(x.n, seed);
        users.reserve(static_cast<size_t>(x.n));
        items.reserve(static_cast<size_t>(x.n));
        for (const int64_t e : order) {
            const int32_t u = x.users[e];
            if (x.seen.indptr[u + 1] - x.seen.indptr[u] >= n_items) continue;
            users.push_back(u);
            items.push_back(x.items[e]);
        }
    }
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
