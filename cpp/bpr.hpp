// BPR (Rendle et al. 2009) for matrix factorisation on implicit feedback, by lazy Adam.
#pragma once

#include <cstdint>

#include "adam.hpp"
#include "bpr_triples.hpp"

namespace fp {

// One epoch of BPR-MF: the interactions in a seeded order, in mini-batches of `batch`; each
// positive (u, i) gets one negative j drawn uniformly among the items u has not seen, and the
// batch's loss is the mean of -log sigmoid(p_u . (q_i - q_j)) plus reg/2 (|p_u|^2 + |q_i|^2 +
// |q_j|^2) averaged over its samples (L2 on the batch's rows). Lazy Adam at steps step+1, ...;
// `step` is advanced. Returns the summed -log sigmoid over the epoch (users who have seen every
// item give no sample). One thread draws and accumulates; Adam's row updates use `n_threads`
// (deterministic for any count).
double bpr_adam_epoch(float* P, float* Q, int64_t n_users, int64_t n_items, int d, float* mP, float* vP, float* mQ,
                      float* vQ, const Interactions& x, int64_t batch, float reg, const AdamConfig& cfg,
                      int64_t& step, int n_threads, uint64_t seed);

// -log sigmoid(p_u . (q_i - q_j)) and its gradients (mean over the n triples, with the same L2
// as the epoch) into dP [n_users, d] and dQ [n_items, d] (zeroed first): the reference the
// tests hold the epoch's arithmetic to. Returns the mean loss including the L2 term.
double bpr_loss_grad(const float* P, const float* Q, int64_t n_users, int64_t n_items, int d, const int32_t* users,
                     const int32_t* pos, const int32_t* neg, int64_t n, float reg, float* dP, float* dQ);

}  // namespace fp
