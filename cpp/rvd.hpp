// Real-time vicinal defense (RVD): per-user fine-tuning on the user's neighbours, on an overlay.
#pragma once

#include <cstdint>

#include "factor_models.hpp"

namespace fp {

// The users to serve and, per user, its k neighbours (row-major n x k; the user is one of them).
struct RvdQueries {
    const int32_t* users;
    const int32_t* neighbours;
    int64_t n;
    int k;
};

struct RvdConfig {
    int epochs;    // passes over the neighbours' ratings
    float lr;      // SGD step size
    float forget;  // what remains of a row no neighbour rates after the whole fine-tune, in (0, 1]
    int top_k;     // items returned per user
};

// For each queried user: copy-on-write fine-tune of the base parameters on the neighbours'
// ratings by the model's own SGD step (sgd_steps.hpp) on the squared error, without its L2 but
// every step shrinking *all* parameter rows by keep = forget^(1 / steps) (weight decay over the
// whole model; one step per rating for MF, per neighbour with ratings for NSVD; rows no
// neighbour rated only decay, to `forget` by the end, whatever k and the profile lengths), score
// every item with the tuned parameters, mask the user's rated items, keep the top_k (best first,
// ties to the lower id, -1 padded). Ids must be valid rows of `train` (checked by the caller).
// The base parameters are only read. Users run in parallel; each thread holds one overlay.
void mf_rvd_top_k(const FactorParams& base, const CsrView& train, const RvdQueries& q, const RvdConfig& cfg,
                  int32_t* out_items, float* out_scores, int n_threads);
// As mf_rvd_top_k, for NSVD; its q_i steps keep the per-item prior base.item_reg.
void nsvd_rvd_top_k(const FactorParams& base, const CsrView& train, const RvdQueries& q, const RvdConfig& cfg,
                    int32_t* out_items, float* out_scores, int n_threads);

}  // namespace fp
