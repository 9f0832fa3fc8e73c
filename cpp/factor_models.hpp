// Epoch kernels of the factor models (MF and NSVD): plain views over numpy buffers.
#pragma once

#include <cstdint>

#include "adam.hpp"

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

// MF: r_hat = mu + b_u + b_i + p_u . q_i (biases only when `bias`).
struct MFParams {
    float* P;
    float* Q;
    float* bu;
    float* bi;
    float mu;
    int64_t n_users, n_items;
    int d;
    bool bias;
};

// NSVD (Paterek): p_u = |N(u)|^-1/2 sum_{j in N(u)} y_j; r_hat = mu + b_u + b_i + p_u . q_i.
struct NSVDParams {
    float* Y;
    float* Q;
    float* bu;
    float* bi;
    float mu;
    int64_t n_users, n_items;
    int d;
    bool bias;
};

// First and second Adam moments, laid out like the parameters they belong to.
struct Moments {
    float *mA, *vA, *mB, *vB, *mbu, *vbu, *mbi, *vbi;
};

// All return the sum of squared errors seen during the epoch (before each update).
double mf_sgd_epoch(const MFParams& p, const RatingsView& r, float lr, float reg, int n_threads, uint64_t seed);
double mf_adam_epoch(const MFParams& p, const Moments& mo, const RatingsView& r, int64_t batch, float reg,
                     const AdamConfig& cfg, int64_t& step, int n_threads, uint64_t seed);
double nsvd_sgd_epoch(const NSVDParams& p, const CsrView& r, float lr, float reg, int n_threads, uint64_t seed);
double nsvd_adam_epoch(const NSVDParams& p, const Moments& mo, const CsrView& r, int64_t batch, float reg,
                       const AdamConfig& cfg, int64_t& step, int n_threads, uint64_t seed);

}  // namespace fp
