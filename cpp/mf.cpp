// Matrix factorisation epochs: Hogwild SGD over shuffled rating blocks, and lazy Adam.
#include <algorithm>

#include "factor_models.hpp"

namespace fp {
namespace {

constexpr int64_t kBlock = 256;     // ratings per shuffled block
constexpr int64_t kPrefetch = 8;    // ratings ahead whose rows are prefetched

inline int64_t block_end(int64_t b, int64_t n) { return std::min(n, (b + 1) * kBlock); }

// SGD over the listed blocks, one rating at a time (the thread's share of an epoch).
template <bool Bias>
FP_HOT double sgd_blocks(const MFParams& p, const RatingsView& r, const int64_t* blocks, int64_t n_blocks,
                         float lr, float reg) {
    const int d = p.d;
    double loss = 0.0;
    for (int64_t bi = 0; bi < n_blocks; ++bi) {
        const int64_t start = blocks[bi] * kBlock, end = block_end(blocks[bi], r.n);
        const int64_t next = bi + 1 < n_blocks ? blocks[bi + 1] * kBlock : -1;
        for (int64_t k = start; k < end; ++k) {
            int64_t ahead = k + kPrefetch;
            if (ahead >= end) ahead = next < 0 ? -1 : next + (ahead - end);
            if (ahead >= 0 && ahead < r.n) {
                prefetch_row(p.P + static_cast<size_t>(r.users[ahead]) * d, d);
                prefetch_row(p.Q + static_cast<size_t>(r.items[ahead]) * d, d);
            }
            const int32_t u = r.users[k], i = r.items[k];
            float* __restrict pu = p.P + static_cast<size_t>(u) * d;
            float* __restrict qi = p.Q + static_cast<size_t>(i) * d;
            float pred = dot(pu, qi, d);
            if (Bias) pred += p.mu + p.bu[u] + p.bi[i];
            const float e = r.ratings[k] - pred;
            loss += static_cast<double>(e) * e;
            if (Bias) {
                p.bu[u] += lr * (e - reg * p.bu[u]);
                p.bi[i] += lr * (e - reg * p.bi[i]);
            }
#pragma omp simd
            for (int f = 0; f < d; ++f) {
                const float pf = pu[f], qf = qi[f];
                pu[f] = pf + lr * (e * qf - reg * pf);
                qi[f] = qf + lr * (e * pf - reg * qf);
            }
        }
    }
    return loss;
}

// Gradient of one mini-batch, accumulated into the row scratch; returns its squared error.
template <bool Bias>
FP_HOT double adam_batch_grad(const MFParams& p, const RatingsView& r, const int64_t* blocks, int64_t b0,
                              int64_t b1, float reg, float inv_batch, RowGrad& gP, RowGrad& gQ, RowGrad& gbu,
                              RowGrad& gbi) {
    const int d = p.d;
    const float rs = 2.0f * reg * inv_batch / static_cast<float>(p.d);  // reg * mean over entries (TCD code)
    double loss = 0.0;
    for (int64_t bi = b0; bi < b1; ++bi) {
        const int64_t start = blocks[bi] * kBlock, end = block_end(blocks[bi], r.n);
        for (int64_t k = start; k < end; ++k) {
            const int32_t u = r.users[k], i = r.items[k];
            const float* pu = p.P + static_cast<size_t>(u) * d;
            const float* qi = p.Q + static_cast<size_t>(i) * d;
            float pred = dot(pu, qi, d);
            if (Bias) pred += p.mu + p.bu[u] + p.bi[i];
            const float e = pred - r.ratings[k];
            loss += static_cast<double>(e) * e;
            const float c = 2.0f * e * inv_batch;
            float* __restrict gu = gP.row(u);
            float* __restrict gi = gQ.row(i);
#pragma omp simd
            for (int f = 0; f < d; ++f) {
                gu[f] += c * qi[f] + rs * pu[f];
                gi[f] += c * pu[f] + rs * qi[f];
            }
            if (Bias) {
                gbu.row(u)[0] += c;
                gbi.row(i)[0] += c;
            }
        }
    }
    return loss;
}

template <bool Bias>
double adam_epoch(const MFParams& p, const Moments& mo, const RatingsView& r, int64_t batch, float reg,
                  const AdamConfig& cfg, int64_t& step, int n_threads, uint64_t seed) {
    const int64_t n_blocks = (r.n + kBlock - 1) / kBlock;
    const std::vector<int64_t> blocks = permutation(n_blocks, seed);
    const int64_t blocks_per_batch = std::max<int64_t>(1, batch / kBlock);
    RowGrad gP(p.n_users, p.d), gQ(p.n_items, p.d), gbu(Bias ? p.n_users : 0, 1), gbi(Bias ? p.n_items : 0, 1);
    double loss = 0.0;
    for (int64_t b0 = 0; b0 < n_blocks; b0 += blocks_per_batch) {
        const int64_t b1 = std::min(n_blocks, b0 + blocks_per_batch);
        int64_t count = 0;
        for (int64_t b = b0; b < b1; ++b) count += block_end(blocks[b], r.n) - blocks[b] * kBlock;
        loss += adam_batch_grad<Bias>(p, r, blocks.data(), b0, b1, reg, 1.0f / static_cast<float>(count), gP, gQ,
                                      gbu, gbi);
        ++step;
        adam_apply(gP, p.P, mo.mA, mo.vA, step, cfg, n_threads);
        adam_apply(gQ, p.Q, mo.mB, mo.vB, step, cfg, n_threads);
        if (Bias) {
            adam_apply(gbu, p.bu, mo.mbu, mo.vbu, step, cfg, 1);
            adam_apply(gbi, p.bi, mo.mbi, mo.vbi, step, cfg, 1);
        }
    }
    return loss;
}

}  // namespace

double mf_sgd_epoch(const MFParams& p, const RatingsView& r, float lr, float reg, int n_threads, uint64_t seed) {
    const int64_t n_blocks = (r.n + kBlock - 1) / kBlock;
    const std::vector<int64_t> blocks = permutation(n_blocks, seed);
    const int threads = static_cast<int>(std::min<int64_t>(clamp_threads(n_threads), std::max<int64_t>(1, n_blocks)));
    double loss = 0.0;
#pragma omp parallel num_threads(threads) reduction(+ : loss)
    {
        const int t = thread_id();
        const int64_t lo = n_blocks * t / threads, hi = n_blocks * (t + 1) / threads;
        loss += p.bias ? sgd_blocks<true>(p, r, blocks.data() + lo, hi - lo, lr, reg)
                       : sgd_blocks<false>(p, r, blocks.data() + lo, hi - lo, lr, reg);
    }
    return loss;
}

double mf_adam_epoch(const MFParams& p, const Moments& mo, const RatingsView& r, int64_t batch, float reg,
                     const AdamConfig& cfg, int64_t& step, int n_threads, uint64_t seed) {
    const int threads = clamp_threads(n_threads);
    return p.bias ? adam_epoch<true>(p, mo, r, batch, reg, cfg, step, threads, seed)
                  : adam_epoch<false>(p, mo, r, batch, reg, cfg, step, threads, seed);
}

}  // namespace fp
