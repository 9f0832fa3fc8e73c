// Matrix factorisation epochs: Hogwild SGD over shuffled rating blocks, and lazy Adam.
#include <algorithm>
#include <cmath>
#include <memory>

#include "factor_models.hpp"
#include "objective.hpp"
#include "sgd_steps.hpp"
#include "simd.hpp"

namespace fp {
namespace {

constexpr int64_t kBlock = 256;    // ratings per shuffled block
constexpr int64_t kPrefetch = 8;   // ratings ahead (within a block) whose rows are prefetched

inline int64_t block_end(int64_t b, int64_t n) { return std::min(n, (b + 1) * kBlock); }

// SGD over the listed blocks, one rating at a time (the thread's share of an epoch).
template <class S, class Robust>
FP_HOT double sgd_blocks(S, Robust, const FactorParams& p, PairLoss& pl, const RatingsView& r, const int64_t* blocks,
                         int64_t n_blocks, float lr, float reg) {
    const int d = S::dim(p.d);
    const DirectRows rows{p, d};
    const L2Shrink shrink{lr, reg, nullptr};
    double loss = 0.0;
    for (int64_t bi = 0; bi < n_blocks; ++bi) {
        const int64_t start = blocks[bi] * kBlock, end = block_end(blocks[bi], r.n);
        for (int64_t k = start; k < end; ++k) {
            if (k + kPrefetch < end) {
                prefetch_row(p.A + static_cast<size_t>(r.users[k + kPrefetch]) * d, d);
                prefetch_row(p.Q + static_cast<size_t>(r.items[k + kPrefetch]) * d, d);
            }
            mf_sgd_step(S{}, Robust{}, rows, shrink, pl, r.users[k], r.items[k], r.ratings[k], d, loss);
        }
    }
    return loss;
}

// Squared error of one mini-batch at the current parameters (no update).
template <class S>
double batch_sse(S, const FactorParams& p, const RatingsView& r, const int64_t* blocks, int64_t b0, int64_t b1) {
    const int d = S::dim(p.d);
    const DirectRows rows{p, d};
    double sse = 0.0;
    for (int64_t bi = b0; bi < b1; ++bi)
        for (int64_t k = blocks[bi] * kBlock, end = block_end(blocks[bi], r.n); k < end; ++k) {
            const int32_t u = r.users[k], i = r.items[k];
            const double e = predict(S{}, rows, rows.a(u), rows.q(i), u, i, d) - r.ratings[k];
            sse += e * e;
        }
    return sse;
}

// APR's perturbations of the embedding rows for one mini-batch (Perturbation::adversarial_rows),
// dense arrays shaped as A and Q; only the rows the batch touches are current.
struct RowPerturbations {
    std::vector<float> A, Q;
    explicit RowPerturbations(const FactorParams& p)
        : A(static_cast<size_t>(p.a_rows) * p.d), Q(static_cast<size_t>(p.n_items) * p.d) {}
};

// Sets each row `g` touched to `size` times its normalised gradient in `out`, then clears `g`.
void normalised_rows(RowGrad& g, float size, std::vector<float>& out) {
    const int d = g.dim;
    for (size_t k = 0; k < g.rows.size(); ++k) {
        const int32_t r = g.rows[k];
        const float* gr = g.at_slot(k);
        const float norm = std::sqrt(dot(gr, gr, d));
        scale_add(out.data() + static_cast<size_t>(r) * d, gr, d, 0.0f, norm > 0.0f ? size / norm : 0.0f);
    }
    g.clear();
}

// Gradient of one mini-batch, accumulated into the row scratch; returns its squared error.
// Each rating's loss derivative is scaled by `data_scale` (1 / batch size: the mean), the L2
// term by 1 / batch size. `delta`: the batch's row perturbations (adversarial_rows), else null.
template <class S, class Robust>
FP_HOT double adam_batch_grad(S, Robust, const FactorParams& p, PairLoss& pl, const RatingsView& r,
                              const int64_t* blocks, int64_t b0, int64_t b1, float reg, float inv_batch,
                              float data_scale, const RowPerturbations* delta, FactorGrads& g) {
    const int d = S::dim(p.d);
    const DirectRows rows{p, d};
    const float rs = 2.0f * reg * inv_batch / static_cast<float>(d);  // reg * mean over entries (TCD code)
    double loss = 0.0;
    for (int64_t bi = b0; bi < b1; ++bi) {
        const int64_t start = blocks[bi] * kBlock, end = block_end(blocks[bi], r.n);
        for (int64_t k = start; k < end; ++k) {
            if (k + kPrefetch < end) {  // the parameter rows of a rating a few ahead
                prefetch_row(rows.a(r.users[k + kPrefetch]), d);
                prefetch_row(rows.q(r.items[k + kPrefetch]), d);
            }
            const int32_t u = r.users[k], i = r.items[k];
            const float* pu = rows.a(u);
            const float* qi = rows.q(i);
            if constexpr (Robust::value) {
                if (delta != nullptr)
                    pl.set_rows(delta->A.data() + static_cast<size_t>(u) * d, delta->Q.data() + static_cast<size_t>(i) * d,
                                d);
            }
            const PairGrad pg = rating_grad(S{}, Robust{}, rows, pl, pu, qi, u, i, r.ratings[k], d, loss);
            const float c = 2.0f * pg.a * data_scale;
            float* gu = g.A.row(u);
            float* gi = g.Q.row(i);
            add_scaled_pair(gu, qi, pu, d, c, rs + 2.0f * pg.b_u * data_scale);
            add_scaled_pair(gi, pu, qi, d, c, rs + 2.0f * pg.b_i * data_scale);
            if constexpr (Robust::value) {
                if (pg.c != 0.0f) {
                    scale_add(gu, pl.delta_i(), d, 1.0f, 2.0f * pg.c * data_scale);
                    scale_add(gi, pl.delta_u(), d, 1.0f, 2.0f * pg.c * data_scale);
                }
            }
            add_bias_grad(S{}, g, u, i, c);
        }
    }
    return loss;
}

}  // namespace

double mf_sgd_epoch(const FactorParams& p, const Objective& o, const RatingsView& r, float lr, float reg,
                    int n_threads, uint64_t seed) {
    const int64_t n_blocks = (r.n + kBlock - 1) / kBlock;
    const std::vector<int64_t> blocks = permutation(n_blocks, seed);
    const int threads = static_cast<int>(std::min<int64_t>(clamp_threads(n_threads), std::max<int64_t>(1, n_blocks)));
    double loss = 0.0;
#pragma omp parallel num_threads(threads) reduction(+ : loss)
    {
        const int t = thread_id();
        const int64_t lo = n_blocks * t / threads, hi = n_blocks * (t + 1) / threads;
        PairLoss pl(o, p.d, seed, static_cast<uint64_t>(t));
        loss += dispatch_shape(p, [&](auto s) {
            return dispatch_objective(
                o, [&](auto robust) { return sgd_blocks(s, robust, p, pl, r, blocks.data() + lo, hi - lo, lr, reg); });
        });
    }
    return loss;
}

double mf_adam_epoch(const FactorParams& p, const Objective& o, const Moments& mo, const RatingsView& r,
                     int64_t batch, float reg, const AdamConfig& cfg, int64_t& step, int n_threads, uint64_t seed) {
    const int threads = clamp_threads(n_threads);
    const int64_t n_blocks = (r.n + kBlock - 1) / kBlock;
    const std::vector<int64_t> blocks = permutation(n_blocks, seed);
    const int64_t blocks_per_batch = std::max<int64_t>(1, batch / kBlock);
    FactorGrads grads(p);
    PairLoss pl(o, p.d, seed, 0);
    const bool apr_rows = o.perturbation == Perturbation::adversarial_rows && o.size > 0.0f && o.weight > 0.0f;
    std::unique_ptr<RowPerturbations> delta = apr_rows ? std::make_unique<RowPerturbations>(p) : nullptr;
    double loss = 0.0;
    for (int64_t b0 = 0; b0 < n_blocks; b0 += blocks_per_batch) {
        const int64_t b1 = std::min(n_blocks, b0 + blocks_per_batch);
        int64_t count = 0;
        for (int64_t b = b0; b < b1; ++b) count += block_end(blocks[b], r.n) - blocks[b] * kBlock;
        const float inv_batch = 1.0f / static_cast<float>(count);
        loss += dispatch_shape(p, [&](auto s) {
            // Frobenius norm: d sqrt(SSE) = d SSE / (2 sqrt(SSE)); a batch fitted exactly has no data gradient.
            const double sse = o.frobenius ? batch_sse(s, p, r, blocks.data(), b0, b1) : 0.0;
            const float data_scale =
                !o.frobenius ? inv_batch : sse > 0.0 ? static_cast<float>(0.5 / std::sqrt(sse)) : 0.0f;
            if (apr_rows) {  // first the gradient of the batch's squared error, each row normalised
                adam_batch_grad(s, std::false_type{}, p, pl, r, blocks.data(), b0, b1, 0.0f, inv_batch, data_scale,
                                nullptr, grads);
                normalised_rows(grads.A, o.size, delta->A);
                normalised_rows(grads.Q, o.size, delta->Q);
                grads.bu.clear();
                grads.bi.clear();
            }
            return dispatch_objective(o, [&](auto robust) {
                return adam_batch_grad(s, robust, p, pl, r, blocks.data(), b0, b1, reg, inv_batch, data_scale,
                                       delta.get(), grads);
            });
        });
        grads.apply(p, mo, ++step, cfg, threads);
    }
    return loss;
}

}  // namespace fp
