// What BPR-MF and LightGCN share: the epoch's positives, uniform negatives among the items a
// user has not seen, and one triple's pairwise log-loss with its gradient.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "common.hpp"
#include "factor_models.hpp"
#include "simd.hpp"

namespace fp {

// The positives of one epoch: interaction k is (users[k], items[k]); `seen` holds every
// user's items that are never drawn as negatives (sorted within each row).
struct Interactions {
    const int32_t* users;
    const int32_t* items;
    int64_t n;
    CsrView seen;
};

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

// The epoch's positives in a seeded order, laid out contiguously into `users` and `items`;
// users who have seen every item have no negative and give no sample.
template <class Index>
void ordered_positives(const Interactions& x, int64_t n_items, uint64_t seed, std::vector<int32_t>& users,
                       std::vector<int32_t>& items) {
    const std::vector<Index> order = permutation<Index>(x.n, seed);
    constexpr size_t kAhead = 16;  // positives ahead whose user and item are prefetched
    users.clear();
    items.clear();
    users.reserve(static_cast<size_t>(x.n));
    items.reserve(static_cast<size_t>(x.n));
    for (size_t k = 0; k < order.size(); ++k) {
        if (k + kAhead < order.size()) {
            __builtin_prefetch(x.users + order[k + kAhead], 0, 3);
            __builtin_prefetch(x.items + order[k + kAhead], 0, 3);
        }
        const int32_t u = x.users[order[k]];
        if (x.seen.indptr[u + 1] - x.seen.indptr[u] >= n_items) continue;
        users.push_back(u);
        items.push_back(x.items[order[k]]);
    }
}

inline void epoch_positives(const Interactions& x, int64_t n_items, uint64_t seed, std::vector<int32_t>& users,
                            std::vector<int32_t>& items) {
    if (x.n <= INT32_MAX)
        ordered_positives<int32_t>(x, n_items, seed, users, items);
    else
        ordered_positives<int64_t>(x, n_items, seed, users, items);
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

// One triple's -log sigmoid(pu . (qi - qj)), its gradient added (scaled by `scale`, with L2
// `rs` on each row) to the rows gu, gi, gj.
FP_INLINE double triple_grad(const float* pu, const float* qi, const float* qj, int d, float scale, float rs,
                             float* gu, float* gi, float* gj) {
    const float x = dot(pu, qi, d) - dot(pu, qj, d);
    const float c = dsoftplus_neg(x) * scale;
    add_scaled_triple(gu, qi, qj, pu, d, c, -c, rs);
    add_scaled_pair(gi, pu, qi, d, c, rs);
    add_scaled_pair(gj, pu, qj, d, -c, rs);
    return softplus_neg(x);
}

}  // namespace fp
