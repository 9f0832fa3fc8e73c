// The SGD steps of MF (one rating) and NSVD (one user), written once for every caller: the
// training epochs (mf.cpp, nsvd.cpp) and RVD's fine-tune on a copy-on-write overlay (rvd.cpp).
// Callers choose how rows are reached and how much each step shrinks them:
//
// Rows: float* a(int64_t r), q(int32_t i) (rows of A and Q), bu(int64_t u), bi(int32_t i) (bias
//   entries, only called with biases) and float mu(). Each returns the up-to-date entry, writable
//   in place and valid until the step ends; calling it twice within a step is harmless.
//   prefetch_a(r), prefetch_q(i): hints that those rows are wanted soon (no effect on results).
// Shrink: float lr; float keep() (factor rows of A and MF's Q), item_keep(int32_t i) (NSVD's q_i,
//   which also carries the per-item prior) and bias(float b, float e) (b after a step on the error
//   e = r - r_hat). Each caller keeps its own floating-point expressions here.
#pragma once

#include <algorithm>
#include <cstdint>

#include "common.hpp"
#include "factor_models.hpp"
#include "objective.hpp"
#include "simd.hpp"

namespace fp {

// Rows of the parameter arrays themselves (training); `d` is the row width.
struct DirectRows {
    const FactorParams& p;
    int d;

    FP_INLINE float* a(int64_t r) const { return p.A + static_cast<size_t>(r) * d; }
    FP_INLINE float* q(int32_t i) const { return p.Q + static_cast<size_t>(i) * d; }
    FP_INLINE float* bu(int64_t u) const { return p.bu + u; }
    FP_INLINE float* bi(int32_t i) const { return p.bi + i; }
    FP_INLINE float mu() const { return p.mu; }
    FP_INLINE void prefetch_a(int64_t r) const { prefetch_row(a(r), d); }
    FP_INLINE void prefetch_q(int32_t i) const { prefetch_row(q(i), d); }
};

// Training's per-rating L2 `reg`: factor rows shrink by 1 - lr reg, NSVD's q_i by
// 1 - lr (reg + prior_i), biases step as b += lr (e - reg b).
struct L2Shrink {
    float lr, reg;
    const float* prior;  // NSVD's per-item prior weights (see item_prior); unused by MF

    FP_INLINE float keep() const { return 1.0f - lr * reg; }
    FP_INLINE float item_keep(int32_t i) const { return 1.0f - lr * (reg + prior[i]); }
    FP_INLINE float bias(float b, float e) const { return b + lr * (e - reg * b); }
};

// r_hat(u, i) from the user's factor row p_u and the item's row q_i.
template <class S, class Rows>
FP_INLINE float predict(S, Rows& rows, const float* pu, const float* qi, int64_t u, int32_t i, int d) {
    float pred = dot(pu, qi, d);
    if constexpr (S::bias) pred += rows.mu() + *rows.bu(u) + *rows.bi(i);
    return pred;
}

// SGD step of b_u and b_i on the error e = r - r_hat; nothing without biases.
template <class S, class Rows, class Shrink>
FP_INLINE void bias_step(S, Rows& rows, const Shrink& shrink, int64_t u, int32_t i, float e) {
    if constexpr (S::bias) {
        float* bu = rows.bu(u);
        float* bi = rows.bi(i);
        *bu = shrink.bias(*bu, e);
        *bi = shrink.bias(*bi, e);
    }
}

// The error e = r_hat - r of rating r of (u, i) at rows p_u, q_i (added squared to `sse`) and the
// loss derivative `pl` makes of it: what both SGD and Adam step on.
template <class S, class Robust, class Rows>
FP_INLINE PairGrad rating_grad(S, Robust, Rows& rows, PairLoss& pl, const float* pu, const float* qi, int64_t u,
                               int32_t i, float r, int d, double& sse) {
    const float e = predict(S{}, rows, pu, qi, u, i, d) - r;
    sse += static_cast<double>(e) * e;
    return pl.grad(Robust{}, pu, qi, e, d);
}

// One SGD step of MF on rating r of (u, i): biases, then p_u and q_i together (both from their
// values before the step), on the loss derivative of `pl`. Adds the squared error to `sse`.
template <class S, class Robust, class Rows, class Shrink>
FP_INLINE void mf_sgd_step(S, Robust, Rows& rows, const Shrink& shrink, PairLoss& pl, int64_t u, int32_t i, float r,
                           int d, double& sse) {
    float* pu = rows.a(u);
    float* qi = rows.q(i);
    const PairGrad g = rating_grad(S{}, Robust{}, rows, pl, pu, qi, u, i, r, d, sse);
    const float lr = shrink.lr, keep = shrink.keep();
    bias_step(S{}, rows, shrink, u, i, -g.a);
    coupled_step(pu, qi, d, keep - lr * g.b_u, keep - lr * g.b_i, -lr * g.a);
    if constexpr (Robust::value) {
        if (g.c != 0.0f) {
            scale_add(pu, pl.delta_i(), d, 1.0f, -lr * g.c);
            scale_add(qi, pl.delta_u(), d, 1.0f, -lr * g.c);
        }
    }
}

// nsvd_sgd_step prefetches, while p_u is summed, the y_j this many ratings ahead and each
// rating's q_i (the loop over the ratings that follows reads those q_i).
constexpr int64_t kNsvdAhead = 16;

// One SGD step of NSVD on all of user u's ratings (Paterek's user-wise step): p_u is built once
// from the y_j, j in N(u); each rating steps the biases and q_i, and its error times q_i (before
// the q_i step) is summed into g; finally every y_j moves by lr |N(u)|^-1/2 g. `pu`, `g`: scratch
// of d floats. A user without ratings is left alone. Adds the squared errors to `sse`.
template <class S, class Rows, class Shrink>
FP_INLINE void nsvd_sgd_step(S, Rows& rows, const Shrink& shrink, const CsrView& r, int64_t u, float* pu, float* g,
                             int d, double& sse) {
    const int64_t a = r.indptr[u], b = r.indptr[u + 1];
    for (int64_t x = a; x < std::min(b, a + kNsvdAhead); ++x) rows.prefetch_a(r.indices[x]);
    const float norm = implicit_user(r, u, d, pu, [&](int32_t j) { return rows.a(j); }, [&](int64_t x) {
        if (x + kNsvdAhead < b) rows.prefetch_a(r.indices[x + kNsvdAhead]);
        rows.prefetch_q(r.indices[x]);
    });
    if (norm == 0.0f) return;
    const float lr = shrink.lr;
    std::fill(g, g + d, 0.0f);
    for (int64_t x = a; x < b; ++x) {
        const int32_t i = r.indices[x];
        float* qi = rows.q(i);
        const float e = r.values[x] - predict(S{}, rows, pu, qi, u, i, d);
        sse += static_cast<double>(e) * e;
        bias_step(S{}, rows, shrink, u, i, e);
        scale_add(g, qi, d, 1.0f, e);
        scale_add(qi, pu, d, shrink.item_keep(i), lr * e);
    }
    for (int64_t x = a; x < b; ++x) scale_add(rows.a(r.indices[x]), g, d, shrink.keep(), lr * norm);
}

}  // namespace fp
