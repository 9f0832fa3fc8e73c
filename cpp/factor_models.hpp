// Epoch kernels of the factor models (MF and NSVD): plain views over numpy buffers.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "adam.hpp"
#include "simd.hpp"

namespace fp {

// Ratings as parallel arrays (COO), already validated against the model's shape.
struct RatingsView {
    const int32_t* users;
    const int32_t* items;
    const float* ratings;
    int64_t n;
};

// A user-major CSR of ratings (NSVD walks users).
struct CsrView {
    const int64_t* indptr;
    const int32_t* indices;
    const float* values;
    int64_t n_users;
};

// Parameters of a factor model: r_hat = mu + b_u + b_i + p_u . q_i (biases only when `bias`).
// MF: A = P (one row per user) and p_u = A[u]. NSVD (Paterek): A = Y (one row per item) and
// p_u = |N(u)|^-1/2 sum_{j in N(u)} y_j. `item_reg` (lambda, NSVD only) adds the per-item
// Gaussian prior lambda * sum_i |q_i|^2 to the objective once per item, i.e. lambda / n_i on
// each of item i's n_i ratings (n_i counted in the epoch's CSR).
struct FactorParams {
    float* A;
    float* Q;
    float* bu;
    float* bi;
    float mu;
    int64_t a_rows, n_users, n_items;
    int d;
    bool bias;
    float item_reg;
};

// First and second Adam moments, laid out like the parameters they belong to.
struct Moments {
    float *mA, *vA, *mB, *vB, *mbu, *vbu, *mbi, *vbi;
};

// Row gradients of all four parameter arrays for one mini-batch, and the Adam step that applies them.
struct FactorGrads {
    RowGrad A, Q, bu, bi;

    explicit FactorGrads(const FactorParams& p)
        : A(p.a_rows, p.d), Q(p.n_items, p.d), bu(p.bias ? p.n_users : 0, 1), bi(p.bias ? p.n_items : 0, 1) {}

    // Adam at (1-based) `step` on the touched rows; clears the gradients.
    void apply(const FactorParams& p, const Moments& mo, int64_t step, const AdamConfig& cfg, int n_threads) {
        adam_apply(A, p.A, mo.mA, mo.vA, step, cfg, n_threads);
        adam_apply(Q, p.Q, mo.mB, mo.vB, step, cfg, n_threads);
        if (p.bias) {
            adam_apply(bu, p.bu, mo.mbu, mo.vbu, step, cfg, 1);
            adam_apply(bi, p.bi, mo.mbi, mo.vbi, step, cfg, 1);
        }
    }
};

// Compile-time shape of a kernel instance: biases on or off, and the factor size (0 = known
// only at run time). Fixed sizes let the compiler unroll every row loop completely, which
// halves the instructions per rating at the usual sizes.
template <bool Bias, int Dim>
struct Shape {
    static constexpr bool bias = Bias;
    static constexpr int fixed_dim = Dim;
    static int dim(int runtime_d) { return Dim > 0 ? Dim : runtime_d; }
};

template <bool Bias, class F>
decltype(auto) dispatch_dim(int d, F&& f) {
    switch (d) {
        case 32: return f(Shape<Bias, 32>{});
        case 64: return f(Shape<Bias, 64>{});
        case 128: return f(Shape<Bias, 128>{});
        default: return f(Shape<Bias, 0>{});
    }
}

// Calls f(Shape<p.bias, D>{}) with D = p.d when it is a specialised size, else D = 0.
template <class F>
decltype(auto) dispatch_shape(const FactorParams& p, F&& f) {
    return p.bias ? dispatch_dim<true>(p.d, f) : dispatch_dim<false>(p.d, f);
}

// Adds the loss derivative c to the gradients of b_u and b_i; nothing without biases.
template <class S>
FP_INLINE void add_bias_grad(S, FactorGrads& g, int64_t u, int32_t i, float c) {
    if constexpr (S::bias) {
        g.bu.row(static_cast<int32_t>(u))[0] += c;
        g.bi.row(i)[0] += c;
    }
}

// NSVD's per-item prior weights lambda / n_i (n_i: item i's ratings in `r`; 0 for unrated items).
inline std::vector<float> item_prior(const CsrView& r, int64_t n_items, float lambda) {
    std::vector<float> w(static_cast<size_t>(n_items), 0.0f);
    if (lambda <= 0.0f) return w;
    for (int64_t k = 0; k < r.indptr[r.n_users]; ++k) w[static_cast<size_t>(r.indices[k])] += 1.0f;
    for (float& x : w) x = x > 0.0f ? lambda / x : 0.0f;
    return w;
}

// NSVD's p_u = |N(u)|^-1/2 sum_{j in N(u)} y_j into `out`, with y_j = y_row(j); returns
// |N(u)|^-1/2, or 0 (and `out` untouched) for a user without ratings. `visit(k)` is called
// before the rating at CSR position k is summed (a caller prefetches rows ahead there).
template <class RowOf, class Visit>
FP_INLINE float implicit_user(const CsrView& r, int64_t u, int d, float* out, RowOf&& y_row, Visit&& visit) {
    const int64_t a = r.indptr[u], b = r.indptr[u + 1];
    if (a == b) return 0.0f;
    std::fill(out, out + d, 0.0f);
    for (int64_t k = a; k < b; ++k) {
        visit(k);
        scale_add(out, y_row(r.indices[k]), d, 1.0f, 1.0f);
    }
    const float norm = 1.0f / std::sqrt(static_cast<float>(b - a));
    scale_add(out, out, d, norm, 0.0f);
    return norm;
}

template <class RowOf>
FP_INLINE float implicit_user(const CsrView& r, int64_t u, int d, float* out, RowOf&& y_row) {
    return implicit_user(r, u, d, out, y_row, [](int64_t) {});
}

// out[k] = U[users[k]] . V[items[k]] for k < n (rows of d floats), parallel over pairs.
void dot_pairs(const float* U, const float* V, int d, const int32_t* users, const int32_t* items, int64_t n,
               float* out, int n_threads);

// All return the sum of squared errors seen during the epoch (before each update).
struct Objective;
double mf_sgd_epoch(const FactorParams& p, const Objective& o, const RatingsView& r, float lr, float reg,
                    int n_threads, uint64_t seed);
double mf_adam_epoch(const FactorParams& p, const Objective& o, const Moments& mo, const RatingsView& r,
                     int64_t batch, float reg, const AdamConfig& cfg, int64_t& step, int n_threads, uint64_t seed);
double nsvd_sgd_epoch(const FactorParams& p, const CsrView& r, float lr, float reg, int n_threads, uint64_t seed);
double nsvd_adam_epoch(const FactorParams& p, const Moments& mo, const CsrView& r, int64_t batch, float reg,
                       const AdamConfig& cfg, int64_t& step, int n_threads, uint64_t seed);

}  // namespace fp
